# Node.js as a real peer, both ways: a Node client against `portls-<backend> serve`,
# and `portls-<backend> connect` against a Node server. Both sides must agree on the
# protocol, the cipher, the ALPN choice (the server's order) and verification, and
# refuse a client without a certificate under requestCert + rejectUnauthorized alike.
source "$(dirname "$0")/common.bash"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
peer=$(dirname "$0")/node-peer.js
field() { node -e 'let v = JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v = v[k]; console.log(JSON.stringify(v));' "$1" "$2"; }

# Node client -> portls server.
"$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" --alpn h2,http/1.1 \
  >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for "$work/serve.log" '"event":"listening"' || fail "serve did not start"
port=$(grep -m1 '"listening"' "$work/serve.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
timeout 20 node "$peer" client "$port" "$certs" "hello from node" >"$work/nodeclient.log" 2>&1 ||
  fail "node client failed"
c=$(grep -m1 '"secureConnect"' "$work/nodeclient.log") || fail "node: no secureConnect"
[[ $(field "$c" authorized) == true ]] || fail "node did not authorize portls: $c"
[[ $(field "$c" alpnProtocol) == '"h2"' ]] || fail "ALPN (server order wins): $c"
grep -q '"text":"hello from node"' "$work/nodeclient.log" || fail "node: no echo"
wait_for "$work/serve.log" '"secureConnection"' || fail "serve: no secureConnection"
s=$(grep -m1 '"secureConnection"' "$work/serve.log")
[[ $(field "$s" protocol) == "$(field "$c" protocol)" ]] || fail "protocols differ: $s / $c"
[[ $(field "$s" cipher.name) == "$(field "$c" cipher)" ]] || fail "ciphers differ: $s / $c"
[[ $(field "$s" alpnProtocol) == '"h2"' ]] || fail "serve ALPN: $s"
[[ $(field "$s" servername) == '"localhost"' ]] || fail "serve servername: $s"

# portls client -> Node server.
node "$peer" server "$certs" >"$work/nodeserver.log" 2>&1 &
pids+=($!)
wait_for "$work/nodeserver.log" '"event":"listening"' || fail "node server did not start"
nport=$(grep -m1 '"listening"' "$work/nodeserver.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
"$bin" connect --host localhost --port "$nport" --ca "$certs/ca.crt" --alpn http/1.1,h2 \
  --send "hello node" >"$work/connect.log" 2>&1 || fail "connect to node exited $?"
c=$(grep -m1 '"secureConnect"' "$work/connect.log") || fail "connect: no secureConnect"
[[ $(field "$c" authorized) == true ]] || fail "portls did not authorize node: $c"
[[ $(field "$c" alpnProtocol) == '"h2"' ]] || fail "connect ALPN: $c"
grep -q '"text":"hello node"' "$work/connect.log" || fail "connect: no echo from node"
wait_for "$work/nodeserver.log" '"secureConnection"' || fail "node: no secureConnection"
s=$(grep -m1 '"secureConnection"' "$work/nodeserver.log")
[[ $(field "$s" cipher) == "$(field "$c" cipher.name)" ]] || fail "ciphers differ: $s / $c"
[[ $(field "$s" servername) == '"localhost"' ]] || fail "node saw no SNI: $s"

# requestCert + rejectUnauthorized and a client without a certificate, both ways: the
# server fails the handshake itself (ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE) and the
# client gets its alert: handshake_failure in TLS 1.2, before secureConnect;
# certificate_required in TLS 1.3, after it (and before any write's EPIPE).
caps=$("$bin" caps)
versions=(TLSv1.2) methods=(TLSv1_2_method) alerts=(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE)
if [[ $caps == *'"tls1.3":true'* ]]; then
  versions+=(TLSv1.3) methods+=(TLSv1_3_method) alerts+=(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)
fi
"$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" --ca "$certs/ca.crt" \
  --request-cert --reject-unauthorized >"$work/reqcert.log" 2>&1 &
pids+=($!)
wait_for "$work/reqcert.log" '"event":"listening"' || fail "serve --request-cert did not start"
rport=$(grep -m1 '"listening"' "$work/reqcert.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
for i in "${!versions[@]}"; do
  v=${versions[$i]} alert=${alerts[$i]}
  timeout 20 node "$peer" nocert-client "$rport" "$certs" "$v" >"$work/nocert-$v.log" 2>&1 ||
    fail "node nocert-client $v failed"
  e=$(grep -m1 '"event":"error"' "$work/nocert-$v.log") || fail "node ($v): no error without a certificate"
  [[ $(field "$e" code) == "\"$alert\"" ]] || fail "node ($v) got $e, want $alert"
  if [[ $v == TLSv1.2 ]] && grep -q '"secureConnect"' "$work/nocert-$v.log"; then
    fail "node (TLSv1.2) reached secureConnect without a certificate"
  fi
  wait_for "$work/reqcert.log" "\"clientError\".*PEER_DID_NOT_RETURN_A_CERTIFICATE.*" || fail "serve: no clientError"
  (($(grep -c '"clientError"' "$work/reqcert.log") == i + 1)) || fail "serve ($v): one clientError expected"
  [[ $(grep '"clientError"' "$work/reqcert.log" | sed -n "$((i + 1))p") == *'"code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"'* ]] ||
    fail "serve ($v): clientError is not ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"
done
! grep -q '"secureConnection"' "$work/reqcert.log" || fail "serve accepted a client without a certificate"
for i in "${!versions[@]}"; do
  v=${versions[$i]} m=${methods[$i]} alert=${alerts[$i]}
  node "$peer" require-cert-server "$certs" "$v" >"$work/nodereq-$v.log" 2>&1 &
  pids+=($!)
  wait_for "$work/nodereq-$v.log" '"event":"listening"' || fail "node require-cert-server did not start"
  qport=$(grep -m1 '"listening"' "$work/nodereq-$v.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  "$bin" connect --port "$qport" --ca "$certs/ca.crt" --secure-protocol "$m" --send "hello node" \
    >"$work/connect-nocert-$v.log" 2>&1 && fail "connect ($v) without a certificate exited 0"
  e=$(grep -m1 '"event":"error"' "$work/connect-nocert-$v.log") || fail "connect ($v): no error"
  [[ $(field "$e" code) == "\"$alert\"" ]] || fail "connect ($v) got $e, want $alert (the node server's alert)"
  if [[ $v == TLSv1.2 ]] && grep -q '"secureConnect"' "$work/connect-nocert-$v.log"; then
    fail "connect (TLSv1.2) reached secureConnect without a certificate"
  fi
  wait_for "$work/nodereq-$v.log" '"clientError"' || fail "node ($v): no clientError"
  grep -q '"code":"ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"' "$work/nodereq-$v.log" ||
    fail "node ($v): clientError is not ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"
done
echo "ok: requestCert + rejectUnauthorized refuse a client without a certificate, node <-> portls-$backend (${versions[*]})"
echo "ok: node <-> portls-$backend"
