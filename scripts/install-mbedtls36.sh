#!/usr/bin/env bash
# Fetches Debian's mbedtls 3.6 source package (suite trixie) by name with
# `apt-get source`, builds its three static libraries with the package's own CMake
# and installs them into a prefix of their own, which portls's CMake uses by default
# (PORTLS_MBEDTLS=bundled; -DPORTLS_MBEDTLS=system links Debian 12's 2.28 instead).
# Never /usr/local: 3.6's headers there would shadow the system 2.28 ones.
#   scripts/install-mbedtls36.sh            prefix .deps/mbedtls-3.6 in the repository
#   PORTLS_DEPS_DIR=/some/dir scripts/...   prefix /some/dir/mbedtls-3.6, sources in /some/dir/src
#   scripts/install-mbedtls36.sh --target armhf
#       the same configuration cross-built for 32-bit ARM Linux with
#       arm-linux-gnueabihf-gcc (cmake/toolchain-armhf.cmake; scripts/install-cross.sh
#       installs the compiler), MinSizeRel, into .deps/mbedtls-3.6-armhf
#       (scripts/embedded.sh builds the armhf portls against it)
# Idempotent: a stamp file in the prefix records the package version and the
# configuration; when both match, it exits at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=host
while (($#)); do
  case $1 in
  --target) target=${2:-}; shift 2 ;;
  --target=*) target=${1#--target=}; shift ;;
  *) echo "usage: $0 [--target host|armhf]" >&2; exit 2 ;;
  esac
done

deps=${PORTLS_DEPS_DIR:-$PWD/.deps}
src_dir=$deps/src
jobs=${PORTLS_JOBS:-2}
# Per target: the prefix, the build directory, its CMake options and build type.
case $target in
host)
  prefix=$deps/mbedtls-3.6
  build_type=Release
  target_cmake=()
  ;;
armhf)
  prefix=$deps/mbedtls-3.6-armhf
  build_type=MinSizeRel # as scripts/embedded.sh builds portls for armhf
  target_cmake=(-DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-armhf.cmake")
  command -v arm-linux-gnueabihf-gcc >/dev/null ||
    { echo "install-mbedtls36: no arm-linux-gnueabihf-gcc (scripts/install-cross.sh)" >&2; exit 1; }
  ;;
*) echo "install-mbedtls36: unknown target '$target' (host or armhf)" >&2; exit 2 ;;
esac
build=$deps/build-${prefix##*/}
suite=trixie
sources_file=/etc/apt/sources.list.d/$suite-src.sources

# What portls asks of the library on top of the upstream default configuration
# (TLS 1.3, session tickets, ALPN, SNI, renegotiation and keying-material export are
# already on there). Changing this list rebuilds the library.
config_set=(
  MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD # one library, many threads (as Debian builds it)
  MBEDTLS_SSL_RECORD_SIZE_LIMIT                 # RFC 8449, for small record buffers
)
# name=value settings. TLS 1.3 records carry no padding, as OpenSSL's and Node's
# (3.6 pads to 16 bytes by default, which also breaks setMaxSendFragment's bound).
config_values=(
  MBEDTLS_SSL_CID_TLS1_3_PADDING_GRANULARITY=1
)
config_unset=(
  MBEDTLS_SSL_PROTO_DTLS MBEDTLS_SSL_DTLS_ANTI_REPLAY MBEDTLS_SSL_DTLS_HELLO_VERIFY
  MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE MBEDTLS_SSL_DTLS_CONNECTION_ID # portls speaks TLS over streams only
)
config_id="set=${config_set[*]} values=${config_values[*]} unset=${config_unset[*]} pic ${build_type,,} static"
[[ $target == host ]] || config_id+=" target=$target"

log() { echo "install-mbedtls36: $*"; }

sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi

# The package's version in trixie, as apt knows it (needs the deb-src entry).
ensure_sources() {
  local f have=0
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && grep -qs "^Types:.*deb-src" "$f" && grep -qs "^Suites:.*\b$suite\b" "$f" && have=1
  done
  if ((have == 0)); then
    log "adding a deb-src entry for $suite ($sources_file)"
    printf '%s\n' "Types: deb-src" "URIs: http://deb.debian.org/debian" "Suites: $suite" \
      "Components: main" "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" |
      "${sudo[@]}" tee "$sources_file" >/dev/null
    "${sudo[@]}" apt-get update -qq || log "apt-get update reported errors; trying anyway"
  fi
}

# Already installed with this configuration? Then there is nothing to do; the check
# needs no network and no apt.
stamp=$prefix/.portls-stamp
if [[ -f $stamp ]] && [[ $(sed -n 2p "$stamp") == "$config_id" ]] &&
  [[ -f $prefix/include/mbedtls/build_info.h ]] && [[ -f $prefix/lib/libmbedtls.a ]]; then
  log "mbedtls $(sed -n 1p "$stamp") already in $prefix"
  exit 0
fi

mkdir -p "$src_dir"
# The source package: an unpacked tree from an earlier run, else `apt-get source`
# (which also reuses a .dsc and tarballs already in $src_dir without downloading).
dsc=$(ls "$src_dir"/mbedtls_3.6.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
if [[ -z $dsc ]]; then
  ensure_sources
  log "apt-get source mbedtls/$suite into $src_dir"
  (cd "$src_dir" && apt-get source --download-only -qq "mbedtls/$suite")
  dsc=$(ls "$src_dir"/mbedtls_3.6.*.dsc 2>/dev/null | sort -V | tail -n1 || true)
  [[ -n $dsc ]] || { log "apt-get source gave no mbedtls 3.6 .dsc in $src_dir" >&2; exit 1; }
fi
version=$(sed -n 's/^Version: *//p' "$dsc")
upstream=${version%%-*}
# A fresh tree every build: config.py edits the configuration header in place. The
# host's stays in $src_dir (scripts/baremetal.sh compiles from it); a cross build's
# lives in its build directory, removed at the end.
tree=$src_dir/mbedtls-$upstream
[[ $target == host ]] || tree=$build/mbedtls-$upstream
rm -rf "$tree" "$build" "$prefix"
mkdir -p "$(dirname "$tree")"
dpkg-source --no-check -x "$dsc" "$tree" >/dev/null
log "building mbedtls $version for $target"

cfg=$tree/include/mbedtls/mbedtls_config.h
for o in "${config_set[@]}"; do python3 "$tree/scripts/config.py" -f "$cfg" set "$o"; done
for o in "${config_values[@]}"; do python3 "$tree/scripts/config.py" -f "$cfg" set "${o%%=*}" "${o#*=}"; done
for o in "${config_unset[@]}"; do python3 "$tree/scripts/config.py" -f "$cfg" unset "$o"; done

cmake -S "$tree" -B "$build/obj" "${target_cmake[@]}" -DCMAKE_BUILD_TYPE="$build_type" \
  -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
  -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DMBEDTLS_FATAL_WARNINGS=OFF >/dev/null
nice -n 10 cmake --build "$build/obj" -j"$jobs" >/dev/null
cmake --install "$build/obj" >/dev/null
printf '%s\n%s\n' "$version" "$config_id" >"$stamp"
rm -rf "$build"
log "mbedtls $version ($target) installed in $prefix"
