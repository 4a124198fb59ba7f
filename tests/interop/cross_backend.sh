# Cross-backend agreement: what a certificate looks like and how it is judged must not
# depend on the backend. Over every portls backend built here, byte for byte:
#  1. `x509 FILE` for every certificate the generator makes (`certs/gen.sh --list`);
#  2. `peerCertificate` on both sides of a handshake, for every server x client pair, with
#     an RSA and an ECDSA server chain and a client certificate: `x509` of the peer's leaf,
#     whichever backend is the client and whichever is the server;
#  3. the verdict on every bad certificate the generator makes: a client's error code (and,
#     with --reject-unauthorized false, authorizationError and peerCertificate) against
#     each bad server certificate, and a server's authorizationError (--request-cert, with
#     --crl for revocation) on good, bad and revoked client certificates, each against the
#     name OpenSSL 3's verification gives (certs/README.md);
#  4. `check-identity HOST FILE` for a set of host/certificate pairs.
# All of it runs once, in the first backend's test (openssl's when it is built); the other
# backends' tests skip. Each difference is printed as a diff, and any fails the test.
source "$(dirname "$0")/common.bash"

backends=()
for b in openssl boringssl mbedtls; do [[ -x ${PORTLS_BIN}/portls-$b ]] && backends+=("$b"); done
if [[ ${#backends[@]} -lt 2 ]]; then
  echo "skipped: fewer than two backends built (${backends[*]}), nothing to compare"
  exit 77
fi
ref=${backends[0]}
if [[ $backend != "$ref" ]]; then
  echo "skipped: interop-cross_backend-$ref compares every backend built, $backend included"
  exit 77
fi
src=${PORTLS_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}

cli() { "${PORTLS_BIN}/portls-$1" "${@:2}"; } # cli BACKEND ARGS...
pick() { echo "${backends[$1 % ${#backends[@]}]}"; } # pick N: the backends in turn

# put CHECK LABEL: standard input is what LABEL gives for CHECK. The first LABEL put for a
# CHECK is what `agree CHECK` holds every later one to.
put() {
  local d=$work/r/${1//\//_}
  mkdir -p "$d"
  cat >"$d/$2"
  echo "$2" >>"$d/order"
}
ncmp=0 ndiff=0 seen=0
members() { sed 's/,"/,\n"/g' "$1"; } # one JSON member a line, so that a diff points at it
agree() {
  local d=$work/r/${1//\//_} first label
  local -a labels
  mapfile -t labels <"$d/order"
  first=${labels[0]}
  for label in "${labels[@]:1}"; do
    ncmp=$((ncmp + 1))
    cmp -s "$d/$first" "$d/$label" && continue
    ndiff=$((ndiff + 1))
    echo "DIFFERS: $1: $label vs $first" >&2
    # Equal as members means the bytes differ in white space: show them whole.
    if diff -u --label "$first" --label "$label" <(members "$d/$first") <(members "$d/$label") >&2; then
      diff -u --label "$first" --label "$label" "$d/$first" "$d/$label" >&2 || true
    fi
  done
}
# done_with WHAT: one line on the section just run: ok, or how many comparisons differ.
done_with() {
  if [[ $ndiff -eq $seen ]]; then echo "ok: $*"; else echo "DIFFERENT: $* ($((ndiff - seen)) differ)"; fi
  seen=$ndiff
}

# serve BACKEND LOG ARGS...: a `serve` of BACKEND; sets $port and $spid. stop ends it. A LOG
# is never reused: an old "listening" line would give the old port.
serve() {
  "${PORTLS_BIN}/portls-$1" serve "${@:3}" >"$2" 2>&1 & # not through cli(): $! must be serve's
  spid=$!
  pids+=("$spid")
  wait_for "$2" '"event":"listening"' || fail "$1 serve did not start: $(cat "$2")"
  port=$(grep -m1 '"listening"' "$2" | sed -E 's/.*"port":([0-9]+).*/\1/')
}
stop() {
  local p keep=()
  kill "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  for p in "${pids[@]}"; do [[ $p == "$spid" ]] || keep+=("$p"); done
  pids=("${keep[@]}")
}
# nth LOG REGEX N: waits for the Nth line of LOG matching REGEX and prints it.
nth() {
  local i
  for ((i = 0; i < 200; i++)); do
    if [[ $(grep -cE -- "$2" "$1") -ge $3 ]]; then
      grep -E -- "$2" "$1" | sed -n "$3p"
      return 0
    fi
    sleep 0.05
  done
  return 1
}

# The raw bytes of an event line's parts (no JSON re-encoding: that could hide a difference).
verdict() { # authorized and authorizationError, as printed
  if [[ $1 =~ \"authorized\":[a-z]+,\"authorizationError\":(null|\"[^\"]*\") ]]; then
    echo "${BASH_REMATCH[0]}"
  else
    echo "(no authorized/authorizationError in: $1)"
  fi
}
peer() { # peerCertificate, the last member of both events
  local v=${1#*\"peerCertificate\":}
  if [[ $v == "$1" ]]; then echo "(no peerCertificate in: $1)"; else echo "${v%\}}"; fi
}
# expect CODE FILE: what verdict and peer print for a peer that sent FILE's certificate
# and is judged CODE ("-": authorized). `x509` is the reference form (check 1 holds every
# backend to it).
expect() {
  if [[ $1 == - ]]; then
    echo '"authorized":true,"authorizationError":null'
  else
    echo "\"authorized\":false,\"authorizationError\":\"$1\""
  fi
  cli "$ref" x509 "$certs/$2"
}

# --- 1. x509 of every certificate the generator makes ------------------------------
mapfile -t generated < <(bash "$src/certs/gen.sh" --list)
ncerts=0
for f in "${generated[@]}"; do
  [[ -f $certs/$f ]] || fail "$f (certs/gen.sh --list) is not in $certs"
  grep -q -- '-----BEGIN CERTIFICATE-----' "$certs/$f" || continue
  ncerts=$((ncerts + 1))
  for b in "${backends[@]}"; do
    { cli "$b" x509 "$certs/$f" 2>&1 && echo "exit 0" || echo "exit $?"; } | put "x509 $f" "$b"
  done
  [[ $(tail -n1 "$work/r/x509 ${f//\//_}/$ref") == "exit 0" ]] || fail "$ref x509 $f failed"
  agree "x509 $f"
done
[[ $ncerts -gt 0 ]] || fail "no certificate in $certs"
done_with "x509 of $ncerts certificates compared"

# --- 2. peerCertificate, every server x client pair ---------------------------------
expect - client-chain.crt | put "peerCertificate of client-chain.crt (server side)" "x509 client-chain.crt"
for kind in rsa ec; do
  srv="server-$kind-chain.crt"
  expect - "$srv" | put "peerCertificate of $srv (client side)" "x509 $srv"
  for s in "${backends[@]}"; do
    log=$work/pair-$kind-$s.out
    serve "$s" "$log" --key "$certs/server-$kind.key" --cert "$certs/$srv" \
      --request-cert --ca "$certs/ca.crt"
    n=0
    for c in "${backends[@]}"; do
      n=$((n + 1))
      cli "$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" \
        --key "$certs/client.key" --cert "$certs/client-chain.crt" >"$work/pair.out" 2>&1 ||
        fail "$c -> $s ($srv): exit $?: $(cat "$work/pair.out")"
      cl=$(grep -m1 '"secureConnect"' "$work/pair.out") || fail "$c -> $s: no secureConnect"
      sv=$(nth "$log" '"secureConnection"' "$n") || fail "$c -> $s: no secureConnection #$n"
      { verdict "$cl"; peer "$cl"; } | put "peerCertificate of $srv (client side)" "client $c, server $s"
      { verdict "$sv"; peer "$sv"; } | put "peerCertificate of client-chain.crt (server side)" \
        "server $s ($srv), client $c"
    done
    stop
  done
  agree "peerCertificate of $srv (client side)"
done
agree "peerCertificate of client-chain.crt (server side)"
done_with "peerCertificate on both sides, every pair of ${backends[*]}"

# --- 3. verdicts on bad certificates --------------------------------------------------
# A client against each bad server certificate (KEY CERT CODE; "-": accepted). The servers
# take turns; every backend is each server's client, once rejecting and once not.
bad_servers=(
  "self-signed.key self-signed.crt DEPTH_ZERO_SELF_SIGNED_CERT"
  "bench/rsa-key.pem bench/rsa-cert.pem DEPTH_ZERO_SELF_SIGNED_CERT"
  "bench/ec-key.pem bench/ec-cert.pem DEPTH_ZERO_SELF_SIGNED_CERT"
  "expired.key expired-chain.crt CERT_HAS_EXPIRED"
  "expired.key expired.crt CERT_HAS_EXPIRED"
  "not-yet-valid.key not-yet-valid-chain.crt CERT_NOT_YET_VALID"
  "not-yet-valid.key not-yet-valid.crt CERT_NOT_YET_VALID"
  "wrong-host.key wrong-host-chain.crt ERR_TLS_CERT_ALTNAME_INVALID"
  "wrong-host.key wrong-host.crt UNABLE_TO_VERIFY_LEAF_SIGNATURE"
  "unknown-leaf.key unknown-leaf.crt UNABLE_TO_VERIFY_LEAF_SIGNATURE"
  "unknown-leaf.key unknown-leaf-chain.crt SELF_SIGNED_CERT_IN_CHAIN"
  "server-rsa.key server-rsa.crt UNABLE_TO_VERIFY_LEAF_SIGNATURE"
  "revoked.key revoked-chain.crt -" # a client has no CRL: accepted
)
i=0
for row in "${bad_servers[@]}"; do
  read -r key crt code <<<"$row"
  s=$(pick $i)
  i=$((i + 1))
  check="client verdict on a server with $crt"
  if [[ $code == - ]]; then want="exit 0, error none, secureConnect 1"; else want="exit 1, error $code, secureConnect 0"; fi
  { echo "$want"; expect "$code" "$crt"; } | put "$check" expected
  serve "$s" "$work/bad-$i.out" --key "$certs/$key" --cert "$certs/$crt"
  for c in "${backends[@]}"; do
    status=0
    out=$(cli "$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" 2>&1) || status=$?
    err=none
    [[ $out =~ \"event\":\"error\",\"code\":\"([^\"]*)\" ]] && err=${BASH_REMATCH[1]}
    lax=$(cli "$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" \
      --reject-unauthorized false 2>&1) || fail "$c -> $s ($crt), --reject-unauthorized false: exit $?: $lax"
    line=$(grep -m1 '"secureConnect"' <<<"$lax") || line="(no secureConnect: $lax)"
    { echo "exit $status, error $err, secureConnect $(grep -c '"secureConnect"' <<<"$out")"
      verdict "$line"; peer "$line"; } | put "$check" "client $c (server $s)"
  done
  stop
  agree "$check"
done
done_with "every client's verdict on ${#bad_servers[@]} bad server certificates"

# A server (--request-cert --crl, not rejecting) on each client certificate; the clients
# take turns.
client_certs=(
  "client.key client-chain.crt -"
  "client.key client.crt UNABLE_TO_VERIFY_LEAF_SIGNATURE"
  "revoked.key revoked-chain.crt CERT_REVOKED"
  "expired.key expired-chain.crt CERT_HAS_EXPIRED"
  "expired.key expired.crt CERT_HAS_EXPIRED"
  "not-yet-valid.key not-yet-valid-chain.crt CERT_NOT_YET_VALID"
  "self-signed.key self-signed.crt UNABLE_TO_GET_CRL"
  "unknown-leaf.key unknown-leaf-chain.crt UNABLE_TO_GET_CRL"
)
for row in "${client_certs[@]}"; do
  read -r key crt code <<<"$row"
  expect "$code" "$crt" | put "server verdict on a client with $crt" expected
done
for s in "${backends[@]}"; do
  log=$work/crl-$s.out
  serve "$s" "$log" --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
    --request-cert --ca "$certs/ca.crt" --crl "$certs/crl-chain.pem"
  n=0
  for row in "${client_certs[@]}"; do
    read -r key crt code <<<"$row"
    c=$(pick $n)
    n=$((n + 1))
    cli "$c" connect --host localhost --port "$port" --ca "$certs/ca.crt" \
      --key "$certs/$key" --cert "$certs/$crt" >"$work/crl.out" 2>&1 ||
      fail "$c -> $s (client certificate $crt): exit $?: $(cat "$work/crl.out")"
    sv=$(nth "$log" '"secureConnection"' "$n") || fail "$c -> $s ($crt): no secureConnection #$n"
    { verdict "$sv"; peer "$sv"; } | put "server verdict on a client with $crt" "server $s (client $c)"
  done
  stop
done
for row in "${client_certs[@]}"; do
  read -r key crt code <<<"$row"
  agree "server verdict on a client with $crt"
done
done_with "every server's verdict on ${#client_certs[@]} client certificates"

# --- 4. check-identity ----------------------------------------------------------------
identities=(
  "localhost server-rsa.crt" "127.0.0.1 server-rsa.crt" "::1 server-rsa.crt"
  "LocalHost. server-rsa.crt" "foo.localhost server-rsa.crt" "127.0.0.2 server-rsa.crt"
  "localhost server-ec.crt" "wrong.example.com wrong-host.crt" "x.wrong.example.com wrong-host.crt"
  "localhost wrong-host.crt" "127.0.0.1 self-signed.crt" "localhost client.crt"
  "localhost ca.crt" "127.0.0.1 bench/rsa-cert.pem" "::1 bench/ec-cert.pem"
)
for row in "${identities[@]}"; do
  read -r host crt <<<"$row"
  for b in "${backends[@]}"; do
    { cli "$b" check-identity "$host" "$certs/$crt" 2>&1 && echo "exit 0" || echo "exit $?"; } |
      put "check-identity $host $crt" "$b"
  done
  agree "check-identity $host $crt"
done
done_with "check-identity for ${#identities[@]} host/certificate pairs"

[[ $ndiff -eq 0 ]] || fail "$ndiff of $ncmp comparisons differ across ${backends[*]} (diffs above)"
echo "ok: $ncmp comparisons, ${backends[*]} agree (${SECONDS}s)"
