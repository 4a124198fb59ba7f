# A portls client refuses an `openssl s_server` whose certificate has expired, with
# Node's error name, and exits 1; with --reject-unauthorized false it connects and
# reports authorized false with the same authorizationError.
source "$(dirname "$0")/common.bash"

start_server() { # start_server LOG: a fresh log each time, or the old ACCEPT line would match
  start_s_server "$1" -key "$certs/expired.key" -cert "$certs/expired.crt" -cert_chain "$certs/intermediate.crt" -naccept 1
}

start_server "$work/server1.log"
status=0
"$bin" connect --host localhost --port "$port" --ca "$certs/ca.crt" >"$work/reject.log" 2>&1 || status=$?
[[ $status == 1 ]] || fail "expected exit 1, got $status"
grep -q '"event":"error","code":"CERT_HAS_EXPIRED"' "$work/reject.log" || fail "no CERT_HAS_EXPIRED error"
grep -q '"secureConnect"' "$work/reject.log" && fail "secureConnect despite an expired certificate"

start_server "$work/server2.log"
"$bin" connect --host localhost --port "$port" --ca "$certs/ca.crt" --reject-unauthorized false \
  >"$work/accept.log" 2>&1 || fail "connect with --reject-unauthorized false exited $?"
line=$(grep -m1 '"secureConnect"' "$work/accept.log") || fail "no secureConnect"
[[ $(json_field "$line" authorized) == 'false' ]] || fail "authorized: $line"
[[ $(json_field "$line" authorizationError) == '"CERT_HAS_EXPIRED"' ]] || fail "authorizationError: $line"
echo "ok: portls-$backend rejects an expired certificate"
