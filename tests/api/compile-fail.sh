#!/usr/bin/env bash
# The public types refuse what they should: each WRONG_* case of
# tests/api/wrong_request.c must fail to compile, and RIGHT must compile, so
# that a failure means the types, not a broken snippet.
#   tests/api/compile-fail.sh CC INCLUDE_DIR
set -euo pipefail

cc=$1
inc=$2
src="$(cd "$(dirname "$0")" && pwd)/wrong_request.c"
# Passing an incompatible pointer is only a warning in C; -Werror makes it
# the error an application building with warnings on would see.
flags=(-std=c11 -Wall -Wextra -Wpedantic -Werror -fsyntax-only -I "$inc")

if ! out=$("$cc" "${flags[@]}" -DRIGHT "$src" 2>&1); then
  echo "compile-fail: the RIGHT case does not compile, so the check proves nothing:"
  echo "$out"
  exit 1
fi
status=0
for case in WRONG_SNI_AS_OCSP WRONG_SESSION_AS_SNI WRONG_OCSP_AS_SESSION; do
  if out=$("$cc" "${flags[@]}" "-D$case" "$src" 2>&1); then
    echo "compile-fail: $case compiled; the request kinds must be distinct types"
    status=1
  elif ! grep -qi "incompatible pointer" <<<"$out"; then
    echo "compile-fail: $case failed for another reason than the pointer type:"
    echo "$out"
    status=1
  else
    echo "compile-fail: $case refused"
  fi
done
exit $status
