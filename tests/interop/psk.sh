# Pre-shared keys against real peers: `portls-<backend> connect --psk` against
# `openssl s_server -nocert -psk`, `openssl s_client -psk` against
# `portls-<backend> serve --psk` (no key, no certificate), over TLS 1.2 PSK suites
# and, where the backend has psk-tls1.3, TLS 1.3; a wrong key and an unknown
# identity; Node.js's pskCallback both ways when node is installed; --psk errors.
source "$(dirname "$0")/common.bash"

caps=$("$bin" caps)
has() { [[ $caps == *"\"$1\":true"* ]]; }
has psk || { echo "skip: backend $backend lacks capability psk"; exit 77; }

key=00112233445566778899aabbccddeeff
wrong=ffeeddccbbaa99887766554433221100
# The TLS 1.2 PSK suite this backend has that OpenSSL has too (BoringSSL: no GCM one).
suite=$("$bin" cipher-list 'PSK-AES128-GCM-SHA256:PSK-AES128-CBC-SHA' | tr -d '[]"' | tr ',' '\n' |
  grep -m1 '^PSK-') || fail "no TLS 1.2 PSK suite in the cipher list"

serve() { # serve LOG ARGS...: portls serve --psk on a free port; sets $sport
  local log=$1
  shift
  "$bin" serve "$@" >"$log" 2>&1 &
  pids+=($!)
  wait_for "$log" '"event":"listening"' || fail "serve did not print listening"
  sport=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}

# ---- connect --psk against openssl s_server -nocert -psk ------------------------------
run_connect() { # run_connect NAME PROTOCOL S_SERVER-ARGS... -- CONNECT-ARGS...
  local name=$1 want=$2 rc=0
  shift 2
  local sargs=() cargs=()
  while [[ $1 != -- ]]; do sargs+=("$1"); shift; done
  shift
  cargs=("$@")
  start_s_server "$work/$name.s_server.log" -nocert -naccept 1 "${sargs[@]}"
  timeout 20 "$bin" connect --port "$port" --send "psk ping $name" "${cargs[@]}" \
    >"$work/$name.connect.log" 2>&1 || rc=$?
  [[ $rc == 0 ]] || fail "$name: connect exited with $rc"
  local line
  line=$(grep -m1 '"secureConnect"' "$work/$name.connect.log") || fail "$name: no secureConnect"
  [[ $(json_field "$line" authorized) == 'true' ]] || fail "$name: not authorized: $line"
  [[ $(json_field "$line" protocol) == "\"$want\"" ]] || fail "$name: protocol (want $want): $line"
  [[ $(json_field "$line" peerCertificate) == '{}' ]] || fail "$name: a peer certificate: $line"
  wait_for "$work/$name.s_server.log" "psk ping $name" || fail "$name: s_server did not receive the data"
  echo "ok: $name"
}

hint_args=()
has psk-hint && hint_args=(-psk_hint "sensor-net")
run_connect connect-tls12 TLSv1.2 -psk "$key" -psk_identity dev1 -tls1_2 -cipher "$suite" \
  "${hint_args[@]}" -- --psk "dev1:$key" --ciphers "$suite"
if has psk-hint; then
  grep -q '"event":"pskCallback","hint":"sensor-net","identity":"dev1"' "$work/connect-tls12.connect.log" ||
    fail "the hint did not reach pskCallback: $(cat "$work/connect-tls12.connect.log")"
fi
if has psk-tls1.3; then
  run_connect connect-tls13 TLSv1.3 -psk "$key" -psk_identity dev1 -- --psk "dev1:$key"
fi

# A wrong key: the handshake fails, and says so.
start_s_server "$work/wrong.s_server.log" -nocert -naccept 1 -psk "$key" -psk_identity dev1 -tls1_2 -cipher "$suite"
rc=0
timeout 20 "$bin" connect --port "$port" --psk "dev1:$wrong" --ciphers "$suite" >"$work/wrong.connect.log" 2>&1 || rc=$?
[[ $rc == 1 ]] || fail "connect with a wrong key exited $rc"
grep -Eq '"event":"error","code":"ERR_SSL_(SSLV3_ALERT_BAD_RECORD_MAC|TLSV1_ALERT_DECRYPT_ERROR)"' "$work/wrong.connect.log" ||
  fail "wrong key: $(cat "$work/wrong.connect.log")"
echo "ok: connect with a wrong key fails with $(grep -o '"code":"[A-Z_0-9]*"' "$work/wrong.connect.log")"

# ---- openssl s_client -psk against serve --psk (no --key/--cert) ----------------------
# The TLS 1.3 suites named as well: a string of TLS 1.2 suites alone turns TLS 1.3 off.
serve "$work/serve.log" --psk "dev1:$key" --psk "dev2:$wrong" \
  --ciphers "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:$suite"
s_client() { # s_client NAME ARGS...: one line there and back
  local name=$1
  shift
  echo "psk line $name" | timeout 20 openssl s_client -connect "127.0.0.1:$sport" -quiet "$@" \
    >"$work/$name.s_client.log" 2>&1 || true
}
s_client sclient-tls12 -psk "$key" -psk_identity dev1 -tls1_2 -cipher "$suite"
grep -q "psk line sclient-tls12" "$work/sclient-tls12.s_client.log" ||
  fail "TLS 1.2: the line did not come back: $(cat "$work/sclient-tls12.s_client.log")"
grep -q "\"protocol\":\"TLSv1.2\",\"cipher\":{\"name\":\"$suite\"" "$work/serve.log" ||
  fail "TLS 1.2: no secureConnection with $suite: $(cat "$work/serve.log")"
echo "ok: s_client -tls1_2 -cipher $suite -> serve --psk"
if has psk-tls1.3; then
  s_client sclient-tls13 -psk "$wrong" -psk_identity dev2
  grep -q "psk line sclient-tls13" "$work/sclient-tls13.s_client.log" ||
    fail "TLS 1.3: the line did not come back: $(cat "$work/sclient-tls13.s_client.log")"
  grep -q '"protocol":"TLSv1.3"' "$work/serve.log" || fail "TLS 1.3: no secureConnection: $(cat "$work/serve.log")"
  echo "ok: s_client (TLS 1.3) -> serve --psk, second identity"
else
  # No TLS 1.3 PSK here: serve --psk holds its connections to TLS 1.2, so a client that
  # offers TLS 1.3 as well still gets its PSK suite.
  s_client sclient-any -psk "$wrong" -psk_identity dev2 -cipher "$suite"
  grep -q "psk line sclient-any" "$work/sclient-any.s_client.log" ||
    fail "TLS 1.2 or 1.3: the line did not come back: $(cat "$work/sclient-any.s_client.log")"
  [[ $(grep -c '"protocol":"TLSv1.2"' "$work/serve.log") == 2 ]] || fail "not TLS 1.2: $(cat "$work/serve.log")"
  echo "ok: s_client offering TLS 1.3 too -> serve --psk: TLS 1.2, second identity"
fi
s_client sclient-unknown -psk "$key" -psk_identity nobody -tls1_2 -cipher "$suite"
wait_for "$work/serve.log" '"event":"clientError","code":"ERR_SSL_PSK_IDENTITY_NOT_FOUND"' ||
  fail "unknown identity: $(cat "$work/serve.log")"
grep -q '"event":"pskCallback","identity":"nobody","known":false' "$work/serve.log" || fail "no pskCallback line for nobody"
echo "ok: an unknown identity is ERR_SSL_PSK_IDENTITY_NOT_FOUND"
s_client sclient-wrong -psk "$wrong" -psk_identity dev1 -tls1_2 -cipher "$suite"
wait_for "$work/serve.log" '"event":"clientError","code":"ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC"' ||
  fail "wrong key: $(cat "$work/serve.log")"
echo "ok: a wrong key is ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC on the server"

# ---- Node.js's pskCallback ------------------------------------------------------------
# node_client PORT VERSION [SUITE]: Node's pskCallback client against serve --psk. Node
# calls checkServerIdentity after a TLS 1.2 PSK handshake (with no certificate), so the
# client gives one that accepts.
node_client() {
  node -e '
    const tls = require("tls");
    const [port, key, version, suite] = process.argv.slice(1);
    const s = tls.connect({ port: +port, host: "127.0.0.1", ciphers: suite || undefined,
      maxVersion: version, checkServerIdentity: () => undefined,
      pskCallback: (hint) => ({ psk: Buffer.from(key, "hex"), identity: "dev1" }) }, () => {
        console.log(JSON.stringify({ secure: s.getProtocol(), cipher: s.getCipher().name }));
        s.end("node psk line");
      });
    s.on("data", (d) => console.log(JSON.stringify({ data: d.toString() })));
    s.on("error", (e) => { console.log(JSON.stringify({ error: e.code })); process.exitCode = 1; });
  ' "$1" "$key" "$2" "${3:-}" >"$work/node-client-$2.log" 2>&1 || fail "node client $2: $(cat "$work/node-client-$2.log")"
  grep -q "\"secure\":\"$2\"" "$work/node-client-$2.log" || fail "node client $2: $(cat "$work/node-client-$2.log")"
  grep -q '"data":"node psk line"' "$work/node-client-$2.log" || fail "node client $2: $(cat "$work/node-client-$2.log")"
  echo "ok: node pskCallback client ($2) -> serve --psk"
}

# node_server VERSION [SUITE]: connect --psk against a Node server with pskCallback and
# pskIdentityHint and no certificate.
node_server() {
  local log=$work/node-server-$1.log rc=0
  node -e '
    const tls = require("tls");
    const [key, version, suite] = process.argv.slice(1);
    const srv = tls.createServer({ ciphers: suite || undefined, maxVersion: version,
      pskIdentityHint: "node-hint",
      pskCallback: (sock, id) => id === "dev1" ? Buffer.from(key, "hex") : null }, (s) => {
        s.pipe(s);
        s.on("end", () => srv.close());
      });
    srv.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: srv.address().port })));
  ' "$key" "$1" "${2:-}" >"$log" 2>&1 &
  pids+=($!)
  wait_for "$log" '"port"' || fail "node server did not start: $(cat "$log")"
  local nport
  nport=$(sed -nE 's/.*"port":([0-9]+).*/\1/p' "$log" | head -1)
  local cargs=(--psk "dev1:$key")
  [[ -n ${2:-} ]] && cargs+=(--ciphers "$2")
  timeout 20 "$bin" connect --port "$nport" "${cargs[@]}" --send "to node" \
    >"$work/connect-node-$1.log" 2>&1 || rc=$?
  [[ $rc == 0 ]] || fail "connect --psk -> node $1 exited $rc: $(cat "$work/connect-node-$1.log")"
  grep -q "\"protocol\":\"$1\"" "$work/connect-node-$1.log" || fail "node $1: $(cat "$work/connect-node-$1.log")"
  grep -q '"text":"to node"' "$work/connect-node-$1.log" || fail "no echo from node: $(cat "$work/connect-node-$1.log")"
  if [[ $1 == TLSv1.2 ]] && has psk-hint; then
    grep -q '"hint":"node-hint"' "$work/connect-node-$1.log" || fail "node's hint: $(cat "$work/connect-node-$1.log")"
  fi
  echo "ok: connect --psk -> node pskCallback server ($1)"
}

if command -v node >/dev/null; then
  node_client "$sport" TLSv1.2 "$suite"
  node_server TLSv1.2 "$suite"
  if has psk-tls1.3; then
    node_client "$sport" TLSv1.3
    node_server TLSv1.3
  fi
fi

# ---- bad --psk values: one error line naming --psk, exit 2 ------------------------------
for bad in "dev1:xyz0" "dev1:abc" "dev1" ":00ff" "dev1:"; do
  rc=0
  out=$("$bin" serve --psk "$bad" 2>&1) || rc=$?
  [[ $rc == 2 ]] || fail "--psk $bad: exit $rc ($out)"
  [[ $(grep -c . <<<"$out") == 1 && $out == *'"code":"EINVAL"'*'--psk:'* ]] || fail "--psk $bad: $out"
  rc=0
  out=$("$bin" connect --port 1 --psk "$bad" 2>&1) || rc=$?
  [[ $rc == 2 && $out == *'--psk:'* ]] || fail "connect --psk $bad: exit $rc ($out)"
done
rc=0
out=$("$bin" serve --psk-hint x 2>&1) || rc=$?
[[ $rc == 2 && $out == *'--psk-hint: needs --psk'* ]] || fail "--psk-hint alone: exit $rc ($out)"
if ! has psk-hint; then
  rc=0
  out=$("$bin" serve --psk "dev1:$key" --psk-hint x 2>&1) || rc=$?
  [[ $rc == 2 && $out == *'"code":"ENOTSUP"'*"--psk-hint: needs capability 'psk-hint'"* ]] ||
    fail "--psk-hint without the capability: exit $rc ($out)"
fi
echo "ok: bad --psk values"
