#!/usr/bin/env bash
# Side-by-side benchmark of exhunt's EVTX reader against libevtx's
# evtxexport on the same event logs, and of what the event rules (exhunt's
# and the shipped Sigma rules) add to reading them.
#
#   bash bench/evtx.sh [SIZE] [SERVERS]     default 800MB over 8 servers
#                                           (about 160,000 events, 140 MB of .evtx)
#
# Needs evtxexport, hyperfine and GNU time
# (apt-get install -y libevtx-utils hyperfine time).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE="${1:-800MB}"
SERVERS="${2:-8}"
OUT=bench/out
CORPUS="$OUT/evtx-$SIZE"
mkdir -p "$OUT"

for tool in evtxexport hyperfine /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y libevtx-utils hyperfine time)"; exit 1; }
done

CGO_ENABLED=0 go build -o "$OUT/exhunt" ./cmd/exhunt
if [ ! -f "$CORPUS/ground-truth.json" ]; then
  echo "generating the lab's $SIZE corpus in $CORPUS, keeping its event logs ..."
  "$OUT/exhunt" lab generate --out "$CORPUS" --servers "$SERVERS" --size "$SIZE" --seed 7 >/dev/null
  find "$CORPUS" -type f ! -name '*.evtx' ! -name ground-truth.json -delete
fi
mapfile -d '' FILES < <(find "$CORPUS" -name '*.evtx' -print0 | sort -z)
bytes=$(cat "${FILES[@]}" | wc -c)
records=$("$OUT/exhunt" evtx stat "${FILES[@]}" | sed -E 's/.*records ([0-9]+).*/\1/' | paste -sd+ | bc)
echo "corpus: ${#FILES[@]} files, $((bytes / 1000000)) MB, $records events, $(nproc) cores"

printf '%s\0' "${FILES[@]}" > "$OUT/evtx-files"
cat "${FILES[@]}" > /dev/null # page cache

# evtxexport reads one file per process: run as many at once as there are
# cores, so both tools use the whole machine.
hyperfine --warmup 1 --runs 5 --export-markdown "$OUT/evtx-times.md" \
  -n "evtxexport -f xml (one per core)" "xargs -0 -P$(nproc) -n1 evtxexport -f xml < $OUT/evtx-files > /dev/null" \
  -n "exhunt evtx dump (JSON)" "xargs -0 $OUT/exhunt evtx dump < $OUT/evtx-files > /dev/null" \
  -n "exhunt evtx stat (parse only)" "xargs -0 $OUT/exhunt evtx stat < $OUT/evtx-files > /dev/null" \
  -n "exhunt hunt (parse + all event rules)" "$OUT/exhunt hunt --quiet --format json -o /dev/null $CORPUS || [ \$? -eq 3 ]"

echo
echo "peak memory:"
/usr/bin/time -f "  evtxexport (largest file) %M KB max RSS" evtxexport -f xml "$(ls -S "${FILES[@]}" | head -1)" > /dev/null
/usr/bin/time -f "  exhunt hunt               %M KB max RSS" "$OUT/exhunt" hunt --quiet --format json -o "$OUT/evtx-result.json" "$CORPUS" || [ $? -eq 3 ]

echo
echo "rule cost in CPU time, one worker (BenchmarkEventRules):"
go test ./internal/hunt -run '^$' -bench EventRules -benchtime 5x | grep Benchmark
cat "$OUT/evtx-times.md"
