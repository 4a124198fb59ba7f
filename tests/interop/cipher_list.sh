# One cipher string, one selection: for every string below, what this backend
# selects is exactly OpenSSL's selection restricted to the suites this backend has
# (same suites, same order; a suite only one of them has is left out of the
# comparison), and an unknown name is the same error everywhere.
source "$(dirname "$0")/common.bash"
ref=${PORTLS_BIN}/portls-openssl
[[ -x $ref ]] || { echo "skip: the openssl backend is not built (it is the reference)"; exit 77; }
everything='ALL:COMPLEMENTOFALL:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256'
have=$("$bin" cipher-list "$everything")
have_ref=$("$ref" cipher-list "$everything")
strings=(
  "$(node -e 'process.stdout.write("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA")')"
  'HIGH:!aNULL:!MD5' 'ECDHE+AESGCM' 'AESGCM:-aRSA' 'ALL:@STRENGTH' 'DEFAULT' 'kRSA:+AES256'
  'ECDHE-RSA-AES128-GCM-SHA256:!RC4' 'CHACHA20' 'aECDSA:!SHA1' 'ECDHE:!AES128'
)
for s in "${strings[@]}"; do
  want=$("$ref" cipher-list "$s")
  got=$("$bin" cipher-list "$s") || fail "$backend rejected '$s': $got"
  node -e '
    const [want, got, have, haveRef] = process.argv.slice(1).map((j) => JSON.parse(j));
    const has = new Set(have), hasRef = new Set(haveRef);
    const expect = want.filter((n) => has.has(n));
    const seen = got.filter((n) => hasRef.has(n));
    if (JSON.stringify(expect) !== JSON.stringify(seen)) {
      console.error("expected " + JSON.stringify(expect) + "\n     got " + JSON.stringify(seen));
      process.exit(1);
    }' "$want" "$got" "$have" "$have_ref" || fail "'$s' selects differently on $backend"
done
status=0
"$bin" cipher-list 'AES128-SHA:NOT-A-CIPHER' >"$work/bad.log" 2>&1 || status=$?
[[ $status == 2 ]] || fail "unknown cipher name: exit $status"
grep -q '"code":"ERR_TLS_INVALID_CIPHERS"' "$work/bad.log" || fail "unknown cipher name: $(cat "$work/bad.log")"
grep -q 'NOT-A-CIPHER' "$work/bad.log" || fail "the error does not name the token"
echo "ok: ${#strings[@]} cipher strings select on $backend what they select on openssl"
