#!/usr/bin/env bash
# The embedded proof (issue 6, item 5):
#   1. cross-compiles core/ + backends/mbedtls + platform/posix for 32-bit ARM Linux
#      (armhf) with Debian's cross compiler, against mbed TLS 3.6 cross-built from
#      Debian's source package with portls's configuration
#      (scripts/install-mbedtls36.sh --target armhf: .deps/mbedtls-3.6-armhf);
#   2. runs, under qemu-arm, tests/embedded/selftest.c (SecurePair handshakes and data
#      over TLS 1.3 and TLS 1.2, a loopback server and client, verification failures,
#      and the RAM one connection costs: idle, and at its peak during the handshake);
#   3. runs the armhf `portls-mbedtls serve` against the host's `openssl s_client`
#      (TLS 1.3, and TLS 1.2 with -tls1_2) and the armhf `portls-mbedtls connect`
#      against the host's `openssl s_server`;
#   4. compiles core/ alone for a Cortex-M4 with arm-none-eabi-gcc -ffreestanding
#      and checks that it needs nothing from an OS;
#   5. prints the code size of the core + mbedTLS backend objects and of the mbed TLS
#      3.6 libraries, and the RAM per connection;
#   6. builds the bare-metal Cortex-M4 image (core + backend + mbed TLS 3.6 + platform/
#      baremetal, for QEMU's mps2-an386) and runs its self-test under qemu-system-arm
#      (scripts/baremetal.sh: its source tree is MBEDTLS36_SRC or .deps/src/mbedtls-3.*).
#
#   scripts/embedded.sh        (work directory: build-embedded/, or $PORTLS_EMBEDDED_DIR)
#
# Exits non-zero if anything fails. Its last line is `embedded: N passed, M failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$PWD
out=${PORTLS_EMBEDDED_DIR:-build-embedded}
jobs=${PORTLS_JOBS:-2}
triplet=arm-linux-gnueabihf

bash ./scripts/install-cross.sh
# mbed TLS 3.6 for armhf (idempotent: a stamp in the prefix).
bash ./scripts/install-mbedtls36.sh --target armhf
mbed_prefix=${PORTLS_DEPS_DIR:-$src/.deps}/mbedtls-3.6-armhf
mbed_version=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' \
  "$mbed_prefix/include/mbedtls/build_info.h")

mkdir -p "$out"
out=$(cd "$out" && pwd)
build=$out/armhf
logs=$out/logs
rm -rf "$logs"
mkdir -p "$logs"

passed=0 failed=0
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
ok() { echo "ok   $*"; passed=$((passed + 1)); }
not_ok() {
  echo "FAIL $1"
  shift
  local f
  for f in "$@"; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  failed=$((failed + 1))
}
# wait_for FILE REGEX [SECONDS]: polls until a line of FILE matches.
wait_for() {
  local file=$1 re=$2 limit=${3:-30} i
  for ((i = 0; i < limit * 10; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# qemu-arm runs the programs against the multiarch libc6:armhf (scripts/install-cross.sh;
# cmake/toolchain-armhf.cmake says why not -L).
qemu=(qemu-arm)
[[ -e /lib/ld-linux-armhf.so.3 ]] || qemu=(qemu-arm -L "/usr/$triplet")

# ---- 1. the armhf build --------------------------------------------------------------
echo "== armhf: configure and build (MinSizeRel, warnings as errors)"
cmake -S . -B "$build" \
  -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-armhf.cmake" \
  -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DPORTLS_BACKENDS=mbedtls \
  -DPORTLS_MBEDTLS=bundled -DPORTLS_MBEDTLS_ROOT="$mbed_prefix" \
  -DPORTLS_PLATFORM=posix \
  -DPORTLS_WERROR=ON \
  -DPORTLS_BUILD_TESTS=OFF \
  -DPORTLS_BUILD_EXAMPLES=OFF \
  -DPORTLS_BUILD_TOOLS=ON >"$logs/configure.log" 2>&1 || { cat "$logs/configure.log"; exit 1; }
grep -q "backends \[mbedtls\]" "$logs/configure.log" || {
  cat "$logs/configure.log"
  echo "embedded: the mbedtls backend was not enabled for armhf" >&2
  exit 1
}
cmake --build "$build" -j"$jobs" >"$logs/build.log" 2>&1 || { tail -n 60 "$logs/build.log"; exit 1; }
lib=$build/lib/libportls-mbedtls.a
cli=$build/bin/portls-mbedtls
certs=$build/certs

# The self-test stands alone (Debian has no armhf Criterion): built here, by hand,
# against the static libraries. mbed TLS (no MBEDTLS_PLATFORM_MEMORY) calls calloc and
# free itself: the link wraps both so that the self-test counts its bytes.
selftest=$build/bin/portls-selftest
"$triplet-gcc" -std=c11 -Os -Wall -Wextra -Wpedantic -Werror -I"$src/include" \
  -DSELFTEST_COUNT_CALLOC "$src/tests/embedded/selftest.c" "$lib" -L"$mbed_prefix/lib" \
  -lmbedtls -lmbedx509 -lmbedcrypto -pthread -Wl,--wrap=calloc,--wrap=free \
  -Wl,-Map="$build/selftest.map" -o "$selftest" 2>"$logs/selftest-build.log" || { cat "$logs/selftest-build.log"; exit 1; }
"$triplet-readelf" -h "$selftest" | grep -q "Machine: *ARM" || { echo "embedded: $selftest is not an ARM binary" >&2; exit 1; }

caps=$("${qemu[@]}" "$cli" caps 2>&1) || { echo "$caps"; echo "embedded: the armhf CLI does not run" >&2; exit 1; }
if [[ $caps == *'"backend":"mbedtls"'* && $caps == *'"platform":"posix"'* ]]; then
  ok "armhf build: portls-mbedtls runs under qemu-arm (mbedtls, posix)"
else
  not_ok "armhf build: caps says $caps"
fi

# ---- 2. the self-test under qemu -----------------------------------------------------
echo "== armhf: self-test under qemu-arm"
if timeout 300 "${qemu[@]}" "$selftest" "$certs" >"$logs/selftest.log" 2>&1; then
  ok "armhf self-test: $(tail -n 1 "$logs/selftest.log")"
else
  not_ok "armhf self-test (exit $?)" "$logs/selftest.log"
fi
sed 's/^/  /' "$logs/selftest.log"
ram_line=$(grep -m1 '^idle-connection-ram:' "$logs/selftest.log" || true)
peak_line=$(grep -m1 '^handshake-peak-ram:' "$logs/selftest.log" || true)

# ---- 3. interop with the host's openssl ----------------------------------------------
# serve_s_client VERSION [S_CLIENT OPTIONS]: the armhf `serve` with the RSA chain, the
# host's s_client verifying it (servername localhost) and sending a line; passes when
# the line comes back, the server's secureConnection names VERSION and the close is
# clean.
serve_s_client() {
  local want=$1 tag
  shift
  tag=$(tr -d . <<<"$want")
  local serve_log=$logs/serve-$tag.log client_log=$logs/s_client-$tag.log fifo=$out/s_client.in
  local what="s_client${*:+ $*} -> armhf serve"
  echo "== armhf portls-mbedtls serve <- host openssl s_client${*:+ $*} (want $want)"
  "${qemu[@]}" "$cli" serve --host 127.0.0.1 --key "$certs/server-rsa.key" \
    --cert "$certs/server-rsa-chain.crt" >"$serve_log" 2>&1 &
  pids+=($!)
  local serve_pid=$!
  if wait_for "$serve_log" '"event":"listening"'; then
    local port
    port=$(grep -m1 '"listening"' "$serve_log" | sed -E 's/.*"port":([0-9]+).*/\1/')
    rm -f "$fifo"
    mkfifo "$fifo"
    timeout 60 openssl s_client -connect "127.0.0.1:$port" -servername localhost \
      -CAfile "$certs/ca.crt" -verify_return_error -quiet -no_ign_eof "$@" \
      <"$fifo" >"$client_log" 2>&1 &
    pids+=($!)
    exec 3>"$fifo"
    echo "hello from the host's s_client" >&3
    if wait_for "$client_log" "hello from the host's s_client" &&
      wait_for "$serve_log" '"event":"secureConnection"'; then
      exec 3>&-
      local line
      line=$(grep -m1 '"secureConnection"' "$serve_log")
      if [[ $line == *'"servername":"localhost"'* && $line == *"\"protocol\":\"$want\""* ]] &&
        wait_for "$serve_log" '"event":"close","hadError":false'; then
        ok "$what: $want, verified, line echoed, clean close"
      else
        not_ok "$what: unexpected events (want $want)" "$serve_log" "$client_log"
      fi
    else
      exec 3>&-
      not_ok "$what: the line did not come back" "$serve_log" "$client_log"
    fi
  else
    not_ok "armhf serve did not print listening" "$serve_log"
  fi
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
}
# s_client's default offer (TLS 1.3 first), then TLS 1.2 alone.
serve_s_client TLSv1.3
serve_s_client TLSv1.2 -tls1_2

echo "== armhf portls-mbedtls connect -> host openssl s_server"
server_log=$logs/s_server.log connect_log=$logs/connect.log
rm -f "$out/s_server.in"
mkfifo "$out/s_server.in"
exec 4<>"$out/s_server.in" # s_server quits at stdin EOF: hold it open
timeout 120 openssl s_server -accept 127.0.0.1:0 -key "$certs/server-ec.key" \
  -cert "$certs/server-ec.crt" -cert_chain "$certs/intermediate.crt" -naccept 1 \
  >"$server_log" 2>&1 <&4 &
pids+=($!)
if wait_for "$server_log" '^ACCEPT'; then
  port=$(grep -m1 '^ACCEPT' "$server_log" | sed -E 's/.*:([0-9]+)$/\1/')
  if timeout 120 "${qemu[@]}" "$cli" connect --host 127.0.0.1 --servername localhost \
    --port "$port" --ca "$certs/ca.crt" --send "ping from armhf portls" >"$connect_log" 2>&1; then
    line=$(grep -m1 '"secureConnect"' "$connect_log" || true)
    if [[ $line == *'"authorized":true'* && $line == *'"protocol":"TLSv1.3"'* ]] &&
      wait_for "$server_log" 'ping from armhf portls' &&
      grep -q '"event":"close","hadError":false' "$connect_log"; then
      ok "armhf connect -> s_server: TLSv1.3, secureConnect authorized, data delivered, clean close"
    else
      not_ok "armhf connect -> s_server: unexpected events" "$connect_log" "$server_log"
    fi
  else
    not_ok "armhf connect -> s_server: connect exited with $?" "$connect_log" "$server_log"
  fi
else
  not_ok "s_server did not start" "$server_log"
fi
exec 4>&-

# ---- 4. core/ alone, bare metal ------------------------------------------------------
# core/util/file.c (portls_read_file) is the one hosted file: a bare-metal build leaves
# it out. Everything else must compile with no OS headers, and the only symbols it may
# take from outside are libc's string/memory/formatting/sorting/allocation functions
# (newlib or any embedded libc has them; malloc can be replaced with
# portls_set_allocator), getenv (PORTLS_TLS_CIPHER_LIST; newlib's returns NULL on bare
# metal), the compiler's runtime helpers, and the backend and platform vtables.
echo "== Cortex-M4: core/ with arm-none-eabi-gcc -ffreestanding"
cm=$out/cortex-m4
rm -rf "$cm"
mkdir -p "$cm"
cm_flags=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft -ffreestanding -Os -std=c11
  -Wall -Wextra -Wpedantic -Wstrict-prototypes -Wold-style-definition -Werror
  -I"$src/include" -I"$src/core" -I"$src")
cm_ok=1 cm_objs=()
for f in core/*.c core/*/*.c; do
  [[ $f == core/util/file.c ]] && continue
  o=$cm/$(echo "${f#core/}" | tr / -)
  o=${o%.c}.o
  if ! arm-none-eabi-gcc "${cm_flags[@]}" -c "$f" -o "$o" 2>>"$logs/cortex-m4.log"; then
    cm_ok=0
  fi
  cm_objs+=("$o")
done
if ((cm_ok)); then
  arm-none-eabi-ld -r -o "$cm/core.o" "${cm_objs[@]}"
  allowed='^(mem(chr|cmp|cpy|move|set)|str(chr|rchr|cmp|ncmp|cpy|ncpy|len|nlen|str|spn|cspn|tol|toul)|v?snprintf|malloc|calloc|realloc|free|qsort|bsearch|getenv|__aeabi_[a-z0-9_]+|portls__backend|portls__platform)$'
  undefined=$(arm-none-eabi-nm -u "$cm/core.o" | awk '{print $2}')
  extra=$(grep -Ev "$allowed" <<<"$undefined" || true)
  echo "  undefined in core: $(tr '\n' ' ' <<<"$undefined")"
  if [[ -z $extra ]]; then
    ok "Cortex-M4: core/ compiles freestanding; needs only libc string/format/alloc functions and the vtables"
  else
    not_ok "Cortex-M4: core/ needs symbols an OS would give: $(tr '\n' ' ' <<<"$extra")"
  fi
else
  not_ok "Cortex-M4: core/ does not compile freestanding" "$logs/cortex-m4.log"
fi

# ---- 5. the figures ------------------------------------------------------------------
echo "== figures"
objdir=$build/CMakeFiles/portls-mbedtls-objects.dir
# size_of LABEL SIZE-TOOL FILES...: "text data bss" of the files, summed.
size_of() {
  local tool=$1
  shift
  "$tool" -t "$@" | awk 'END { print $1, $2, $3 }'
}
mapfile -t core_objs < <(find "$objdir/core" -name '*.o' | sort)
mapfile -t be_objs < <(find "$objdir/backends/mbedtls" -name '*.o' | sort)
mapfile -t plat_objs < <(find "$objdir/platform/posix" "$objdir/platform/common" -name '*.o' | sort)
if ((${#core_objs[@]} && ${#be_objs[@]})); then
  read -r ct cd cb < <(size_of "$triplet-size" "${core_objs[@]}")
  read -r bt bd bb < <(size_of "$triplet-size" "${be_objs[@]}")
  read -r pt pd pb < <(size_of "$triplet-size" "${plat_objs[@]}")
  printf 'code size, armhf (ARMv7-A Thumb-2, gcc -Os, PIC), text + data / bss bytes:\n'
  printf '  core/              %7d + %5d / %5d\n' "$ct" "$cd" "$cb"
  printf '  backends/mbedtls/  %7d + %5d / %5d\n' "$bt" "$bd" "$bb"
  printf '  core + backend     %7d + %5d / %5d   (%d KiB of flash)\n' $((ct + bt)) $((cd + bd)) \
    $((cb + bb)) $(((ct + bt + cd + bd + 1023) / 1024))
  printf '  platform/posix/    %7d + %5d / %5d\n' "$pt" "$pd" "$pb"
  echo "  (data is mostly .data.rel.ro: constant tables of pointers, read-only after PIC relocation)"
  echo "  largest bss (once per process, not per connection):"
  "$triplet-nm" -S "${core_objs[@]}" "${be_objs[@]}" 2>/dev/null |
    awk '$3 ~ /^[bB]$/ { print $2, $4 }' | while read -r hex sym; do echo "$((16#$hex)) $sym"; done |
    sort -nr | head -n 3 | while read -r n sym; do printf '    %-24s %6d\n' "$sym" "$n"; done || true
  mbed_libs=()
  for l in mbedtls mbedx509 mbedcrypto; do mbed_libs+=("$mbed_prefix/lib/lib$l.a"); done
  read -r mt md mb < <(size_of "$triplet-size" "${mbed_libs[@]}")
  printf '  %-19s%7d + %5d / %5d   (its three archives: every module of portls'"'"'s\n' \
    "mbed TLS $mbed_version" "$mt" "$md" "$mb"
  printf '%48s%s\n' '' 'configuration, -Os)'
  # The archive members the self-test's static link pulls in (its link map), summed.
  read -r ut ud ub un < <("$triplet-size" "${mbed_libs[@]}" | awk '
    NR == FNR { used[$0] = 1; next }
    / \(ex / { a = $NF; sub(/\)$/, "", a); sub(/.*\//, "", a)
               if ((a "(" $6 ")") in used) { t += $1; d += $2; b += $3; n++ } }
    END { print t + 0, d + 0, b + 0, n + 0 }' \
    <(grep -oE 'lib(mbedtls|mbedx509|mbedcrypto)\.a\([^)]+\)' "$build/selftest.map" | sort -u) -)
  printf '  %-19s%7d + %5d / %5d   (the %d objects the self-test links)\n' \
    "mbed TLS, linked" "$ut" "$ud" "$ub" "$un"
  printf '  core + backend + mbed TLS linked: %d KiB of flash (text + data)\n' \
    $(((ct + bt + ut + cd + bd + ud + 1023) / 1024))
else
  not_ok "no armhf objects under $objdir"
fi
if ((cm_ok)); then
  read -r mt md mb < <(size_of arm-none-eabi-size "${cm_objs[@]}")
  printf 'code size, Cortex-M4 (Thumb-2, gcc -Os), core/ alone: %d + %d / %d\n' "$mt" "$md" "$mb"
fi
if [[ -n $ram_line && -n $peak_line ]]; then
  echo "RAM per TLS connection (armhf, mbed TLS $mbed_version with its default 16 KiB record buffers):"
  echo "  idle: ${ram_line#idle-connection-ram: }"
  echo "  peak: ${peak_line#handshake-peak-ram: }"
else
  not_ok "the self-test printed no idle-connection-ram or handshake-peak-ram line"
fi

# ---- 6. bare metal: the Cortex-M4 image under qemu-system-arm -------------------------
# Its own ok/FAIL lines and figures, indented; one result here.
bm_log=$logs/baremetal.log
if PORTLS_BAREMETAL_DIR="$out/baremetal" PORTLS_CERTS="$certs" PORTLS_JOBS="$jobs" \
  bash ./scripts/baremetal.sh >"$bm_log" 2>&1; then
  sed 's/^/  /' "$bm_log"
  ok "bare metal: $(grep -m1 -E '^ok +mps2-an386 self-test' "$bm_log" | sed -E 's/^ok +//')"
else
  sed 's/^/  /' "$bm_log"
  not_ok "bare metal: scripts/baremetal.sh failed (above)"
fi

echo "embedded: $passed passed, $failed failed"
((failed == 0))
