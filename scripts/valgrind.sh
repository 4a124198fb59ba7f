#!/usr/bin/env bash
# The valgrind pass of the test command: the conformance suite of one backend, built
# without sanitizers (valgrind and ASan do not mix), run under memcheck. Criterion
# ignores how its worker processes exit, so any memcheck report in the output fails
# the run, not only the exit status.
#   scripts/valgrind.sh [BACKEND]   (default openssl; build directory build-valgrind/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

backend=${1:-openssl}
build=${PORTLS_VALGRIND_BUILD_DIR:-build-valgrind}
jobs=${PORTLS_JOBS:-2}

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DPORTLS_BACKENDS="$backend" \
  -DPORTLS_SANITIZE=OFF -DPORTLS_WERROR=ON -DPORTLS_BUILD_EXAMPLES=OFF -DPORTLS_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target "test-conformance-$backend" portls-certs

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
PORTLS_CERTS=$(cd "$build" && pwd)/certs PORTLS_TEST_SLOW=20 \
  valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
  --trace-children=yes "$build/bin/test-conformance-$backend" --jobs "$jobs" >"$log" 2>&1 || status=$?
tail -n 3 "$log"
if grep -Eq '^==[0-9]+== ' "$log"; then
  echo "valgrind: memcheck reported errors:" >&2
  grep -E '^==[0-9]+== ' "$log" | head -n 100 >&2
  exit 1
fi
if [[ $status != 0 ]] || ! grep -q 'Failing: 0 | Crashing: 0' "$log"; then
  echo "valgrind: the suite failed under valgrind (status $status)" >&2
  cat "$log" >&2
  exit 1
fi
echo "valgrind: $backend conformance suite clean"
