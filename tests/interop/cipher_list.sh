# One cipher string, one selection: for every string below, what this backend
# selects is exactly OpenSSL's selection restricted to the suites this backend has
# (same suites, same order: an alias never adds a suite OpenSSL lacks), a suite
# only this backend has is selected by its own name, and an unknown name is the
# same error everywhere.
source "$(dirname "$0")/common.bash"
ref=${PORTLS_BIN}/portls-openssl
[[ -x $ref ]] || { echo "skip: the openssl backend is not built (it is the reference)"; exit 77; }
everything='ALL:COMPLEMENTOFALL:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256'
have=$("$bin" cipher-list "$everything")
have_ref=$("$ref" cipher-list "$everything")
strings=(
  "$(node -e 'process.stdout.write("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA256:DHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA384:DHE-RSA-AES256-SHA384:ECDHE-RSA-AES256-SHA256:DHE-RSA-AES256-SHA256:HIGH:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!MD5:!PSK:!SRP:!CAMELLIA")')"
  'HIGH' 'ALL' 'ALL:COMPLEMENTOFALL' 'HIGH:!aNULL:!MD5' 'ECDHE+AESGCM' 'AESGCM:-aRSA' 'ALL:@STRENGTH' 'DEFAULT' 'kRSA:+AES256'
  'ECDHE-RSA-AES128-GCM-SHA256:!RC4' 'CHACHA20' 'aECDSA:!SHA1' 'ECDHE:!AES128'
)
for s in "${strings[@]}"; do
  want=$("$ref" cipher-list "$s")
  got=$("$bin" cipher-list "$s") || fail "$backend rejected '$s': $got"
  node -e '
    const [want, got, have] = process.argv.slice(1).map((j) => JSON.parse(j));
    const has = new Set(have);
    const expect = want.filter((n) => has.has(n));
    if (JSON.stringify(expect) !== JSON.stringify(got)) {
      console.error("expected " + JSON.stringify(expect) + "\n     got " + JSON.stringify(got));
      process.exit(1);
    }' "$want" "$got" "$have" || fail "'$s' selects differently on $backend"
done
# A suite OpenSSL lacks (static ECDH, Camellia-GCM, ...) comes by its own name
# (OpenSSL-style, IANA or mbedTLS spelling) on a backend that has it.
only=()
for name in ECDH-RSA-AES128-GCM-SHA256 ECDH-ECDSA-AES256-SHA384 ECDHE-RSA-CAMELLIA128-GCM-SHA256 \
  CAMELLIA256-GCM-SHA384 ECJPAKE-AES128-CCM8 DES-CBC3-SHA; do
  "$ref" cipher-list "$name" >/dev/null 2>&1 && fail "openssl has $name: pick another example"
  "$bin" cipher-list "$name" >/dev/null 2>&1 || continue
  only+=("$name")
  got=$("$bin" cipher-list "$name:HIGH") || fail "$backend rejected '$name:HIGH': $got"
  node -e '
    const [name, all] = [process.argv[1], JSON.parse(process.argv[2])];
    const got = all.filter((n) => !n.startsWith("TLS_")); /* TLS 1.3 suites come first */
    if (got[0] !== name || got.lastIndexOf(name) !== 0) {
      console.error(name + ":HIGH gave " + JSON.stringify(got));
      process.exit(1);
    }' "$name" "$got" || fail "'$name' is not selected by its own name on $backend"
done
if [[ " ${only[*]} " == *" ECDH-RSA-AES128-GCM-SHA256 "* ]]; then
  for alias in TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256 TLS-ECDH-RSA-WITH-AES-128-GCM-SHA256; do
    got=$("$bin" cipher-list "$alias") || fail "$backend rejected '$alias': $got"
    # TLS 1.3 suites are not chosen by a cipher string (OpenSSL lists them all
    # first, as a backend with TLS 1.3, mbedTLS 3.6, does): only the rest counts.
    got=$(sed -E 's/"TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256|AES_128_CCM(_8)?_SHA256)",?//g' <<<"$got")
    [[ $got == '["ECDH-RSA-AES128-GCM-SHA256"]' ]] || fail "'$alias' gave $got"
  done
fi
echo "ok: ${#strings[@]} cipher strings select on $backend what they select on openssl;" \
  "${#only[@]} suites only $backend has are selected by name"
