#!/usr/bin/env bash
# Regenerate the rule table in docs/rules.md from the built-in rules:
# `leakhound rules list --format markdown` between the rules-table markers.
# usage: bench/rules-table.sh   (LEAKHOUND=PATH to use a built binary)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
table=$(mktemp)
trap 'rm -f "$table"' EXIT
if [[ -n ${LEAKHOUND:-} ]]; then
  "$LEAKHOUND" rules list --format markdown >"$table"
else
  cargo run -q -- rules list --format markdown >"$table"
fi
awk -v table="$table" '
  /<!-- rules-table:start -->/ { print; while ((getline line < table) > 0) print line; skip = 1; next }
  /<!-- rules-table:end -->/ { skip = 0 }
  !skip { print }
' docs/rules.md >docs/rules.md.new
mv docs/rules.md.new docs/rules.md
echo "docs/rules.md: table regenerated" >&2
