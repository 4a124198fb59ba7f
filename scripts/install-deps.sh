#!/usr/bin/env bash
# Installs what portls needs to build and test on Debian 12, and nothing that is
# already there. Safe to run any number of times.
set -euo pipefail

packages=(
  build-essential cmake pkgconf git ca-certificates
  libssl-dev openssl              # OpenSSL 3 backend, and the CLI that makes test certificates
  android-libboringssl-dev        # BoringSSL backend
  libmbedtls-dev                  # mbed TLS backend on Debian 12's 2.28 (-DPORTLS_MBEDTLS=system)
  dpkg-dev python3                # mbed TLS 3.6 from Debian's source package (install-mbedtls36.sh)
  libuv1-dev                      # libuv platform
  libcriterion-dev                # unit and conformance tests
  valgrind gnutls-bin             # memory checks; gnutls-cli for interop tests
  clang-format                    # the house style (scripts/check-format.sh)
  libhiredis-dev redis-server     # portls::redis, and the Redis its tests start
  tshark                          # interop-keylog: decrypts a capture with the key log
)
# Node.js is an interop peer; any node on PATH will do.
command -v node >/dev/null 2>&1 || packages+=(nodejs)

# Whether the host-architecture (or Architecture: all) instance of a package is
# installed. With a foreign architecture added (scripts/install-cross.sh adds armhf),
# `dpkg-query -W -f='${Status}' libmbedtls-dev` prints the status of both instances.
arch=$(dpkg --print-architecture)
installed() {
  dpkg-query -W -f='${binary:Package} ${Status}\n' "$1" 2>/dev/null |
    grep -Eq "^$1(:$arch)? install ok installed\$"
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done

# mbed TLS 3.6 LTS, the mbedtls backend's default, from Debian trixie's source
# package into .deps/mbedtls-3.6 (after the packages it needs to build).
build_mbedtls36() { "$(dirname "${BASH_SOURCE[0]}")/install-mbedtls36.sh"; }

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  build_mbedtls36
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
# Exit 100 when one index failed (seen: bookworm-security's armhf index mid-sync once
# armhf is added); the install below still says whether what we need is there.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
  echo "install-deps: apt-get update reported errors (see above); trying the install anyway" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
build_mbedtls36
