# --min-version/--max-version against openssl s_server/s_client -min_protocol/-max_protocol,
# the default ecdhCurve ("auto": X25519 first) both ways, a portls client against an
# s_server that allows only secp384r1, and connect --timeout against a silent server.
source "$(dirname "$0")/common.bash"

tls13=0
"$bin" caps | grep -q '"tls1.3":true' && tls13=1

# connect_to LOG ARGS...: portls connect to $host:$port (s_server), its exit status in $rc.
host=localhost
connect_to() {
  local log=$1
  shift
  rc=0
  "$bin" connect --host "$host" --port "$port" --ca "$certs/ca.crt" "$@" >"$log" 2>&1 || rc=$?
}

# secure_field LOG KEY: a field of the secureConnect line.
secure_field() {
  local line
  line=$(grep -m1 '"secureConnect"' "$1") || fail "no secureConnect in $1: $(cat "$1")"
  json_field "$line" "$2"
}

ec=(-key "$certs/server-ec.key" -cert "$certs/server-ec.crt" -cert_chain "$certs/intermediate.crt")

# ---- portls connect -> s_server ----

# s_server -max_protocol TLSv1.2: a default client agrees on TLS 1.2.
start_s_server "$work/s1.log" "${ec[@]}" -naccept 1 -max_protocol TLSv1.2
connect_to "$work/c1.log" --send one
[[ $rc == 0 ]] || fail "connect to s_server -max_protocol TLSv1.2 exited $rc"
[[ $(secure_field "$work/c1.log" protocol) == '"TLSv1.2"' ]] || fail "protocol: $(cat "$work/c1.log")"
# The client's default groups, X25519 first (mbedTLS 2.28 too): s_server takes the client's order.
grep -q '"ephemeralKeyInfo":{"type":"ECDH","name":"X25519","size":253}' "$work/c1.log" ||
  fail "default curves over TLS 1.2: not X25519: $(cat "$work/c1.log")"

# s_server -min_protocol TLSv1.3 and connect --max-version TLSv1.2: no version in common.
if [[ $tls13 == 1 ]]; then
  start_s_server "$work/s2.log" "${ec[@]}" -naccept 1 -min_protocol TLSv1.3
  connect_to "$work/c2.log" --max-version TLSv1.2
  [[ $rc == 1 ]] || fail "connect --max-version TLSv1.2 to a TLS 1.3 server exited $rc"
  grep -q '"code":"ERR_SSL_UNSUPPORTED_PROTOCOL"' "$work/c2.log" || fail "no ERR_SSL_UNSUPPORTED_PROTOCOL: $(cat "$work/c2.log")"
  grep -q '"secureConnect"' "$work/c2.log" && fail "secure anyway: $(cat "$work/c2.log")"

  # ... and --min-version TLSv1.3 gets TLS 1.3, with X25519 (s_server's first group).
  start_s_server "$work/s3.log" "${ec[@]}" -naccept 1 -min_protocol TLSv1.3
  connect_to "$work/c3.log" --min-version TLSv1.3 --send three
  [[ $rc == 0 ]] || fail "connect --min-version TLSv1.3 exited $rc: $(cat "$work/c3.log")"
  [[ $(secure_field "$work/c3.log" protocol) == '"TLSv1.3"' ]] || fail "protocol: $(cat "$work/c3.log")"
  grep -q '"name":"X25519"' "$work/c3.log" || fail "default curves: not X25519: $(cat "$work/c3.log")"
else
  # A backend without TLS 1.3 refuses --min-version TLSv1.3 before any network activity.
  port=1
  connect_to "$work/c2.log" --min-version TLSv1.3
  [[ $rc == 2 ]] || fail "--min-version TLSv1.3 without tls1.3 exited $rc"
  grep -q '"code":"ENOTSUP".*minVersion TLSv1.3.*tls1.3' "$work/c2.log" || fail "not ENOTSUP naming the capability: $(cat "$work/c2.log")"
fi

# s_server allowing secp384r1 only: a default portls client reaches it (it offers every
# group it has, not the server default P-256 alone), over TLS 1.2 and TLS 1.3.
for v in TLSv1.2 TLSv1.3; do
  [[ $v == TLSv1.3 && $tls13 == 0 ]] && continue
  start_s_server "$work/s384-$v.log" "${ec[@]}" -naccept 1 -groups secp384r1 -min_protocol "$v" -max_protocol "$v"
  connect_to "$work/c384-$v.log" --send p384
  [[ $rc == 0 ]] || fail "connect to s_server -groups secp384r1 ($v) exited $rc: $(cat "$work/c384-$v.log")"
  [[ $(secure_field "$work/c384-$v.log" protocol) == "\"$v\"" ]] || fail "protocol: $(cat "$work/c384-$v.log")"
  grep -q '"ephemeralKeyInfo":{"type":"ECDH","name":"secp384r1","size":384}' "$work/c384-$v.log" ||
    fail "not secp384r1 ($v): $(cat "$work/c384-$v.log")"
done

# ---- s_client -> portls serve ----

# serve_with LOG ARGS...: portls serve on a free port; sets $sport and $spid.
serve_with() {
  local log=$1
  shift
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" "$@" >"$log" 2>&1 &
  spid=$!
  pids+=("$spid")
  wait_for "$log" '"event":"listening"' || fail "serve $* did not start: $(cat "$log")"
  sport=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}

# s_client ARGS...: one exchange with portls serve on $sport; output in $work/sc.log, status in $rc.
s_client() {
  rc=0
  echo hi | timeout 20 openssl s_client -connect "127.0.0.1:$sport" -servername localhost \
    -CAfile "$certs/ca.crt" -verify_return_error "$@" >"$work/sc.log" 2>&1 || rc=$?
}

# serve --max-version TLSv1.2: s_client -min_protocol TLSv1.3 fails, a default s_client gets 1.2.
serve_with "$work/v12.log" --max-version TLSv1.2
s_client -min_protocol TLSv1.3
[[ $rc != 0 ]] || fail "s_client -min_protocol TLSv1.3 reached serve --max-version TLSv1.2"
# mbedTLS 2.28 reads no supported_versions extension: it takes a TLS 1.3-only
# ClientHello for TLS 1.2 without a suite in common.
refusal='ERR_SSL_UNSUPPORTED_PROTOCOL'
[[ $tls13 == 1 ]] || refusal='ERR_SSL_(UNSUPPORTED_PROTOCOL|NO_SHARED_CIPHER)'
wait_for "$work/v12.log" '"event":"clientError","code":"'"$refusal"'"' ||
  fail "serve: no clientError $refusal: $(cat "$work/v12.log")"
s_client -brief
[[ $rc == 0 ]] || fail "s_client against serve --max-version TLSv1.2: $(cat "$work/sc.log")"
grep -q 'Protocol version: TLSv1.2' "$work/sc.log" || fail "s_client: not TLSv1.2: $(cat "$work/sc.log")"
# The default curves: X25519 first, also over TLS 1.2 (mbedTLS 2.28 too).
grep -q 'Server Temp Key: X25519' "$work/sc.log" || fail "s_client: not X25519: $(cat "$work/sc.log")"

if [[ $tls13 == 1 ]]; then
  # serve --min-version TLSv1.3: s_client -max_protocol TLSv1.2 is refused on both sides.
  serve_with "$work/v13.log" --min-version TLSv1.3
  s_client -max_protocol TLSv1.2
  [[ $rc != 0 ]] || fail "s_client -max_protocol TLSv1.2 reached serve --min-version TLSv1.3"
  grep -qi 'alert protocol version' "$work/sc.log" || fail "s_client saw no protocol_version alert: $(cat "$work/sc.log")"
  wait_for "$work/v13.log" '"event":"clientError","code":"ERR_SSL_UNSUPPORTED_PROTOCOL"' ||
    fail "serve: no clientError ERR_SSL_UNSUPPORTED_PROTOCOL: $(cat "$work/v13.log")"
  # A default s_client gets TLS 1.3 with its X25519 key share accepted at once:
  # no HelloRetryRequest (s_client -msg would show a second ServerHello).
  s_client -brief -msg
  [[ $rc == 0 ]] || fail "s_client against serve --min-version TLSv1.3: $(cat "$work/sc.log")"
  grep -q 'Protocol version: TLSv1.3' "$work/sc.log" || fail "s_client: not TLSv1.3: $(cat "$work/sc.log")"
  grep -q 'Server Temp Key: X25519' "$work/sc.log" || fail "s_client: not X25519: $(cat "$work/sc.log")"
  (( $(grep -c '<<< .*ServerHello' "$work/sc.log") == 1 )) || fail "a HelloRetryRequest: $(grep ServerHello "$work/sc.log")"
fi

# Bad combinations are refused before anything starts, naming the options.
rc=0
"$bin" serve --min-version TLSv1.2 --max-version TLSv1.1 >"$work/bad1.log" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "serve with min above max exited $rc"
grep -q '"code":"ERR_TLS_INVALID_PROTOCOL_VERSION".*minVersion TLSv1.2.*maxVersion TLSv1.1' "$work/bad1.log" ||
  fail "min above max: $(cat "$work/bad1.log")"
rc=0
"$bin" connect --port 1 --secure-protocol TLSv1_2_method --max-version TLSv1.2 >"$work/bad2.log" 2>&1 || rc=$?
[[ $rc == 2 ]] || fail "connect with --secure-protocol and --max-version exited $rc"
grep -q '"code":"ERR_TLS_PROTOCOL_VERSION_CONFLICT".*maxVersion.*secureProtocol' "$work/bad2.log" ||
  fail "conflict: $(cat "$work/bad2.log")"

# ---- connect --timeout against a server that accepts and says nothing ----
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
print(s.getsockname()[1], flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' >"$work/silent.port" 2>"$work/silent.log" &
pids+=($!)
wait_for "$work/silent.port" '^[0-9]+$' || fail "the silent server did not start"
port=$(head -n 1 "$work/silent.port")
start=$(date +%s%N)
host=127.0.0.1
connect_to "$work/timeout.log" --timeout 400
elapsed=$((($(date +%s%N) - start) / 1000000))
[[ $rc == 1 ]] || fail "connect --timeout 400 to a silent server exited $rc"
grep -q '"event":"error","code":"ETIMEDOUT"' "$work/timeout.log" || fail "no ETIMEDOUT: $(cat "$work/timeout.log")"
grep -q '"event":"close","hadError":true' "$work/timeout.log" || fail "no close after ETIMEDOUT: $(cat "$work/timeout.log")"
(( elapsed >= 400 && elapsed < 5000 )) || fail "ETIMEDOUT after $elapsed ms, not about 400"

echo "ok: versions and curves, portls-$backend against openssl s_server/s_client; connect --timeout"
