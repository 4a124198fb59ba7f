#!/usr/bin/env bash
# Generates portls's test certificates and keys into OUTDIR.
#
#   certs/gen.sh OUTDIR     generate every file listed in FILES (below) into OUTDIR
#   certs/gen.sh --list     print FILES, one a line (the build uses this as its output list)
#
# Uses only the openssl 3 command-line tool. File names are fixed; key material is
# fresh on every run. Everything is built in a temporary directory and copied into
# OUTDIR at the end, so a failed run never leaves a half-made set behind.
# certs/README.md says what each file is for; certs/verify.sh OUTDIR checks them.
set -euo pipefail

FILES=(
  ca.key ca.crt intermediate.key intermediate.crt ca-chain.crt
  server-rsa.key server-rsa.crt server-rsa-chain.crt
  server-ec.key server-ec.crt server-ec-chain.crt
  client.key client.crt client-chain.crt
  self-signed.key self-signed.crt
  expired.key expired.crt expired-chain.crt
  not-yet-valid.key not-yet-valid.crt not-yet-valid-chain.crt
  wrong-host.key wrong-host.crt wrong-host-chain.crt
  unknown-ca.key unknown-ca.crt unknown-leaf.key unknown-leaf.crt unknown-leaf-chain.crt
  revoked.key revoked.crt revoked-chain.crt
  intermediate.crl.pem ca.crl.pem crl-chain.pem
  ocsp-resp.der
  server-rsa.enc-pkcs8-aes.key server-rsa.enc-pkcs8-des3.key
  server-rsa.enc-trad-aes.key server-rsa.enc-trad-des3.key
  mismatch.key
  server.pfx server-3des.pfx client.pfx
  dh512.pem dh1024.pem dh2048.pem
  bench/ec-key.pem bench/ec-cert.pem bench/rsa-key.pem bench/rsa-cert.pem
)

if [[ ${1:-} == --list ]]; then
  printf '%s\n' "${FILES[@]}"
  exit 0
fi
if [[ $# -ne 1 || -z $1 ]]; then
  echo "usage: $0 OUTDIR | --list" >&2
  exit 2
fi

OPENSSL=${OPENSSL:-openssl}
PASS=portls-pass
DAYS=3650          # leaves
CA_DAYS=7300       # roots and the intermediate outlive every leaf
# Fixed windows for the two "bad date" certificates (UTCTime range, so every parser reads them).
EXPIRED_START=20200101000000Z EXPIRED_END=20210101000000Z
FUTURE_START=20400101000000Z  FUTURE_END=20491231000000Z

mkdir -p "$1"
OUT=$(cd "$1" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/portls-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# Run a command quietly; on failure show what it printed and stop.
run() {
  if ! "$@" >"$work/run.log" 2>&1; then
    echo "certs/gen.sh: failed: $*" >&2
    cat "$work/run.log" >&2
    exit 1
  fi
}
ossl() { run "$OPENSSL" "$@"; }

# openssl reads $ENV::SAN whenever it loads this config, so it must always be set.
export SAN=DNS:localhost
cat >ca.cnf <<'CNF'
[ req ]
distinguished_name = req_dn
prompt = no
[ req_dn ]
CN = unused

[ root_ca ]
certificate = ca.crt
private_key = ca.key
dir = root
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_crl_days = 3650

[ intermediate_ca ]
certificate = intermediate.crt
private_key = intermediate.key
dir = intermediate
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_crl_days = 3650

[ unknown_ca ]
certificate = unknown-ca.crt
private_key = unknown-ca.key
dir = unknown
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_crl_days = 3650

[ policy_any ]
countryName = optional
organizationName = optional
organizationalUnitName = optional
commonName = supplied

[ v3_root ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ v3_intermediate ]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server_rsa ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_server_ec ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[ v3_self_signed ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $ENV::SAN
subjectKeyIdentifier = hash

[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF

for ca in root intermediate unknown; do
  mkdir "$ca"
  : >"$ca/index.txt"
  echo 'unique_subject = no' >"$ca/index.txt.attr"
  echo 01 >"$ca/crlnumber"
done
# Deterministic serials: 0x1000.. by the root, 0x2000.. by the intermediate, 0x3000.. by unknown-ca.
echo 1000 >root/serial
echo 2000 >intermediate/serial
echo 3000 >unknown/serial

rsa_key() { ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec_key()  { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve -out "$1"; }
csr()     { ossl req -new -config ca.cnf -key "$1" -subj "$2" -out "$3"; }
# sign CA_SECTION EXT_SECTION CSR OUT [openssl ca options...]
sign()    { ossl ca -batch -notext -preserveDN -config ca.cnf -name "$1" -extensions "$2" -in "$3" -out "$4" "${@:5}"; }
# self_sign KEY SUBJECT EXT_SECTION DAYS OUT
self_sign() { ossl req -new -x509 -config ca.cnf -key "$1" -subj "$2" -extensions "$3" -days "$4" -sha256 -out "$5"; }

O=/C=US/O=portls

# --- trust anchors -------------------------------------------------------------
rsa_key ca.key
self_sign ca.key "$O/CN=portls Test Root CA" v3_root "$CA_DAYS" ca.crt
rsa_key intermediate.key
csr intermediate.key "$O/CN=portls Test Intermediate CA" intermediate.csr
sign root_ca v3_intermediate intermediate.csr intermediate.crt -days "$CA_DAYS"
cat intermediate.crt ca.crt >ca-chain.crt

# leaf NAME KEYTYPE SUBJECT EXT_SECTION [openssl ca options...]: NAME.key, NAME.crt, NAME-chain.crt
leaf() {
  local name=$1 type=$2 subj=$3 ext=$4
  shift 4
  "${type}_key" "$name.key"
  csr "$name.key" "$subj" "$name.csr"
  if [[ $# -eq 0 ]]; then set -- -days "$DAYS"; fi
  sign intermediate_ca "$ext" "$name.csr" "$name.crt" "$@"
  cat "$name.crt" intermediate.crt >"$name-chain.crt"
}

# --- good leaves ---------------------------------------------------------------
SAN='DNS:localhost,IP:127.0.0.1,IP:::1'
leaf server-rsa rsa "$O/CN=localhost" v3_server_rsa
leaf server-ec ec "$O/CN=localhost" v3_server_ec
leaf client rsa "$O/CN=portls client" v3_client

# --- bad leaves ----------------------------------------------------------------
SAN=DNS:localhost
rsa_key self-signed.key
self_sign self-signed.key "$O/CN=localhost" v3_self_signed "$DAYS" self-signed.crt
leaf expired rsa "$O/CN=localhost" v3_server_rsa -startdate "$EXPIRED_START" -enddate "$EXPIRED_END"
leaf not-yet-valid rsa "$O/CN=localhost" v3_server_rsa -startdate "$FUTURE_START" -enddate "$FUTURE_END"
SAN=DNS:wrong.example.com
leaf wrong-host rsa "$O/CN=wrong.example.com" v3_server_rsa
SAN=DNS:localhost
leaf revoked rsa "$O/CN=localhost" v3_server_rsa

rsa_key unknown-ca.key
self_sign unknown-ca.key "$O/CN=portls Unknown Root CA" v3_root "$CA_DAYS" unknown-ca.crt
rsa_key unknown-leaf.key
csr unknown-leaf.key "$O/CN=localhost" unknown-leaf.csr
# unknown-ca is a root, so the chain file is leaf + that (untrusted) root.
sign unknown_ca v3_server_rsa unknown-leaf.csr unknown-leaf.crt -days "$DAYS"
cat unknown-leaf.crt unknown-ca.crt >unknown-leaf-chain.crt

# --- revocation ----------------------------------------------------------------
ossl ca -batch -config ca.cnf -name intermediate_ca -revoke revoked.crt -crl_reason keyCompromise
ossl ca -batch -config ca.cnf -name intermediate_ca -gencrl -crlexts crl_ext -out intermediate.crl.pem
ossl ca -batch -config ca.cnf -name root_ca -gencrl -crlexts crl_ext -out ca.crl.pem
cat intermediate.crl.pem ca.crl.pem >crl-chain.pem

# A stapling-ready OCSP response ("good") for server-rsa.crt, signed by the intermediate.
ossl ocsp -issuer intermediate.crt -cert server-rsa.crt -no_nonce -reqout ocsp-req.der
ossl ocsp -index intermediate/index.txt -CA intermediate.crt -rsigner intermediate.crt -rkey intermediate.key \
  -reqin ocsp-req.der -respout ocsp-resp.der -ndays "$DAYS"

# --- encrypted keys, a stray key, PKCS#12 ---------------------------------------
ossl pkey -in server-rsa.key -aes256 -passout "pass:$PASS" -out server-rsa.enc-pkcs8-aes.key
ossl pkcs8 -topk8 -v2 des3 -in server-rsa.key -passout "pass:$PASS" -out server-rsa.enc-pkcs8-des3.key
ossl rsa -in server-rsa.key -traditional -aes256 -passout "pass:$PASS" -out server-rsa.enc-trad-aes.key
ossl rsa -in server-rsa.key -traditional -des3 -passout "pass:$PASS" -out server-rsa.enc-trad-des3.key
rsa_key mismatch.key

ossl pkcs12 -export -name "portls server" -inkey server-rsa.key -in server-rsa.crt -certfile intermediate.crt \
  -passout "pass:$PASS" -out server.pfx
ossl pkcs12 -export -name "portls server" -inkey server-rsa.key -in server-rsa.crt -certfile intermediate.crt \
  -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout "pass:$PASS" -out server-3des.pfx
ossl pkcs12 -export -name "portls client" -inkey client.key -in client.crt -certfile intermediate.crt \
  -passout "pass:$PASS" -out client.pfx

# --- Diffie-Hellman parameters -------------------------------------------------
ossl genpkey -genparam -algorithm DH -pkeyopt dh_paramgen_prime_len:512 -out dh512.pem
# 1024: the RFC 2409 "Second Oakley Group" safe prime, g=2 (generating one can take seconds).
cat >dh1024.asn1 <<'ASN1'
asn1 = SEQUENCE:dh
[ dh ]
p = INTEGER:0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF
g = INTEGER:2
ASN1
ossl asn1parse -genconf dh1024.asn1 -noout -out dh1024.der
ossl dhparam -inform DER -in dh1024.der -out dh1024.pem
ossl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh2048.pem

# --- benchmark pairs (docs/benchmark.md: self-signed, CN=localhost) ---------
mkdir bench
SAN='DNS:localhost,IP:127.0.0.1'
ec_key bench/ec-key.pem
self_sign bench/ec-key.pem /CN=localhost v3_self_signed "$DAYS" bench/ec-cert.pem
rsa_key bench/rsa-key.pem
self_sign bench/rsa-key.pem /CN=localhost v3_self_signed "$DAYS" bench/rsa-cert.pem

# --- publish ---------------------------------------------------------------------
mkdir -p "$OUT/bench"
for f in "${FILES[@]}"; do
  [[ -s $f ]] || { echo "certs/gen.sh: $f was not produced" >&2; exit 1; }
done
for f in "${FILES[@]}"; do
  cp "$f" "$OUT/$f"
done
