#!/usr/bin/env bash
# serve --workers 2: one server on two threads, one port. 1,000 TLS clients
# (bin/echo-load-BACKEND, 50 at a time, 2,000 bytes each) get every byte back
# with the workers sharing the port by SO_REUSEPORT (and 300 by handoff); every
# event line the workers print is whole; SIGINT stops the server cleanly.
# Also: --workers-mode without --workers, and --workers with --session-cache,
# are refused with the option's name.
source "$(dirname "${BASH_SOURCE[0]}")/common.bash"

load=$PORTLS_BIN/echo-load-$backend
[[ -x $load ]] || fail "missing $load"

run() {
  local mode=$1 clients=$2
  local log=$work/serve-$mode.log
  "$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
    --workers 2 --workers-mode "$mode" >"$log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_for "$log" '"event":"listening"' 20 || fail "$mode: serve did not start"
  local port
  port=$(grep -m1 '"listening"' "$log" | sed -E 's/.*"port":([0-9]+).*/\1/')
  "$load" --port "$port" --clients "$clients" --concurrency 50 --bytes 2000 \
    >"$work/load-$mode.out" 2>"$work/load-$mode.log" ||
    fail "$mode: not every client got its bytes back: $(cat "$work/load-$mode.out")"
  grep -q "\"echoed\":$clients," "$work/load-$mode.out" || fail "$mode: $(cat "$work/load-$mode.out")"
  kill -INT "$pid"
  wait "$pid" || fail "$mode: serve exited with $?"
  local secure
  secure=$(grep -c '"event":"secureConnection"' "$log" || true)
  ((secure == clients)) || fail "$mode: $secure secureConnection lines for $clients clients"
  # Lines from two threads never mix: each is one JSON object.
  local bad
  bad=$(grep -cv '^{"event":"[A-Za-z]*".*}$' "$log" || true)
  ((bad == 0)) || fail "$mode: $bad event lines are not whole"
  echo "ok: serve --workers 2 ($mode): $clients clients, every byte back"
}

run reuseport 1000
run handoff 300 # (the default mode above takes the full 1,000)

out=$("$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
  --workers-mode handoff 2>&1 || true)
grep -q '"--workers-mode: needs --workers"' <<<"$out" || fail "--workers-mode alone: $out"
out=$("$bin" serve --key "$certs/server-rsa.key" --cert "$certs/server-rsa-chain.crt" \
  --workers 2 --session-cache 2>&1 || true)
grep -q '"code":"EINVAL".*--workers: cannot be combined with --session-cache' <<<"$out" ||
  fail "--workers with --session-cache: $out"
out=$("$bin" serve --workers 0 2>&1 || true)
grep -q '"code":"EINVAL".*--workers' <<<"$out" || fail "--workers 0: $out"
echo "ok: --workers option errors"
