#!/usr/bin/env bash
# Memory under attacker-written logs: exhunt hunt over LINES ProxyShell-shaped
# IIS lines (the SSRF chain, as an attacker who floods the server with it
# leaves them) beside the same hunt over LINES benign lines of the same
# length. Peak RSS must not follow the number of matching lines.
#
#   bash bench/hostile.sh [LINES]        default 1000000
#
# Wall time depends on what else the machine runs; CPU time (user + system)
# is printed beside it. Needs /usr/bin/time (apt-get install -y time).
set -euo pipefail
cd "$(dirname "$0")/.."
LINES="${1:-1000000}"
OUT=bench/out/hostile
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is missing (apt-get install -y time)"; exit 1; }
CGO_ENABLED=0 go build -o "$OUT/exhunt" ./cmd/exhunt

# gen KIND DIR: one W3SVC1 log of LINES lines. Attack lines rotate over 200
# client addresses, 500 mailboxes and the chain's back-end paths; both
# answered (200) and failed (401) requests, as a real flood shows.
gen() {
  local kind=$1 dir=$2/SRV1/inetpub/logs/LogFiles/W3SVC1
  [ -f "$dir/u_ex210809.log" ] && return
  mkdir -p "$dir"
  awk -v n="$LINES" -v kind="$kind" 'BEGIN {
    print "#Software: Microsoft Internet Information Services 10.0"
    print "#Version: 1.0"
    print "#Date: 2021-08-09 00:00:00"
    print "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status time-taken"
    split("/powershell/?X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9zTBJBZG1pbmlzdHJhdG9yQGV4Y2hhbmdl /mapi/emsmdb/ /ews/exchange.asmx /autodiscover/autodiscover.xml", paths, " ")
    for (i = 0; i < n; i++) {
      s = i % 86400
      t = sprintf("2021-08-09 %02d:%02d:%02d", int(s / 3600), int(s / 60) % 60, s % 60)
      ip = sprintf("203.0.113.%d", i % 200)
      mb = sprintf("user%03d%%40contoso.com", i % 500)
      st = (i % 3 == 0) ? "401" : "200"
      if (kind == "attack")
        printf "%s 10.0.0.11 POST /autodiscover/autodiscover.json @evil.corp%s&Email=autodiscover/autodiscover.json%%3F@evil.corp&Mailbox=%s&CorrelationID=<empty>;&cafeReqId=%08x-93ff-41fb-ab47-63303ec3e56b; 443 - %s python-requests/2.25.1 - %s 0 0 %d\n", t, paths[i % 4 + 1], mb, i, ip, st, i % 900
      else
        printf "%s 10.0.0.11 POST /Microsoft-Server-ActiveSync/default.eas Cmd=Ping&User=%s&DeviceId=ANDROIDC%09d&DeviceType=Android&CorrelationID=<empty>;&cafeReqId=%08x-93ff-41fb-ab47-63303ec3e56b; 443 CONTOSO\\user 10.1.%d.%d Android-Mail/2021.07.25.388223893.release - %s 0 0 %d\n", t, mb, i, i, i % 250, i % 200, "200", i % 900
    }
  }' > "$dir/u_ex210809.log"
}

for kind in attack benign; do
  gen "$kind" "$OUT/$kind-$LINES"
done
cat "$OUT"/*-"$LINES"/SRV1/inetpub/logs/LogFiles/W3SVC1/*.log > /dev/null
echo "lines: $LINES per corpus, $(nproc) cores"
for kind in attack benign; do
  size=$(du -sm "$OUT/$kind-$LINES" | cut -f1)
  /usr/bin/time -v "$OUT/exhunt" hunt --no-files --format json -o "$OUT/$kind.json" "$OUT/$kind-$LINES" 2> "$OUT/$kind.time" || [ $? -eq 3 ]
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$OUT/$kind.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$OUT/$kind.time")
  cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$OUT/$kind.time")
  printf '%-7s %5d MB  wall %s  CPU %s s  peak RSS %d MB\n' "$kind" "$size" "$wall" "$cpu" $((rss / 1024))
done
