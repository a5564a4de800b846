#!/usr/bin/env bash
# Side-by-side benchmark: exhunt hunt against ripgrep searching the same files
# for the rules' literal strings (the work exhunt's prefilter does before it
# parses and evaluates candidate lines).
#
#   bash bench/run.sh [SIZE] [SERVERS]     default 2GB over 8 servers
#
# Needs ripgrep and hyperfine (apt-get install -y ripgrep hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-2GB}"
SERVERS="${2:-8}"
OUT=bench/out
CORPUS="$OUT/corpus-$SIZE"
mkdir -p "$OUT"

for tool in rg hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y ripgrep hyperfine time)"; exit 1; }
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
echo "corpus: $((bytes / 1000000)) MB in $files log files, $(wc -l < "$OUT/literals.txt") literals, $(nproc) cores"

# warm the page cache so both tools read from memory
find "$CORPUS" -type f -exec cat {} + > /dev/null

# ripgrep cannot read the gzip-rotated logs without -z; give it -z so both
# tools read the same bytes.
hyperfine --warmup 1 --runs 5 --export-markdown "$OUT/times.md" \
  -n "rg -c -F -z -f literals" "rg -c -F -z -f $OUT/literals.txt $CORPUS > /dev/null || true" \
  -n "exhunt hunt" "$OUT/exhunt hunt --no-files --format json -o /dev/null $CORPUS || [ \$? -eq 3 ]"

echo
echo "peak memory:"
/usr/bin/time -f "  rg      %M KB max RSS, %e s" rg -c -F -z -f "$OUT/literals.txt" "$CORPUS" > /dev/null || true
/usr/bin/time -f "  exhunt  %M KB max RSS, %e s" "$OUT/exhunt" hunt --no-files --format json -o "$OUT/result.json" "$CORPUS" || [ $? -eq 3 ]
cat "$OUT/times.md"
