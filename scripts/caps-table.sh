#!/usr/bin/env bash
# The README's backend-by-capability table, made from what each built library declares
# (`portls-<backend> caps`), so the table and the code cannot drift apart.
#   scripts/caps-table.sh BIN_DIR                 print the table
#   scripts/caps-table.sh BIN_DIR --write README  replace the table in README
#   scripts/caps-table.sh BIN_DIR --check README  exit 1 if README disagrees with the
#                                                 backends built in BIN_DIR
# BIN_DIR may be several directories joined with ':' (build/bin:build-mbedtls228/bin):
# the mbedtls backend has one column per mbed TLS version (mbedtls-3.6, mbedtls-2.28),
# so builds against both versions fill both columns.
set -euo pipefail
bindirs=${1:?usage: caps-table.sh BIN_DIR[:BIN_DIR...] [--write|--check README]}
mode=${2:-}
readme=${3:-}

jsons=()
IFS=: read -r -a dirs <<<"$bindirs"
for bindir in "${dirs[@]}"; do
  for b in openssl boringssl mbedtls; do
    [[ -x $bindir/portls-$b ]] && jsons+=("$("$bindir/portls-$b" caps)")
  done
done
[[ ${#jsons[@]} -gt 0 ]] || { echo "caps-table: no portls-<backend> in $bindir" >&2; exit 2; }

# Reads the README table (if any) and the fresh JSON; prints the merged table, or with
# --check compares the columns of the built backends and reports each difference.
node - "$mode" "${readme:-}" "${jsons[@]}" <<'JS'
const fs = require('fs');
const [mode, readme, ...raw] = process.argv.slice(2);
const order = ['openssl', 'boringssl', 'mbedtls-3.6', 'mbedtls-2.28', 'mbedtls'];
// A column per backend, and for mbedtls per version ("Mbed TLS 3.6.6" → mbedtls-3.6).
const built = raw.map((j) => JSON.parse(j)).map((j) => {
  const v = /(\d+)\.(\d+)\.\d+/.exec(j.version || '');
  return j.backend === 'mbedtls' && v ? { ...j, backend: `mbedtls-${v[1]}.${v[2]}` } : j;
});
const begin = '<!-- caps:begin -->', end = '<!-- caps:end -->';

function parseTable(text) {
  const cols = {}, rows = [];
  const i = text.indexOf(begin), j = text.indexOf(end);
  if (i < 0 || j < 0) return { cols, rows };
  const lines = text.slice(i + begin.length, j).trim().split('\n').filter((l) => l.startsWith('|'));
  if (lines.length < 2) return { cols, rows };
  const head = lines[0].split('|').slice(2, -1).map((s) => s.trim());
  for (const h of head) cols[h] = {};
  for (const l of lines.slice(2)) {
    const cells = l.split('|').slice(1, -1).map((s) => s.trim());
    const cap = cells[0].replace(/`/g, '');
    rows.push(cap);
    head.forEach((h, k) => { cols[h][cap] = cells[k + 1] === 'yes'; });
  }
  return { cols, rows };
}

const text = readme && fs.existsSync(readme) ? fs.readFileSync(readme, 'utf8') : '';
const old = parseTable(text);
const caps = Object.keys(built[0].capabilities);
const cols = {};
for (const b of order) if (old.cols[b]) cols[b] = old.cols[b];
for (const j of built) cols[j.backend] = j.capabilities;
// The versionless column of older tables goes once a versioned one is there.
if (Object.keys(cols).some((b) => b.startsWith('mbedtls-'))) delete cols.mbedtls;

if (mode === '--check') {
  const problems = [];
  for (const j of built) {
    if (!old.cols[j.backend]) { problems.push(`README has no column for ${j.backend}`); continue; }
    for (const c of caps)
      if (old.cols[j.backend][c] !== j.capabilities[c])
        problems.push(`${j.backend} ${c}: README says ${old.cols[j.backend][c] ? 'yes' : 'no'}, the library says ${j.capabilities[c] ? 'yes' : 'no'}`);
    for (const c of old.rows) if (!(c in j.capabilities)) problems.push(`README lists unknown capability ${c}`);
  }
  if (problems.length) {
    console.error('README capability table disagrees with the code (run scripts/caps-table.sh build/bin --write README.md):');
    for (const p of problems) console.error('  ' + p);
    process.exit(1);
  }
  console.log(`README capability table matches ${built.map((j) => j.backend).join(', ')}`);
  process.exit(0);
}

const names = order.filter((b) => cols[b]);
let table = `| capability | ${names.join(' | ')} |\n|---|${names.map(() => ':---:').join('|')}|\n`;
for (const c of caps) table += `| \`${c}\` | ${names.map((b) => (cols[b][c] ? 'yes' : 'no')).join(' | ')} |\n`;
if (mode === '--write') {
  if (text.indexOf(begin) < 0) { console.error(`caps-table: ${readme} has no ${begin} marker`); process.exit(2); }
  const out = text.slice(0, text.indexOf(begin) + begin.length) + '\n' + table + text.slice(text.indexOf(end));
  fs.writeFileSync(readme, out);
} else {
  process.stdout.write(table);
}
JS
