#!/usr/bin/env bash
# Cluster-wide resumption through a real redis-server (portls::redis, serve
# --session-store): two serve processes resume each other's TLS 1.2 sessions by
# id and TLS 1.2/1.3 tickets, before and after a ticket-key rotation; a ticket two
# rotations old no longer resumes; killing Redis degrades to full handshakes with
# no crash and no lost connection, and the store reconnects when Redis is back.
# Clients are openssl s_client. Skips (77) when the tool was built without
# portls::redis or redis-server is missing.
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

command -v redis-server >/dev/null || { echo "SKIP: no redis-server"; exit 77; }
probe=$("$bin" serve --session-store "unix:$work/none" --session-cache 2>&1 || true)
if grep -q 'built without portls::redis' <<<"$probe"; then
  echo "SKIP: portls-$backend was built without portls::redis (hiredis missing at build time)"
  exit 77
fi
caps=$("$bin" caps)
grep -q '"session-cache":true' <<<"$caps" || { echo "SKIP: no session-cache capability"; exit 77; }
rotation=0
grep -q '"ticket-rotation":true' <<<"$caps" && rotation=1
tls13=0
grep -q '"tls1.3":true' <<<"$caps" && tls13=1

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

rport=$(free_port)
start_redis() {
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >>"$work/redis.log" 2>&1 &
  redis_pid=$!
  pids+=("$redis_pid")
  wait_for "$work/redis.log" 'Ready to accept connections' || fail "redis-server did not start"
}
start_redis

# Bad input first: each names its option and starts nothing.
out=$("$bin" serve --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt" \
  --session-store "http://127.0.0.1:$rport" 2>&1) && fail "a bad --session-store URL was accepted"
grep -q -- '--session-store: url:' <<<"$out" || fail "the URL error does not name the option: $out"
out=$("$bin" serve --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt" \
  --ticket-rotate 5 2>&1) && fail "--ticket-rotate without a store was accepted"
grep -q -- '--ticket-rotate: needs --session-store' <<<"$out" || fail "unclear error: $out"
out=$("$bin" serve --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt" \
  --session-store "redis://127.0.0.1:$rport" --workers 2 2>&1) && fail "--workers with a store was accepted"
grep -q -- 'cannot be combined with --session-store' <<<"$out" || fail "unclear error: $out"

period=4 # seconds: short, so the test sees two rotations (but room for a slow machine)
serve_args=(serve --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt"
  --session-store "redis://127.0.0.1:$rport" --session-id-context cluster-test)
((rotation)) && serve_args+=(--ticket-rotate "$period")
start_serve() { # NAME: sets serve_pid and serve_port
  "$bin" "${serve_args[@]}" >"$work/$1.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_for "$work/$1.log" '"event":"listening"' || fail "serve $1 did not start"
  wait_for "$work/$1.log" '"event":"sessionStoreConnected"' || fail "serve $1 did not reach Redis"
  serve_port=$(grep -m1 '"event":"listening"' "$work/$1.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}
start_serve a
pid_a=$serve_pid port_a=$serve_port
start_serve b
pid_b=$serve_pid port_b=$serve_port

# client PORT ARGS...: one s_client handshake; prints "New" or "Reused".
nclient=0
client() {
  local port=$1 log out="" wait a
  shift
  log=$work/client-$((++nclient)).out
  for a in "$@"; do [[ $prev_arg == -sess_out ]] && out=$a; prev_arg=$a; done
  # A TLS 1.3 ticket comes after the handshake: s_client must still be reading
  # when it arrives, so its input stays open a moment (longer on a retry).
  for wait in 0.2 1 3; do
    rm -f "${out:-/nonexistent}"
    sleep "$wait" | openssl s_client -connect "127.0.0.1:$port" -CAfile "$certs/ca.crt" "$@" >"$log" 2>&1 || true
    [[ -z $out || -s $out ]] && break
  done
  grep -Eo '^(New|Reused),' "$log" | tr -d , || true
}
prev_arg=
expect() { # WANT WHAT PORT ARGS...
  local want=$1 what=$2 got
  shift 2
  client "$@" >"$work/got"
  got=$(cat "$work/got")
  [[ $got == "$want" ]] || {
    cat "$work/client-$nclient.out" >&2
    fail "$what: expected $want, got '${got:-no handshake}'"
  }
}

# Sessions by id (no tickets), made on A, resumed on B and the other way round.
expect New "TLS 1.2 full handshake on A" "$port_a" -tls1_2 -no_ticket -sess_out "$work/id-a"
expect Reused "B resuming A's TLS 1.2 session by id" "$port_b" -tls1_2 -no_ticket -sess_in "$work/id-a"
expect New "TLS 1.2 full handshake on B" "$port_b" -tls1_2 -no_ticket -sess_out "$work/id-b"
expect Reused "A resuming B's TLS 1.2 session by id" "$port_a" -tls1_2 -no_ticket -sess_in "$work/id-b"

if ((rotation)); then
  # last_period NAME: the newest ticketKeys period serve NAME reported.
  last_period() { grep '"event":"ticketKeys"' "$work/$1.log" | tail -1 | sed -E 's/.*"period":([0-9]+).*/\1/'; }
  wait_period() { # NAME PERIOD: until NAME has taken that period's keys (or later ones)
    local i
    for ((i = 0; i < period * 60; i++)); do
      [[ -n $(last_period "$1") ]] && (($(last_period "$1") >= $2)) && return 0
      sleep 0.05
    done
    fail "serve $1 did not rotate to period $2"
  }
  # in_period NAME PERIOD: NAME still issues under that period's keys.
  in_period() { [[ $(last_period "$1") == "$2" ]]; }
  # Tickets made on A in one period (retried if a rotation falls in between).
  # Without one, the periods below would be counted from the wrong one.
  made=0
  for try in 1 2 3 4 5 6 7 8; do
    p0=$(last_period a)
    expect New "TLS 1.2 ticket from A" "$port_a" -tls1_2 -sess_out "$work/t12"
    ((tls13)) && expect New "TLS 1.3 ticket from A" "$port_a" -tls1_3 -sess_out "$work/t13"
    [[ $(last_period a) == "$p0" && $(date +%s) -lt $(((p0 + 1) * period)) ]] && { made=1; break; }
  done
  ((made)) || fail "the machine is too slow for a $period s rotation (every try straddled one)"
  wait_period b "$p0"
  expect Reused "B resuming A's TLS 1.2 ticket" "$port_b" -tls1_2 -sess_in "$work/t12"
  ((tls13)) && expect Reused "B resuming A's TLS 1.3 ticket" "$port_b" -tls1_3 -sess_in "$work/t13"
  # One rotation later: the previous keys still open them, on both servers.
  wait_period a $((p0 + 1))
  wait_period b $((p0 + 1))
  expect Reused "a TLS 1.2 ticket of the previous period" "$port_b" -tls1_2 -sess_in "$work/t12"
  ((tls13)) && expect Reused "a TLS 1.3 ticket of the previous period" "$port_a" -tls1_3 -sess_in "$work/t13"
  in_period a $((p0 + 1)) && in_period b $((p0 + 1)) ||
    fail "the machine is too slow for a $period s rotation (a period passed during two handshakes)"
  # Two rotations later: too old.
  wait_period a $((p0 + 2))
  wait_period b $((p0 + 2))
  expect New "a TLS 1.2 ticket two periods old" "$port_b" -tls1_2 -sess_in "$work/t12"
  ((tls13)) && expect New "a TLS 1.3 ticket two periods old" "$port_a" -tls1_3 -sess_in "$work/t13"
fi

# An established connection through the outage: it must keep echoing.
mkfifo "$work/held.in"
exec 5<>"$work/held.in"
openssl s_client -connect "127.0.0.1:$port_a" -CAfile "$certs/ca.crt" -quiet <&5 >"$work/held.out" 2>"$work/held.err" &
held=$!
pids+=("$held")
echo "before-outage" >&5
wait_for "$work/held.out" before-outage || fail "no echo before the outage"

kill "$redis_pid"
wait "$redis_pid" 2>/dev/null || true
wait_for "$work/a.log" '"event":"sessionStoreError"' || fail "A did not report Redis gone"
expect New "a full handshake with Redis down" "$port_a" -tls1_2 -no_ticket -sess_out "$work/id-down"
expect New "no resumption by id with Redis down" "$port_b" -tls1_2 -no_ticket -sess_in "$work/id-down"
echo "during-outage" >&5
wait_for "$work/held.out" during-outage || fail "the established connection stopped echoing"
kill -0 "$pid_a" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null || fail "a server died with Redis down"

# Redis back: the store reconnects (back-off at most 5 s) and sharing resumes.
start_redis
for ((i = 0; i < 300; i++)); do
  (($(grep -c '"event":"sessionStoreConnected"' "$work/a.log") > 1)) &&
    (($(grep -c '"event":"sessionStoreConnected"' "$work/b.log") > 1)) && break
  sleep 0.05
done
(($(grep -c '"event":"sessionStoreConnected"' "$work/a.log") > 1)) || fail "A did not reconnect"
(($(grep -c '"event":"sessionStoreConnected"' "$work/b.log") > 1)) || fail "B did not reconnect"
expect New "a full handshake after the outage" "$port_a" -tls1_2 -no_ticket -sess_out "$work/id-after"
expect Reused "resumption by id after the outage" "$port_b" -tls1_2 -no_ticket -sess_in "$work/id-after"
echo "after-outage" >&5
wait_for "$work/held.out" after-outage || fail "the established connection was lost"
exec 5>&-
grep -q '"event":"error"' "$work/a.log" "$work/b.log" && fail "a server reported an error event"
echo "PASS: redis_store ($backend): sessions by id$( ((rotation)) && echo ', tickets across a rotation'), outage and recovery"
