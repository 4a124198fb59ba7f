# Node.js as a real peer, both ways: a Node client against `portls-<backend> serve`,
# and `portls-<backend> connect` against a Node server. Both sides must agree on the
# protocol, the cipher, the ALPN choice (the server's order) and verification.
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
echo "ok: node <-> portls-$backend"
