#!/usr/bin/env bash
# The mutation check: small, realistic bugs planted one at a time in a scratch copy of
# the committed tree (HEAD), each rebuilt and run against the test suite. A mutant is
# "killed" when a test fails; one that every test passes "survives" and shows a
# behaviour no test guards. Not part of the test command (it takes 30-60 minutes on two
# cores); run it after changing tests or the code a mutant names.
#
#   scripts/mutants.sh            every mutant; prints each result, the kill rate and
#                                 every survivor; exits 1 if a mutant survives or no
#                                 longer applies
#   scripts/mutants.sh --list     the mutants, one line each
#   scripts/mutants.sh --check    only whether each mutant still applies to the working
#                                 tree (seconds; no build)
#   scripts/mutants.sh ID...      just these
#
# Work directory: $PORTLS_MUTANTS_DIR (default ${TMPDIR:-/tmp}/portls-mutants); the
# scratch source tree and its two builds (libuv, all backends; posix, all backends) are
# kept there between runs, so a second run only rebuilds what a mutant touches.
#
# A mutant is one Perl substitution on one file (mutants/*.pl style: s/old/new/), which
# must change that file: when the code it names has moved, the run says "no longer
# applies" and fails, so the list is kept up to date with the code. Each mutant names
# the tests to try first (a ctest -R regex); when they all pass, the rest of the suite
# of that build runs too before the mutant is called a survivor.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${PORTLS_MUTANTS_DIR:-${TMPDIR:-/tmp}/portls-mutants}
jobs=${PORTLS_JOBS:-2}

ids=() builds=() files=() edits=() hints=() whats=()
# mutant ID BUILD FILE PERL-SUBSTITUTION FIRST-TESTS WHAT
mutant() {
  ids+=("$1") builds+=("$2") files+=("$3") edits+=("$4") hints+=("$5") whats+=("$6")
}
# shellcheck source=mutants.list
source "$root/scripts/mutants.list"

if [[ ${1:-} == --list ]]; then
  for i in "${!ids[@]}"; do
    printf '%-22s %-5s %-36s %s\n' "${ids[$i]}" "${builds[$i]}" "${files[$i]}" "${whats[$i]}"
  done
  exit 0
fi
if [[ ${1:-} == --check ]]; then
  bad=0
  tmp=$(mktemp)
  trap 'rm -f "$tmp"' EXIT
  for i in "${!ids[@]}"; do
    cp "$root/${files[$i]}" "$tmp"
    if ! perl -0pi -e "${edits[$i]}" "$tmp" || cmp -s "$tmp" "$root/${files[$i]}"; then
      echo "mutants: ${ids[$i]} no longer applies to ${files[$i]}" >&2
      bad=1
    fi
  done
  ((bad == 0)) && echo "mutants: all ${#ids[@]} mutants apply"
  exit "$bad"
fi
want=("$@")
selected() {
  ((${#want[@]} == 0)) && return 0
  local w
  for w in "${want[@]}"; do [[ $w == "$1" ]] && return 0; done
  return 1
}

mkdir -p "$work"
src=$work/src
# The scratch tree is refreshed file by file: a file that did not change keeps its
# time stamp, so the builds of an earlier run only recompile what changed.
fresh=$work/fresh
rm -rf "$fresh"
mkdir -p "$fresh" "$src"
git -C "$root" archive HEAD | tar -x -C "$fresh"
(cd "$fresh" && find . -type f) | while IFS= read -r f; do
  if ! cmp -s "$fresh/$f" "$src/$f"; then
    mkdir -p "$(dirname "$src/$f")"
    cp "$fresh/$f" "$src/$f"
  fi
done
(cd "$src" && find . -type f) | while IFS= read -r f; do
  [[ -e $fresh/$f ]] || rm -f "$src/$f"
done
rm -rf "$fresh"
echo "mutants: scratch tree of $(git -C "$root" rev-parse --short HEAD) in $src"

configure() { # BUILD-NAME
  local dir=$work/build-$1 extra=()
  [[ $1 == posix ]] && extra=(-DPORTLS_PLATFORM=posix -DPORTLS_BUILD_EXAMPLES=OFF -DPORTLS_BUILD_TOOLS=OFF)
  # The scratch tree has no .deps/: the repository's mbedTLS 3.6, as the test command builds.
  [[ -d $root/.deps/mbedtls-3.6 ]] && extra+=(-DPORTLS_MBEDTLS_ROOT="$root/.deps/mbedtls-3.6")
  cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DPORTLS_SANITIZE=ON -DPORTLS_WERROR=OFF \
    "${extra[@]}" >/dev/null
}
build() { cmake --build "$work/build-$1" -j"$jobs" >"$work/build.log" 2>&1; }
# Runs tests of a build: ctest arguments after the build name. 0: all passed.
run_tests() {
  local b=$1
  shift
  local sel=()
  [[ $b == posix ]] && sel=(-L 'conformance|threads')
  ctest --test-dir "$work/build-$b" -j"$jobs" --timeout 600 --stop-on-failure \
    "${sel[@]}" "$@" >"$work/ctest.log" 2>&1
}

for b in uv posix; do
  configure "$b"
  echo "mutants: building the unmutated $b tree"
  build "$b" || {
    tail -n 30 "$work/build.log"
    echo "mutants: the unmutated tree does not build" >&2
    exit 1
  }
done

killed=0 survived=0 broken=0 total=0
survivors=() brokens=()
for i in "${!ids[@]}"; do
  id=${ids[$i]} b=${builds[$i]} f=${files[$i]}
  selected "$id" || continue
  total=$((total + 1))
  cp "$src/$f" "$work/pristine"
  if ! perl -0pi -e "${edits[$i]}" "$src/$f" || cmp -s "$src/$f" "$work/pristine"; then
    cp "$work/pristine" "$src/$f"
    printf '%-22s NO LONGER APPLIES  %s\n' "$id" "$f"
    broken=$((broken + 1)) brokens+=("$id")
    continue
  fi
  start=$SECONDS
  if ! build "$b"; then
    result="DOES NOT BUILD"
    broken=$((broken + 1)) brokens+=("$id")
  elif ! run_tests "$b" -R "${hints[$i]}"; then
    result="killed"
    killed=$((killed + 1))
  elif ! run_tests "$b" -E "${hints[$i]}"; then
    result="killed (by the rest of the suite)"
    killed=$((killed + 1))
  else
    result="SURVIVED"
    survived=$((survived + 1)) survivors+=("$id: ${whats[$i]}")
  fi
  if [[ $result == killed* ]]; then
    by=$(grep -Eo '[0-9]+ - [^ ]+ \(' "$work/ctest.log" | head -n 1 | sed -E 's/^[0-9]+ - //; s/ \($//')
    result="$result by ${by:-a failing test}"
  fi
  printf '%-22s %s (%ds)  %s\n' "$id" "$result" $((SECONDS - start)) "${whats[$i]}"
  cp "$work/pristine" "$src/$f"
done
# Leave the builds matching the unmutated tree for the next run.
for b in uv posix; do build "$b" || true; done

valid=$((total - broken))
rate=0
((valid > 0)) && rate=$((100 * killed / valid))
echo
echo "mutants: $killed killed, $survived survived, $broken broken of $total; kill rate $rate%"
for s in "${survivors[@]}"; do echo "  survivor: $s"; done
for s in "${brokens[@]}"; do echo "  broken (update scripts/mutants.list): $s"; done
((survived == 0 && broken == 0))
