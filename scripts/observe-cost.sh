#!/usr/bin/env bash
# What keylog and enableTrace cost when off and on: instructions per handshake,
# counted by callgrind over bench/observe/handshakes.c linked with a build's
# static library (build it without sanitizers).
#   scripts/observe-cost.sh BUILD_DIR BACKEND [N] [baseline]
# Prints, per mode (off, keylog, trace), the instructions of N handshakes minus
# those of 1 (the setup), divided by N-1. With "baseline", BUILD_DIR is a build of
# a portls from before keylog and trace (its sources are found through its
# CMakeCache), and only "off" is measured: the difference to this tree's "off" is
# what the two features cost when nobody uses them.
set -euo pipefail
build=${1:?usage: observe-cost.sh BUILD_DIR BACKEND [N]}
backend=${2:?usage: observe-cost.sh BUILD_DIR BACKEND [N]}
n=${3:-21}
baseline=${4:-}
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PKG_CONFIG_PATH=$build/pkgconfig
certs=${PORTLS_CERTS:-$build/certs}
libs=$(pkg-config --static --libs-only-l --libs-only-L "portls-$backend" | sed "s/-lportls-$backend//")
rpath=$(grep -o -- '-L[^ ]*' <<<"$libs" | sed 's/^-L/-Wl,-rpath,/' | tr '\n' ' ') # BoringSSL's libssl.so.0
cc -O2 ${baseline:+-DOBSERVE_BASELINE} -I"$src/include" "$here/bench/observe/handshakes.c" -o "$out/handshakes" \
  "$build/lib/libportls-$backend.a" $libs $rpath
ir() { # N MODE: total instructions
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$out/handshakes" "$1" "$2" "$certs" >/dev/null 2>"$out/vg"
  callgrind_annotate "$out/cg" 2>/dev/null | sed -n 's/^ *\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' | tr -d ,
}
# The instructions spent in the functions keylog and trace added (their own
# code, not what they call), from the last run.
observer_ir() {
  callgrind_annotate --auto=no --threshold=100 "$out/cg" 2>/dev/null |
    grep -E 'tls_observe|wants_keylog|keylog_forward|msg_forward|mbed_tap|on_keylog|on_message|trace_format|mbed_export_keys' |
    awk '{gsub(",", "", $1); s += $1} END {print s + 0}'
}
modes=(off keylog trace)
[[ -z $baseline ]] || modes=(off)
for mode in "${modes[@]}"; do
  one=$(ir 1 "$mode")
  many=$(ir "$n" "$mode")
  echo "$backend ${baseline:+baseline }$mode: $(((many - one) / (n - 1))) instructions per handshake (client + server)"
  [[ -n $baseline ]] || echo "  of which in keylog/trace code: $(($(observer_ir) / n)) per handshake"
done
