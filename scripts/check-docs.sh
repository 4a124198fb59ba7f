#!/usr/bin/env bash
# Every function a public header declares has a doc comment ending on the line
# directly above its declaration (STYLE: embedded users read headers, not
# websites). backend.h, the backends' contract, is checked with the backends.
#   scripts/check-docs.sh [INCLUDE_DIR]   (default: the repository's include/portls)
set -euo pipefail

dir=${1:-"$(cd "$(dirname "$0")/.." && pwd)/include/portls"}
status=0
count=0
for h in "$dir"/*.h; do
  [[ $(basename "$h") == backend.h ]] && continue
  # Prints "line name" for each file-scope declaration of a portls_ function
  # without a comment closing on the line before. Skips struct bodies,
  # macro bodies (continuation lines), comments and typedefs (callbacks).
  out=$(awk '
    function strip(s) { gsub(/"([^"\\]|\\.)*"/, "", s); return s }
    {
      line = $0
      if (in_comment) {
        if (index(line, "*/")) in_comment = 0
        prev_comment = !in_comment; next
      }
      if (in_macro) { in_macro = (line ~ /\\$/); prev_comment = 0; next }
      if (line ~ /^[ \t]*#/) { in_macro = (line ~ /\\$/); prev_comment = 0; next }
      if (line ~ /^[ \t]*\/\*/) {
        if (!index(substr(line, index(line, "/*") + 2), "*/")) { in_comment = 1; prev_comment = 0 }
        else prev_comment = (line ~ /\*\/[ \t]*$/)
        next
      }
      code = strip(line); sub(/\/\*.*/, "", code); sub(/\/\/.*/, "", code)
      if (depth == 0 && code ~ /^[A-Za-z_]/ && code !~ /^(typedef|extern|enum|struct)[ \t]/ &&
          match(code, /portls_[A-Za-z0-9_]+[ \t]*\(/)) {
        total++
        name = substr(code, RSTART, RLENGTH); sub(/[ \t]*\($/, "", name)
        if (!prev_comment) print FNR, name
      }
      if (line ~ /^extern "C"/ || (depth == 0 && code ~ /^}[ \t]*$/)) { prev_comment = 0; next }
      n = split(code, ch, "")
      for (i = 1; i <= n; i++) { if (ch[i] == "{") depth++; else if (ch[i] == "}") depth-- }
      prev_comment = 0
    }
    END { print "total", total + 0 }
  ' "$h")
  total=$(sed -n 's/^total //p' <<<"$out")
  count=$((count + total))
  while read -r ln name; do
    [[ -z $ln || $ln == total ]] && continue
    echo "$h:$ln: $name has no doc comment directly above it"
    status=1
  done <<<"$out"
done
if [[ $status -eq 0 ]]; then
  echo "check-docs: $count public function declarations, each with its doc comment"
fi
exit $status
