#!/usr/bin/env bash
# Checks the files certs/gen.sh made in DIR with the openssl CLI: every good chain
# verifies, every bad certificate fails with the X509_V_ERR code it exists for,
# keys match their certificates, encrypted forms decrypt, PFX and DH files load.
#   certs/verify.sh DIR
set -uo pipefail

dir=${1:?usage: $0 CERTDIR}
cd "$dir" || exit 2
OPENSSL=${OPENSSL:-openssl}
PASS=portls-pass
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ok()  { printf 'ok    %s\n' "$1"; }
bad() { printf 'FAIL  %s\n' "$1"; fails=$((fails + 1)); }
# check DESCRIPTION COMMAND...: passes when COMMAND succeeds
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# has TEXT REGEX
has() { grep -Eq -- "$2" <<<"$1"; }
quietly() { "$@" >/dev/null 2>&1; }
text_of() { "$OPENSSL" x509 -in "$1" -noout -text 2>&1; }

# expect_verify CODE DESCRIPTION openssl-verify-args...   (CODE 0: must verify)
expect_verify() {
  local want=$1 what=$2 out got=none
  shift 2
  out=$("$OPENSSL" verify "$@" 2>&1)
  if [[ $out =~ error\ ([0-9]+)\ at ]]; then got=${BASH_REMATCH[1]}; elif [[ $out == *": OK" ]]; then got=0; fi
  if [[ $got == "$want" ]]; then ok "$what (verify code $want)"; else bad "$what: want code $want, got $got: $out"; fi
}

pub_of_key()  { "$OPENSSL" pkey -in "$1" -pubout -passin "pass:${2:-}" 2>/dev/null; }
pub_of_cert() { "$OPENSSL" x509 -in "$1" -noout -pubkey 2>/dev/null; }
# key_matches KEY CERT [PASS]
key_matches() { local k; k=$(pub_of_key "$1" "${3:-}"); [[ -n $k && $k == "$(pub_of_cert "$2")" ]]; }
der_of() { "$OPENSSL" x509 -in "$1" -outform DER 2>/dev/null | od -An -tx1 | tr -d ' \n'; }
# chain_is FILE FIRST SECOND: FILE holds exactly these two certificates, in this order
chain_is() {
  [[ $(grep -c 'BEGIN CERTIFICATE' "$1") == 2 ]] || return 1
  sed -n '/END CERTIFICATE/,$p' "$1" | sed 1d >"$tmp/second.pem"
  [[ $(der_of "$1") == "$(der_of "$2")" && $(der_of "$tmp/second.pem") == "$(der_of "$3")" ]]
}

# --- verification results ---------------------------------------------------------------
TRUST=(-CAfile ca.crt -untrusted intermediate.crt)
expect_verify 0 "intermediate by root" -CAfile ca.crt -x509_strict intermediate.crt
expect_verify 0 "server-rsa for localhost" "${TRUST[@]}" -x509_strict -purpose sslserver -verify_hostname localhost server-rsa.crt
expect_verify 0 "server-rsa for 127.0.0.1" "${TRUST[@]}" -purpose sslserver -verify_ip 127.0.0.1 server-rsa.crt
expect_verify 0 "server-rsa for ::1" "${TRUST[@]}" -purpose sslserver -verify_ip ::1 server-rsa.crt
expect_verify 0 "server-ec for localhost" "${TRUST[@]}" -x509_strict -purpose sslserver -verify_hostname localhost server-ec.crt
expect_verify 0 "client as TLS client" "${TRUST[@]}" -x509_strict -purpose sslclient client.crt
expect_verify 0 "server-rsa with CRLs of the whole chain" "${TRUST[@]}" -crl_check_all -CRLfile crl-chain.pem server-rsa.crt
expect_verify 20 "server-rsa without its intermediate" -CAfile ca.crt server-rsa.crt
expect_verify 18 "self-signed" -CAfile ca.crt self-signed.crt
expect_verify 10 "expired" "${TRUST[@]}" expired.crt
expect_verify 9 "not-yet-valid" "${TRUST[@]}" not-yet-valid.crt
expect_verify 62 "wrong-host for localhost" "${TRUST[@]}" -verify_hostname localhost wrong-host.crt
expect_verify 0 "wrong-host for wrong.example.com" "${TRUST[@]}" -verify_hostname wrong.example.com wrong-host.crt
expect_verify 20 "unknown-leaf" -CAfile ca.crt unknown-leaf.crt
expect_verify 19 "unknown-leaf with its root in the chain" -CAfile ca.crt -untrusted unknown-ca.crt unknown-leaf.crt
expect_verify 0 "unknown-leaf when unknown-ca is trusted" -CAfile unknown-ca.crt unknown-leaf.crt
expect_verify 0 "revoked without CRL check" "${TRUST[@]}" revoked.crt
expect_verify 23 "revoked with the intermediate's CRL" "${TRUST[@]}" -crl_check -CRLfile intermediate.crl.pem revoked.crt
expect_verify 23 "revoked with crl-chain.pem" "${TRUST[@]}" -crl_check_all -CRLfile crl-chain.pem revoked.crt

# --- keys, chains, shapes ---------------------------------------------------------------
for n in ca intermediate server-rsa server-ec client self-signed expired not-yet-valid wrong-host \
         revoked unknown-ca unknown-leaf; do
  check "$n.key matches $n.crt" key_matches "$n.key" "$n.crt"
done
for b in ec rsa; do
  check "bench/$b-key.pem matches bench/$b-cert.pem" key_matches "bench/$b-key.pem" "bench/$b-cert.pem"
  check "bench/$b-cert.pem is self-signed, CN=localhost" has \
    "$("$OPENSSL" x509 -in "bench/$b-cert.pem" -noout -subject -issuer)" $'^subject=CN = localhost\nissuer=CN = localhost$'
done
for n in server-rsa server-ec client expired not-yet-valid wrong-host revoked; do
  check "$n-chain.crt = $n.crt + intermediate.crt" chain_is "$n-chain.crt" "$n.crt" intermediate.crt
done
check "unknown-leaf-chain.crt = unknown-leaf.crt + unknown-ca.crt" chain_is unknown-leaf-chain.crt unknown-leaf.crt unknown-ca.crt
check "ca-chain.crt = intermediate.crt + ca.crt" chain_is ca-chain.crt intermediate.crt ca.crt
check "server-rsa is RSA-2048" has "$(text_of server-rsa.crt)" 'Public-Key: \(2048 bit\)'
check "server-ec is P-256" has "$(text_of server-ec.crt)" 'NIST CURVE: P-256'
check "bench ec is P-256" has "$(text_of bench/ec-cert.pem)" 'NIST CURVE: P-256'
check "intermediate is CA, pathlen 0" has "$(text_of intermediate.crt)" 'CA:TRUE, pathlen:0'
matched=0
for c in *.crt bench/*-cert.pem; do key_matches mismatch.key "$c" && matched=1; done
check "mismatch.key matches no certificate" test "$matched" = 0

# --- encrypted keys: the right passphrase gives server-rsa.key, a wrong one fails ---------
declare -A form=(
  [server-rsa.enc-pkcs8-aes.key]='BEGIN ENCRYPTED PRIVATE KEY'
  [server-rsa.enc-pkcs8-des3.key]='BEGIN ENCRYPTED PRIVATE KEY'
  [server-rsa.enc-trad-aes.key]='DEK-Info: AES-256-CBC'
  [server-rsa.enc-trad-des3.key]='DEK-Info: DES-EDE3-CBC'
)
for f in "${!form[@]}"; do
  check "$f has '${form[$f]}'" grep -q "${form[$f]}" "$f"
  check "$f opens with $PASS to server-rsa.key" key_matches "$f" server-rsa.crt "$PASS"
  check "$f refuses a wrong passphrase" test -z "$(pub_of_key "$f" wrong)"
done
check "pkcs8-aes is PBES2 aes-256-cbc" has "$("$OPENSSL" asn1parse -in server-rsa.enc-pkcs8-aes.key 2>&1)" aes-256-cbc
check "pkcs8-des3 is PBES2 des-ede3-cbc" has "$("$OPENSSL" asn1parse -in server-rsa.enc-pkcs8-des3.key 2>&1)" des-ede3-cbc

# --- PKCS#12: key + leaf + intermediate -----------------------------------------------
# pfx_holds PFX LEAF
pfx_holds() {
  local all k c
  all=$("$OPENSSL" pkcs12 -in "$1" -passin "pass:$PASS" -nodes 2>/dev/null) || return 1
  [[ $(grep -c 'BEGIN CERTIFICATE' <<<"$all") == 2 ]] || return 1
  k=$("$OPENSSL" pkcs12 -in "$1" -passin "pass:$PASS" -nodes -nocerts 2>/dev/null | "$OPENSSL" pkey -pubout 2>/dev/null)
  c=$("$OPENSSL" pkcs12 -in "$1" -passin "pass:$PASS" -nokeys -clcerts 2>/dev/null | "$OPENSSL" x509 -noout -pubkey 2>/dev/null)
  [[ -n $k && $k == "$c" && $c == "$(pub_of_cert "$2.crt")" ]]
}
check "server.pfx holds server-rsa key + cert + intermediate" pfx_holds server.pfx server-rsa
check "server-3des.pfx holds server-rsa key + cert + intermediate" pfx_holds server-3des.pfx server-rsa
check "client.pfx holds client key + cert + intermediate" pfx_holds client.pfx client
check "server.pfx is PBES2 (OpenSSL 3 default)" has \
  "$("$OPENSSL" pkcs12 -in server.pfx -passin "pass:$PASS" -info -noout 2>&1)" 'PBES2'
check "server-3des.pfx is PBE-SHA1-3DES" has \
  "$("$OPENSSL" pkcs12 -in server-3des.pfx -passin "pass:$PASS" -info -noout 2>&1)" 'pbeWithSHA1And3-KeyTripleDES-CBC'

# --- Diffie-Hellman parameters and OCSP -------------------------------------------------
for b in 512 1024 2048; do
  check "dh$b.pem is PKCS#3 'DH PARAMETERS'" grep -q '^-----BEGIN DH PARAMETERS-----' "dh$b.pem"
  check "dh$b.pem has $b bits" has "$("$OPENSSL" pkeyparam -in "dh$b.pem" -text -noout 2>&1)" "\($b bit\)"
  check "dh$b.pem passes the DH check" quietly "$OPENSSL" pkeyparam -in "dh$b.pem" -check -noout
done
check "ocsp-resp.der says server-rsa.crt is good and verifies" has \
  "$("$OPENSSL" ocsp -respin ocsp-resp.der -issuer intermediate.crt -cert server-rsa.crt \
     -CAfile ca.crt -verify_other intermediate.crt 2>&1)" 'server-rsa.crt: good'

echo
if ((fails)); then echo "$fails check(s) failed"; exit 1; fi
echo "all certificate checks passed"
