#!/usr/bin/env bash
# Fleet server throughput, SQLite and PostgreSQL side by side in one run,
# against a real `exhunt serve` process on loopback:
#   1. ingest: SERVERS servers' hunt results (about 100 findings each, ten
#      servers a message) and DECOY decoy events (1,000 a message) POSTed
#      to /api/v1/runs with each organisation's ingest token by 4 clients;
#   2. pages: 20 logged-in clients fetch the overview and random server
#      pages for 20 s; p95 per page;
#   3. memory: the serve process's peak RSS (VmHWM) over both.
# The CPU time the serve process, PostgreSQL and the load generator spend
# in step 2, per page request, is reported too: on a shared machine it is
# steadier than the latencies. With BASE_EXHUNT=path, step 2 is repeated
# against that exhunt binary serving the same database (rows "<backend>
# base"), for a before/after comparison in one sitting.
# PostgreSQL is started by the script (initdb + postgres on a loopback
# port, as the tests do; as the postgres user when run as root). It runs
# with synchronous_commit=off, which like SQLite's WAL with
# synchronous=NORMAL may lose the last commits on power loss but never
# corrupts; fsync stays on.
#
#   bash bench/serve.sh [SERVERS [DECOY]]    default 10000 1000000; e.g. 1000 for a quick run
#
# BACKENDS="postgres" runs one store only; SERVE_ARGS adds flags to every
# exhunt serve (e.g. "--cpuprofile /tmp/serve.prof"). The CPU time serve,
# PostgreSQL and the ingest clients spend in step 1 is printed after it.
set -euo pipefail
cd "$(dirname "$0")/.."
servers=${1:-10000}
decoy=${2:-$((servers * 100))}
clients=${INGEST_CLIENTS:-4}
tmp=$(mktemp -d /tmp/exhunt-serve-bench.XXXXXX)
chmod 755 "$tmp" # the postgres user reaches its data folder inside
pgpid=""
servepid=""
asuser=()
pgbin=${EXHUNT_PG_BIN:-/usr/lib/postgresql/15/bin}
cleanup() {
	[ -n "$servepid" ] && kill "$servepid" 2>/dev/null || true
	# pg_ctl, not a signal: a background job of a script ignores SIGINT.
	[ -n "$pgpid" ] && "${asuser[@]}" "$pgbin/pg_ctl" -D "$tmp/pg/data" stop -m fast >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/exhunt" ./cmd/exhunt
go build -o "$tmp/serveload" ./bench/serveload
echo "generating $servers servers' hunt results and $decoy decoy events..."
"$tmp/serveload" gen -out "$tmp/data" -servers "$servers" -decoy "$decoy"

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
if [ "$(id -u)" = 0 ]; then
	asuser=(runuser -u postgres --)
	mkdir -p "$tmp/pg" && chown postgres "$tmp/pg"
else
	mkdir -p "$tmp/pg"
fi
pgport=$(freeport)
"${asuser[@]}" "$pgbin/initdb" -D "$tmp/pg/data" -U exhunt --auth=trust -E UTF8 --locale=C >/dev/null
"${asuser[@]}" "$pgbin/postgres" -D "$tmp/pg/data" -p "$pgport" -h 127.0.0.1 -k "$tmp/pg" \
	-c synchronous_commit=off -c max_connections=100 >"$tmp/pg.log" 2>&1 &
pgpid=$!
for _ in $(seq 100); do
	"$pgbin/pg_isready" -h 127.0.0.1 -p "$pgport" -U exhunt -d postgres -q && break
	sleep 0.2
done
"$pgbin/psql" -h 127.0.0.1 -p "$pgport" -U exhunt -d postgres -qc "CREATE DATABASE fleet" >/dev/null

mkdir -p "$tmp/results"
# ticks PID...: CPU clock ticks used by the processes and their reaped children.
ticks() {
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12+$13+$14+$15}')))
	done
	echo "$t"
}
# pgpids: the PostgreSQL processes: $pgpid (runuser or postgres) and all
# its descendants, the backends kept open by the server's pool among them.
pgpids() {
	ps -e -o pid=,ppid= | awk -v root="$pgpid" '{kids[$2] = kids[$2] " " $1} END {
		todo = root; while (todo != "") { n = split(todo, a, " "); todo = ""
			for (i = 1; i <= n; i++) { print a[i]; todo = todo " " kids[a[i]] } } }'
}
# measured BACKEND FILE COMMAND...: runs a load generator and writes to
# FILE the CPU clock ticks used meanwhile by the serve process $servepid
# and (for postgres) PostgreSQL, the ticks per second, the generator's own
# CPU seconds and the load.
measured() {
	local be=$1 file=$2 s0 d0=0 s1 d1=0
	shift 2
	s0=$(ticks "$servepid")
	[ "$be" = postgres ] && d0=$(ticks $(pgpids))
	/usr/bin/time -f '%U %S' -o "$file.time" "$@"
	s1=$(ticks "$servepid")
	[ "$be" = postgres ] && d1=$(ticks $(pgpids))
	echo "$((s1 - s0)) $((d1 - d0)) $(getconf CLK_TCK) $(awk '{print $1+$2}' "$file.time") $(cut -d' ' -f1 /proc/loadavg)" >"$file"
}
# pages NAME URL: step 2 against the serve process $servepid.
pages() {
	measured "${1%% *}" "$tmp/results/$1.cpu" "$tmp/serveload" web -url "$2" -dir "$tmp/data" -c 20 -d 20s |
		tee "$tmp/results/$1.web.json"
}
serve() { # binary dsn port log: start exhunt serve, wait until it answers
	# shellcheck disable=SC2086 # SERVE_ARGS is split on purpose
	XDG_CONFIG_HOME="$tmp/config" "$1" serve --http --listen "127.0.0.1:$3" --db "$2" ${SERVE_ARGS:-} >"$4" 2>&1 &
	servepid=$!
	for _ in $(seq 100); do
		curl -fs "http://127.0.0.1:$3/healthz" >/dev/null && break
		sleep 0.1
	done
}
unserve() { # name: keep serve's peak RSS, stop it
	awk '/VmHWM/ {print $2}' "/proc/$servepid/status" >"$tmp/results/$1.rss"
	kill "$servepid"
	wait "$servepid" || true
	servepid=""
}
run() { # backend dsn
	local be=$1 dsn=$2 port st dt hz ct
	rm -f "$tmp/data/tokens.json"
	"$tmp/serveload" setup -db "$dsn" -dir "$tmp/data"
	port=$(freeport)
	serve "$tmp/exhunt" "$dsn" "$port" "$tmp/$be.serve.log"
	echo "$be: ingest..."
	measured "$be" "$tmp/results/$be.ingest.cpu" "$tmp/serveload" ingest -url "http://127.0.0.1:$port" -dir "$tmp/data" -c "$clients" |
		tee "$tmp/results/$be.ingest.json"
	read -r st dt hz ct _ <"$tmp/results/$be.ingest.cpu"
	echo "$be: ingest CPU: serve $((st / hz)) s, PostgreSQL $((dt / hz)) s, clients $ct s; load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$be: pages..."
	pages "$be" "http://127.0.0.1:$port"
	unserve "$be"
	if [ -n "${BASE_EXHUNT:-}" ]; then
		serve "$BASE_EXHUNT" "$dsn" "$port" "$tmp/$be.base.log"
		echo "$be base: pages..."
		pages "$be base" "http://127.0.0.1:$port"
		unserve "$be base"
	fi
}
for be in ${BACKENDS:-sqlite postgres}; do
	case $be in
	sqlite) run sqlite "$tmp/fleet.db" ;;
	postgres) run postgres "postgres://exhunt@127.0.0.1:$pgport/fleet?sslmode=disable" ;;
	*) echo "bench: unknown backend $be (want sqlite or postgres)" >&2; exit 1 ;;
	esac
done
echo
echo "exhunt serve, $servers servers, $decoy decoy events, $(nproc) cores ($clients ingest clients over HTTP, 20 page clients):"
rows=()
for be in ${BACKENDS:-sqlite postgres}; do
	rows+=("$be")
	[ -n "${BASE_EXHUNT:-}" ] && rows+=("$be base")
done
"$tmp/serveload" report -dir "$tmp/results" "${rows[@]}"
