#!/usr/bin/env bash
# Benchmark "exhunt scan" against a fleet of "exhunt decoy" listeners on
# loopback (nothing else is ever contacted: every scan runs with --scope
# 127.0.0.0/8).
#
#   bash bench/scan.sh [TARGETS] [LINES]
#
# 1. Throughput: one decoy process serves TARGETS HTTPS listeners (100
#    loopback addresses x TARGETS/100 ports, every build of the table in
#    every state and reveal mode); the scanner checks them all with the
#    default check set. Reports targets/s and the CPU time of both sides.
# 2. Memory: a LINES-line target file of closed loopback ports, scanned to
#    the end; reports the scanner's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
lines=${2:-1000000}
command -v /usr/bin/time >/dev/null || { echo "bench/scan.sh needs /usr/bin/time (apt-get install time)"; exit 1; }

work=$(mktemp -d)
decoy_pid=""
cleanup() { [ -n "$decoy_pid" ] && kill "$decoy_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ports=$(( (n + 99) / 100 ))
need=$(( 100 * ports + 2048 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || { echo "need ulimit -n >= $need for $n listeners"; exit 1; }
fi

go build -o "$work/exhunt" ./cmd/exhunt
"$work/exhunt" decoy --listen "https://127.0.1.1-127.0.1.100:20000-$((20000 + ports - 1))" \
  --build all --state all --reveal all-modes --manifest "$work/fleet.jsonl" 2>"$work/decoy.log" &
decoy_pid=$!
for _ in $(seq 1 300); do [ -f "$work/fleet.jsonl" ] && break; sleep 0.1; done
[ -f "$work/fleet.jsonl" ] || { cat "$work/decoy.log"; exit 1; }
grep -o '"url":"[^"]*"' "$work/fleet.jsonl" | cut -d'"' -f4 | head -n "$n" > "$work/targets.txt"

cpu() { ps -o cputime= -p "$1" | awk -F: '{ print ($1 * 3600) + ($2 * 60) + $3 }'; }
echo "== throughput: $(wc -l < "$work/targets.txt") HTTPS decoy targets on loopback ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
before=$(cpu "$decoy_pid")
/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$work/exhunt" scan --scope 127.0.0.0/8 --host-rate 0 \
  --concurrency 256 -i "$work/targets.txt" -o "$work/results.jsonl" >/dev/null 2>"$work/scan.log" || [ $? -eq 3 ]
after=$(cpu "$decoy_pid")
read -r wall user sys rss < <(tail -n 1 "$work/time")
done_n=$(grep -c '"target":{' "$work/results.jsonl")  # target messages of the stream
awk -v n="$done_n" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v d="$((after - before))" 'BEGIN {
  printf "%d results in %.2f s: %.0f targets/s; scanner CPU %.1f s, decoy CPU %d s, scanner peak RSS %.0f MB\n", n, w, n / w, u + s, d, r / 1024 }'
grep -c '"status":"exchange"' "$work/results.jsonl" | xargs printf "%s answered as Exchange\n"

echo "== memory: $lines-line target file (closed loopback ports, so each target costs one refused connect)"
awk -v n="$lines" 'BEGIN { for (i = 0; i < n; i++) printf "127.3.%d.%d:%d\n", int(i / 65536) % 256, int(i / 256) % 256, 1 + i % 256 }' > "$work/big.txt"
/usr/bin/time -f "%e %M" -o "$work/time2" "$work/exhunt" scan --scope 127.0.0.0/8 --host-rate 0 --retries 0 \
  --concurrency 256 -i "$work/big.txt" -o "$work/big.jsonl" >/dev/null 2>&1 || true
read -r wall2 rss2 < <(tail -n 1 "$work/time2")
awk -v n="$(grep -c '"target":{' "$work/big.jsonl")" -v w="$wall2" -v r="$rss2" 'BEGIN {
  printf "%d results in %.1f s (%.0f targets/s); scanner peak RSS %.0f MB\n", n, w, n / w, r / 1024 }'
