#!/usr/bin/env bash
# Builds portls (Release, no sanitizers) and runs the seed example: echo-server on a
# free port, echo-client sending one line through it.
#   scripts/demo.sh            (build directory: build/, or $PORTLS_BUILD_DIR)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build=${PORTLS_BUILD_DIR:-build}
jobs=${PORTLS_JOBS:-2}

for name in echo-server echo-client; do
  if [[ ! -f examples/$name.c ]]; then
    echo "demo: examples/$name.c does not exist yet: nothing to run" >&2
    exit 1
  fi
done

./scripts/install-deps.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPORTLS_SANITIZE=OFF -DPORTLS_WERROR=OFF \
  -DPORTLS_BUILD_EXAMPLES=ON
if ! cmake --build "$build" -j"$jobs" --target echo-server echo-client; then
  echo "demo: could not build the examples; if the targets are unknown, no backend library" \
       "could be built (see the 'portls: backend ...' lines above)" >&2
  exit 1
fi
server=$build/bin/echo-server
client=$build/bin/echo-client
PORTLS_CERTS=$(cd "$build" && pwd)/certs
export PORTLS_CERTS

# A port nobody listens on: ask the kernel for one, then release it.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    local p
    while :; do
      p=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
  fi
}
port=$(free_port)

log=$(mktemp)
server_pid=
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$log"
}
trap cleanup EXIT

echo "demo: echo-server on port $port"
"$server" "$port" >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  grep -q 'server bound' "$log" && break
  kill -0 "$server_pid" 2>/dev/null || { echo "demo: echo-server exited:" >&2; cat "$log" >&2; exit 1; }
  sleep 0.1
done
grep -q 'server bound' "$log" || { echo "demo: echo-server did not start:" >&2; cat "$log" >&2; exit 1; }

echo "demo: echo-client sends 'hello portls'"
status=0
out=$(printf 'hello portls\n' | timeout 10 "$client" "$port" 2>&1) || status=$?
printf '%s\n' "$out" | sed 's/^/  client| /'
sed 's/^/  server| /' "$log"
if [[ $out != *"hello portls"* ]]; then
  echo "demo: FAILED: the line did not come back (client exit status $status)" >&2
  exit 1
fi
echo "demo: OK"
