#!/usr/bin/env bash
# Every symbol a portls library exports must start with portls_ (one prefix,
# so portls links next to anything). Checks shared (.so) and static (.a) files.
#   scripts/check-exports.sh LIBRARY...
set -euo pipefail

# Symbols the toolchain itself adds.
allowed='^(_init|_fini|_edata|_end|__bss_start|_IO_stdin_used|__odr_asan\..*|__asan_.*|__ubsan_.*|__sancov_.*)$'
status=0
for lib in "$@"; do
  case $lib in
    *.so*) syms=$(nm -D --defined-only "$lib" | awk '{print $NF}') ;;
    *) syms=$(nm --defined-only --extern-only "$lib" 2>/dev/null | awk 'NF >= 3 {print $3}') ;;
  esac
  bad=$(grep -v '^portls_' <<<"$syms" | grep -Ev "$allowed" | sort -u || true)
  if [[ -n $bad ]]; then
    echo "$lib exports symbols without the portls_ prefix:"
    # shellcheck disable=SC2086  # one symbol a word
    printf '  %s\n' $bad
    status=1
  else
    echo "$lib: $(grep -c . <<<"$syms") exported symbols, all portls_*"
  fi
done
exit $status
