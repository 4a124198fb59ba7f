#!/usr/bin/env bash
# Resumed handshakes per second through a shared Redis session store
# (portls::redis, `serve --session-store`): a client resuming on one server
# process against the same client spread over two processes that share
# sessions through one redis-server. Two kinds of resumption:
#   tls12-id      TLS 1.2 by session id: every resumption is a Redis GET
#                 (resumeSession) on the server that gets it
#   tls13-ticket  TLS 1.3 tickets under ticket keys the servers take from
#                 Redis (--ticket-rotate): no round trip per handshake
#
#   scripts/bench-redis.sh [--backend B] [--seconds S] [--conc C] [--rounds N]
#
# Needs a build with tools (build/ or $PORTLS_BUILD_DIR) and redis-server. Prints
# one line per configuration: the median, min and max of N rounds, and the
# resumed ratio. Timings are the machine's: run on a quiet machine, compare
# within one run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

backend=openssl seconds=4 conc=4 rounds=3
while (($#)); do
  case $1 in
  --backend) backend=$2 && shift 2 ;;
  --seconds) seconds=$2 && shift 2 ;;
  --conc) conc=$2 && shift 2 ;;
  --rounds) rounds=$2 && shift 2 ;;
  *) echo "usage: $0 [--backend B] [--seconds S] [--conc C] [--rounds N]" >&2 && exit 2 ;;
  esac
done
build=${PORTLS_BUILD_DIR:-build}
cli=$build/bin/portls-$backend
bench=$build/bin/portls-bench-$backend
certs=$build/certs
for f in "$cli" "$bench"; do [[ -x $f ]] || { echo "bench-redis: $f is not built" >&2; exit 1; }; done
command -v redis-server >/dev/null || { echo "bench-redis: redis-server is not installed" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

wait_line() { # FILE REGEX
  for ((i = 0; i < 200; i++)); do grep -Eq "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
  echo "bench-redis: timed out waiting for $2 in $1" >&2
  cat "$1" >&2
  exit 1
}

rport=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
wait_line "$work/redis.log" 'Ready to accept connections'

serve() { # NAME -> sets port
  # Only the events a load balancer would log are kept off the hot path:
  # stdout goes to a file (one JSON line per connection, as for every row).
  "$cli" serve --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt" \
    --session-store "redis://127.0.0.1:$rport" --session-id-context bench \
    --ticket-rotate 3600 >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_line "$work/$1.log" '"event":"ticketKeys"'
  port=$(grep -m1 '"event":"listening"' "$work/$1.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}
serve a
pa=$port
serve b
pb=$port

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'; }

row() { # LABEL PORTS ENV...
  local label=$1 ports=$2
  shift 2
  local rates=() ratio
  for ((r = 0; r < rounds; r++)); do
    out=$(env "$@" "$bench" hs "$ports" "$seconds" "$conc" resume 2>"$work/err")
    rates+=("$(awk '/^hs_per_s/ {print $2}' <<<"$out")")
    ratio=$(awk '/^resumed_ratio/ {print $2}' <<<"$out")
  done
  read -r med min max < <(printf '%s\n' "${rates[@]}" | median)
  printf '%-34s %8s /s  (min %s, max %s)  resumed_ratio %s\n' "$label" "$med" "$min" "$max" "$ratio"
}

echo "bench-redis: $backend, $conc connections at a time, ${seconds}s x $rounds rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
row "tls12-id     one process" "$pa" PORTLS_BENCH_PROTOCOL=TLSv1_2_method PORTLS_BENCH_NO_TICKET=1
row "tls12-id     two processes" "$pa,$pb" PORTLS_BENCH_PROTOCOL=TLSv1_2_method PORTLS_BENCH_NO_TICKET=1
row "tls13-ticket one process" "$pa" PORTLS_BENCH_PROTOCOL=TLSv1_3_method
row "tls13-ticket two processes" "$pa,$pb" PORTLS_BENCH_PROTOCOL=TLSv1_3_method
