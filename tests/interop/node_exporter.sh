# Exporters and ALPNCallback against Node.js, both ways: the keying material a
# portls side exports (--export-keying-material) is the bytes Node's
# exportKeyingMaterial gives on the other side of the same connection, and each
# side's finished is the other's peerFinished; a Node client's ALPNProtocols
# meet a portls server's ALPNCallback (--alpn-callback): its choice, or the
# no_application_protocol alert Node names ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL.
source "$(dirname "$0")/common.bash"
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
peer=$(dirname "$0")/node-peer.js
caps=$("$bin" caps)
field() { json_field "$1" "$2"; }
label=EXPERIMENTAL-portls

if [[ $caps == *'"exporter":true'* ]]; then
  versions=(TLSv1.2)
  [[ $caps == *'"tls1.3":true'* ]] && versions+=(TLSv1.3)

  # Node client -> portls server.
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
    --export-keying-material "32:$label" >"$work/serve.log" 2>&1 &
  pids+=($!)
  wait_for "$work/serve.log" '"event":"listening"' || fail "serve did not start"
  port=$(grep -m1 '"listening"' "$work/serve.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  for i in "${!versions[@]}"; do
    v=${versions[$i]}
    timeout 20 node "$peer" ekm-client "$port" "$certs" 32 "$label" "$v" >"$work/node-$v.log" 2>&1 ||
      fail "node ekm-client $v failed"
    c=$(grep -m1 '"secureConnect"' "$work/node-$v.log") || fail "node ($v): no secureConnect"
    [[ $(field "$c" protocol) == "\"$v\"" ]] || fail "node: protocol $c, want $v"
    for _ in $(seq 200); do (($(grep -c '"keyingMaterial"' "$work/serve.log") > i)) && break; sleep 0.05; done
    (($(grep -c '"keyingMaterial"' "$work/serve.log") == i + 1)) || fail "serve: no keyingMaterial ($v)"
    k=$(grep '"keyingMaterial"' "$work/serve.log" | sed -n "$((i + 1))p")
    [[ $(field "$k" hex) == "$(field "$c" keyingMaterial)" ]] ||
      fail "exported material differs ($v): portls $k / node $c"
    [[ $(field "$k" length) == 32 && $(field "$k" label) == "\"$label\"" ]] || fail "keyingMaterial: $k"
    s=$(grep '"secureConnection"' "$work/serve.log" | sed -n "$((i + 1))p")
    if [[ $caps == *'"finished":true'* || $v == TLSv1.2 ]]; then
      [[ $(field "$s" finished) == "$(field "$c" peerFinished)" ]] ||
        fail "portls finished is not node's peerFinished ($v): $s / $c"
      [[ $(field "$s" peerFinished) == "$(field "$c" finished)" ]] ||
        fail "portls peerFinished is not node's finished ($v): $s / $c"
    fi
  done

  # portls client -> Node server.
  node "$peer" ekm-server "$certs" 24 "$label" >"$work/nodeserver.log" 2>&1 &
  pids+=($!)
  wait_for "$work/nodeserver.log" '"event":"listening"' || fail "node server did not start"
  nport=$(grep -m1 '"listening"' "$work/nodeserver.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  "$bin" connect --port "$nport" --ca "$certs/ca.crt" --export-keying-material "24:$label" \
    --send hi >"$work/connect.log" 2>&1 || fail "connect to node exited $?"
  k=$(grep -m1 '"keyingMaterial"' "$work/connect.log") || fail "connect: no keyingMaterial"
  c=$(grep -m1 '"secureConnect"' "$work/connect.log")
  wait_for "$work/nodeserver.log" '"secureConnection"' || fail "node: no secureConnection"
  s=$(grep -m1 '"secureConnection"' "$work/nodeserver.log")
  [[ $(field "$k" hex) == "$(field "$s" keyingMaterial)" ]] ||
    fail "exported material differs (portls client): $k / $s"
  if [[ $caps == *'"finished":true'* ]]; then
    [[ $(field "$c" finished) == "$(field "$s" peerFinished)" ]] || fail "finished: $c / $s"
  fi
else
  "$bin" connect --port 1 --export-keying-material 8:x >"$work/enotsup.log" 2>&1 && fail "no ENOTSUP"
  grep -q '"code":"ENOTSUP".*exporter' "$work/enotsup.log" || fail "ENOTSUP naming the capability"
fi

# A Node client's ALPNProtocols against a portls server's ALPNCallback.
if [[ $caps == *'"alpn":true'* ]]; then
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
    --alpn-callback h2,acme >"$work/alpncb.log" 2>&1 &
  pids+=($!)
  wait_for "$work/alpncb.log" '"event":"listening"' || fail "serve --alpn-callback did not start"
  aport=$(grep -m1 '"listening"' "$work/alpncb.log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  timeout 20 node "$peer" alpn-client "$aport" "$certs" http/1.1,acme,h2 >"$work/alpn1.log" 2>&1
  c=$(grep -m1 '"secureConnect"' "$work/alpn1.log") || fail "node: no secureConnect with ALPNCallback"
  [[ $(field "$c" alpnProtocol) == '"acme"' ]] || fail "node agreed $c, want acme (client order)"
  a=$(grep -m1 '"ALPNCallback"' "$work/alpncb.log") || fail "serve: the callback did not run"
  [[ $(field "$a" protocols) == '["http/1.1","acme","h2"]' ]] || fail "callback saw $a"
  [[ $(field "$a" servername) == '"localhost"' ]] || fail "callback servername: $a"
  wait_for "$work/alpncb.log" '"secureConnection"' || fail "serve: no secureConnection"
  [[ $(grep -m1 '"secureConnection"' "$work/alpncb.log") == *'"alpnProtocol":"acme"'* ]] ||
    fail "serve alpnProtocol is not acme"
  timeout 20 node "$peer" alpn-client "$aport" "$certs" http/1.1 >"$work/alpn2.log" 2>&1
  e=$(grep -m1 '"event":"error"' "$work/alpn2.log") || fail "node connected with no protocol in common"
  [[ $(field "$e" code) == '"ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL"' ]] || fail "node got $e"
  wait_for "$work/alpncb.log" '"clientError"' || fail "serve: no clientError on rejection"
  # Both forms at once: the library's error at server creation.
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" --alpn h2 \
    --alpn-callback h2 >"$work/both.log" 2>&1 && fail "serve with --alpn and --alpn-callback started"
  grep -q '"code":"ERR_TLS_ALPN_CALLBACK_WITH_PROTOCOLS"' "$work/both.log" || fail "both: $(cat "$work/both.log")"
fi
echo ok
