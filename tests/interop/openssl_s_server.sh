# `portls-<backend> connect` against openssl s_server: secureConnect with the
# negotiated cipher and a verified peer certificate, then data and a clean close.
source "$(dirname "$0")/common.bash"

start_s_server "$work/server.log" -key "$certs/server-ec.key" -cert "$certs/server-ec.crt" -cert_chain "$certs/intermediate.crt" \
  -naccept 1 -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256

"$bin" connect --host localhost --port "$port" --ca "$certs/ca.crt" --send "ping from portls" \
  >"$work/connect.log" 2>&1 || fail "connect exited with $?"

line=$(grep -m1 '"secureConnect"' "$work/connect.log") || fail "no secureConnect"
[[ $(json_field "$line" authorized) == 'true' ]] || fail "not authorized: $line"
[[ $(json_field "$line" protocol) == '"TLSv1.2"' ]] || fail "protocol: $line"
cipher=$(node -e 'console.log(JSON.parse(process.argv[1]).cipher.name)' "$line")
[[ $cipher == ECDHE-ECDSA-AES128-GCM-SHA256 ]] || fail "cipher: $cipher"
cn=$(node -e 'console.log(JSON.parse(process.argv[1]).peerCertificate.subject.CN)' "$line")
[[ $cn == localhost ]] || fail "peer certificate CN: $cn"
wait_for "$work/server.log" 'ping from portls' || fail "s_server did not receive the data"
grep -q '"event":"close","hadError":false' "$work/connect.log" || fail "no clean close"
echo "ok: portls-$backend connect -> s_server"
