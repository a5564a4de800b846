#!/usr/bin/env bash
# Side-by-side benchmark of the file hunt: exhunt hunt --no-logs against
# yara -r -p 2 with the same rules (every shipped .yar: signature-base's and
# exhunt's own) over the same tree, page cache warm, both on all cores.
# exhunt does more per file than yara: it also hashes (SHA-256, SHA-1,
# MD5), checks paths and names against the IOC lists, follows request input
# through the code of server pages (.aspx, .ashx, .asp...), and writes the JSON
# result.
#
#   bash bench/files.sh [SIZE] [FILES]     default 5GB in 100000 files
#
# With MORE_FILES=N, exhunt's peak memory is also measured on a second tree
# of the same size in N files: it should not grow with the file count.
#
# The tree (bench/filetree: web roots, Temporary ASP.NET Files,
# ProgramData and Windows\Temp of one server; four large binaries hold a
# fifth of the bytes) is generated under a temporary folder and deleted at
# the end; set KEEP=1 to keep it. Needs yara, hyperfine and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-5GB}"
FILES="${2:-100000}"
RUNS="${RUNS:-3}"

for tool in yara hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y yara hyperfine time)"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/exhunt-files-bench.XXXXXX")
if [ "${KEEP:-}" != 1 ]; then
  trap 'rm -rf "$WORK"' EXIT
fi
TREE="$WORK/tree"
CGO_ENABLED=0 go build -o "$WORK/exhunt" ./cmd/exhunt
echo "generating $SIZE in $FILES files under $TREE ..."
go run ./bench/filetree -out "$TREE" -size "$SIZE" -files "$FILES" -seed 1

RULES=(rules/yara/signature-base/*.yar rules/yara/exhunt/*.yar)
# yara needs the externals the rules use declared; exhunt sets them per file
YARA=(yara -r -p 2 -d filename= -d filepath= -d extension= -d filetype= "${RULES[@]}" "$TREE")
EXHUNT=("$WORK/exhunt" hunt --no-logs --quiet --format json -o /dev/null "$TREE")

bytes=$(du -sb "$TREE" | cut -f1)
echo "tree: $((bytes / 1000000)) MB in $(find "$TREE" -type f | wc -l) files, ${#RULES[@]} rule files, $(nproc) cores"
echo "yara: $(yara --version), exhunt: $("$WORK/exhunt" version 2>/dev/null || echo dev)"

# warm the page cache so both read from memory
find "$TREE" -type f -print0 | xargs -0 cat > /dev/null

hyperfine --warmup 1 --runs "$RUNS" --export-markdown "$WORK/times.md" \
  -n "yara -r -p 2" "${YARA[*]@Q} > /dev/null" \
  -n "exhunt hunt --no-logs" "${EXHUNT[*]@Q} || [ \$? -eq 3 ]"

echo
echo "peak memory (max RSS) and CPU time:"
/usr/bin/time -o "$WORK/yara.time" -f "  yara    %M KB max RSS, %e s wall, %U s user, %S s sys" "${YARA[@]}" > /dev/null
/usr/bin/time -o "$WORK/exhunt.time" -f "  exhunt  %M KB max RSS, %e s wall, %U s user, %S s sys" "${EXHUNT[@]}" || [ $? -eq 3 ]
grep -h "max RSS" "$WORK/yara.time" "$WORK/exhunt.time"
# on a shared machine wall times follow the load; CPU times much less
cpu() { grep "max RSS" "$1" | awk '{print $(NF-5) + $(NF-2)}'; }
awk -v y="$(cpu "$WORK/yara.time")" -v e="$(cpu "$WORK/exhunt.time")" \
  'BEGIN { printf "  CPU time (user+sys): exhunt %.2f s, yara %.2f s, exhunt/yara %.2f\n", e, y, e / y }'
echo
cat "$WORK/times.md"

if [ -n "${MORE_FILES:-}" ]; then
  echo
  echo "exhunt's peak memory by file count ($SIZE each):"
  go run ./bench/filetree -out "$WORK/tree2" -size "$SIZE" -files "$MORE_FILES" -seed 1 > /dev/null
  for t in "$TREE" "$WORK/tree2"; do
    n=$(find "$t" -type f | wc -l)
    /usr/bin/time -f "  $n files: %M KB max RSS, %U s user" "$WORK/exhunt" hunt --no-logs --quiet --format json -o /dev/null "$t" || [ $? -eq 3 ]
  done
fi
