# Key logging and trace through the CLI, against real peers:
#  - `serve --keylog` writes the same NSS lines as `openssl s_client -keylogfile` for
#    the same connection, and `connect --keylog` the same as `openssl s_server
#    -keylogfile` (TLS 1.2, and TLS 1.3 where the backend has it);
#  - the lines let tshark decrypt a capture of the connection (when capturing on
#    loopback is permitted);
#  - SSLKEYLOGFILE is honoured by the tool; a key log file that cannot be opened
#    is one clear error naming the option and the path;
#  - --trace prints the handshake messages on stderr, and nothing without it.
source "$(dirname "$0")/common.bash"

caps=$("$bin" caps)
grep -q '"keylog":true' <<<"$caps" || { echo "skip: no keylog capability"; exit 77; }
versions=(tls1_2)
grep -q '"tls1.3":true' <<<"$caps" && versions+=(tls1_3)

# The lines of a key log file, sorted, comments dropped. mbed TLS 3.6 does not
# export its TLS 1.3 exporter secret, so with it OpenSSL's EXPORTER_SECRET line is
# left out of the comparison (Wireshark needs only the traffic secrets).
lines() {
  if [[ $backend == mbedtls ]]; then
    grep -v '^#' "$1" | grep -v '^$' | grep -v '^EXPORTER_SECRET ' | sort
  else
    grep -v '^#' "$1" | grep -v '^$' | sort
  fi
}
tls13_labels='CLIENT_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 EXPORTER_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET SERVER_TRAFFIC_SECRET_0 '
[[ $backend == mbedtls ]] && tls13_labels=${tls13_labels/EXPORTER_SECRET /}

# check_labels FILE VERSION: the labels a handshake of that version logs.
check_labels() {
  local got
  got=$(lines "$1" | cut -d' ' -f1 | sort | tr '\n' ' ')
  if [[ $2 == tls1_3 ]]; then
    [[ $got == "$tls13_labels" ]] ||
      fail "TLS 1.3 labels in $1: $got"
  else
    [[ $got == 'CLIENT_RANDOM ' ]] || fail "TLS 1.2 labels in $1: $got"
  fi
}

# start_serve LOG ARGS...: portls serve on a free port; sets $port and $serve_pid.
start_serve() {
  local log=$1
  shift
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" "$@" \
    >"$log" 2>"$log.err" &
  serve_pid=$!
  pids+=("$serve_pid")
  wait_for "$log" '"listening"' || fail "serve did not start"
  port=$(sed -nE 's/.*"port":([0-9]+).*/\1/p' "$log")
}
stop_serve() {
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
}

for v in "${versions[@]}"; do
  # serve --keylog against openssl s_client -keylogfile.
  start_serve "$work/serve-$v.log" --keylog "$work/serve-$v.keys"
  openssl s_client -connect "127.0.0.1:$port" -servername localhost -CAfile "$certs/ca.crt" \
    "-$v" -keylogfile "$work/s_client-$v.keys" </dev/null >"$work/s_client-$v.log" 2>&1 ||
    fail "s_client ($v) exited with $?"
  wait_for "$work/serve-$v.keys" '.' || fail "serve wrote no key log ($v)"
  sleep 0.2
  stop_serve
  check_labels "$work/s_client-$v.keys" "$v"
  [[ $(lines "$work/serve-$v.keys") == "$(lines "$work/s_client-$v.keys")" ]] ||
    fail "serve --keylog and s_client -keylogfile differ ($v):
$(lines "$work/serve-$v.keys")
---
$(lines "$work/s_client-$v.keys")"

  # connect --keylog against openssl s_server -keylogfile.
  start_s_server "$work/s_server-$v.log" -key "$certs/server-rsa.key" -cert "$certs/server-rsa.crt" \
    -cert_chain "$certs/intermediate.crt" -naccept 1 "-$v" -keylogfile "$work/s_server-$v.keys"
  "$bin" connect --host localhost --port "$port" --ca "$certs/ca.crt" --send ping \
    --keylog "$work/connect-$v.keys" >"$work/connect-$v.log" 2>&1 || fail "connect ($v) exited with $?"
  check_labels "$work/connect-$v.keys" "$v"
  wait_for "$work/s_server-$v.keys" '.' || fail "s_server wrote no key log ($v)"
  [[ $(lines "$work/connect-$v.keys") == "$(lines "$work/s_server-$v.keys")" ]] ||
    fail "connect --keylog and s_server -keylogfile differ ($v)"
  exec 4>&- # s_server quits at its stdin's EOF
  echo "ok: $v key log lines equal OpenSSL's on both sides"
done

# --keylog appends: a second connection adds its lines to the same file.
start_serve "$work/append.log"
for i in 1 2; do
  "$bin" connect --port "$port" --servername localhost --ca "$certs/ca.crt" --send x \
    --keylog "$work/append.keys" >/dev/null 2>&1 || fail "connect $i"
done
stop_serve
n=$(lines "$work/append.keys" | cut -d' ' -f2 | sort -u | wc -l)
[[ $n == 2 ]] || fail "--keylog did not append: $n client randoms"

# SSLKEYLOGFILE: the tool opts in; --keylog's lines and the variable's agree.
start_serve "$work/env.log" --keylog "$work/env-serve.keys"
SSLKEYLOGFILE="$work/env.keys" "$bin" connect --port "$port" --servername localhost \
  --ca "$certs/ca.crt" --send x >"$work/env-connect.log" 2>&1 || fail "connect with SSLKEYLOGFILE"
sleep 0.2
stop_serve
[[ -s $work/env.keys ]] || fail "SSLKEYLOGFILE was not written"
[[ $(lines "$work/env.keys") == "$(lines "$work/env-serve.keys")" ]] || fail "SSLKEYLOGFILE lines differ"
echo "ok: --keylog appends; SSLKEYLOGFILE honoured by the tool"

# A key log file that cannot be opened: one error naming the option and the path, exit 2.
set +e
"$bin" connect --port 9 --keylog "$work/no/such/dir/keys" >"$work/bad.log" 2>&1
rc=$?
SSLKEYLOGFILE="$work/no/such/dir/env" "$bin" serve --key "$certs/server-rsa.key" \
  --cert "$certs/server-rsa-chain.crt" >"$work/bad-env.log" 2>&1
rc_env=$?
"$bin" serve --keylog "$work" --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
  >"$work/bad-dir.log" 2>&1
rc_dir=$?
set -e
[[ $rc == 2 ]] || fail "--keylog to a missing directory: exit $rc"
[[ $(wc -l <"$work/bad.log") == 1 ]] || fail "more than one line for a bad --keylog"
grep -q '"code":"ENOENT".*--keylog: .*no/such/dir/keys' "$work/bad.log" || fail "bad --keylog message: $(cat "$work/bad.log")"
[[ $rc_env == 2 ]] || fail "unopenable SSLKEYLOGFILE: exit $rc_env"
grep -q 'SSLKEYLOGFILE: .*no/such/dir/env' "$work/bad-env.log" || fail "bad SSLKEYLOGFILE message: $(cat "$work/bad-env.log")"
[[ $rc_dir == 2 ]] || fail "--keylog naming a directory: exit $rc_dir"
grep -q -- '--keylog: ' "$work/bad-dir.log" || fail "--keylog directory message: $(cat "$work/bad-dir.log")"
echo "ok: unopenable key log files are clear errors"

# --trace: the handshake on stderr, in both directions; nothing without it.
if grep -q '"trace":true' <<<"$caps"; then
  start_serve "$work/trace.log" --trace
  "$bin" connect --port "$port" --servername localhost --ca "$certs/ca.crt" --send x --trace \
    >"$work/trace-connect.log" 2>"$work/trace-connect.err" || fail "connect --trace"
  "$bin" connect --port "$port" --servername localhost --ca "$certs/ca.crt" --send x \
    >"$work/notrace-connect.log" 2>"$work/notrace-connect.err" || fail "connect without --trace"
  sleep 0.2
  stop_serve
  head -1 "$work/trace-connect.err" | grep -q '^-> ClientHello len=[0-9]*, version TLSv1\.[23], [0-9]* suites, sni localhost$' ||
    fail "connect --trace first line: $(head -1 "$work/trace-connect.err")"
  grep -q '^<- ServerHello len=[0-9]*, version TLSv1\.[23], cipher ' "$work/trace-connect.err" || fail "no ServerHello in connect --trace"
  grep -q '^-> Finished len=' "$work/trace-connect.err" || fail "no Finished sent in connect --trace"
  grep -q '^<- ClientHello len=' "$work/trace.log.err" || fail "no ClientHello in serve --trace"
  grep -q '^-> ServerHello len=' "$work/trace.log.err" || fail "no ServerHello in serve --trace"
  [[ ! -s $work/notrace-connect.err ]] || fail "stderr without --trace: $(cat "$work/notrace-connect.err")"
  echo "ok: --trace"
else
  echo "ok (trace part skipped: no trace capability)"
fi

# tshark decrypts a capture of a connection with the lines --keylog wrote.
if ! command -v dumpcap >/dev/null || ! command -v tshark >/dev/null; then
  echo "ok (tshark part skipped: no dumpcap/tshark)"
  exit 0
fi
start_serve "$work/cap.log"
dumpcap -q -i lo -f "tcp port $port" -w "$work/cap.pcapng" >"$work/dumpcap.log" 2>&1 &
dpid=$!
pids+=("$dpid")
if ! wait_for "$work/dumpcap.log" 'Capturing on' 5; then
  stop_serve
  echo "ok (tshark part skipped: capturing on loopback is not permitted here)"
  exit 0
fi
secret="portls-keylog-check-$RANDOM$RANDOM"
"$bin" connect --port "$port" --servername localhost --ca "$certs/ca.crt" --send "$secret" \
  --keylog "$work/cap.keys" >"$work/cap-connect.log" 2>&1 || fail "connect for the capture"
grep -q "\"text\":\"$secret\"" "$work/cap-connect.log" || fail "no echo for the capture"
sleep 0.5
kill -INT "$dpid"
wait "$dpid" 2>/dev/null || true
stop_serve
plain=$(tshark -r "$work/cap.pcapng" -o data.show_as_text:TRUE -Y data -T fields -e data.text 2>/dev/null || true)
[[ $plain != *"$secret"* ]] || fail "the capture shows the data without the key log"
decrypted=$(tshark -r "$work/cap.pcapng" -o "tls.keylog_file:$work/cap.keys" -o data.show_as_text:TRUE \
  -Y data -T fields -e data.text 2>"$work/tshark.log")
[[ $(grep -c -- "$secret" <<<"$decrypted") == 2 ]] ||
  fail "tshark did not decrypt both directions with the key log: $decrypted"
echo "ok: tshark decrypts the capture with the key log (both directions)"
