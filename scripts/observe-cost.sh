#!/usr/bin/env bash
# What keylog and enableTrace cost when off and on: instructions per handshake,
# counted by callgrind over bench/observe/handshakes.c linked with a build's
# static library (build it without sanitizers).
#   scripts/observe-cost.sh BUILD_DIR BACKEND [N]
# Prints, per mode (off, keylog, trace), the instructions of N handshakes minus
# those of 1 (the setup), divided by N-1.
set -euo pipefail
build=${1:?usage: observe-cost.sh BUILD_DIR BACKEND [N]}
backend=${2:?usage: observe-cost.sh BUILD_DIR BACKEND [N]}
n=${3:-21}
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PKG_CONFIG_PATH=$build/pkgconfig
cc -O2 -I"$src/include" "$src/bench/observe/handshakes.c" -o "$out/handshakes" \
  "$build/lib/libportls-$backend.a" $(pkg-config --static --libs-only-l --libs-only-L "portls-$backend" | sed "s/-lportls-$backend//")
ir() { # N MODE: total instructions
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$out/handshakes" "$1" "$2" "$build/certs" >/dev/null 2>"$out/vg"
  callgrind_annotate "$out/cg" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
for mode in off keylog trace; do
  one=$(ir 1 "$mode")
  many=$(ir "$n" "$mode")
  echo "$backend $mode: $(((many - one) / (n - 1))) instructions per handshake (client + server)"
done
