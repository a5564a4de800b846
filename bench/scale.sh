#!/usr/bin/env bash
# Distributed scanning and ingest on NATS JetStream, measured side by side
# on this machine:
#  - scan: one in-process scan, then the same targets dispatched to 1 and
#    to 3 "exhunt worker" processes through a three-node JetStream cluster
#    (nats-server processes on loopback);
#  - ingest: the campaign replay (16 organisations, 2,813 hunt runs) stored
#    in PostgreSQL by one process directly, then from the ingest stream of a
#    three-node cluster (R3) by 1, 2 and 3 consumers (serve replicas, 4
#    writers each). PostgreSQL and the cluster are started by the Go
#    benchmark (initdb + postgres on loopback, as the tests do).
# Everything runs on loopback.
#
#   bash bench/scale.sh [TARGETS]      (SKIP_SCAN=1 or SKIP_INGEST=1 to run one half)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
command -v nats-server >/dev/null || { echo "bench/scale.sh needs nats-server (apt-get install nats-server)"; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

if [ "${SKIP_SCAN:-}" != 1 ]; then
ports=$(( (n + 99) / 100 ))
need=$(( 100 * ports + 4096 ))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || { echo "need ulimit -n >= $need for $n listeners"; exit 1; }
fi
go build -o "$work/exhunt" ./cmd/exhunt
"$work/exhunt" decoy --listen "https://127.0.1.1-127.0.1.100:20000-$((20000 + ports - 1))" \
  --build all --state all --reveal all-modes --manifest "$work/fleet.jsonl" 2>"$work/decoy.log" &
pids+=($!)
for _ in $(seq 1 300); do [ -f "$work/fleet.jsonl" ] && break; sleep 0.1; done
grep -o '"url":"[^"]*"' "$work/fleet.jsonl" | cut -d'"' -f4 | head -n "$n" > "$work/targets.txt"

# Three JetStream nodes.
urls=""
for i in 1 2 3; do
  cat > "$work/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((14220 + i))
jetstream { store_dir: "$work/js$i" }
cluster { name: bench, listen: 127.0.0.1:$((14230 + i)), routes: [nats-route://127.0.0.1:14231, nats-route://127.0.0.1:14232, nats-route://127.0.0.1:14233] }
CONF
  nats-server -c "$work/n$i.conf" >"$work/n$i.log" 2>&1 &
  pids+=($!)
  urls="$urls${urls:+,}nats://127.0.0.1:$((14220 + i))"
done
sleep 3

common=(--scope 127.0.0.0/8 --host-rate 0 -i "$work/targets.txt")
elapsed() { local s=$(date +%s.%N); "$@" >/dev/null 2>>"$work/run.log" || [ $? -eq 3 ]; echo "$(date +%s.%N) - $s" | bc; }

echo "== $n HTTPS decoy targets on loopback, $(nproc) cores (load $(cut -d' ' -f1 /proc/loadavg))"
t=$(elapsed "$work/exhunt" scan --concurrency 256 -o "$work/single.jsonl" "${common[@]}")
printf "one process:             %6.2f s  %6.0f targets/s\n" "$t" "$(echo "$n / $t" | bc -l)"

for w in 1 3; do
  wp=()
  for i in $(seq 1 "$w"); do
    "$work/exhunt" worker --nats "$urls" --name "w$i" --concurrency $((256 / w)) --scope 127.0.0.0/8 2>>"$work/workers.log" &
    wp+=($!); pids+=($!)
  done
  t=$(elapsed "$work/exhunt" scan --dispatch --nats "$urls" --dispatch-id "bench-$w" -o "$work/d$w.jsonl" "${common[@]}")
  printf "dispatched, %d worker(s): %6.2f s  %6.0f targets/s (%d results)\n" "$w" "$t" "$(echo "$n / $t" | bc -l)" "$(grep -c '"target":{' "$work/d$w.jsonl")"
  for p in "${wp[@]}"; do kill "$p" 2>/dev/null || true; done
  wait "${wp[@]}" 2>/dev/null || true
done
fi

if [ "${SKIP_INGEST:-}" != 1 ]; then
  echo "== ingest into PostgreSQL: the campaign replay (2,813 runs), $(nproc) cores (load $(cut -d' ' -f1 /proc/loadavg))"
  go test -run XXX -bench 'IngestConsumers' -benchtime 1x ./internal/fleet/replay \
    | awk '/^BenchmarkIngestConsumers\// {
        split($1, a, "/"); sub(/-[0-9]+$/, "", a[2]); extra = ""
        for (i = 2; i <= NF; i++) { v[$i] = $(i - 1) }
        if (v["KiB/run"] != "") extra = sprintf("  (%s findings/run, %s KiB/run in PostgreSQL)", v["findings/run"], v["KiB/run"])
        printf "%-14s %8s runs/s  %8s findings/s%s\n", a[2] ":", v["runs/s"], v["findings/s"], extra; delete v }'
fi
