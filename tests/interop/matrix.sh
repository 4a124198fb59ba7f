# The cross-backend matrix, server side: `portls-<backend> serve` against the client of
# every portls backend built here (3 servers x 3 clients = the 9 pairs). Each pair must
# agree on protocol and cipher, verify the server, and carry data both ways; and each
# client must reject a self-signed server with the same error name.
source "$(dirname "$0")/common.bash"
field() { node -e 'let v = JSON.parse(process.argv[1]); for (const k of process.argv[2].split(".")) v = v[k]; console.log(JSON.stringify(v));' "$1" "$2"; }

clients=()
for b in openssl boringssl mbedtls; do [[ -x ${PORTLS_BIN}/portls-$b ]] && clients+=("$b"); done
[[ ${#clients[@]} -gt 0 ]] || fail "no portls client built"

serve() { # serve LOG ARGS...: starts `serve`, sets $port
  local log=$1
  shift
  "$bin" serve "$@" >"$log" 2>&1 &
  pids+=($!)
  wait_for "$log" '"event":"listening"' || fail "serve did not start ($log)"
  port=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}

serve "$work/serve.log" --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt"
n=0
for c in "${clients[@]}"; do
  n=$((n + 1))
  "${PORTLS_BIN}/portls-$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" \
    --send "from $c to $backend" >"$work/client-$c.log" 2>&1 || fail "$c -> $backend: exit $?"
  cl=$(grep -m1 '"secureConnect"' "$work/client-$c.log") || fail "$c -> $backend: no secureConnect"
  wait_for "$work/serve.log" "\"secureConnection\"" || fail "$backend: no secureConnection"
  sv=$(grep '"secureConnection"' "$work/serve.log" | sed -n "${n}p")
  [[ -n $sv ]] || fail "$backend: secureConnection #$n missing"
  [[ $(field "$cl" authorized) == true ]] || fail "$c -> $backend: not authorized: $cl"
  [[ $(field "$cl" protocol) == "$(field "$sv" protocol)" ]] || fail "$c -> $backend: protocol $cl / $sv"
  [[ $(field "$cl" cipher.name) == "$(field "$sv" cipher.name)" ]] || fail "$c -> $backend: cipher $cl / $sv"
  [[ $(field "$sv" servername) == '"localhost"' ]] || fail "$c -> $backend: servername $sv"
  grep -q "\"text\":\"from $c to $backend\"" "$work/client-$c.log" || fail "$c -> $backend: no echo"
  echo "ok: $c -> $backend: $(field "$cl" protocol) $(field "$cl" cipher.name)"
done

serve "$work/bad.log" --key "$certs/self-signed.key" --cert "$certs/self-signed.crt"
for c in "${clients[@]}"; do
  status=0
  "${PORTLS_BIN}/portls-$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" \
    >"$work/bad-$c.log" 2>&1 || status=$?
  [[ $status == 1 ]] || fail "$c -> $backend (self-signed): exit $status"
  grep -q '"code":"DEPTH_ZERO_SELF_SIGNED_CERT"' "$work/bad-$c.log" ||
    fail "$c -> $backend (self-signed): $(cat "$work/bad-$c.log")"
  echo "ok: $c rejects $backend's self-signed certificate with DEPTH_ZERO_SELF_SIGNED_CERT"
done
