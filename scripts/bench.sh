#!/usr/bin/env bash
# The benchmark: portls against Node.js and libevent + OpenSSL, in one run on
# this machine. The protocol, the rounds and the table are described in
# docs/benchmark.md; the two peers are bench/peers/node-bench.js and
# bench/peers/libevent-bench.c. Instructions per handshake (callgrind, repeatable
# on a busy machine): scripts/bench-instructions.sh.
#
#   scripts/bench.sh                 full run: builds the libevent peer and portls
#                                    (Release, every available backend), then runs
#                                    every implementation alternately, round after
#                                    round, and prints medians, min, max and ratios
#                                    of the rates and of the CPU time per operation
#   scripts/bench.sh --quick         smoke test: each mode once, tiny sizes, portls
#                                    only, every backend whose benchmark is built;
#                                    exits non-zero if any mode fails or prints nothing
#
# Options: --backends "openssl mbedtls"   only these portls backends
#          --workers "1 2"                the portls servers with each of these numbers
#                                         of worker threads (server option `workers`;
#                                         shown as portls-<backend>@w<N>; the quick run
#                                         adds a CONC 4 handshake run); CPU per operation
#                                         counts every thread of both processes
#          --workers-mode reuseport|handoff  how the workers share the port
#          --rounds N                     rounds (full run; default 3, at least 3 for the table)
#          --no-build                     use the portls binaries already in the build
#                                         directory, build none (CTest's quick run; also a
#                                         full run over an existing build-bench/)
# Exit status: 0; 1 when a run failed; 77 when every selected backend lacks a
# capability the protocol needs (tls1.3), i.e. nothing could be measured.
# Environment (full run unless said otherwise):
#   BENCH_MB=1024          bulk size in MiB (quick: 4)
#   BENCH_HS_SECS=5        seconds per handshake run (quick: 0.5)
#   BENCH_IDLE_N=2000      idle connections for the memory figure (quick: 20)
#   BENCH_ROUNDS=3         as --rounds
#   BENCH_PEERS=DIR        the peers' sources (default bench/peers)
#   PORTLS_BENCH_BUILD_DIR the Release build of the full run (default build-bench/)
#   PORTLS_BUILD_DIR       quick: where to look for bin/portls-bench-<backend>
#                          (default build/, the test command's; built there if missing)
#   PORTLS_JOBS=2          build parallelism
#   BENCH_IR=1             full run: also count instructions per handshake
#                          (scripts/bench-instructions.sh; 0: leave it out)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

quick=0
no_build=0
only_backends=""
worker_counts=""
workers_mode=reuseport
rounds=${BENCH_ROUNDS:-3}
while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) quick=1 ;;
    --no-build) no_build=1 ;;
    --backends) only_backends=$2; shift ;;
    --workers) worker_counts=$2; shift ;;
    --workers-mode) workers_mode=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    -h|--help) sed -n '2,41p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

jobs=${PORTLS_JOBS:-2}
if [[ $quick == 1 ]]; then
  MB=${BENCH_MB:-4}
  HS_SECS=${BENCH_HS_SECS:-0.5}
  IDLE_N=${BENCH_IDLE_N:-20}
  build=${PORTLS_BUILD_DIR:-build}
else
  MB=${BENCH_MB:-1024}
  HS_SECS=${BENCH_HS_SECS:-5}
  IDLE_N=${BENCH_IDLE_N:-2000}
  build=${PORTLS_BENCH_BUILD_DIR:-build-bench}
fi
peers=${BENCH_PEERS:-$root/bench/peers}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portls-bench.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $*" >&2; }

# Two thousand connections on each side, plus margin.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited && $(ulimit -n) -lt $((2 * IDLE_N + 256)) ]]; then
  log "warning: ulimit -n is $(ulimit -n); $IDLE_N idle connections may not fit"
fi

# ---------------------------------------------------------------- building portls

# Builds bin/portls-bench-<backend> in $1 for every backend library there: with
# the CMake target when the build defines one, otherwise by hand against the
# static library, with the link flags of the build's pkg-config file.
build_bench_binaries() {
  local dir=$1 lib b targets
  targets=$(cmake --build "$dir" --target help 2>/dev/null || true)
  for lib in "$dir"/lib/libportls-*.a; do
    [[ -e $lib ]] || continue
    b=${lib##*/libportls-}
    b=${b%.a}
    # A backend library has its pkg-config file; a module (libportls-redis.a) has none.
    [[ -f $dir/pkgconfig/portls-$b.pc ]] || continue
    [[ -z $only_backends || " $only_backends " == *" $b "* ]] || continue
    if grep -q "portls-bench-$b\b" <<<"$targets"; then
      cmake --build "$dir" -j"$jobs" --target "portls-bench-$b" >&2
      continue
    fi
    local bin="$dir/bin/portls-bench-$b"
    if [[ -x $bin && $bin -nt $root/bench/portls-bench.c && $bin -nt $lib ]]; then continue; fi
    local flags=() priv=() san=()
    # Libs.private and Requires.private of the build's own .pc, minus the
    # library itself (linked by path: the build dir also holds the .so).
    read -r -a priv <<<"$(PKG_CONFIG_PATH="$dir/pkgconfig" pkg-config --static --libs "portls-$b" |
      tr ' ' '\n' | grep -v -e '^-L.*/lib$' -e "^-lportls-$b\$" | tr '\n' ' ')"
    if grep -q '^PORTLS_SANITIZE:BOOL=ON' "$dir/CMakeCache.txt" 2>/dev/null; then
      san=("-fsanitize=address,undefined" -fno-omit-frame-pointer)
    fi
    if grep -q '^CMAKE_BUILD_TYPE:STRING=Debug' "$dir/CMakeCache.txt" 2>/dev/null; then
      flags=(-O0 -g)
    else
      flags=(-O2 -g)
    fi
    mkdir -p "$dir/bin"
    log "compiling $bin (no CMake target portls-bench-$b in $dir)"
    ${CC:-cc} -std=c11 "${flags[@]}" "${san[@]}" -Wall -Wextra -I"$root/include" \
      "$root/bench/portls-bench.c" "$lib" "${priv[@]}" -o "$bin"
  done
}

# Every backend whose benchmark binary exists in $1/bin and can run the
# protocol (`portls-bench-<backend> check` exits 77 naming the capability a
# backend lacks, e.g. tls1.3 on mbed TLS 2.x).
list_backends() {
  local bin b rc
  for bin in "$1"/bin/portls-bench-*; do
    [[ -x $bin ]] || continue
    b=${bin##*/portls-bench-}
    [[ -z $only_backends || " $only_backends " == *" $b "* ]] || continue
    rc=0
    "$bin" check >/dev/null 2>"$tmp/check.err" || rc=$?
    if [[ $rc == 77 ]]; then
      log "skipped: $(cat "$tmp/check.err")"
      echo "$b" >>"$tmp/skipped"
      continue
    elif [[ $rc != 0 ]]; then
      echo "bench: $bin check failed ($rc): $(cat "$tmp/check.err")" >&2
      exit 1
    fi
    echo "$b"
  done
}

if [[ $no_build == 1 ]]; then
  : # CTest: the build made everything already
elif [[ $quick == 1 ]]; then
  if ! ls "$build"/lib/libportls-*.a >/dev/null 2>&1; then
    log "no portls library in $build/: building it"
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >&2
    cmake --build "$build" -j"$jobs" >&2
  fi
else
  log "building portls (Release) in $build/"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPORTLS_SANITIZE=OFF -DPORTLS_WERROR=OFF \
    -DPORTLS_BUILD_TESTS=OFF -DPORTLS_BUILD_EXAMPLES=OFF -DPORTLS_BUILD_TOOLS=ON >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log" >&2; exit 1; }
  cmake --build "$build" -j"$jobs" >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log" >&2; exit 1; }
fi
if [[ $no_build == 0 ]]; then
  if [[ ! -d $build/certs/bench ]]; then
    cmake --build "$build" --target portls-certs >&2
  fi
  build_bench_binaries "$build"
fi
if [[ ! -d $build/certs/bench ]]; then
  echo "bench: no certificates in $build/certs/bench" >&2
  exit 1
fi
certs=$(cd "$build/certs/bench" && pwd)
: >"$tmp/skipped"
mapfile -t backends < <(list_backends "$build")
if [[ ${#backends[@]} == 0 ]]; then
  if [[ -s $tmp/skipped ]]; then
    echo "bench: every selected backend lacks a capability the protocol needs: skipped" >&2
    exit 77
  fi
  echo "bench: no portls-bench-<backend> binary in $build/bin" >&2
  exit 1
fi
bindir=$(cd "$build/bin" && pwd)

# ---------------------------------------------------------------- the peers

impls=()
for b in "${backends[@]}"; do
  if [[ -n $worker_counts ]]; then
    for w in $worker_counts; do
      [[ $w =~ ^[1-9][0-9]*$ ]] || { echo "bench: --workers: '$w' is not a count" >&2; exit 2; }
      impls+=("portls-$b@w$w")
    done
  else
    impls+=("portls-$b")
  fi
done
[[ $workers_mode == reuseport || $workers_mode == handoff ]] ||
  { echo "bench: --workers-mode: reuseport or handoff, not '$workers_mode'" >&2; exit 2; }
libevent_bin=""
if [[ $quick == 0 ]]; then
  if [[ ! -f $peers/libevent-bench.c || ! -f $peers/node-bench.js ]]; then
    echo "bench: no peers in $peers (set BENCH_PEERS)" >&2
    exit 1
  fi
  if ! pkg-config --exists libevent_openssl 2>/dev/null; then
    log "installing libevent-dev"
    apt-get install -y libevent-dev >&2 || { apt-get update >&2 && apt-get install -y libevent-dev >&2; }
  fi
  log "building libevent-bench in $tmp"
  ${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$tmp/libevent-bench" "$peers/libevent-bench.c" \
    -levent_openssl -levent -lssl -lcrypto
  libevent_bin=$tmp/libevent-bench
  if command -v node >/dev/null; then
    impls+=(node)
  else
    log "warning: no node binary: the Node.js peer is left out"
  fi
  impls+=(libevent)
fi

# The command line of one implementation (client and server alike).
cmd_of() {
  case $1 in
    portls-*@w*)
      local b=${1#portls-} n=${1##*@w}
      echo "env PORTLS_BENCH_WORKERS=$n PORTLS_BENCH_WORKERS_MODE=$workers_mode $bindir/portls-bench-${b%@w*}"
      ;;
    portls-*) echo "$bindir/portls-bench-${1#portls-}" ;;
    node) echo "node $peers/node-bench.js" ;;
    libevent) echo "$libevent_bin" ;;
  esac
}

# ---------------------------------------------------------------- running

next_port=$((21000 + RANDOM % 8000))
SPID="" SPORT="" SOUT=""

# start_server IMPL KIND [RSS_FILE]: sets SPID, SPORT, SOUT; 1 if it never listens.
start_server() {
  local impl=$1 kind=$2 rssf=${3:-}
  for _ in 1 2 3 4 5; do
    SPORT=$next_port
    next_port=$((next_port + 1))
    [[ $next_port -lt 32000 ]] || next_port=21000
    SOUT="$tmp/server.$SPORT.out"
    # shellcheck disable=SC2046
    RSS_FILE=$rssf $(cmd_of "$impl") server "$SPORT" "$certs" "$kind" >"$SOUT" 2>&1 &
    SPID=$!
    pids+=("$SPID")
    local i
    for i in $(seq 100); do
      grep -q '^listening' "$SOUT" 2>/dev/null && return 0
      kill -0 "$SPID" 2>/dev/null || break
      sleep 0.05
    done
    kill -TERM "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  done
  echo "bench: $impl server did not start: $(head -c 300 "$SOUT")" >&2
  return 1
}

# stop_server: SIGTERM; the server must answer "rss_kb N conns M".
stop_server() {
  kill -TERM "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  grep -q '^rss_kb [0-9]* conns [0-9]*' "$SOUT"
}

results=$tmp/results.tsv
failures=0
: >"$results"

record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$results"; }

fail() {
  failures=$((failures + 1))
  echo "bench: FAIL $*" >&2
}

# CPU time of a running process (all its threads), in ms.
clk_tck=$(getconf CLK_TCK)
proc_cpu_ms() {
  awk -v t="$clk_tck" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# run_timed OUT ERR TIMEOUT CMD...: runs a client; sets RC and CLIENT_MS (its
# user + system CPU time, children included).
run_timed() {
  local out=$1 err=$2 to=$3 TIMEFORMAT='%U %S' u s
  shift 3
  RC=0
  { time timeout "$to" "$@" >"$out" 2>"$err"; } 2>"$tmp/time.out" || RC=$?
  read -r u s <"$tmp/time.out" || true
  CLIENT_MS=$(awk -v u="${u:-0}" -v s="${s:-0}" 'BEGIN { printf "%d", (u + s) * 1000 }')
}

bulk() { # IMPL
  local impl=$1
  if ! start_server "$impl" ec; then fail "bulk $impl: server"; return; fi
  local out="$tmp/client.out" s0 s1
  s0=$(proc_cpu_ms "$SPID")
  # shellcheck disable=SC2046
  run_timed "$out" "$tmp/client.err" $((120 + MB / 10)) $(cmd_of "$impl") bulk "$SPORT" "$MB"
  s1=$(proc_cpu_ms "$SPID")
  stop_server || fail "bulk $impl: server printed no rss_kb line on SIGTERM"
  local v
  v=$(awk '$1 == "bulk_MBps" { print $2 }' "$out")
  if [[ $RC != 0 || -z $v ]]; then
    fail "bulk $impl (exit $RC): $(head -c 300 "$tmp/client.err")"
    return
  fi
  # CPU seconds (server + client) per GiB moved.
  local cpu
  cpu=$(awk -v a=$((s1 - s0)) -v b="$CLIENT_MS" -v mb="$MB" 'BEGIN { printf "%.3f", (a + b) / 1000 / (mb / 1024) }')
  record bulk "$impl" "$v" -
  record bulk_cpu "$impl" "$cpu" -
  printf '  %-28s %-18s %s (cpu %s s/GiB: server %d ms, client %d ms)\n' bulk "$impl" "$v" "$cpu" \
    $((s1 - s0)) "$CLIENT_MS" >&2
}

hs() { # NAME IMPL KIND CONC [resume]
  local name=$1 impl=$2 kind=$3 conc=$4 resume=${5:-}
  if ! start_server "$impl" "$kind"; then fail "$name $impl: server"; return; fi
  local out="$tmp/client.out" s0 s1
  s0=$(proc_cpu_ms "$SPID")
  # shellcheck disable=SC2046,SC2086
  run_timed "$out" "$tmp/client.err" 60 $(cmd_of "$impl") hs "$SPORT" "$HS_SECS" "$conc" $resume
  s1=$(proc_cpu_ms "$SPID")
  stop_server || fail "$name $impl: server printed no rss_kb line on SIGTERM"
  local v r
  v=$(awk '$1 == "hs_per_s" { print $2 }' "$out")
  r=$(awk '$1 == "resumed_ratio" { print $2 }' "$out")
  # Every implementation counts only connections that closed cleanly, reports
  # "hs errors N" on stderr and exits non-zero when any failed.
  if [[ -z $v || $RC != 0 ]]; then
    fail "$name $impl (exit $RC): $(tr '\n' ' ' <"$out") $(head -c 300 "$tmp/client.err")"
    return
  fi
  # A portls figure that is not a resumption figure fails the run; a peer's
  # is only marked (libevent-bench resumes ~0.75 at CONC 4: an OpenSSL client
  # will not offer a TLS 1.3 session twice, and concurrent connections share
  # the newest one; docs/benchmark.md).
  # The quick run (CTest's, on a machine busy with other tests) only asks that
  # resumption works at all: under load more connections start before a TLS 1.3
  # ticket has arrived, which lowers the ratio without any fault.
  local floor=0.9
  [[ $quick == 1 ]] && floor=0.5
  if [[ -n $resume && -n $r ]] && awk -v r="$r" -v f="$floor" 'BEGIN { exit !(r < f) }'; then
    if [[ $impl == portls-* ]]; then
      fail "$name $impl: resumed_ratio $r (< $floor): the figure is not a resumption figure"
    else
      log "note: $name $impl: resumed_ratio $r (< 0.9)"
    fi
    r="$r!"
  fi
  # CPU microseconds (server + client) per handshake: steadier than the rate
  # on a machine that other work shares.
  local cpu
  cpu=$(awk -v a=$((s1 - s0)) -v b="$CLIENT_MS" -v v="$v" -v t="$HS_SECS" \
    'BEGIN { n = v * t; if (n < 1) n = 1; printf "%.0f", (a + b) * 1000 / n }')
  record "$name" "$impl" "$v" "${r:--}"
  record "${name}_cpu" "$impl" "$cpu" -
  printf '  %-28s %-18s %s%s (cpu %s us/hs: server %d ms, client %d ms)\n' "$name" "$impl" "$v" \
    "${r:+ (resumed_ratio $r)}" "$cpu" $((s1 - s0)) "$CLIENT_MS" >&2
}

# Reads "RSS_KB CONNS" from an RSS_FILE.
rss_read() { cat "$1" 2>/dev/null || true; }

# Waits until the RSS_FILE says CONNS = $2 and its RSS has settled (two
# readings 400 ms apart within 1%); echoes the RSS.
rss_settled() { # FILE CONNS TIMEOUT_S
  local f=$1 want=$2 deadline=$((SECONDS + $3)) a b prev=""
  while [[ $SECONDS -lt $deadline ]]; do
    read -r a b <<<"$(rss_read "$f")"
    if [[ -n ${b:-} && $b == "$want" ]]; then
      if [[ -n $prev ]] && awk -v p="$prev" -v a="$a" 'BEGIN { d = a - p; if (d < 0) d = -d; exit !(d <= a / 100) }'; then
        echo "$a"
        return 0
      fi
      prev=$a
      sleep 0.4
    else
      prev=""
      sleep 0.1
    fi
  done
  return 1
}

idle() { # IMPL
  local impl=$1 rssf="$tmp/rss.$RANDOM"
  if ! start_server "$impl" ec "$rssf"; then fail "idle $impl: server"; return; fi
  local r0 rn cpid out="$tmp/idle.out"
  if ! r0=$(rss_settled "$rssf" 0 10); then
    fail "idle $impl: the server wrote no RSS_FILE"
    stop_server || true
    return
  fi
  : >"$out"
  # shellcheck disable=SC2046
  $(cmd_of "$impl") idle "$SPORT" "$IDLE_N" >"$out" 2>"$tmp/idle.err" &
  cpid=$!
  pids+=("$cpid")
  local deadline=$((SECONDS + 120 + IDLE_N / 20))
  while [[ $SECONDS -lt $deadline ]] && ! grep -q '^opened' "$out" && kill -0 "$cpid" 2>/dev/null; do
    sleep 0.1
  done
  if ! grep -q "^opened $IDLE_N\$" "$out"; then
    fail "idle $impl: client: $(cat "$out") $(head -c 300 "$tmp/idle.err")"
    kill -TERM "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    stop_server || true
    return
  fi
  rn=$(rss_settled "$rssf" "$IDLE_N" 20) || rn=""
  kill -TERM "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
  stop_server || fail "idle $impl: server printed no rss_kb line on SIGTERM"
  if [[ -z $rn ]]; then
    fail "idle $impl: the server never reported $IDLE_N connections: $(rss_read "$rssf")"
    return
  fi
  local per
  per=$(awk -v a="$r0" -v b="$rn" -v n="$IDLE_N" 'BEGIN { printf "%.1f", (b - a) / n }')
  record idle_kib "$impl" "$per" -
  printf '  %-28s %-18s %s KiB/conn (rss %s -> %s KiB)\n' idle_kib "$impl" "$per" "$r0" "$rn" >&2
}

# ---------------------------------------------------------------- quick mode

if [[ $quick == 1 ]]; then
  start=$SECONDS
  for impl in "${impls[@]}"; do
    log "quick: $impl"
    bulk "$impl"
    hs hs_ec_c1 "$impl" ec 1
    hs hs_rsa_c1 "$impl" rsa 1
    hs hs_resume_c2 "$impl" ec 2 resume
    [[ -z $worker_counts ]] || hs hs_ec_c4 "$impl" ec 4
    idle "$impl"
  done
  n=$(grep -vc '_cpu' "$results" || true)
  want=$((5 * ${#impls[@]}))
  [[ -z $worker_counts ]] || want=$((6 * ${#impls[@]}))
  log "quick: $n of $want runs gave a figure, $failures failure(s), $((SECONDS - start)) s"
  if [[ $failures != 0 || $n != "$want" ]]; then exit 1; fi
  exit 0
fi

# ---------------------------------------------------------------- full run

echo "== machine: $(nproc) CPU(s), $(uname -sr), $(openssl version 2>/dev/null)"
echo "== node: $(node --version 2>/dev/null || echo none), libevent: $(pkg-config --modversion libevent 2>/dev/null)"
echo "== portls backends: ${backends[*]}; rounds $rounds; bulk $MB MiB; handshakes $HS_SECS s per run; idle $IDLE_N"
echo "== load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews every figure; compare ratios)"
echo "== ceiling for bulk: openssl speed -evp aes-128-gcm -bytes 16384 -seconds 3"
openssl speed -evp aes-128-gcm -bytes 16384 -seconds 3 >"$tmp/speed.out" 2>&1 || true
tail -n 2 "$tmp/speed.out" | sed 's/^/   /'
# The last line: "AES-128-GCM  <1000s of bytes per second>k".
ceiling=$(tail -n 1 "$tmp/speed.out" | awk '{ v = $NF; sub(/k$/, "", v); if (v + 0 > 0) printf "%.0f", v * 1000 / 1048576 }')
echo "   = ${ceiling:-?} MiB/s of AES-128-GCM on one core at 16 KiB records"

measurements=(bulk hs_full_ec_c1 hs_full_ec_c4 hs_full_rsa_c1 hs_full_rsa_c4 hs_resume_ec_c1 hs_resume_ec_c4 idle_kib)
for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds"
  # A B A B: within a round, every implementation in turn for one measurement
  # before the next; the order rotates from round to round.
  order=()
  for ((i = 0; i < ${#impls[@]}; i++)); do
    order+=("${impls[$(((i + round - 1) % ${#impls[@]}))]}")
  done
  for impl in "${order[@]}"; do bulk "$impl"; done
  for impl in "${order[@]}"; do hs hs_full_ec_c1 "$impl" ec 1; done
  for impl in "${order[@]}"; do hs hs_full_ec_c4 "$impl" ec 4; done
  for impl in "${order[@]}"; do hs hs_full_rsa_c1 "$impl" rsa 1; done
  for impl in "${order[@]}"; do hs hs_full_rsa_c4 "$impl" rsa 4; done
  for impl in "${order[@]}"; do hs hs_resume_ec_c1 "$impl" ec 1 resume; done
  for impl in "${order[@]}"; do hs hs_resume_ec_c4 "$impl" ec 4 resume; done
  for impl in "${order[@]}"; do idle "$impl"; done
done

cp "$results" "$build/bench-results.tsv"

# ---------------------------------------------------------------- the table

label() {
  local what=${1%_cpu} unit
  case $what in
    bulk) unit="bulk $MB MiB" ;;
    hs_full_ec_c1) unit="full handshakes, CONC 1, ECDSA P-256" ;;
    hs_full_ec_c4) unit="full handshakes, CONC 4, ECDSA P-256" ;;
    hs_full_rsa_c1) unit="full handshakes, CONC 1, RSA-2048" ;;
    hs_full_rsa_c4) unit="full handshakes, CONC 4, RSA-2048" ;;
    hs_resume_ec_c1) unit="resumed handshakes, CONC 1" ;;
    hs_resume_ec_c4) unit="resumed handshakes, CONC 4" ;;
    idle_kib) echo "server RSS per idle connection, KiB ($IDLE_N conns)"; return ;;
  esac
  if [[ $1 == *_cpu ]]; then
    [[ $what == bulk ]] && echo "$unit: CPU s per GiB" || echo "$unit: CPU us per handshake"
  else
    [[ $what == bulk ]] && echo "$unit, MiB/s" || echo "$unit per second"
  fi
}

# stats M IMPL -> "median min max n" (empty if no figure)
stats() {
  awk -F'\t' -v m="$1" -v i="$2" '$1 == m && $2 == i { print $3 }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END {
      if (NR == 0) exit
      med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%s %s %s %d\n", med, v[1], v[NR], NR }'
}

# resumed ratios of one cell, "min" of them
ratios() {
  awk -F'\t' -v m="$1" -v i="$2" '$1 == m && $2 == i && $4 != "-" { print $4 }' "$results" | sort -g | head -n 1
}

fmt() { awk -v x="$1" 'BEGIN { if (x >= 100) printf "%.0f", x; else if (x >= 10) printf "%.1f", x; else printf "%.2f", x }'; }

pimpls=()
for impl in "${impls[@]}"; do [[ $impl != portls-* ]] || pimpls+=("$impl"); done

# table MEASUREMENT...: medians (min-max) per implementation, then the ratios
# portls/peer of the medians.
table() {
  local header="| measurement |" sep="|---|" m impl row med lo hi n cell r b a pm am
  for impl in "${impls[@]}"; do header+=" $impl |"; sep+="---:|"; done
  for b in "${pimpls[@]}"; do
    for a in node libevent; do
      [[ " ${impls[*]} " == *" $a "* ]] || continue
      header+=" ${b#portls-}/$a |"
      sep+="---:|"
    done
  done
  echo "$header"
  echo "$sep"
  for m in "$@"; do
    row="| $(label "$m") |"
    for impl in "${impls[@]}"; do
      med="" lo="" hi="" n=""
      read -r med lo hi n <<<"$(stats "$m" "$impl")"
      if [[ -z $med ]]; then
        row+=" FAIL |"
        continue
      fi
      cell="$(fmt "$med") ($(fmt "$lo")-$(fmt "$hi"))"
      [[ $n == "$rounds" ]] || cell+=" [$n/$rounds]"
      r=$(ratios "$m" "$impl")
      [[ -z $r ]] || [[ $m != hs_resume*[0-9] ]] || cell+=" r=$r"
      row+=" $cell |"
    done
    for b in "${pimpls[@]}"; do
      pm=""
      read -r pm _ <<<"$(stats "$m" "$b")"
      for a in node libevent; do
        [[ " ${impls[*]} " == *" $a "* ]] || continue
        am=""
        read -r am _ <<<"$(stats "$m" "$a")"
        if [[ -n $pm && -n $am ]]; then
          row+=" $(awk -v p="$pm" -v a="$am" 'BEGIN { if (a == 0) print "-"; else printf "%.2f", p / a }') |"
        else
          row+=" - |"
        fi
      done
    done
    echo "$row"
  done
}

echo
echo "== results: median (min-max) of $rounds rounds; ratios are of medians, portls / peer"
echo
echo "Rates (higher is better; memory: lower is better):"
echo
table "${measurements[@]}"
echo
echo "CPU cost, server + client together (lower is better; steadier than rates when other work shares the machine):"
echo
cpu_measurements=()
for m in "${measurements[@]}"; do [[ $m == idle_kib ]] || cpu_measurements+=("${m}_cpu"); done
table "${cpu_measurements[@]}"
echo
echo "Bulk ceiling (openssl speed, AES-128-GCM, 16 KiB, one core): ${ceiling:-?} MiB/s."
echo "r= is the lowest resumed_ratio seen, ! when below 0.9."
echo "Raw figures: $build/bench-results.tsv. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
# Instructions per handshake beside the CPU table (repeatable where the CPU
# figures are not): the sibling script, portls-openssl against libevent, when
# both are part of this run and valgrind is there. BENCH_IR=0 leaves it out.
if [[ ${BENCH_IR:-1} != 0 && " ${impls[*]} " == *" portls-openssl "* && " ${impls[*]} " == *" libevent "* ]] &&
  command -v valgrind >/dev/null; then
  echo
  echo "Instructions per handshake (callgrind; scripts/bench-instructions.sh, its own Release -g build):"
  echo
  if ! bash "$root/scripts/bench-instructions.sh" --impls "portls-openssl libevent" --curves default |
    sed -n '/^| side/,/^$/p'; then
    echo "bench: the instruction count failed" >&2
    failures=$((failures + 1))
  fi
fi
if [[ $failures != 0 ]]; then
  echo "bench: $failures run(s) failed (see above)" >&2
  exit 1
fi
