# The sigalgs option against OpenSSL's own tools: `openssl s_client -sigalgs`
# against `portls-<backend> serve --sigalgs`, and `portls-<backend> connect
# --sigalgs` against `openssl s_server`, which prints what the client offered.
source "$(dirname "$0")/common.bash"
command -v openssl >/dev/null || { echo "skip: openssl is not installed"; exit 77; }
caps=$("$bin" caps)
if [[ $caps != *'"sigalgs":true'* ]]; then
  # Refused where it is set, naming the option, the capability and the backend.
  "$bin" connect --port 1 --sigalgs RSA+SHA256 >"$work/enotsup.log" 2>&1 && fail "no ENOTSUP"
  grep -q '"code":"ENOTSUP".*sigalgs.*capability .sigalgs.*'"$backend" "$work/enotsup.log" ||
    fail "ENOTSUP: $(cat "$work/enotsup.log")"
  echo "ok (no sigalgs capability)"
  exit 0
fi

# s_client_sig PORT SIGALGS: one s_client handshake; prints its output.
s_client_sig() {
  echo Q | timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername localhost \
    -CAfile "$certs/ca.crt" -sigalgs "$2" 2>&1 || true
}
serve_port() {
  wait_for "$1" '"event":"listening"' || fail "serve did not start"
  grep -m1 '"listening"' "$1" | sed -E 's/.*"port":([0-9]+).*/\1/'
}

# The default server signs with what the client asks for.
"$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$work/serve1.log" 2>&1 &
pids+=($!)
p1=$(serve_port "$work/serve1.log")
out=$(s_client_sig "$p1" RSA-PSS+SHA384)
[[ $out == *"Peer signing digest: SHA384"* && $out == *"Peer signature type: RSA-PSS"* ]] ||
  fail "s_client -sigalgs RSA-PSS+SHA384: $out"
[[ $out == *"Verify return code: 0 (ok)"* ]] || fail "s_client did not verify: $out"

# A server restricted to RSA-PSS+SHA256 signs with it though the client prefers SHA-384 ...
"$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
  --sigalgs RSA-PSS+SHA256 >"$work/serve2.log" 2>&1 &
pids+=($!)
p2=$(serve_port "$work/serve2.log")
out=$(s_client_sig "$p2" RSA-PSS+SHA384:RSA-PSS+SHA256)
[[ $out == *"Peer signing digest: SHA256"* && $out == *"Peer signature type: RSA-PSS"* ]] ||
  fail "restricted server: $out"
wait_for "$work/serve2.log" '"secureConnection"' || fail "serve2: no secureConnection"
# ... and a client with nothing in common fails the handshake (handshake_failure).
out=$(s_client_sig "$p2" ECDSA+SHA256)
[[ $out == *"alert handshake failure"* || $out == *"alert number 40"* ]] || fail "no alert: $out"
wait_for "$work/serve2.log" '"clientError"' || fail "serve2: no clientError for the mismatch"

# portls connect --sigalgs: s_server shows what the client offered (TLS 1.2, an
# ECDSA P-256 server).
start_s_server "$work/s_server.log" -key "$certs/server-ec.key" -cert "$certs/server-ec.crt" \
  -cert_chain "$certs/server-ec-chain.crt" -tls1_2
"$bin" connect --port "$port" --ca "$certs/ca.crt" --sigalgs ECDSA+SHA384:ECDSA+SHA256 \
  >"$work/connect.log" 2>&1 || fail "connect --sigalgs exited $?"
grep -q '"secureConnect"' "$work/connect.log" || fail "connect: no secureConnect"
wait_for "$work/s_server.log" '^Shared Signature Algorithms' || fail "s_server printed no sigalgs"
grep -q '^Signature Algorithms: ECDSA+SHA384:ECDSA+SHA256$' "$work/s_server.log" ||
  fail "the client offered: $(grep '^Signature Algorithms' "$work/s_server.log")"
# Offering only RSA to an ECDSA server: no handshake.
"$bin" connect --port "$port" --ca "$certs/ca.crt" --sigalgs RSA+SHA256 >"$work/connect2.log" 2>&1 &&
  fail "connect with RSA-only sigalgs to an ECDSA server succeeded"
grep -q '"event":"error"' "$work/connect2.log" || fail "connect2: no error event"
echo ok
