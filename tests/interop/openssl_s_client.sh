# openssl s_client against `portls-<backend> serve`: the handshake verifies against our
# CA, the server reports the connection, and what s_client sends comes back.
source "$(dirname "$0")/common.bash"

"$bin" serve --rest-min-connections 1 --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$work/serve.log" 2>&1 &
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
# server to renew its own as well. After a second of quiet, an OpenSSL-backend
# server connection has given its library session back (--rest-min-connections 1;
# rest sweeps every 100 ms;
# backends/common/ossl_lean.c), so this is portls's own record layer following
# the new secrets.
tls13=0
"$bin" caps | grep -q '"tls1.3":true' && tls13=1
keyupdate=$tls13
# mbed TLS 3.6 takes no post-handshake message but NewSessionTicket: a peer's
# KeyUpdate fails the connection (unexpected_message): checked at the end.
[[ $backend == mbedtls ]] && keyupdate=0
if [[ $keyupdate == 1 ]]; then
  sleep 1
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

# setMaxSendFragment(512) holds for a connection that has rested: every
# record s_client receives after the quiet spell carries at most 512 bytes.
if [[ $tls13 == 1 ]]; then
  "$bin" serve --rest-min-connections 1 --key "$certs/server-ec.key" --cert "$certs/server-ec-chain.crt" --max-send-fragment 512 \
    >"$work/serve2.log" 2>&1 &
  pids+=($!)
  wait_for "$work/serve2.log" '"event":"listening"' || fail "serve --max-send-fragment did not print listening"
  port2=$(grep -m1 '"listening"' "$work/serve2.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  mkfifo "$work/in2"
  openssl s_client -connect "127.0.0.1:$port2" -servername localhost -CAfile "$certs/ca.crt" \
    -verify_return_error -quiet -no_ign_eof -msg <"$work/in2" >"$work/client2.log" 2>&1 &
  client2=$!
  pids+=($client2)
  exec 4>"$work/in2"
  echo "first" >&4
  wait_for "$work/client2.log" 'first' || fail "no echo before the quiet spell: $(tail -n 20 "$work/client2.log")"
  sleep 1
  long=$(head -c 3000 /dev/zero | tr '\0' 'q')
  echo "$long" >&4
  # s_client prints the echo record by record, between the -msg lines.
  for _ in $(seq 50); do
    (( $(tr -cd q <"$work/client2.log" | wc -c) >= 3000 )) && break
    sleep 0.1
  done
  (( $(tr -cd q <"$work/client2.log" | wc -c) == 3000 )) || fail "the 3000-byte line did not come back whole"
  exec 4>&-
  wait "$client2" || fail "s_client failed: $(tail -n 20 "$work/client2.log")"
  # Received record headers: "<<< TLS 1.3, RecordHeader [length 0005]" and then
  # the five bytes in hex; the last two are the length. The last eight records
  # are the 3001-byte echo's six and at most a close_notify: none may carry
  # more than 512 bytes (+ 17 of type and tag), and five carry exactly that.
  lens=$(awk '/<<< .*RecordHeader/ {getline; print $4 $5}' "$work/client2.log" |
    while read -r hex; do echo $((16#$hex)); done | tail -n 8)
  [[ -n $lens ]] || fail "s_client -msg printed no record headers: $(head -n 20 "$work/client2.log")"
  max=$(sort -n <<<"$lens" | tail -n 1)
  (( max <= 512 + 17 )) || fail "a record of $max bytes under --max-send-fragment 512: $lens"
  (( $(grep -cx 529 <<<"$lens") >= 5 )) || fail "the 3000-byte echo was not cut at 512 bytes: $lens"
fi
# mbed TLS 3.6: a peer's KeyUpdate is refused, with an error on that connection
# (no hang, no crash), and the server goes on serving.
if [[ $tls13 == 1 && $keyupdate == 0 ]]; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$work/serve3.log" 2>&1 &
  pids+=($!)
  wait_for "$work/serve3.log" '"event":"listening"' || fail "serve (KeyUpdate) did not print listening"
  port3=$(grep -m1 '"listening"' "$work/serve3.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  mkfifo "$work/in3"
  openssl s_client -connect "127.0.0.1:$port3" -CAfile "$certs/ca.crt" -quiet -no_ign_eof \
    <"$work/in3" >"$work/client3.log" 2>&1 &
  pids+=($!)
  exec 5>"$work/in3"
  echo "before" >&5
  wait_for "$work/client3.log" 'before' || fail "no echo before the KeyUpdate"
  sleep 0.2
  echo "k" >&5
  wait_for "$work/serve3.log" '"event":"error","code":"EPROTO"' ||
    fail "a KeyUpdate to mbed TLS 3.6 did not fail the connection with EPROTO: $(cat "$work/serve3.log")"
  exec 5>&-
  (echo "again"; sleep 1) | timeout 10 openssl s_client -connect "127.0.0.1:$port3" -CAfile "$certs/ca.crt" \
    -quiet -no_ign_eof >"$work/client4.log" 2>&1 || true
  grep -q '^again' "$work/client4.log" || fail "serve stopped after the refused KeyUpdate"
  echo "ok: mbed TLS 3.6 refuses a peer's KeyUpdate with EPROTO and goes on serving"
fi
echo "ok: s_client -> portls-$backend serve"
