# TLS extensions and session features against OpenSSL's own tools: `openssl s_client`
# against `portls-<backend> serve`, and `portls-<backend> connect` against `openssl
# s_server`. Each scenario checks what the peer saw, not only what portls printed:
#  1. SNI: --sni-context serves the context's certificate for its name, the default one
#     otherwise, and secureConnection shows the servername;
#  2. ALPN (the server's order wins) and NPN;
#  3. OCSP stapling: s_client -status gets the file, serve asks OCSPRequest only then;
#  4. resumption: --session-cache (newSession, then resumeSession with the same id, found),
#     tickets over TLS 1.2 and 1.3;
#  5. s_client -reconnect: five resumptions by id and by ticket;
#  6. renegotiation: --reneg-limit destroys the offending socket with
#     ERR_TLS_SESSION_ATTACK after the limit while another connection carries on (a
#     backend that refuses every client renegotiation fails the connection alone);
#     connect --renegotiate against s_server;
#  7. connect --request-ocsp and --npn against s_server;
#  8. --ticket-keys shared by two processes: either resumes the other's sessions, a third
#     with other keys does not.
# A scenario whose capability the backend lacks is skipped with a message naming it.
source "$(dirname "$0")/common.bash"

caps=$("$bin" caps)
has() { [[ $caps == *"\"$1\":true"* ]]; }
skip() { echo "skip: $1 (capability $2 is false on $backend)"; }

# serve NAME ARGS...: `serve` with the RSA chain and ARGS, its output in $work/NAME.log;
# sets $port and $log.
serve() {
  log=$work/$1.log
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" "${@:2}" >"$log" 2>&1 &
  pids+=($!)
  wait_for "$log" '"event":"listening"' || fail "serve $1 did not start"
  port=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
}
# sc OUT ARGS...: one s_client connection to $port; standard input stays open a moment so
# that TLS 1.3 tickets arrive before it leaves: 0.2 s, or, with -sess_out FILE, until
# FILE has been written (at most 5 s: a loaded machine can take longer than 0.2 s).
sc() {
  local out=$1 sess="" prev="" a
  shift
  for a in "$@"; do
    [[ $prev == -sess_out ]] && sess=$a
    prev=$a
  done
  [[ -n $sess ]] && rm -f "$sess"
  {
    sleep 0.2
    if [[ -n $sess ]]; then
      for ((i = 0; i < 50; i++)); do
        [[ -s $sess ]] && break
        sleep 0.1
      done
      sleep 0.1
    fi
  } | timeout 10 openssl s_client -connect "127.0.0.1:$port" "$@" >"$work/$out.out" 2>&1 || true
}
# nth LOG RE N: waits for the Nth line of LOG matching RE and prints it.
nth() {
  local i
  for ((i = 0; i < 200; i++)); do
    (($(grep -c -- "$2" "$1") >= $3)) && { grep -- "$2" "$1" | sed -n "$3p"; return 0; }
    sleep 0.05
  done
  fail "$1: no line $3 matching $2"
}
# has_line OUT RE: s_client output OUT has a line matching RE.
has_line() {
  grep -Eq -- "$2" "$work/$1.out" && return 0
  grep -Ev '^( |---|[A-Za-z0-9+/=]{64}$)' "$work/$1.out" >&2
  fail "s_client ($1), above, printed no line matching '$2'"
}
hex_keys() { openssl rand -hex 48; }
versions=(-tls1_2) methods=(TLSv1_2_method) # s_client's and connect's names
has tls1.3 && versions+=(-tls1_3) methods+=(TLSv1_3_method)

# ---- 1. SNI --------------------------------------------------------------------------
# wrong-host's only name is wrong.example.com (certs/README.md): the name it is added under.
if has sni; then
  serve sni --sni-context "wrong.example.com=$certs/wrong-host.key:$certs/wrong-host-chain.crt"
  sc sni1 -servername wrong.example.com -CAfile "$certs/ca.crt" -verify_return_error -verify_hostname wrong.example.com
  has_line sni1 '^subject=.*CN = wrong\.example\.com$'
  has_line sni1 '^Verification: OK'
  s=$(nth "$log" '"secureConnection"' 1)
  [[ $(json_field "$s" servername) == '"wrong.example.com"' ]] || fail "SNI: servername: $s"
  sc sni2 -noservername -CAfile "$certs/ca.crt" -verify_return_error
  has_line sni2 '^subject=.*CN = localhost$'
  s=$(nth "$log" '"secureConnection"' 2)
  [[ $(json_field "$s" servername) == false ]] || fail "SNI: servername without SNI: $s"
  sc sni3 -servername localhost -CAfile "$certs/ca.crt" -verify_return_error -verify_hostname localhost
  has_line sni3 '^subject=.*CN = localhost$'
  echo "ok: SNI context by servername, the default certificate otherwise"
else
  skip "SNI" sni
fi

# ---- 2. ALPN, NPN --------------------------------------------------------------------
npn=()
has npn && npn=(--npn a,b)
serve alpn --alpn h2,http/1.1 "${npn[@]}"
sc alpn1 -alpn h2
has_line alpn1 '^ALPN protocol: h2$'
s=$(nth "$log" '"secureConnection"' 1)
[[ $(json_field "$s" alpnProtocol) == '"h2"' ]] || fail "ALPN: serve: $s"
sc alpn2 -alpn http/1.1,h2
has_line alpn2 '^ALPN protocol: h2$' # the server's order
sc alpn3 -alpn spdy/1
has_line alpn3 '^No ALPN negotiated$'
echo "ok: ALPN"
if has npn; then
  sc npn1 -tls1_2 -nextprotoneg b
  has_line npn1 '^Protocols advertised by server: a, b$'
  has_line npn1 '^Next protocol: \(1\) b$'
  s=$(nth "$log" '"secureConnection"' 4)
  [[ $(json_field "$s" npnProtocol) == '"b"' ]] || fail "NPN: serve: $s"
  echo "ok: NPN"
else
  skip "NPN" npn
fi

# ---- 3. OCSP stapling ----------------------------------------------------------------
if has ocsp-stapling; then
  serve ocsp --ocsp-response "$certs/ocsp-resp.der"
  sc ocsp1 -status -CAfile "$certs/ca.crt"
  has_line ocsp1 'OCSP Response Status: successful'
  has_line ocsp1 'Cert Status: good'
  nth "$log" '"secureConnection"' 1 >/dev/null
  [[ $(grep -c '"event":"OCSPRequest"' "$log") == 1 ]] || fail "OCSP: one OCSPRequest expected"
  sc ocsp2 -tls1_2 -status
  has_line ocsp2 'OCSP Response Status: successful'
  sc ocsp3
  nth "$log" '"secureConnection"' 3 >/dev/null
  grep -q 'OCSP Response Status' "$work/ocsp3.out" && fail "OCSP: stapled without -status"
  [[ $(grep -c '"event":"OCSPRequest"' "$log") == 2 ]] || fail "OCSP: OCSPRequest without status_request"
  echo "ok: OCSP stapling"
else
  skip "OCSP stapling" ocsp-stapling
fi

# ---- 4, 5. resumption ----------------------------------------------------------------
if has session-cache; then
  serve cache --session-cache
  sc cache1 -tls1_2 -no_ticket -sess_out "$work/cache.sess"
  has_line cache1 '^New, TLSv1\.2'
  sc cache2 -tls1_2 -no_ticket -sess_in "$work/cache.sess"
  has_line cache2 '^Reused, TLSv1\.2'
  n=$(nth "$log" '"newSession"' 1)
  r=$(nth "$log" '"resumeSession"' 1)
  [[ $(json_field "$r" id) == "$(json_field "$n" id)" ]] || fail "session cache: ids differ: $n / $r"
  [[ $(json_field "$r" found) == true ]] || fail "session cache: not found: $r"
  s=$(nth "$log" '"secureConnection"' 2)
  [[ $(json_field "$s" sessionReused) == true ]] || fail "session cache: serve: $s"
  timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -no_ticket -reconnect </dev/null >"$work/cache3.out" 2>&1 || true
  (($(grep -c '^Reused, ' "$work/cache3.out") >= 5)) || fail "-reconnect by session id: fewer than 5 resumptions"
  echo "ok: session cache (newSession/resumeSession), -reconnect"
else
  skip "session cache and its -reconnect" session-cache
fi
if has session-tickets; then
  serve tickets
  for v in "${versions[@]}"; do
    sc "ticket$v-1" "$v" -sess_out "$work/ticket$v.sess"
    has_line "ticket$v-1" '^New, '
    sc "ticket$v-2" "$v" -sess_in "$work/ticket$v.sess"
    has_line "ticket$v-2" '^Reused, '
  done
  timeout 20 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -reconnect </dev/null >"$work/ticket-re.out" 2>&1 || true
  (($(grep -c '^Reused, ' "$work/ticket-re.out") >= 5)) || fail "-reconnect by ticket: fewer than 5 resumptions"
  grep -q '"newSession"\|"resumeSession"' "$log" && fail "tickets: session events without --session-cache"
  echo "ok: tickets (${versions[*]}), -reconnect"
else
  skip "session tickets and their -reconnect" session-tickets
fi

# ---- 6. renegotiation ----------------------------------------------------------------
limit=()
has renegotiation-limit && limit=(--reneg-limit 2)
serve reneg "${limit[@]}"
mkfifo "$work/a.in" "$work/b.in"
openssl s_client -connect "127.0.0.1:$port" -tls1_2 -quiet -no_ign_eof <"$work/b.in" >"$work/b.out" 2>&1 &
pids+=($!)
exec 5>"$work/b.in"
echo "b before" >&5
wait_for "$work/b.out" '^b before' || fail "renegotiation: the bystander's echo"
openssl s_client -connect "127.0.0.1:$port" -tls1_2 <"$work/a.in" >"$work/a.out" 2>&1 &
a_pid=$!
pids+=($a_pid)
exec 6>"$work/a.in"
echo "a0" >&6
wait_for "$work/a.out" '^a0' || fail "renegotiation: no echo before renegotiating"
if has renegotiation-limit; then
  for i in 1 2; do # within the limit: renegotiated, and the connection carries on
    echo R >&6
    nth "$work/a.out" '^RENEGOTIATING' "$i" >/dev/null
    echo "a$i" >&6 # after s_client took the R: a line read together with it is dropped
    wait_for "$work/a.out" "^a$i" || fail "renegotiation $i: no echo after it"
  done
  (($(grep -c '^RENEGOTIATING' "$work/a.out") == 2)) || fail "renegotiation: s_client did not renegotiate twice"
  grep -q 'ERR_TLS_SESSION_ATTACK' "$log" && fail "renegotiation: attack reported within the limit"
  echo R >&6 # the third: over the limit
  wait_for "$log" '"event":"error","code":"ERR_TLS_SESSION_ATTACK"' || fail "renegotiation: no ERR_TLS_SESSION_ATTACK"
  wait_for "$log" '"event":"close","hadError":true' || fail "renegotiation: the attacker's socket was not destroyed"
  (($(grep -c '^RENEGOTIATING' "$work/a.out") == 3)) || fail "renegotiation: s_client's third renegotiation"
  what="ERR_TLS_SESSION_ATTACK after the third of --reneg-limit 2"
else
  echo R >&6 # every client renegotiation is refused: this connection fails
  wait_for "$log" '"event":"close","hadError":true' || fail "renegotiation: the refused connection did not fail"
  grep -q '"event":"error"' "$log" || fail "renegotiation: no error for the refused connection"
  what="a client renegotiation fails its connection (renegotiation-limit is false on $backend)"
fi
for ((i = 0; i < 100; i++)); do kill -0 "$a_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$a_pid" 2>/dev/null && fail "renegotiation: s_client still connected after the server's refusal"
exec 6>&-
grep -q 'ERR_TLS_SESSION_ATTACK' "$work/b.out" && fail "renegotiation: the bystander saw the error"
echo "b after" >&5
wait_for "$work/b.out" '^b after' || fail "renegotiation: the other connection stopped working"
exec 5>&-
(echo "c after"; sleep 0.5) | timeout 10 openssl s_client -connect "127.0.0.1:$port" -tls1_2 -quiet -no_ign_eof >"$work/c.out" 2>&1 || true
grep -q '^c after' "$work/c.out" || fail "renegotiation: a new connection after the failed one"
(($(grep -c '"hadError":true' "$log") == 1)) || fail "renegotiation: more than one socket failed"
echo "ok: renegotiation: $what; the other connections carry on"

if has renegotiate-client; then
  start_s_server "$work/s_server-reneg.log" -key "$certs/server-rsa.key" -cert "$certs/server-rsa.crt" \
    -cert_chain "$certs/intermediate.crt" -naccept 1 -tls1_2 -client_renegotiation
  "$bin" connect --port "$port" --ca "$certs/ca.crt" --renegotiate 2 --send "after two" >"$work/reneg-client.log" 2>&1 ||
    fail "connect --renegotiate 2 exited $?"
  (($(grep -c '"event":"renegotiated","ok":true,"code":null' "$work/reneg-client.log") == 2)) ||
    fail "connect --renegotiate 2: two ok:true renegotiated lines expected"
  wait_for "$work/s_server-reneg.log" '2 server renegotiates' || fail "s_server did not count two renegotiations"
  grep -q 'after two' "$work/s_server-reneg.log" || fail "s_server: no data after the renegotiations"
  echo "ok: connect --renegotiate 2 -> s_server"
else
  skip "connect --renegotiate" renegotiate-client
fi

# ---- 7. connect against s_server: OCSP, NPN ------------------------------------------
if has ocsp-request; then
  start_s_server "$work/s_server-ocsp.log" -key "$certs/server-rsa.key" -cert "$certs/server-rsa.crt" \
    -cert_chain "$certs/intermediate.crt" -naccept 1 -status_file "$certs/ocsp-resp.der"
  "$bin" connect --port "$port" --ca "$certs/ca.crt" --request-ocsp >"$work/ocsp-client.log" 2>&1 ||
    fail "connect --request-ocsp exited $?"
  o=$(grep -m1 '"OCSPResponse"' "$work/ocsp-client.log") || fail "connect: no OCSPResponse"
  [[ $(json_field "$o" length) == "$(wc -c <"$certs/ocsp-resp.der" | tr -d ' ')" ]] ||
    fail "OCSPResponse length is not ocsp-resp.der's size: $o"
  start_s_server "$work/s_server-no-ocsp.log" -key "$certs/server-rsa.key" -cert "$certs/server-rsa.crt" \
    -cert_chain "$certs/intermediate.crt" -naccept 1
  "$bin" connect --port "$port" --ca "$certs/ca.crt" --request-ocsp >"$work/no-ocsp-client.log" 2>&1 ||
    fail "connect --request-ocsp (nothing stapled) exited $?"
  grep -q '"event":"OCSPResponse","length":null' "$work/no-ocsp-client.log" || fail "nothing stapled: length null expected"
  echo "ok: connect --request-ocsp -> s_server -status_file"
else
  skip "connect --request-ocsp" ocsp-request
fi
if has npn; then
  start_s_server "$work/s_server-npn.log" -key "$certs/server-rsa.key" -cert "$certs/server-rsa.crt" \
    -cert_chain "$certs/intermediate.crt" -naccept 1 -nextprotoneg a,b
  "$bin" connect --port "$port" --ca "$certs/ca.crt" --secure-protocol TLSv1_2_method --npn b,a --send npn \
    >"$work/npn-client.log" 2>&1 || fail "connect --npn exited $?"
  c=$(grep -m1 '"secureConnect"' "$work/npn-client.log")
  wait_for "$work/s_server-npn.log" '^NEXTPROTO is ' || fail "s_server negotiated no NPN protocol"
  theirs=$(grep -m1 '^NEXTPROTO is ' "$work/s_server-npn.log" | sed 's/^NEXTPROTO is //')
  [[ $theirs == a || $theirs == b ]] || fail "s_server NPN: $theirs"
  [[ $(json_field "$c" npnProtocol) == "\"$theirs\"" ]] || fail "NPN: s_server says $theirs, connect: $c"
  echo "ok: connect --npn -> s_server -nextprotoneg ($theirs)"
else
  skip "connect --npn" npn
fi
# ---- 8. shared ticket keys -----------------------------------------------------------
if has ticket-keys; then
  k1=$(hex_keys)
  k2=$(hex_keys)
  serve keys-a --ticket-keys "$k1"
  pa=$port
  serve keys-b --ticket-keys "$k1"
  pb=$port log_b=$log
  serve keys-c --ticket-keys "$k2"
  pc=$port
  for v in "${versions[@]}"; do
    port=$pa sc "keys$v-a" "$v" -sess_out "$work/keys$v.pem"
    port=$pb sc "keys$v-b" "$v" -sess_in "$work/keys$v.pem"
    port=$pc sc "keys$v-c" "$v" -sess_in "$work/keys$v.pem"
    has_line "keys$v-a" '^New, '
    has_line "keys$v-b" '^Reused, '
    has_line "keys$v-c" '^New, '
  done
  for m in "${methods[@]}"; do
    for p in "$pa" "$pb" "$pc"; do
      [[ $p == "$pa" ]] && io=(--session-out "$work/keys-$m.sess") || io=(--session-in "$work/keys-$m.sess")
      "$bin" connect --port "$p" --ca "$certs/ca.crt" --secure-protocol "$m" "${io[@]}" --send x \
        >"$work/keys-$m-$p.log" 2>&1 || fail "connect to $p ($m) exited $?"
    done
    for p in "$pa:false" "$pb:true" "$pc:false"; do
      c=$(grep -m1 '"secureConnect"' "$work/keys-$m-${p%:*}.log")
      [[ $(json_field "$c" sessionReused) == "${p#*:}" ]] ||
        fail "ticket keys ($m): port ${p%:*} (a $pa, b $pb, c $pc): sessionReused should be ${p#*:}" \
          "($(grep -c '"event":"session"' "$work/keys-$m-$pa.log") session events on the connection to a)"
    done
  done
  grep -q '"sessionReused":true' "$log_b" || fail "ticket keys: serve b reported no resumption"
  echo "ok: --ticket-keys shared across processes (s_client ${versions[*]}, connect ${methods[*]})"
else
  skip "shared ticket keys" ticket-keys
fi

echo "ok: extensions, portls-$backend"
