# Hostile peers against `portls-<backend> serve` and `connect`: a real handshake
# with OpenSSL's libssl, then records crafted by hand on the raw socket
# (tests/hostile/hostile-peer.c). Run from the build directory:
#
#   bash tests/hostile/run.sh BACKEND GROUP
#
# GROUP (one CTest entry each, hostile-<GROUP>-<backend>):
#   empty-records          empty application-data records, then data, close_notify and FIN
#                          in one write: the echo comes back whole (server side)
#   client-empty-records   the same from a hostile server, to `connect`
#   keyupdate-flood        KeyUpdate(update_requested) without ever reading: the server's
#                          memory stays bounded (VmRSS before/after)
#   empty-flood            40 empty records: the server cuts the connection with an error
#   warn-flood             20 warning alerts: likewise (4 and then data still echo)
#   client-warn-flood      100,000 warning alerts from a hostile server: `connect` fails
#                          with an error, it does not hang
#
# Each group runs on TLS 1.3 and TLS 1.2 where the backend has them, on a fresh
# connection and, where the backend rests idle connections (idle-release), on a
# rested one (the peer waits 600 ms after the handshake: `serve` sweeps every
# 100 ms and rests a connection quiet for a whole sweep period). Exit 0 pass, 1
# fail, 77 skip (with the reason).
set -euo pipefail
source "$(dirname "$0")/../interop/common.bash"
group=${2:?usage: $0 BACKEND GROUP}
peer=${PORTLS_BIN}/hostile-peer
[[ -x $peer ]] || { echo "SKIP: $peer was not built (it needs OpenSSL 3)"; exit 77; }

caps=$("$bin" caps)
has() { grep -q "\"$1\":true" <<<"$caps"; }
versions=()
has tls1.3 && versions+=(tls13)
has tls1.2 && versions+=(tls12)
rested=(fresh)
has idle-release && rested+=(rested)
vflag() { [[ $1 == tls12 ]] && echo --tls12 || true; }
rflag() { [[ $1 == rested ]] && echo "--rest-ms 600" || true; }

failures=0
bad() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# serve_start NAME: a fresh echo server; sets $port and $srv_pid, log in $work/NAME.serve.log.
serve_start() {
  local log=$work/$1.serve.log
  "$bin" serve --rest-min-connections 1 --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$log" 2>&1 &
  srv_pid=$!
  pids+=("$srv_pid")
  wait_for "$log" '"event":"listening"' || fail "serve did not print listening"
  port=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}

serve_stop() {
  kill "$srv_pid" 2>/dev/null || true
  wait "$srv_pid" 2>/dev/null || true
}

# run_peer NAME ARGS...: the peer against the current server; its output is shown.
run_peer() {
  local name=$1
  shift
  local rc=0
  timeout 180 "$peer" client --port "$port" "$@" >"$work/$name.peer.log" 2>&1 || rc=$?
  sed "s/^/    /" "$work/$name.peer.log"
  return "$rc"
}

# The server reported the connection's failure as a protocol error ('error' with
# EPROTO, then a close with hadError), not as a transport error.
server_failed() {
  local log=$work/$1.serve.log
  wait_for "$log" '"event":"close","hadError":true' 5 || return 1
  grep -m1 '"event":"error"' "$log" | sed "s/^/    server: /"
  grep -q '"event":"error","code":"EPROTO"' "$log"
}

case $group in
empty-records)
  for v in "${versions[@]}"; do
    for r in "${rested[@]}"; do
      [[ $r == rested && $v == tls12 ]] && continue # only TLS 1.3 connections rest
      counts=(2 3)
      # A rested connection keeps OpenSSL's limit: 32 empty records in a row still pass.
      [[ $r == rested ]] && counts+=(32)
      for n in "${counts[@]}"; do
        name=empty-$v-$r-$n
        echo "== $v, $r connection: $n empty records, data, close_notify, FIN"
        serve_start "$name"
        # shellcheck disable=SC2046
        run_peer "$name" --scenario empty-data --count "$n" $(vflag "$v") $(rflag "$r") ||
          bad "$name: the data after $n empty records did not come back whole"
        serve_stop
      done
    done
  done
  ;;
client-empty-records)
  for v in "${versions[@]}"; do
    for n in 2 3; do
      name=client-empty-$v-$n
      echo "== $v: a server sends $n empty records, data, close_notify, FIN to connect"
      # shellcheck disable=SC2046
      "$peer" server --scenario empty-data --count "$n" $(vflag "$v") \
        --cert "$certs/server-rsa-chain.crt" --key "$certs/server-rsa.key" >"$work/$name.peer.log" 2>&1 &
      pids+=($!)
      wait_for "$work/$name.peer.log" '^port ' || fail "the hostile server did not start"
      hport=$(sed -n 's/^port //p' "$work/$name.peer.log")
      rc=0
      timeout 30 "$bin" connect --port "$hport" --ca "$certs/ca.crt" --servername localhost \
        >"$work/$name.connect.log" 2>&1 || rc=$?
      cut -c1-160 "$work/$name.connect.log" | sed "s/^/    connect: /"
      got=$(sed -n 's/.*"event":"data","bytes":\([0-9]*\).*/\1/p' "$work/$name.connect.log" |
        awk '{ n += $1 } END { print n + 0 }')
      want=$(sed -n 's/.* empty records, \([0-9]*\) bytes of data.*/\1/p' "$work/$name.peer.log")
      sed "s/^/    server: /" "$work/$name.peer.log"
      [[ $rc == 0 && -n $want && $got == "$want" ]] ||
        bad "$name: connect got $got of ${want:-?} bytes (exit $rc)"
    done
  done
  ;;
keyupdate-flood)
  has tls1.3 || { echo "SKIP: KeyUpdate is TLS 1.3, which this backend lacks"; exit 77; }
  for r in "${rested[@]}"; do
    name=keyupdate-$r
    echo "== TLS 1.3, $r connection: a KeyUpdate(update_requested) flood, never reading"
    # Under AddressSanitizer freed memory sits in its quarantine and counts in the
    # RSS: none for a server whose memory is measured.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" serve_start "$name"
    # shellcheck disable=SC2046
    # --mss: on loopback (MSS 64 KiB) against a server whose receive buffer never
    # grows, full-size segments keep its window shut most of the time and TCP's
    # zero-window probing, not the server, would set the pace.
    run_peer "$name" --scenario keyupdate-flood --pid "$srv_pid" --flood-mb 20 \
      --max-growth-kb 8192 --mss 16000 $(rflag "$r") || bad "$name: the server's memory was not bounded"
    serve_stop
  done
  ;;
empty-flood | warn-flood)
  what=empty
  count=40
  [[ $group == warn-flood ]] && what=warn && count=20
  for v in "${versions[@]}"; do
    for r in "${rested[@]}"; do
      [[ $r == rested && $v == tls12 ]] && continue
      name=$what-flood-$v-$r
      echo "== $v, $r connection: $count $([[ $what == warn ]] && echo 'warning alerts' || echo 'empty records')"
      serve_start "$name"
      # shellcheck disable=SC2046
      run_peer "$name" --scenario "$what-flood" --count "$count" $(vflag "$v") $(rflag "$r") ||
        bad "$name: the server kept the connection"
      server_failed "$name" || bad "$name: the server reported no error for the connection"
      serve_stop
      if [[ $what == warn ]]; then
        # Below the limit (OpenSSL cuts at the fifth in a row) the connection carries on.
        name=warn-data-$v-$r
        echo "== $v, $r connection: 4 warning alerts, then data"
        serve_start "$name"
        # shellcheck disable=SC2046
        run_peer "$name" --scenario warn-data --count 4 $(vflag "$v") $(rflag "$r") ||
          bad "$name: the data after 4 warning alerts did not come back whole"
        serve_stop
      fi
    done
  done
  ;;
client-warn-flood)
  for v in "${versions[@]}"; do
    name=client-warn-$v
    echo "== $v: a server sends 100000 warning alerts to connect"
    # shellcheck disable=SC2046
    "$peer" server --scenario warn-flood --count 100000 $(vflag "$v") \
      --cert "$certs/server-rsa-chain.crt" --key "$certs/server-rsa.key" >"$work/$name.peer.log" 2>&1 &
    pids+=($!)
    wait_for "$work/$name.peer.log" '^port ' || fail "the hostile server did not start"
    hport=$(sed -n 's/^port //p' "$work/$name.peer.log")
    rc=0
    timeout 30 "$bin" connect --port "$hport" --ca "$certs/ca.crt" --servername localhost \
      >"$work/$name.connect.log" 2>&1 || rc=$?
    cut -c1-160 "$work/$name.connect.log" | sed "s/^/    connect: /"
    sed "s/^/    server: /" "$work/$name.peer.log"
    if [[ $rc == 124 ]]; then
      bad "$name: connect still ran after 30 s"
    elif [[ $rc != 1 ]] || ! grep -q '"event":"error","code":"EPROTO"' "$work/$name.connect.log"; then
      bad "$name: connect did not fail with a protocol error (exit $rc)"
    fi
  done
  ;;
*)
  fail "unknown group $group"
  ;;
esac

if ((failures > 0)); then
  echo "$failures case(s) failed"
  exit 1
fi
echo "all cases passed"
