#!/usr/bin/env bash
# Findings on the sources of 200 popular crates (issue 21's budget: at most
# 10 at the default confidence), per rule and confidence.
#
#   bench/crates.sh [LEAKHOUND]          (default: target/release/leakhound)
#
# The crates are pinned in bench/crates.txt (name@version). cargo fetches
# them (and their dependencies, which are not scanned) into a scratch
# CARGO_HOME from a generated Cargo.toml that depends on each at `=version`;
# the 200 .crate archives are unpacked and scanned with `--no-ignore` at the
# default confidence and at `low`. Set CRATES_WORK=DIR to keep the download
# between runs (default: a temporary directory, removed at the end).
set -euo pipefail

BIN=$(realpath "${1:-target/release/leakhound}")
HERE=$(cd "$(dirname "$0")" && pwd)
if [[ -n ${CRATES_WORK:-} ]]; then
    WORK=$CRATES_WORK
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d)
    trap 'rm -rf "$WORK"' EXIT
fi
LIST=$(grep -v '^#' "$HERE/crates.txt" | grep -v '^$')

mkdir -p "$WORK/proj/src"
: >"$WORK/proj/src/lib.rs"
{
    printf '[package]\nname = "leakhound-crates-corpus"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n\n[dependencies]\n'
    for spec in $LIST; do
        printf '%s = "=%s"\n' "${spec%@*}" "${spec#*@}"
    done
} >"$WORK/proj/Cargo.toml"
export CARGO_HOME=$WORK/cargo-home
(cd "$WORK/proj" && cargo fetch --quiet --target x86_64-unknown-linux-gnu)

SRC=$WORK/src
rm -rf "$SRC"
mkdir -p "$SRC"
for spec in $LIST; do
    crate=$(ls "$CARGO_HOME"/registry/cache/*/"${spec%@*}-${spec#*@}.crate")
    tar -xzf "$crate" -C "$SRC"
done
echo "crates: $(ls "$SRC" | wc -l) unpacked, $(find "$SRC" -type f | wc -l) files, $(du -sh "$SRC" | cut -f1)"

"$BIN" scan --no-ignore --format json "$SRC" >"$WORK/default.json" || true
"$BIN" scan --no-ignore --format json --min-confidence low "$SRC" >"$WORK/low.json" || true

python3 - "$WORK" "$SRC" <<'PY'
import collections, json, sys
work, src = sys.argv[1], sys.argv[2]
default = json.load(open(f"{work}/default.json"))["findings"]
low = json.load(open(f"{work}/low.json"))["findings"]
print(f"findings at the default confidence: {len(default)} (budget 10); at any confidence: {len(low)}")
per = collections.defaultdict(collections.Counter)
for f in low:
    per[f["rule_id"]][f.get("confidence", "-")] += 1
print(f"  {'rule':<40} {'high':>5} {'medium':>6} {'low':>5}")
for rule in sorted(per):
    c = per[rule]
    print(f"  {rule:<40} {c['high']:>5} {c['medium']:>6} {c['low']:>5}")
if default:
    print("reported at the default:")
    for f in sorted(default, key=lambda f: (f["path"], f.get("line", 0))):
        path = f["path"][len(src) + 1:] if f["path"].startswith(src) else f["path"]
        print(f"  {path}:{f.get('line')}  {f['rule_id']}  {f.get('confidence')}  {f.get('secret', '')}")
PY
