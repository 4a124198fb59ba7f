#!/usr/bin/env bash
# The backend seam: a backend includes include/portls/ (backend.h and the public
# headers), its own directory and, in the OpenSSL family, backends/common/; never a
# header of core (core/*), whose services it gets through backend.h alone.
#   scripts/check-seam.sh [SOURCE_DIR]
set -euo pipefail
cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}"

status=0
for f in backends/*/*.[ch]; do
  dir=$(basename "$(dirname "$f")")
  case $dir in
    common | openssl | boringssl) allowed="portls/|backends/common/|backends/$dir/" ;;
    *) allowed="portls/|backends/$dir/" ;;
  esac
  while IFS= read -r line; do
    echo "$line: not an include a backend may have (${allowed//|/ })"
    status=1
  done < <(grep -nE '^\s*#\s*include\s*"' "$f" | grep -vE "#\s*include\s*\"($allowed)" | sed "s|^|$f:|")
done
[[ $status == 0 ]] && echo "backends/: every quoted include is portls/, the backend's own or backends/common/"
exit $status
