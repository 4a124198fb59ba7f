# The CLI's contract for bad input (docs/cli.md): a bad option, an unreadable
# file or an option the backend cannot honour prints one
# {"event":"error","code":...,"message":...} line and exits 2, before any
# network activity (serve never prints "listening").
source "$(dirname "$0")/common.bash"

caps=$("$bin" caps)
has_cap() { [[ $caps == *"\"$1\":true"* ]]; }

# expect CODE TEXT ARGS...: the command exits 2 with one error line carrying CODE
# and a message that contains TEXT.
expect() {
  local code=$1 text=$2 status=0
  shift 2
  timeout 10 "$bin" "$@" >"$work/out.log" 2>"$work/err.log" || status=$?
  [[ $status == 2 ]] || fail "$*: exit $status, expected 2"
  [[ $(grep -c . "$work/out.log") == 1 ]] || fail "$*: expected exactly one line"
  grep -q "^{\"event\":\"error\",\"code\":\"$code\",\"message\":\".*$text" "$work/out.log" ||
    fail "$*: expected $code with '$text', got: $(cat "$work/out.log")"
}

key=(--key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt")
expect EINVAL "--bogus" serve --bogus
expect EINVAL "--port" serve --port 70000
expect EINVAL "--reneg-limit" serve "${key[@]}" --reneg-limit -1
expect EINVAL "--reneg-window" serve "${key[@]}" --reneg-window soon
expect ENOENT "nope.der" serve "${key[@]}" --ocsp-response "$work/nope.der"
expect ERR_TLS_TICKET_KEYS "96 hex digits" serve "${key[@]}" --ticket-keys abcd0
expect ERR_TLS_TICKET_KEYS "48 bytes" serve "${key[@]}" --ticket-keys "$(printf '%094d' 0)"
expect EINVAL "NAME=KEYFILE:CERTFILE" serve "${key[@]}" --sni-context just-a-name
expect EINVAL "NAME=KEYFILE:CERTFILE" serve "${key[@]}" --sni-context "a.example=$certs/wrong-host.key"
expect ENOENT "missing.key" serve "${key[@]}" --sni-context "a.example=$work/missing.key:$certs/wrong-host.crt"
expect ERR_TLS_KEY_MISMATCH "a.example" serve "${key[@]}" \
  --sni-context "a.example=$certs/server-rsa.key:$certs/wrong-host.crt"
# Files go to the library by name: its errors name the option and the path, same code everywhere.
echo "not a certificate" >"$work/garbage.pem"
expect ENOENT "key_file $work/missing.key: " serve --key "$work/missing.key" --cert "$certs/server-rsa-chain.crt"
expect ERR_TLS_INVALID_CERT "cert_file $work/garbage.pem: no PEM certificate found" \
  serve --key "$certs/server-rsa.key" --cert "$work/garbage.pem"
expect ERR_TLS_INVALID_KEY "key_file $work/garbage.pem: no PEM private key found" \
  serve --key "$work/garbage.pem" --cert "$certs/server-rsa-chain.crt"
expect ERR_TLS_KEY_MISMATCH "key_file $certs/mismatch.key (for cert_file $certs/server-rsa-chain.crt)" \
  serve --key "$certs/mismatch.key" --cert "$certs/server-rsa-chain.crt"
expect ERR_TLS_INVALID_CERT "ca_file $work/garbage.pem: no PEM certificate found" \
  connect --port 1 --ca "$work/garbage.pem"
expect ENOENT "ca_path $work/nodir" connect --port 1 --ca-path "$work/nodir"
expect EINVAL "--renegotiate" connect --port 1 --renegotiate many
expect EINVAL "--port or --path" connect --renegotiate 1
for flag in ocsp-stapling:--ocsp-response session-cache:--session-cache; do
  cap=${flag%%:*} opt=${flag#*:}
  has_cap "$cap" && continue
  args=("$opt")
  [[ $opt == --ocsp-response ]] && args+=("$certs/ocsp-resp.der")
  expect ENOTSUP "$cap" serve "${key[@]}" "${args[@]}"
  grep -q "$backend" "$work/out.log" || fail "$opt: the message does not name the backend"
  echo "ok: $opt refused without capability $cap"
done
echo "ok: cli errors, portls-$backend"
