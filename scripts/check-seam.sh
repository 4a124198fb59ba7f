#!/usr/bin/env bash
# The two seams the tree keeps:
# - a backend includes include/portls/ (backend.h and the public headers), its own
#   directory and, in the OpenSSL family, backends/common/; never a header of core
#   (core/*), whose services it gets through backend.h alone;
# - core/net/ (net.Socket, net.Server) knows nothing of TLS: it includes no header of
#   core/tls/, and reaches the layer above through portls__upper_ops.
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
net_status=0
while IFS= read -r line; do
  echo "$line: core/net/ includes a header of core/tls/"
  net_status=1
done < <(grep -nE '^\s*#\s*include\s*"tls/' core/net/*.[ch] || true)
[[ $net_status == 0 ]] && echo "core/net/: no include of core/tls/"
((net_status == 0)) || status=1
exit $status
