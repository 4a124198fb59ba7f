# Sessions and SNI with Node.js as the peer (node-peer.js):
#  1. a Node client resumes its own session on `portls-<backend> serve`, by ticket over TLS
#     1.2 and 1.3, and by session id against --session-cache (newSession, then
#     resumeSession with the same id, found);
#  2. a Node client's servername picks the --sni-context certificate, which Node verifies;
#  3. a Node server and a portls server given the same ticketKeys resume each other's
#     sessions, with a Node client and with `connect`. Only where the backend is OpenSSL,
#     as Node is: a ticket holds the library's own session encoding, so a BoringSSL or
#     mbedTLS server cannot read Node's (those must still complete a full handshake);
#  4. `connect --session-out`, then `--session-in`, against the Node server (ticketKeys,
#     newSession/resumeSession listeners): resumed, reporting an ephemeral key where Node's
#     client does (a resumed TLS 1.3 handshake) and none where it does not (TLS 1.2).
# A resumed connection on `serve` reports the client's servername, as Node's server does.
# A scenario whose capability the backend lacks is skipped with a message naming it.
source "$(dirname "$0")/common.bash"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
peer=$(dirname "$0")/node-peer.js
caps=$("$bin" caps)
has() { [[ $caps == *"\"$1\":true"* ]]; }
skip() { echo "skip: $1 (capability $2 is false on $backend)"; }
# port_of LOG: the port a server (portls or the Node peer) prints once it listens.
port_of() {
  wait_for "$1" '"event":"listening"' || fail "no listening line in $1"
  grep -m1 '"listening"' "$1" | sed -E 's/.*"port":([0-9]+).*/\1/'
}
reused() { json_field "$(grep '"secureConnect"' "$1" | sed -n "${2}p")" sessionReused; } # reused LOG N
versions=(TLSv1.2) methods=(TLSv1_2_method)
has tls1.3 && versions+=(TLSv1.3) methods+=(TLSv1_3_method)

# ---- 1. a Node client resumes on portls ---------------------------------------------
if has session-tickets; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" >"$work/tickets.log" 2>&1 &
  pids+=($!)
  port=$(port_of "$work/tickets.log")
  n=0
  for v in "${versions[@]}"; do
    timeout 20 node "$peer" resume "$certs" "$v" "$port" "$port" >"$work/resume-$v.log" 2>&1 ||
      fail "node resume ($v) failed"
    grep -q '"event":"session"' "$work/resume-$v.log" || fail "node ($v): no 'session' event"
    [[ $(reused "$work/resume-$v.log" 1) == false && $(reused "$work/resume-$v.log" 2) == true ]] ||
      fail "node ($v): the second connection did not resume"
    n=$((n + 2))
    wait_for "$work/tickets.log" '"sessionReused":true' || fail "serve: no resumed connection"
    (($(grep -c '"secureConnection"' "$work/tickets.log") == n)) || fail "serve: $n connections expected"
    [[ $(grep '"secureConnection"' "$work/tickets.log" | sed -n "${n}p") == *"\"protocol\":\"$v\""*'"sessionReused":true'* ]] ||
      fail "serve ($v): the Node client's second connection is not a resumption"
    # Node's server reports the servername of a resumed connection too.
    [[ $(grep '"secureConnection"' "$work/tickets.log" | sed -n "${n}p") == *'"servername":"localhost"'* ]] ||
      fail "serve ($v): the resumed connection does not report servername localhost"
  done
  echo "ok: a Node client resumes by ticket on portls-$backend (${versions[*]})"
else
  skip "Node client resumption by ticket" session-tickets
fi
if has session-cache; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" --session-cache \
    >"$work/cache.log" 2>&1 &
  pids+=($!)
  port=$(port_of "$work/cache.log")
  timeout 20 node "$peer" resume "$certs" TLSv1.2/no-ticket "$port" "$port" >"$work/resume-cache.log" 2>&1 ||
    fail "node resume (session id) failed"
  [[ $(reused "$work/resume-cache.log" 2) == true ]] || fail "node: no resumption by session id"
  n=$(grep -m1 '"newSession"' "$work/cache.log") || fail "serve: no newSession"
  r=$(grep -m1 '"resumeSession"' "$work/cache.log") || fail "serve: no resumeSession"
  [[ $(json_field "$n" id) == "$(json_field "$r" id)" && $(json_field "$r" found) == true ]] ||
    fail "serve: resumeSession did not find the id newSession stored: $n / $r"
  echo "ok: a Node client resumes by session id on portls-$backend --session-cache"
else
  skip "Node client resumption by session id" session-cache
fi

# ---- 2. SNI --------------------------------------------------------------------------
if has sni; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
    --sni-context "wrong.example.com=$certs/wrong-host.key:$certs/wrong-host-chain.crt" >"$work/sni.log" 2>&1 &
  pids+=($!)
  port=$(port_of "$work/sni.log")
  for name in wrong.example.com localhost; do
    timeout 20 node "$peer" sni "$port" "$certs" "$name" >"$work/sni-$name.log" 2>&1 || fail "node sni $name failed"
    c=$(grep -m1 '"secureConnect"' "$work/sni-$name.log")
    [[ $(json_field "$c" authorized) == true ]] || fail "node did not verify the certificate for $name: $c"
    [[ $(json_field "$c" subjectCN) == "\"$name\"" ]] || fail "servername $name got another certificate: $c"
  done
  wait_for "$work/sni.log" '"servername":"localhost"' || fail "serve: no second connection"
  grep -q '"secureConnection".*"servername":"wrong.example.com"' "$work/sni.log" || fail "serve: servername"
  echo "ok: a Node client's servername picks the SNI context"
else
  skip "SNI" sni
fi

# ---- 3, 4. a Node server with ticketKeys -----------------------------------------------
# The Node server's sessionIdContext is portls's default one ("portls"): Node's own default
# is a hash of its command line, and a session resumes only under the context it was made in.
keys=$(openssl rand -hex 48)
node "$peer" ticket-server "$certs" "$keys" portls >"$work/node-server.log" 2>&1 &
pids+=($!)
nport=$(port_of "$work/node-server.log")
if has ticket-keys; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" --ticket-keys "$keys" \
    >"$work/shared.log" 2>&1 &
  pids+=($!)
  sport=$(port_of "$work/shared.log")
  same=false # does this backend read OpenSSL's (Node's) session encoding?
  [[ $backend == openssl ]] && same=true
  for v in "${versions[@]}"; do
    for pair in "$nport $sport" "$sport $nport"; do
      read -r from to <<<"$pair"
      timeout 20 node "$peer" resume "$certs" "$v" "$from" "$to" >"$work/cross-$v-$from.log" 2>&1 ||
        fail "node resume $v $from -> $to failed"
      [[ $same == false || $(reused "$work/cross-$v-$from.log" 2) == true ]] ||
        fail "Node client ($v): a session from port $from did not resume on $to (node $nport, serve $sport)"
    done
  done
  for m in "${methods[@]}"; do
    for pair in "$nport $sport" "$sport $nport"; do
      read -r from to <<<"$pair"
      "$bin" connect --port "$from" --ca "$certs/ca.crt" --secure-protocol "$m" --session-out "$work/x.sess" \
        --send one >"$work/x-$m-$from.log" 2>&1 || fail "connect $m to $from failed"
      "$bin" connect --port "$to" --ca "$certs/ca.crt" --secure-protocol "$m" --session-in "$work/x.sess" \
        --send two >"$work/x-$m-$to.log" 2>&1 || fail "connect $m to $to failed"
      [[ $same == false || $(reused "$work/x-$m-$to.log" 1) == true ]] ||
        fail "connect ($m): a session from port $from did not resume on $to (node $nport, serve $sport)"
    done
  done
  if [[ $same == true ]]; then
    echo "ok: Node and portls-$backend servers with the same ticketKeys resume each other's sessions"
  else
    echo "ok: Node and portls-$backend servers with the same ticketKeys: full handshakes (a ticket is the" \
      "library's own session encoding; $(grep -c '"sessionReused":true' "$work/shared.log") resumed)"
  fi
else
  skip "ticketKeys shared with Node" ticket-keys
fi
for m in "${methods[@]}"; do
  "$bin" connect --port "$nport" --ca "$certs/ca.crt" --secure-protocol "$m" --session-out "$work/n-$m.sess" \
    --send one >"$work/n-$m-1.log" 2>&1 || fail "connect $m to the Node server failed"
  "$bin" connect --port "$nport" --ca "$certs/ca.crt" --secure-protocol "$m" --session-in "$work/n-$m.sess" \
    --send two >"$work/n-$m-2.log" 2>&1 || fail "connect $m to the Node server, again, failed"
  [[ $(reused "$work/n-$m-2.log" 1) == true ]] ||
    fail "connect ($m): the Node server's session did not resume" \
      "($(grep -c '"event":"session"' "$work/n-$m-1.log") session events on the first connection)"
  # As a Node client reports it: no ephemeral key where a resumed TLS 1.2 handshake
  # exchanged none, the key of a resumed TLS 1.3 one (psk_dhe_ke).
  eph=$(json_field "$(grep -m1 '"secureConnect"' "$work/n-$m-2.log")" ephemeralKeyInfo)
  if [[ $m == TLSv1_2_method ]]; then
    [[ $eph == '{}' ]] || fail "connect ($m): a resumed handshake reports an ephemeral key: $eph"
  else
    [[ $eph == *'"type":"ECDH"'* ]] || fail "connect ($m): a resumed handshake reports no ephemeral key: $eph"
  fi
done
(($(grep -c '"sessionReused":true' "$work/node-server.log") >= ${#methods[@]})) || fail "the Node server saw no resumption"
echo "ok: connect --session-out/--session-in against a Node server (${methods[*]})"
echo "ok: node sessions, portls-$backend"
