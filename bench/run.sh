#!/usr/bin/env bash
# Side-by-side benchmark: exhunt hunt against ripgrep searching the same files
# for the rules' literal strings (the work exhunt's prefilter does before it
# parses and evaluates candidate lines).
#
#   bash bench/run.sh [SIZE] [SERVERS]     default 2GB over 8 servers
#   ROUNDS=5 bash bench/run.sh 300MB 8     more rounds (default 3)
#   BASELINE=/path/to/old/exhunt bash bench/run.sh 300MB 8
#                                          also time another build each round
#
# Each round runs ripgrep and then exhunt once, back to back, so both see the
# same machine load; the ratio is taken per round and the medians are
# reported. On a shared machine compare the ratios, not the absolute times.
#
# Needs ripgrep and GNU time (apt-get install -y ripgrep time).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-2GB}"
SERVERS="${2:-8}"
ROUNDS="${ROUNDS:-3}"
OUT=bench/out
CORPUS="$OUT/corpus-$SIZE"
mkdir -p "$OUT"

for tool in rg /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y ripgrep time)"; exit 1; }
done

CGO_ENABLED=0 go build -o "$OUT/exhunt" ./cmd/exhunt
if [ ! -f "$CORPUS/ground-truth.json" ]; then
  echo "generating $SIZE corpus in $CORPUS ..."
  /usr/bin/time -f "generated in %e s" "$OUT/exhunt" lab generate --out "$CORPUS" --servers "$SERVERS" --size "$SIZE" --seed 7 >/dev/null
  # text logs only: bench/evtx.sh measures event logs against evtxexport
  find "$CORPUS" -name '*.evtx' -delete
fi
"$OUT/exhunt" rules literals > "$OUT/literals.txt"
bytes=$(du -sb "$CORPUS" | cut -f1)
files=$(find "$CORPUS" -type f -name '*.[lL][oO][gG]*' | wc -l)
echo "corpus: $((bytes / 1000000)) MB in $files log files, $(wc -l < "$OUT/literals.txt") literals, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

# warm the page cache so both tools read from memory
find "$CORPUS" -type f -exec cat {} + > /dev/null

# ripgrep cannot read the gzip-rotated logs without -z; give it -z so both
# tools read the same bytes.
run_rg() { rg -c -F -z -f "$OUT/literals.txt" "$CORPUS" > /dev/null || true; }
run_exhunt() { "$OUT/exhunt" hunt --no-files --format json -o "$OUT/result.json" "$CORPUS" || [ $? -eq 3 ]; }
run_baseline() { "$BASELINE" hunt --no-files --format json -o /dev/null "$CORPUS" || [ $? -eq 3 ]; }
# timed NAME FUNC: one run; prints "wall cpu maxrss_kb"
timed() {
  /usr/bin/time -f "%e %U %S %M" -o "$OUT/time.$1" bash -c "$2"
  tail -1 "$OUT/time.$1" | awk '{printf "%.2f %.2f %d\n", $1, $2 + $3, $4}'
}
export OUT CORPUS BASELINE="${BASELINE:-}"
export -f run_rg run_exhunt run_baseline

run_rg; run_exhunt # warm-up
: > "$OUT/rounds.txt"
for r in $(seq "$ROUNDS"); do
  read -r rw rc rm < <(timed rg run_rg)
  read -r ew ec em < <(timed exhunt run_exhunt)
  ratio=$(awk -v e="$ew" -v g="$rw" 'BEGIN { printf "%.2f", e / g }')
  cratio=$(awk -v e="$ec" -v g="$rc" 'BEGIN { printf "%.2f", e / g }')
  echo "$rw $rc $rm $ew $ec $em $ratio $cratio" >> "$OUT/rounds.txt"
  echo "round $r: rg ${rw} s (cpu ${rc} s, ${rm} KB)   exhunt ${ew} s (cpu ${ec} s, ${em} KB)   ratio ${ratio}x (cpu ${cratio}x)"
  if [ -n "$BASELINE" ]; then
    read -r bw bc bm < <(timed baseline run_baseline)
    echo "         baseline ${bw} s (cpu ${bc} s, ${bm} KB)   ratio $(awk -v e="$bw" -v g="$rw" 'BEGIN { printf "%.2f", e / g }')x (cpu $(awk -v e="$bc" -v g="$rc" 'BEGIN { printf "%.2f", e / g }')x)"
  fi
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$1" '{ print $c }' "$OUT/rounds.txt" | median; }
{
  echo "| $SIZE, median of $ROUNDS rounds | wall s | CPU s | peak RSS KB |"
  echo "|:---|---:|---:|---:|"
  echo "| \`rg -c -F -z -f literals\` | $(col 1) | $(col 2) | $(col 3) |"
  echo "| \`exhunt hunt --no-files\` | $(col 4) | $(col 5) | $(col 6) |"
  echo "| exhunt / rg (median of per-round ratios) | $(col 7)x | $(col 8)x | |"
} | tee "$OUT/times.md"
