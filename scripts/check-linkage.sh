#!/usr/bin/env bash
# A binary built for one backend must not load another backend's TLS library: OpenSSL
# and BoringSSL export the same symbol names and break each other at run time
# (docs/backends.md, "Linking"). Checks what the dynamic loader would load.
#   scripts/check-linkage.sh BACKEND FILE...
set -euo pipefail

backend=${1:?usage: $0 BACKEND FILE...}
shift
openssl='/libssl\.so\.3 |/libcrypto\.so\.3 '
boringssl='/android/libssl\.so|/android/libcrypto\.so'
case $backend in
  openssl)   own=$openssl   forbidden=$boringssl ;;
  boringssl) own=$boringssl forbidden=$openssl ;;
  mbedtls)   own='/libmbedtls\.so' forbidden="$openssl|$boringssl" ;;
  *) echo "unknown backend $backend" >&2; exit 2 ;;
esac

status=0
for f in "$@"; do
  libs=$(ldd "$f")
  if grep -Eq "$forbidden" <<<"$libs"; then
    echo "$f ($backend) loads another backend's library:"
    grep -E "$forbidden" <<<"$libs"
    status=1
  elif ! grep -Eq "$own" <<<"$libs" &&
    ! { [[ $backend == mbedtls ]] && grep -q ' [Tt] mbedtls_ssl_setup$' <<<"$(nm "$f" 2>/dev/null)"; }; then
    # (mbed TLS 3.6 from .deps/ is linked statically: its code is in the file.)
    echo "$f ($backend) does not load its own backend's library:"
    echo "$libs"
    status=1
  else
    echo "$f: links $backend only"
  fi
done
exit $status
