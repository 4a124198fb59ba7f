#!/usr/bin/env bash
# Installs a built tree into a scratch prefix, then builds tests/install/consumer.c
# against that install only: with find_package(portls) (shared and static targets)
# and with pkg-config (shared and --static). Each binary must run and name BACKEND.
#
#   tests/install/run.sh BUILD_DIR BACKEND
# Environment: CC, CMAKE (defaults cc, cmake); PORTLS_CONSUMER_FLAGS, extra compile and
# link flags (the sanitizer flags when the tree was built with PORTLS_SANITIZE).
set -euo pipefail

build=$(cd "${1:?usage: $0 BUILD_DIR BACKEND}" && pwd)
backend=${2:?usage: $0 BUILD_DIR BACKEND}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CC=${CC:-cc}
CMAKE=${CMAKE:-cmake}
read -r -a flags <<<"${PORTLS_CONSUMER_FLAGS:-}"

work=$build/install-test/$backend
prefix=$work/prefix
rm -rf "$work"
mkdir -p "$work"

step() { printf '== %s\n' "$*"; }
quiet() { # run quietly, show the output on failure
  if ! "$@" >"$work/step.log" 2>&1; then
    cat "$work/step.log"
    echo "FAILED: $*" >&2
    exit 1
  fi
}
check_run() { # BINARY: runs, exits 0 and prints this backend's name
  local out
  if ! out=$(env -u LD_LIBRARY_PATH "$1"); then
    echo "FAILED: $1 exited non-zero: $out" >&2
    exit 1
  fi
  if ! grep -qi "backend=$backend\b" <<<"$out"; then
    echo "FAILED: $1 printed '$out', expected backend=$backend" >&2
    exit 1
  fi
  printf '   %s: %s\n' "${1#"$work/"}" "$out"
}

step "install into $prefix"
quiet "$CMAKE" --install "$build" --prefix "$prefix"
libdir=$(dirname "$(find "$prefix" -name "libportls-$backend.a" -print -quit)")
[[ -f $libdir/libportls-$backend.a ]] || { echo "FAILED: libportls-$backend.a not installed" >&2; exit 1; }
pcdir=$libdir/pkgconfig
[[ -f $pcdir/portls-$backend.pc ]] || { echo "FAILED: portls-$backend.pc not installed" >&2; exit 1; }

step "find_package(portls COMPONENTS $backend)"
quiet "$CMAKE" -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" -DPORTLS_BACKEND="$backend" \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="${flags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${flags[*]}" \
  -DCMAKE_BUILD_TYPE=Release
quiet "$CMAKE" --build "$work/cmake"
check_run "$work/cmake/consumer-shared"
check_run "$work/cmake/consumer-static"
loaded=$(ldd "$work/cmake/consumer-shared")
if [[ $loaded != *"$libdir/libportls-$backend.so"* ]]; then
  echo "FAILED: consumer-shared does not load $libdir/libportls-$backend.so:" >&2
  echo "$loaded" >&2
  exit 1
fi

export PKG_CONFIG_PATH=$pcdir
step "pkg-config portls-$backend"
read -r -a pc_shared <<<"$(pkg-config --cflags --libs "portls-$backend")"
quiet "$CC" "${flags[@]}" "$here/consumer.c" -o "$work/pc-shared" "${pc_shared[@]}" "-Wl,-rpath,$libdir"
check_run "$work/pc-shared"
# --static: same flags plus the private ones; pick the archive explicitly.
read -r -a pc_static <<<"$(pkg-config --static --cflags --libs "portls-$backend")"
pc_static=("${pc_static[@]/#-lportls-$backend/-l:libportls-$backend.a}")
quiet "$CC" "${flags[@]}" "$here/consumer.c" -o "$work/pc-static" "${pc_static[@]}"
check_run "$work/pc-static"
if [[ $(ldd "$work/pc-static") == *libportls* ]]; then
  echo "FAILED: pc-static links libportls dynamically" >&2
  exit 1
fi

echo "install consumer for $backend: OK"
