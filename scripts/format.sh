#!/usr/bin/env bash
# Formats every tracked C file with the root .clang-format (in place).
#   scripts/format.sh          all tracked .c/.h files
#   scripts/format.sh FILE...  just these
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if (($# == 0)); then
  mapfile -t files < <(git ls-files '*.c' '*.h')
else
  files=("$@")
fi
clang-format -i --style=file "${files[@]}"
