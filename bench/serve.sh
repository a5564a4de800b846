#!/usr/bin/env bash
# Fleet store ingest throughput, SQLite and PostgreSQL side by side in one
# run: hunt results of 10 servers x 100 findings each, through the same
# transactional ingest the server uses (indicators, activity, state).
# PostgreSQL is started by the benchmark itself (initdb + postgres on
# loopback, as the tests do).
#
#   bash bench/serve.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
EXHUNT_BENCH_PG=1 go test -run XXX -bench 'Ingest' -benchtime "${runs}x" -count 3 ./internal/fleet/store \
  | grep -E '^Benchmark|findings/s'
