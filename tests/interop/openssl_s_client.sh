# openssl s_client against `portls-<backend> serve`: the handshake verifies against our
# CA, the server reports the connection, and what s_client sends comes back.
source "$(dirname "$0")/common.bash"

"$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_for "$work/serve.log" '"event":"listening"' || fail "serve did not print listening"
port=$(grep -m1 '"listening"' "$work/serve.log" | sed -E 's/.*"port":([0-9]+).*/\1/')

mkfifo "$work/in"
openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$certs/ca.crt" \
  -verify_return_error -quiet -no_ign_eof <"$work/in" >"$work/client.log" 2>&1 &
pids+=($!)
exec 3>"$work/in"
echo "hello from s_client" >&3
wait_for "$work/client.log" 'hello from s_client' || fail "the line did not come back"
exec 3>&-

line=$(grep -m1 '"secureConnection"' "$work/serve.log") || fail "no secureConnection event"
[[ $(json_field "$line" servername) == '"localhost"' ]] || fail "servername: $line"
# The newest version both have: TLS 1.3 unless this backend lacks it.
want='"TLSv1.3"'
"$bin" caps | grep -q '"tls1.3":true' || want='"TLSv1.2"'
[[ $(json_field "$line" protocol) == "$want" ]] || fail "protocol (want $want): $line"
[[ $(json_field "$line" authorized) == 'false' ]] || fail "authorized without requestCert: $line"
wait_for "$work/serve.log" '"event":"close","hadError":false' || fail "no clean close after s_client left"
echo "ok: s_client -> portls-$backend serve"
