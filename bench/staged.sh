#!/usr/bin/env bash
# `leakhound scan --staged` on a large repository (docs/performance.md,
# "Staged scan"): FILES files (default 50,000) in 500 directories, one
# commit, then one file changed and staged. Prints the wall and CPU time
# of RUNS runs (default 7) of the staged scan, and of `git diff --cached`
# for comparison.
#
#   bench/staged.sh [FILES]
#
# The repository is built under bench/data/staged-FILES (kept; about a
# minute). Needs a release build (built here unless LEAKHOUND=PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-50000}
RUNS=${RUNS:-7}
DATA=bench/data
mkdir -p "$DATA"
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
REPO=$DATA/staged-$FILES
if [ ! -d "$REPO/.git" ]; then
    rm -rf "$REPO"
    mkdir -p "$REPO"
    python3 - "$REPO" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i % 500:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.py"), "w") as f:
        f.write(f"# module {i}\ndef f{i}(x):\n    return x + {i}\n")
PY
    git -C "$REPO" init -q -b main
    git -C "$REPO" add -A
    git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qm "files"
fi
FILE=d042/f42.py
printf 'KUNAVO_API_KEY = "sk-kunavo-Zq8wXv3Lk9Tn2Rb7Yc4Hm6Jd1Pf5Gs0Aa8Ee3Ii"\n' >>"$REPO/$FILE"
git -C "$REPO" add "$FILE"
echo "$(git -C "$REPO" ls-files | wc -l) files tracked; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
time_runs() { # CMD...: wall and CPU (user + system) of each run, in ms
    local out=()
    for _ in $(seq "$RUNS"); do
        local r
        r=$( { TIMEFORMAT='%R %U %S'; time (cd "$REPO" && "$@" >/dev/null 2>&1) ; } 2>&1 | tail -1) || true
        out+=("$(awk '{printf "%d/%d", $1 * 1000, ($2 + $3) * 1000}' <<<"$r")")
    done
    echo "${out[*]} (wall/CPU ms per run)"
}
echo "leakhound scan --staged: $(time_runs "$BIN" scan --staged --quiet)"
echo "git diff --cached:       $(time_runs git diff --cached --quiet)"
git -C "$REPO" reset -q --hard
