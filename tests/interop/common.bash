# Shared by the interop scripts (sourced, not a test: the build registers *.sh only).
# Each script runs as `bash script.sh BACKEND` from the build directory with
# PORTLS_CERTS and PORTLS_BIN set; exit 0 pass, 1 fail, 77 skip.
set -euo pipefail
backend=${1:?usage: $0 BACKEND}
certs=${PORTLS_CERTS:?PORTLS_CERTS is not set}
bin=${PORTLS_BIN:?PORTLS_BIN is not set}/portls-$backend
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.log; do [[ -f $f ]] && { echo "--- $f" >&2; cat "$f" >&2; }; done
  exit 1
}

# wait_for FILE REGEX [SECONDS]: polls until a line of FILE matches.
wait_for() {
  local file=$1 re=$2 limit=${3:-10} i
  for ((i = 0; i < limit * 20; i++)); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

# json_field LINE KEY: the raw JSON value of a top-level key (strings keep their quotes).
json_field() {
  node -e 'const o = JSON.parse(process.argv[1]); const v = o[process.argv[2]]; console.log(JSON.stringify(v === undefined ? null : v));' "$1" "$2" 2>/dev/null ||
    python3 -c 'import json,sys; o=json.loads(sys.argv[1]); print(json.dumps(o.get(sys.argv[2])))' "$1" "$2"
}

# start_s_server LOG ARGS...: openssl s_server on a free port, its stdin held open (it
# quits at stdin EOF); sets $port.
start_s_server() {
  local log=$1
  shift
  [[ -p $work/s_server.in ]] || mkfifo "$work/s_server.in"
  exec 4<>"$work/s_server.in"
  openssl s_server -accept 127.0.0.1:0 "$@" >"$log" 2>&1 <&4 &
  pids+=($!)
  wait_for "$log" '^ACCEPT' || fail "s_server did not start"
  port=$(grep -m1 '^ACCEPT' "$log" | sed -E 's/.*:([0-9]+)$/\1/')
}
