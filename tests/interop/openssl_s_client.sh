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
# TLS 1.3 KeyUpdate both ways: 'k' renews s_client's sending keys, 'K' asks the
# server to renew its own as well. On the OpenSSL backend the connection has
# given its library session back by now (backends/common/ossl_lean.c), so this
# is portls's own record layer following the new secrets.
if "$bin" caps | grep -q '"tls1.3":true'; then
  # s_client reads its input in chunks and looks at a chunk's first letter
  # only: each command needs a read of its own, hence the waits.
  n=0
  for cmd in k K k K; do
    n=$((n + 1))
    echo "$cmd" >&3
    sleep 0.2
    echo "after $cmd $n" >&3
    wait_for "$work/client.log" "after $cmd $n" || fail "data after KeyUpdate '$cmd' did not come back: $(cat "$work/client.log")"
  done
  echo "last line" >&3
  wait_for "$work/client.log" 'last line' || fail "data after KeyUpdate did not come back: $(cat "$work/client.log")"
  [[ $(grep -c '^after [kK] ' "$work/client.log") == 4 ]] || fail "lines lost around KeyUpdate: $(cat "$work/client.log")"
  grep -qi 'error\|alert' "$work/client.log" && fail "s_client reported: $(cat "$work/client.log")"
fi
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
