#!/usr/bin/env bash
# portls on a bare-metal Cortex-M4 (issue 14, item 5): builds one image for QEMU's
# mps2-an386 board with arm-none-eabi-gcc and newlib, holding core/, backends/mbedtls,
# platform/baremetal and mbed TLS 3.6 cross-built with platform/baremetal/mbedtls_config.h,
# and runs its self-test (tests/baremetal/main.c: two SecurePairs through TLS 1.3 and
# TLS 1.2 handshakes, data, refused certificates) under qemu-system-arm. Then prints the
# flash each part takes in the linked image and the RAM figures the image measured.
#
#   scripts/baremetal.sh      (called by scripts/embedded.sh)
#
# Environment:
#   MBEDTLS36_SRC         mbed TLS 3.6 source tree (Debian's source package, as
#                         scripts/install-mbedtls36.sh fetches it); default: the newest
#                         .deps/src/mbedtls-3.* of this checkout
#   PORTLS_CERTS          the certificates (certs/gen.sh's output); default: generated
#                         into the work directory
#   PORTLS_BAREMETAL_DIR  work directory; default build-baremetal/
#   PORTLS_JOBS           parallel compiles (default 2)
#
# Exits non-zero if anything fails. Its last line is `baremetal: N passed, M failed`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=$PWD
out=${PORTLS_BAREMETAL_DIR:-build-baremetal}
jobs=${PORTLS_JOBS:-2}
mkdir -p "$out"
out=$(cd "$out" && pwd)
logs=$out/logs
rm -rf "$logs"
mkdir -p "$logs"

for tool in arm-none-eabi-gcc arm-none-eabi-size qemu-system-arm; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "baremetal: $tool not found (scripts/install-cross.sh installs it)" >&2
    exit 1
  }
done

# ---- mbed TLS 3.6 sources -------------------------------------------------------------
mbed=${MBEDTLS36_SRC:-}
find_mbed() { ls -d "$src"/.deps/src/mbedtls-3.* 2>/dev/null | sort -V | tail -n 1 || true; }
if [[ -z $mbed ]]; then
  mbed=$(find_mbed)
  # Not fetched yet: the script that fetches Debian's source package does it (idempotent).
  if [[ -z $mbed && -f scripts/install-mbedtls36.sh ]]; then
    bash scripts/install-mbedtls36.sh >"$logs/install-mbedtls36.log" 2>&1 ||
      { tail -n 20 "$logs/install-mbedtls36.log"; exit 1; }
    mbed=$(find_mbed)
  fi
fi
if [[ -z $mbed || ! -f $mbed/include/mbedtls/build_info.h || ! -d $mbed/library ]]; then
  echo "baremetal: no mbed TLS 3.6 source tree: set MBEDTLS36_SRC, or fetch it into" \
    ".deps/src/mbedtls-3.6.x (Debian's source package: scripts/install-mbedtls36.sh)" \
    "${mbed:+(not a 3.x tree: $mbed)}" >&2
  exit 1
fi
mbed=$(cd "$mbed" && pwd)
mbed_version=$(sed -n 's/^#define MBEDTLS_VERSION_STRING *"\(.*\)"/\1/p' "$mbed/include/mbedtls/build_info.h")
[[ $mbed_version == 3.6.* ]] || {
  echo "baremetal: $mbed is mbed TLS $mbed_version, not 3.6" >&2
  exit 1
}

# ---- certificates ---------------------------------------------------------------------
certs=${PORTLS_CERTS:-}
need=(ca.crt server-ec.key server-ec-chain.crt self-signed.key self-signed.crt wrong-host.key
  wrong-host-chain.crt expired.key expired-chain.crt)
if [[ -z $certs ]]; then
  certs=$out/certs
  [[ -f $certs/ca.crt ]] || bash certs/gen.sh "$certs" >"$logs/certs.log" 2>&1 ||
    { cat "$logs/certs.log"; exit 1; }
fi
for f in "${need[@]}"; do
  [[ -f $certs/$f ]] || { echo "baremetal: $certs/$f is missing" >&2; exit 1; }
done

# ---- compile --------------------------------------------------------------------------
arch=(-mcpu=cortex-m4 -mthumb -mfloat-abi=soft)
common=("${arch[@]}" -Os -g -ffunction-sections -fdata-sections
  -DMBEDTLS_CONFIG_FILE='<mbedtls_config.h>' -I"$src/platform/baremetal" -I"$mbed/include")
# core's loop-wide decryption buffer at the size of a record (mbedtls_config.h).
# No file system: the file options, system roots and extra CAs answer ENOTSUP.
strict=(-DPORTLS__CLEAR_BUF_SIZE=4096 -DPORTLS_NO_FILES -std=c11 -Wall -Wextra -Wpedantic -Wstrict-prototypes
  -Wold-style-definition -Werror -I"$src/include" -I"$src/core" -I"$src")
# Every header portls's objects may include, by content: when one changes, they are all
# rebuilt (mbed TLS's own headers change only with its tree, which is in the flags).
headers=$(find "$src/include" "$src/core" "$src/backends/mbedtls" "$src/platform/baremetal" \
  "$src/tests/baremetal" -name '*.h' | sort | xargs cat | cksum)

# compile DIR LOG FLAGS... -- FILES...: one object per file into DIR, in parallel; an
# object is rebuilt when its source, the mbed TLS config, the flags or (for portls's
# own objects) a header changed. Sets the array `objs`. Returns non-zero (the
# compiler's messages are in LOG) on failure.
compile() {
  local dir=$1 log=$2 flags=() f o rc=0
  shift 2
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  mkdir -p "$dir"
  local rsp=$dir/flags.rsp new=$dir/flags.rsp.new
  printf "'%s'\n" "${flags[@]}" >"$new"
  [[ $dir == */mbedtls ]] || printf '%s\n' "$headers" >"$new.hdrs"
  if ! cmp -s "$new" "$rsp" || { [[ -f $new.hdrs ]] && ! cmp -s "$new.hdrs" "$rsp.hdrs"; }; then
    rm -f "$dir"/*.o
    mv "$new" "$rsp"
    [[ -f $new.hdrs ]] && mv "$new.hdrs" "$rsp.hdrs"
  fi
  rm -f "$new" "$new.hdrs"
  objs=()
  local todo=()
  for f in "$@"; do
    o=$dir/$(echo "${f#"$src"/}" | tr / -)
    o=${o%.c}.o
    objs+=("$o")
    if [[ ! -f $o || $f -nt $o || $src/platform/baremetal/mbedtls_config.h -nt $o ]]; then
      todo+=("$f" "$o")
    fi
  done
  ((${#todo[@]})) || return 0
  printf '%s\0' "${todo[@]}" |
    nice -n 10 xargs -0 -n 2 -P "$jobs" sh -c 'arm-none-eabi-gcc @"$0" -c "$1" -o "$2"' "$rsp" \
      >>"$log" 2>&1 || rc=$?
  return $rc
}

passed=0 failed=0
ok() { echo "ok   $*"; passed=$((passed + 1)); }
not_ok() {
  echo "FAIL $1"
  shift
  local f
  for f in "$@"; do [[ -f $f ]] && { echo "--- $f"; tail -n 40 "$f"; }; done
  failed=$((failed + 1))
}
finish() {
  echo "baremetal: $passed passed, $failed failed"
  ((failed == 0))
  exit
}

echo "== Cortex-M4 (mps2-an386): mbed TLS $mbed_version, core, backend, platform, self-test"
lib=$out/lib
mkdir -p "$lib"
build_ok=1
# mbed TLS: its own sources and warnings; the config decides what each file holds.
compile "$out/obj/mbedtls" "$logs/mbedtls.log" "${common[@]}" -std=c99 -I"$mbed/library" -- \
  "$mbed"/library/*.c || build_ok=0
mbed_objs=("${objs[@]}")
# core/: everything but core/util/file.c (files: there are none).
core_src=()
for f in "$src"/core/*.c "$src"/core/*/*.c; do
  [[ $f == */core/util/file.c ]] || core_src+=("$f")
done
compile "$out/obj/core" "$logs/portls.log" "${common[@]}" "${strict[@]}" -- "${core_src[@]}" ||
  build_ok=0
core_objs=("${objs[@]}")
# The backend reaches mbed TLS 3.x's handshake structure through library/ssl_misc.h.
compile "$out/obj/backend" "$logs/portls.log" "${common[@]}" "${strict[@]}" -I"$mbed/library" -- \
  "$src"/backends/mbedtls/*.c || build_ok=0
be_objs=("${objs[@]}")
compile "$out/obj/platform" "$logs/portls.log" "${common[@]}" "${strict[@]}" -- \
  "$src"/platform/baremetal/*.c || build_ok=0
plat_objs=("${objs[@]}")

# The certificates the test uses, as C arrays.
certs_c=$out/certs.c
{
  echo "/* Generated by scripts/baremetal.sh from $certs. */"
  echo "#include <stddef.h>"
  echo "typedef struct board_file { const char *name; const unsigned char *data; size_t len; } board_file;"
  i=0
  for f in "${need[@]}"; do
    echo "static const unsigned char file_$i[] = {"
    od -An -v -tx1 "$certs/$f" | sed -E 's/ ([0-9a-f]{2})/0x\1,/g'
    echo "};"
    i=$((i + 1))
  done
  echo "const board_file board_files[] = {"
  i=0
  for f in "${need[@]}"; do
    echo "  {\"$f\", file_$i, sizeof file_$i},"
    i=$((i + 1))
  done
  echo "};"
  echo "const size_t board_file_count = sizeof board_files / sizeof board_files[0];"
} >"$certs_c.new"
cmp -s "$certs_c.new" "$certs_c" && rm "$certs_c.new" || mv "$certs_c.new" "$certs_c"
compile "$out/obj/test" "$logs/portls.log" "${common[@]}" "${strict[@]}" -I"$src/tests/baremetal" -- \
  "$src"/tests/baremetal/*.c "$certs_c" || build_ok=0
test_objs=("${objs[@]}")

if ((!build_ok)); then
  not_ok "Cortex-M4 image: compile" "$logs/mbedtls.log" "$logs/portls.log"
  finish
fi
rm -f "$lib"/*.a
arm-none-eabi-ar rcs "$lib/libmbedtls36.a" "${mbed_objs[@]}"
arm-none-eabi-ar rcs "$lib/libportls-core.a" "${core_objs[@]}"
arm-none-eabi-ar rcs "$lib/libportls-backend.a" "${be_objs[@]}"
arm-none-eabi-ar rcs "$lib/libportls-platform.a" "${plat_objs[@]}"
image=$out/portls-baremetal.elf
map=$out/portls-baremetal.map
if arm-none-eabi-gcc "${arch[@]}" -nostartfiles -T "$src/tests/baremetal/mps2-an386.ld" \
  -Wl,--gc-sections -Wl,-Map="$map" -Wl,--fatal-warnings -o "$image" "${test_objs[@]}" \
  -Wl,--start-group "$lib/libportls-core.a" "$lib/libportls-backend.a" \
  "$lib/libportls-platform.a" "$lib/libmbedtls36.a" -lc -lgcc -Wl,--end-group \
  >"$logs/link.log" 2>&1; then
  ok "Cortex-M4 image: $(arm-none-eabi-size "$image" | awk 'NR == 2 { printf "%d bytes of flash (text + data), %d of RAM (data + bss)", $1 + $2, $2 + $3 }')"
else
  not_ok "Cortex-M4 image: link" "$logs/link.log"
  finish
fi

# ---- run ------------------------------------------------------------------------------
echo "== qemu-system-arm -M mps2-an386: the self-test"
run_log=$logs/run.log
status=0
timeout 120 qemu-system-arm -M mps2-an386 -cpu cortex-m4 -display none -monitor none \
  -serial none -semihosting-config enable=on,target=native -kernel "$image" \
  >"$run_log" 2>&1 || status=$?
sed 's/^/  /' "$run_log"
last=$(tail -n 1 "$run_log")
if ((status == 0)) && [[ $last =~ ^[1-9][0-9]*\ passed,\ 0\ failed$ ]]; then
  ok "mps2-an386 self-test under qemu-system-arm: $last"
else
  not_ok "mps2-an386 self-test under qemu-system-arm (exit $status)"
fi

# ---- figures --------------------------------------------------------------------------
# Flash by part, from the link map: every input section the image kept, summed by the
# archive it came from. Flash is .text + .rodata + .data (its initial values are stored
# in flash); RAM is .data + .bss. Mergeable string sections count at their size before
# the linker merged them, so the sums are a little above the image's (an upper bound).
echo "== figures"
awk -v lib="$lib/" '
  function hex(s,   i, n) {
    n = 0
    s = tolower(substr(s, 3))
    for (i = 1; i <= length(s); i++) n = n * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
    return n
  }
  /^Linker script and memory map/ { on = 1; next }
  !on { next }
  /^ \.[^ ]+$/ { pending = $1; next }
  {
    if ($0 ~ /^ \.[^ ]+ +0x[0-9a-f]+ +0x[0-9a-f]+ /) { sec = $1; size = $3; file = $4 }
    else if (pending != "" && $0 ~ /^ +0x[0-9a-f]+ +0x[0-9a-f]+ /) { sec = pending; size = $2; file = $3 }
    else { pending = ""; next }
    pending = ""
    n = hex(size)
    part = "other (test program, board, newlib, libgcc)"
    if (index(file, lib "libportls-core.a")) part = "core"
    else if (index(file, lib "libportls-backend.a")) part = "backend"
    else if (index(file, lib "libmbedtls36.a")) part = "mbedtls"
    else if (index(file, lib "libportls-platform.a")) part = "platform"
    if (sec ~ /^\.(text|rodata)/) flash[part] += n
    else if (sec ~ /^\.data/) { flash[part] += n; ram[part] += n }
    else if (sec ~ /^\.bss/ || sec == "COMMON") ram[part] += n
  }
  END {
    printf "flash in the linked image (-Os, --gc-sections), text + rodata + data / RAM data + bss, bytes:\n"
    printf "  core/                  %7d / %6d\n", flash["core"], ram["core"]
    printf "  backends/mbedtls/      %7d / %6d\n", flash["backend"], ram["backend"]
    printf "  mbed TLS 3.6           %7d / %6d\n", flash["mbedtls"], ram["mbedtls"]
    t = flash["core"] + flash["backend"] + flash["mbedtls"]
    printf "  core + backend + mbed TLS %4d (%d KiB; target 256 KiB)\n", t, (t + 1023) / 1024
    printf "  platform/baremetal/    %7d / %6d\n", flash["platform"], ram["platform"]
    printf "  the rest               %7d / %6d   (test program, certificates, board, newlib, libgcc)\n",
      flash["other (test program, board, newlib, libgcc)"], ram["other (test program, board, newlib, libgcc)"]
    if (t > 256 * 1024) exit 1
  }' "$map" >"$logs/figures.log" || flash_over=1
cat "$logs/figures.log"
if [[ -n ${flash_over:-} ]]; then
  not_ok "flash for core + backend + mbed TLS is over the 256 KiB target"
fi
grep -E '^(heap-per-connection|stack|heap):' "$run_log" | sed 's/^/  /' || true
finish
