#!/usr/bin/env bash
# Measures exhunt's web-shell detection on two corpora kept outside the
# repository: a folder of real web shells and a folder of benign pages
# from real ASP.NET projects. Prints the share of shells found and of
# benign files flagged by the real `exhunt hunt` (shipped YARA rules plus
# the page reading of internal/aspx), then checks that exhunt's YARA
# matches equal the yara CLI's, rule file by rule file, in both directions.
#
#   bench/aspx-corpus.sh SHELLS_DIR BENIGN_DIR
#
# EXHUNT=path/to/exhunt uses a built binary instead of building one.
# MISSES=PREFIX lists the shells missed whose path starts with PREFIX
# (MISSES=tune/ keeps a held-back half unseen; MISSES=. lists them all).
set -euo pipefail

if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
	echo "usage: $0 SHELLS_DIR BENIGN_DIR" >&2
	exit 2
fi
for tool in jq yara yarac; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is needed" >&2; exit 2; }
done
shells=$(cd "$1" && pwd)
benign=$(cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

exhunt=${EXHUNT:-}
if [ -z "$exhunt" ]; then
	exhunt=$work/exhunt
	(cd "$repo" && CGO_ENABLED=0 go build -o "$exhunt" ./cmd/exhunt)
fi

# hunt copies a corpus into a web root (where the file hunt looks for
# shells) and writes one line per finding: kind, rule, yara file, path
# relative to the corpus.
hunt() {
	local src=$1 name=$2
	local root=$work/$name/inetpub/wwwroot
	mkdir -p "$root"
	cp -R "$src"/. "$root"/
	local rc=0
	"$exhunt" hunt --quiet --no-logs --max-findings 1000000 --format jsonl "$work/$name" >"$work/$name.jsonl" 2>"$work/$name.err" || rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		echo "$0: exhunt hunt failed on $name (exit $rc):" >&2
		cat "$work/$name.err" >&2
		exit 1
	fi
	jq -r 'select(.finding) | .finding
		| [(if (.rule|startswith("yara:")) then "yara" elif (.rule|startswith("aspx-")) then "aspx" else "other" end),
		   .rule, (.fields.yara_file // "-"),
		   (.source.file | sub("^inetpub/wwwroot/"; ""))] | @tsv' "$work/$name.jsonl" | sort -u >"$work/$name.findings"
	(cd "$src" && find . -type f | sed 's#^\./##' | sort) >"$work/$name.files"
}

# rate NAME: files with at least one finding, of all files.
rate() {
	local name=$1
	local total flagged
	total=$(wc -l <"$work/$name.files")
	cut -f4 "$work/$name.findings" | sort -u >"$work/$name.flagged"
	flagged=$(comm -12 "$work/$name.files" "$work/$name.flagged" | wc -l)
	local aspx yara
	aspx=$(awk -F'\t' '$1=="aspx"{print $4}' "$work/$name.findings" | sort -u | wc -l)
	yara=$(awk -F'\t' '$1=="yara"{print $4}' "$work/$name.findings" | sort -u | wc -l)
	awk -v n="$name" -v f="$flagged" -v t="$total" -v a="$aspx" -v y="$yara" \
		'BEGIN{printf "%-8s %4d of %4d files flagged (%.1f%%): page reading %d, YARA %d\n", n, f, t, (t ? 100*f/t : 0), a, y}'
}

hunt "$shells" shells
hunt "$benign" benign

echo "== detection"
rate shells
# the tune/ and held/ halves of a split corpus, when present
for half in tune held; do
	if [ -d "$shells/$half" ]; then
		t=$(grep -c "^$half/" "$work/shells.files" || true)
		f=$(grep -c "^$half/" "$work/shells.flagged" || true)
		awk -v n="  $half" -v f="$f" -v t="$t" 'BEGIN{printf "%-8s %4d of %4d shells found (%.1f%%)\n", n, f, t, (t ? 100*f/t : 0)}'
	fi
done
rate benign
if [ -n "${MISSES:-}" ]; then
	echo "-- shells missed under $MISSES"
	comm -23 "$work/shells.files" "$work/shells.flagged" | { grep -F -- "${MISSES#.}" || true; } | sed 's/^/  /'
fi
echo "-- benign files flagged"
awk -F'\t' '{print "  " $4 "\t" $2}' "$work/benign.findings"

# yara_cli NAME: the yara CLI's matches of every shipped rule file, in the
# same form as exhunt's (rule file, rule, path). Each file is scanned with
# the external variables exhunt gives it (internal/files: filename,
# filepath as on the server, lower-case extension, filetype by magic).
yara_cli() {
	local name=$1 root=$work/$1/inetpub/wwwroot
	local defs=(-d filename= -d filepath= -d extension= -d filetype=)
	local rules=() f
	while IFS= read -r f; do
		local compiled=$work/$(basename "$f").yarc
		yarac "${defs[@]}" "$f" "$compiled"
		rules+=("$f")
	done < <(find "$repo/rules" -name '*.yar' | sort)
	: >"$work/$name.yara-cli"
	while IFS= read -r rel; do
		local path=$root/$rel base=${rel##*/} ext=""
		case $base in *.*) ext=.${base##*.} ;; esac
		ext=$(printf '%s' "$ext" | tr '[:upper:]' '[:lower:]')
		local win='C:\inetpub\wwwroot\'${rel//\//\\}
		local ftype
		ftype=$(filetype "$path")
		for f in "${rules[@]}"; do
			yara -w -C -d "filename=$base" -d "filepath=$win" -d "extension=$ext" -d "filetype=$ftype" \
				"$work/$(basename "$f").yarc" "$path" 2>>"$work/$name.yara-cli.err" |
				awk -v file="${f#"$repo"/}" -v rel="$rel" '{print file "\tyara:" $1 "\t" rel}' >>"$work/$name.yara-cli"
		done
	done <"$work/$name.files"
	sort -u -o "$work/$name.yara-cli" "$work/$name.yara-cli"
	awk -F'\t' '$1=="yara"{print $3 "\t" $2 "\t" $4}' "$work/$name.findings" | sort -u >"$work/$name.yara-exhunt"
}

# filetype labels a file by its first bytes as internal/files does.
filetype() {
	local hex
	hex=$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')
	case $hex in
	4d5a*) echo EXE ;; 504b0304*) echo ZIP ;; 52617221*) echo RAR ;; 377abcaf271c*) echo 7ZIP ;;
	1f8b*) echo GZIP ;; 4d534346*) echo CAB ;; 2142444e*) echo PST ;; 4d444d50*) echo DMP ;;
	25504446*) echo PDF ;; d0cf11e0a1b11ae1*) echo OLE ;; 7f454c46*) echo ELF ;; *) echo UNKNOWN ;;
	esac
}

echo "== YARA: exhunt against the yara CLI ($(yara --version)), every shipped rule file"
diverged=0
for name in shells benign; do
	yara_cli "$name"
	only_cli=$(comm -23 "$work/$name.yara-cli" "$work/$name.yara-exhunt")
	only_ex=$(comm -13 "$work/$name.yara-cli" "$work/$name.yara-exhunt")
	printf '%-8s yara %d matches, exhunt %d; only yara %d, only exhunt %d\n' "$name" \
		"$(wc -l <"$work/$name.yara-cli")" "$(wc -l <"$work/$name.yara-exhunt")" \
		"$(printf '%s' "$only_cli" | grep -c . || true)" "$(printf '%s' "$only_ex" | grep -c . || true)"
	if [ -n "$only_cli$only_ex" ]; then
		diverged=1
		[ -n "$only_cli" ] && printf '%s\n' "$only_cli" | sed 's/^/  only yara:   /'
		[ -n "$only_ex" ] && printf '%s\n' "$only_ex" | sed 's/^/  only exhunt: /'
	fi
	if [ -s "$work/$name.yara-cli.err" ]; then
		sed 's/^/  yara: /' "$work/$name.yara-cli.err"
	fi
done
exit $diverged
