#!/usr/bin/env bash
# Instructions per TLS 1.3 handshake: portls against libevent + OpenSSL, counted
# by valgrind's callgrind, so that the figure is repeatable on a busy machine
# (the same binaries and input give the same count, give or take a few event-loop
# wake-ups). A sibling of scripts/bench.sh; same protocol and the same programs
# (bench/portls-bench.c, bench/peers/libevent-bench.c); docs/benchmark.md.
#
#   scripts/bench-instructions.sh            builds what it needs, then measures
#                                            every implementation x side x mode x curve
#
# How one figure is taken: one process runs under callgrind, its peer natively
# (the server under callgrind with a native client, then the client under
# callgrind with a native server). Callgrind counts only inside the event loop
# (--collect-atstart=no --toggle-collect=portls_loop_run, or event_base_dispatch
# for libevent), so start-up (context, keys, certificates) is left out. Each
# figure is the difference of two runs, BENCH_IR_WARM handshakes and
# BENCH_IR_WARM + BENCH_IR_N handshakes (client: BENCH_HS_COUNT, CONC 1), divided
# by the handshakes of the kind measured that the second run did more: what is
# left is the steady cost of one handshake, without one-time work (the first
# handshake's lazy initialisation, the resumed run's first full handshake).
# Everything the process does for a connection counts: TCP accept/connect,
# the handshake, one close_notify each way, the tickets (TLS 1.3 servers send
# two), the 1-line reply of the protocol, the close.
#
# Options: --impls "portls-openssl libevent"   implementations (portls-<backend> for any
#                                               backend; libevent needs libevent_openssl)
#          --curves "default X25519"           'default' is each one's own default
#                                               group (portls: auto, X25519 first;
#                                               OpenSSL: X25519 first);
#                                               any other name is forced on both sides
#                                               (PORTLS_BENCH_CURVE, LEV_CURVE)
#          --sides "server client"  --modes "full resumed"
#          --top N                             functions in the breakdown (default 25)
#          --no-build                          use what is in the build directory
# Environment:
#   BENCH_IR_N=100          handshakes measured per figure
#   BENCH_IR_WARM=20        handshakes of the base run, subtracted
#   PORTLS_IR_BUILD_DIR     the build (default build-ir/: Release with -g, no sanitizers)
#   BENCH_IR_OUT            where the callgrind files stay (default <build>/bench-instructions)
#   BENCH_PEERS=DIR         the peers' sources (default bench/peers)
#   PORTLS_JOBS=2           build parallelism
# Prints the tables in Markdown on stdout; progress on stderr. Exit 1 if a run failed.
# Not counted: the kernel's work (callgrind sees user-space instructions only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

impls_sel="portls-openssl libevent"
curves="default X25519"
sides="server client"
modes="full resumed"
top=25
no_build=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --impls) impls_sel=$2; shift ;;
    --curves) curves=$2; shift ;;
    --sides) sides=$2; shift ;;
    --modes) modes=$2; shift ;;
    --top) top=$2; shift ;;
    --no-build) no_build=1 ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    *) echo "bench-instructions.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

N=${BENCH_IR_N:-100}
WARM=${BENCH_IR_WARM:-20}
build=${PORTLS_IR_BUILD_DIR:-build-ir}
peers=${BENCH_PEERS:-$root/bench/peers}
jobs=${PORTLS_JOBS:-2}
log() { echo "bench-instructions: $*" >&2; }

for tool in valgrind callgrind_annotate python3; do
  command -v "$tool" >/dev/null || { echo "bench-instructions: $tool is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
[[ $N -gt 0 && $WARM -ge 1 ]] || { echo "bench-instructions: BENCH_IR_N must be > 0 and BENCH_IR_WARM >= 1" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portls-ir.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- building

backends=()
for i in $impls_sel; do
  case $i in
    portls-*) backends+=("${i#portls-}") ;;
    libevent) ;;
    *) echo "bench-instructions: unknown implementation $i" >&2; exit 2 ;;
  esac
done
if [[ $no_build == 0 && ${#backends[@]} -gt 0 ]]; then
  log "building portls (Release, -g, no sanitizers) in $build/"
  blist=$(IFS=';'; echo "${backends[*]}")
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DPORTLS_BACKENDS="$blist" \
    -DPORTLS_SANITIZE=OFF -DPORTLS_WERROR=OFF -DPORTLS_BUILD_TESTS=OFF -DPORTLS_BUILD_EXAMPLES=OFF \
    -DPORTLS_BUILD_TOOLS=ON >"$tmp/cmake.log" 2>&1 || { cat "$tmp/cmake.log" >&2; exit 1; }
  targets=(portls-certs)
  for b in "${backends[@]}"; do targets+=("portls-bench-$b"); done
  cmake --build "$build" -j"$jobs" --target "${targets[@]}" >"$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log" >&2; exit 1; }
fi
[[ -d $build/certs/bench ]] || { echo "bench-instructions: no certificates in $build/certs/bench" >&2; exit 1; }
certs=$(cd "$build/certs/bench" && pwd)
out=${BENCH_IR_OUT:-$build/bench-instructions}
mkdir -p "$out"
out=$(cd "$out" && pwd)

impls=()
for i in $impls_sel; do
  if [[ $i == libevent ]]; then
    if ! pkg-config --exists libevent_openssl 2>/dev/null; then
      log "warning: no libevent_openssl (libevent-dev): the libevent column is left out"
      continue
    fi
    ${CC:-cc} -std=c11 -O2 -g -Wall -Wextra -o "$out/libevent-bench" "$peers/libevent-bench.c" \
      -levent_openssl -levent -lssl -lcrypto
  elif [[ ! -x $build/bin/portls-bench-${i#portls-} ]]; then
    echo "bench-instructions: no $build/bin/portls-bench-${i#portls-}" >&2
    exit 1
  fi
  impls+=("$i")
done
[[ ${#impls[@]} -gt 0 ]] || { echo "bench-instructions: nothing to measure" >&2; exit 1; }
bindir=$(cd "$build/bin" && pwd)

cmd_of() {
  case $1 in
    portls-*) echo "$bindir/portls-bench-${1#portls-}" ;;
    libevent) echo "$out/libevent-bench" ;;
  esac
}
toggle_of() {
  case $1 in
    portls-*) echo portls_loop_run ;;
    libevent) echo event_base_dispatch ;;
  esac
}

# ---------------------------------------------------------------- one run

next_port=$((21000 + RANDOM % 8000))
failures=0

# run_one IMPL SIDE MODE CURVE COUNT FILE: one server and one client doing COUNT
# handshakes, SIDE under callgrind (its data in FILE). Sets R_IR (instructions
# counted), R_DONE (connections closed cleanly), R_RESUMED; returns 1 on failure.
run_one() {
  local impl=$1 side=$2 mode=$3 curve=$4 count=$5 cg=$6
  local cmd vg=() env=() spid i resume=""
  cmd=$(cmd_of "$impl")
  vg=(valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$(toggle_of "$impl")"
    --callgrind-out-file="$cg")
  [[ $curve == default ]] || env=(PORTLS_BENCH_CURVE="$curve" LEV_CURVE="$curve")
  [[ $mode == resumed ]] && resume=resume
  local sv=() cv=()
  [[ $side == server ]] && sv=("${vg[@]}") || cv=("${vg[@]}")
  rm -f "$cg"
  local port=$next_port
  next_port=$((next_port + 1))
  [[ $next_port -lt 32000 ]] || next_port=21000
  # shellcheck disable=SC2086
  env "${env[@]}" "${sv[@]}" $cmd server "$port" "$certs" ec >"$tmp/s.out" 2>"$tmp/s.err" &
  spid=$!
  pids+=("$spid")
  for i in $(seq 3000); do # valgrind starts slowly on a busy machine
    grep -q '^listening' "$tmp/s.out" 2>/dev/null && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q '^listening' "$tmp/s.out"; then
    log "$impl server did not start ($(kill -0 "$spid" 2>/dev/null && echo running || echo exited)): $(grep -v '^==' "$tmp/s.err" | tail -c 300)"
    kill -TERM "$spid" 2>/dev/null || true
    wait "$spid" 2>/dev/null || true
    return 1
  fi
  local rc=0
  # shellcheck disable=SC2086
  env "${env[@]}" BENCH_HS_COUNT="$count" timeout 900 "${cv[@]}" $cmd hs "$port" 100000 1 $resume \
    >"$tmp/c.out" 2>"$tmp/c.err" || rc=$?
  kill -TERM "$spid" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  R_DONE=$(awk '$1 == "hs_done" { print $2 }' "$tmp/c.out")
  local ratio
  ratio=$(awk '$1 == "resumed_ratio" { print $2 }' "$tmp/c.out")
  R_IR=$(awk '$1 == "totals:" || $1 == "summary:" { v = $2 } END { print v }' "$cg" 2>/dev/null || true)
  if [[ $rc != 0 || -z $R_DONE || -z $R_IR || $R_DONE != "$count" ]]; then
    log "$impl $side $mode $curve ($count): exit $rc, done ${R_DONE:-?}: $(tr '\n' ' ' <"$tmp/c.err" | tail -c 300)"
    return 1
  fi
  R_RESUMED=$(awk -v r="$ratio" -v d="$R_DONE" 'BEGIN { printf "%d", r * d + 0.5 }')
  return 0
}

# measure IMPL SIDE MODE CURVE: the base run and the measured run; appends a line
# "impl side mode curve ir_per_hs base.cg full.cg handshakes" to results.
results=$tmp/results.tsv
: >"$results"
measure() {
  local impl=$1 side=$2 mode=$3 curve=$4
  local tag="$impl.$side.$mode.$curve" ir0 done0 res0
  log "$impl, $side under callgrind, $mode handshakes, curve $curve"
  # A run that fails is tried once more (a port taken meanwhile, a server
  # that valgrind started too slowly).
  if ! run_one "$impl" "$side" "$mode" "$curve" "$WARM" "$out/$tag.base.cg" &&
    ! run_one "$impl" "$side" "$mode" "$curve" "$WARM" "$out/$tag.base.cg"; then
    log "FAIL $tag (base run)"
    failures=$((failures + 1)); return; fi
  ir0=$R_IR done0=$R_DONE res0=$R_RESUMED
  if ! run_one "$impl" "$side" "$mode" "$curve" $((WARM + N)) "$out/$tag.cg" &&
    ! run_one "$impl" "$side" "$mode" "$curve" $((WARM + N)) "$out/$tag.cg"; then
    log "FAIL $tag (measured run)"
    failures=$((failures + 1)); return; fi
  local dfull dres n other
  dfull=$(((R_DONE - R_RESUMED) - (done0 - res0)))
  dres=$((R_RESUMED - res0))
  if [[ $mode == full ]]; then n=$dfull; other=$dres; else n=$dres; other=$dfull; fi
  if [[ $n -le 0 || $other != 0 ]]; then
    log "FAIL $tag: the measured run did $dfull more full and $dres more resumed handshakes than the base run"
    failures=$((failures + 1))
    return
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$impl" "$side" "$mode" "$curve" \
    "$(awk -v a="$R_IR" -v b="$ir0" -v n="$n" 'BEGIN { printf "%.0f", (a - b) / n }')" \
    "$out/$tag.base.cg" "$out/$tag.cg" "$n" >>"$results"
  log "  $(tail -n 1 "$results" | cut -f5) instructions per handshake"
}

start=$SECONDS
for curve in $curves; do
  for mode in $modes; do
    for side in $sides; do
      for impl in "${impls[@]}"; do measure "$impl" "$side" "$mode" "$curve"; done
    done
  done
done
cp "$results" "$out/results.tsv"

# ---------------------------------------------------------------- the tables

# The breakdown: self cost per function (callgrind's own data, parsed here; the
# same figures as callgrind_annotate --inclusive=no) of the measured run minus
# the base run, per handshake, and the sum per layer, which is decided by the
# object file (OpenSSL = libssl + libcrypto, libc/ld.so, libuv, libevent) and,
# inside the portls binary, by the source file's directory (core/, backends/,
# platform/, bench/).
cat >"$tmp/breakdown.py" <<'EOF'
import re, sys, collections

def parse(path):
    names = {"ob": {}, "fl": {}, "fn": {}}
    kind_of = {"ob": "ob", "cob": "ob", "fl": "fl", "fi": "fl", "fe": "fl", "cfi": "fl",
               "cfl": "fl", "fn": "fn", "cfn": "fn"}
    cost = collections.Counter()
    ob = fl = fn = fnfile = ""
    skip = False
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                if skip:
                    skip = False
                    continue
                parts = line.split()
                if len(parts) >= 2:
                    cost[(ob, fnfile, fn)] += int(parts[1])
                continue
            m = re.match(r"^(\w+)=(.*)$", line)
            if not m:
                continue
            key, val = m.group(1), m.group(2)
            if key == "calls":
                skip = True
                continue
            if key not in kind_of:
                continue
            table = names[kind_of[key]]
            mm = re.match(r"^\((\d+)\)(?: (.*))?$", val)
            if mm:
                if mm.group(2) is not None:
                    table[mm.group(1)] = mm.group(2)
                val = table.get(mm.group(1), "?")
            if key == "ob":
                ob = val
            elif key == "fl":
                fl = val
            elif key == "fn":
                fn = val
                fnfile = fl
    return cost

def layer(ob, fl):
    base = ob.rsplit("/", 1)[-1]
    if base.startswith(("libssl", "libcrypto")):
        return "OpenSSL"
    if base.startswith(("libc.", "ld-linux", "libm.", "libpthread", "vgpreload")):
        return "libc/ld.so"
    if base.startswith("libuv"):
        return "libuv"
    if base.startswith("libevent"):
        return "libevent"
    if base.startswith("portls-bench") or base.startswith("libportls"):
        for d, name in (("/core/", "core"), ("/backends/", "backend"), ("/platform/", "platform"),
                        ("/bench/", "bench program")):
            if d in fl:
                return name
        return "portls (no file)"
    if base.startswith("libevent-bench"):
        return "bench program"
    return "other: " + base if base != "???" else "other (vdso, unknown)"

LAYERS = ["core", "backend", "platform", "OpenSSL", "libc/ld.so", "libuv", "libevent", "bench program"]

def diff(base, full, n):
    a, b = parse(base), parse(full)
    d = collections.Counter(b)
    d.subtract(a)
    return {k: v / n for k, v in d.items()}

mode = sys.argv[1]
if mode == "layers":
    # layers TITLE base full n [base full n ...]
    rows = []
    args = sys.argv[2:]
    seen = []
    for i in range(0, len(args), 4):
        title, base, full, n = args[i], args[i + 1], args[i + 2], float(args[i + 3])
        per = collections.Counter()
        for (ob, fl, fn), v in diff(base, full, n).items():
            per[layer(ob, fl)] += v
        rows.append((title, per))
        for k in per:
            if k not in LAYERS and k not in seen:
                seen.append(k)
    cols = [l for l in LAYERS if any(abs(p[l]) >= 0.5 for _, p in rows)] + seen
    print("| measurement | total | " + " | ".join(cols) + " |")
    print("|---|---:|" + "---:|" * len(cols))
    for title, per in rows:
        tot = sum(per.values())
        cells = ["%.0f (%.0f%%)" % (per[c], 100 * per[c] / tot if tot else 0) for c in cols]
        print("| %s | %.0f | %s |" % (title, tot, " | ".join(cells)))
elif mode == "top":
    # top N base full n
    top, base, full, n = int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
    d = diff(base, full, n)
    tot = sum(d.values())
    print("| # | instructions / handshake | share | function | layer | file |")
    print("|---:|---:|---:|---|---|---|")
    for i, ((ob, fl, fn), v) in enumerate(sorted(d.items(), key=lambda kv: -kv[1])[:top], 1):
        short = fl
        for d_ in ("/core/", "/backends/", "/platform/", "/bench/"):
            if d_ in fl:
                short = fl[fl.index(d_) + 1:]
        if short.startswith("./"):
            short = short[2:]
        print("| %d | %.0f | %.1f%% | `%s` | %s | %s |" % (i, v, 100 * v / tot if tot else 0, fn,
              layer(ob, fl), short if short != "???" else ob.rsplit("/", 1)[-1]))
EOF

ir_of() { awk -F'\t' -v i="$1" -v s="$2" -v m="$3" -v c="$4" \
  '$1 == i && $2 == s && $3 == m && $4 == c { print $5 }' "$results"; }

echo "== instructions per TLS 1.3 handshake (callgrind, Ir), $(date -u +%Y-%m-%d)"
echo "== $(nproc) CPU(s), $(uname -sr), $(openssl version 2>/dev/null), libevent $(pkg-config --modversion libevent 2>/dev/null || echo none), $(valgrind --version)"
echo "== each figure: (run of $((WARM + N)) handshakes - run of $WARM) / $N, CONC 1, ECDSA P-256 certificate, TLS_AES_128_GCM_SHA256"
echo
hdr="| side | handshake | curve |"
sep="|---|---|---|"
for i in "${impls[@]}"; do hdr+=" $i |"; sep+="---:|"; done
for i in "${impls[@]}"; do
  [[ $i == portls-* && " ${impls[*]} " == *" libevent "* ]] && { hdr+=" $i / libevent |"; sep+="---:|"; }
done
echo "$hdr"
echo "$sep"
for curve in $curves; do
  for mode in $modes; do
    for side in $sides; do
      row="| $side | $mode | $curve |"
      for i in "${impls[@]}"; do
        v=$(ir_of "$i" "$side" "$mode" "$curve")
        row+=" ${v:-FAIL} |"
      done
      for i in "${impls[@]}"; do
        [[ $i == portls-* && " ${impls[*]} " == *" libevent "* ]] || continue
        row+=" $(awk -v p="$(ir_of "$i" "$side" "$mode" "$curve")" -v l="$(ir_of libevent "$side" "$mode" "$curve")" \
          'BEGIN { if (p == "" || l == "" || l == 0) print "-"; else printf "%.2f", p / l }') |"
      done
      echo "$row"
    done
  done
done
echo
echo "'default' is each implementation's own default group: portls auto (X25519 first), OpenSSL (libevent) X25519."

for i in "${impls[@]}"; do
  echo
  echo "== $i: instructions per handshake by layer"
  echo
  args=()
  while IFS=$'\t' read -r im s m c _ base full n; do
    [[ $im == "$i" ]] && args+=("$s, $m, $c" "$base" "$full" "$n")
  done <"$results"
  [[ ${#args[@]} -gt 0 ]] && python3 "$tmp/breakdown.py" layers "${args[@]}"
done

for i in "${impls[@]}"; do
  [[ $i == portls-* ]] || continue
  for mode in $modes; do
    line=$(awk -F'\t' -v i="$i" -v m="$mode" -v c="${curves%% *}" \
      '$1 == i && $2 == "server" && $3 == m && $4 == c' "$results")
    [[ -n $line ]] || continue
    IFS=$'\t' read -r _ _ _ _ _ base full n <<<"$line"
    echo
    echo "== $i, server side, $mode handshakes, curve ${curves%% *}: top $top functions by self cost"
    echo
    python3 "$tmp/breakdown.py" top "$top" "$base" "$full" "$n"
  done
done
echo
echo "Callgrind files: $out (callgrind_annotate --inclusive=no FILE); $((SECONDS - start)) s of measurement;"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
if [[ $failures != 0 ]]; then
  echo "bench-instructions: $failures figure(s) failed (see above)" >&2
  exit 1
fi
