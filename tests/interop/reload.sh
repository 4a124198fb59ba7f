# serve's hot certificate reload (docs/cli.md, "serve"): SIGHUP reads the
# --key/--cert files again. New connections get the new certificate (seen by
# openssl s_client and by a Node.js client), a connection open across the
# reload keeps working with its old one, and bad files (garbage, a key that is
# not the certificate's, a missing file) print an error event naming the
# option and the file while the old certificate is still served.
source "$(dirname "$0")/common.bash"

fp_of_file() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//'; }
# The SHA-256 fingerprint of the certificate a new connection gets (openssl s_client).
fp_served() {
  openssl s_client -connect "127.0.0.1:$port" -servername "${1:-localhost}" </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | sed 's/.*=//'
}
# The same through Node.js's tls.connect (getPeerCertificate().fingerprint256).
fp_node() {
  node -e '
    const tls = require("tls");
    const s = tls.connect({host: "127.0.0.1", port: +process.argv[1], servername: "localhost",
                           ca: require("fs").readFileSync(process.argv[2])}, () => {
      if (!s.authorized) { console.error("not authorized:", s.authorizationError); process.exit(1); }
      console.log(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on("error", (e) => { console.error(e.message); process.exit(1); });
  ' "$port" "$certs/ca.crt"
}

wrong_fp=$(fp_of_file "$certs/wrong-host.crt")
rsa_fp=$(fp_of_file "$certs/server-rsa.crt")
ec_fp=$(fp_of_file "$certs/server-ec.crt")
[[ -n $rsa_fp && -n $ec_fp && $rsa_fp != "$ec_fp" ]] || fail "could not read the test fingerprints"

cp "$certs/server-rsa.key" "$work/key.pem"
cp "$certs/server-rsa-chain.crt" "$work/cert.pem"
cp "$certs/wrong-host.key" "$work/sni.key"
cp "$certs/wrong-host-chain.crt" "$work/sni.crt"
"$bin" serve --key "$work/key.pem" --cert "$work/cert.pem" --port 0 \
  --sni-context "a.example=$work/sni.key:$work/sni.crt" >"$work/serve.log" 2>&1 &
srv=$!
pids+=($srv)
wait_for "$work/serve.log" '"event":"listening"' || fail "serve did not start"
port=$(grep -m1 '"listening"' "$work/serve.log" | sed -E 's/.*"port":([0-9]+).*/\1/')

[[ $(fp_served) == "$rsa_fp" ]] || fail "before the reload: not the RSA certificate"
[[ $(fp_served a.example) == "$wrong_fp" ]] || fail "before the reload: a.example is not wrong-host"
echo "ok: serves the RSA certificate, and wrong-host's to a.example"

# A connection that stays open across the reload.
mkfifo "$work/held.in"
exec 5<>"$work/held.in"
openssl s_client -connect "127.0.0.1:$port" -servername localhost -quiet <&5 >"$work/held.log" 2>&1 &
pids+=($!)
wait_for "$work/serve.log" '"event":"secureConnection"' || fail "the held connection did not connect"

# reload COUNT: SIGHUP, then wait for the COUNT-th reload outcome (event or error).
hups=0
reload() {
  hups=$((hups + 1))
  kill -HUP "$srv"
  local i
  for ((i = 0; i < 200; i++)); do
    (($(grep -Ec '"event":"(secureContextReloaded|error)"' "$work/serve.log") >= hups)) && return 0
    sleep 0.05
  done
  fail "no outcome for SIGHUP #$hups"
}

cp "$certs/server-ec.key" "$work/key.pem"
cp "$certs/server-ec-chain.crt" "$work/cert.pem"
cp "$certs/server-rsa.key" "$work/sni.key"
cp "$certs/server-rsa-chain.crt" "$work/sni.crt"
reload
grep -q '"event":"secureContextReloaded","sniContexts":1,"sniFailed":false' "$work/serve.log" ||
  fail "no secureContextReloaded event"
[[ $(fp_served) == "$ec_fp" ]] || fail "after the reload: not the EC certificate (s_client)"
[[ $(fp_served a.example) == "$rsa_fp" ]] || fail "after the reload: a.example's context was not replaced"
if command -v node >/dev/null; then
  got=$(fp_node) || fail "node client failed: $got"
  [[ $got == "$ec_fp" ]] || fail "after the reload: node saw $got, expected $ec_fp"
  echo "ok: a Node.js client sees the new certificate"
fi
echo "ok: SIGHUP: secureContextReloaded, new connections get the new certificate"

echo "still here" >&5
wait_for "$work/held.log" '^still here$' || fail "the connection opened before the reload stopped working"
echo "ok: a connection opened before the reload keeps working"

# Bad files: an error naming the option and the file; the EC certificate stays.
echo "garbage" >"$work/cert.pem"
reload
tail -n 1 "$work/serve.log" | grep -q "\"code\":\"ERR_TLS_INVALID_CERT\",\"message\":\"cert_file $work/cert.pem: no PEM certificate found\"" ||
  fail "garbage cert: unexpected $(tail -n 1 "$work/serve.log")"
[[ $(fp_served) == "$ec_fp" ]] || fail "after a bad reload: the old certificate is gone"
echo "ok: garbage cert_file: error names it, old certificate kept"

cp "$certs/server-ec-chain.crt" "$work/cert.pem"
cp "$certs/server-rsa.key" "$work/key.pem"
reload
tail -n 1 "$work/serve.log" | grep -q "\"code\":\"ERR_TLS_KEY_MISMATCH\",\"message\":\"key_file $work/key.pem (for cert_file $work/cert.pem)" ||
  fail "mismatch: unexpected $(tail -n 1 "$work/serve.log")"
[[ $(fp_served) == "$ec_fp" ]] || fail "after a mismatched reload: the old certificate is gone"
echo "ok: key/cert mismatch: error names both files, old certificate kept"

rm "$work/key.pem"
reload
tail -n 1 "$work/serve.log" | grep -q "\"code\":\"ENOENT\",\"message\":\"key_file $work/key.pem: " ||
  fail "missing key: unexpected $(tail -n 1 "$work/serve.log")"
[[ $(fp_served) == "$ec_fp" ]] || fail "after a reload with a missing file: the old certificate is gone"
echo "ok: missing key_file: error names it, old certificate kept"

# Good files again: the reload works after failures.
cp "$certs/server-rsa.key" "$work/key.pem"
cp "$certs/server-rsa-chain.crt" "$work/cert.pem"
reload
tail -n 1 "$work/serve.log" | grep -q '"event":"secureContextReloaded"' || fail "the last reload failed"
[[ $(fp_served) == "$rsa_fp" ]] || fail "after the last reload: not the RSA certificate"
kill -0 "$srv" || fail "serve died"
echo "ok: cli reload, portls-$backend"
