#!/usr/bin/env bash
# Git history benchmark (figures in docs/performance.md, "Git history").
#
#   bench/history.sh [REPO]
#
# Measures on REPO (default: a synthetic repository with ~12,000 commits that
# bench/gen_history.py builds from local source text under bench/data/; no
# network):
#   1. `leakhound scan --git REPO` wall time, against the baseline
#      `git cat-file --batch-all-objects --batch | rg -c -F -f KEYWORDS`
#      (every object decompressed once and searched for the rules' keywords);
#      target: ratio <= 0.4.
#   2. `leakhound scan --staged` of a one-file change in a checkout of REPO;
#      target: well under 100 ms.
# Each figure is the median of RUNS runs (default 5) after one warm-up run,
# so the object database is in the page cache for both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
DATA=bench/data
mkdir -p "$DATA"

command -v rg >/dev/null || { echo "bench/history.sh needs ripgrep (rg) for the baseline" >&2; exit 2; }

cargo build --release --quiet
TARGET=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET/release/leakhound"

REPO=${1:-}
if [ -z "$REPO" ]; then
    REPO="$DATA/history-repo"
    if [ ! -d "$REPO" ]; then
        echo "generating $REPO (a minute or two)..." >&2
        git init -q -b main "$REPO"
        python3 bench/gen_history.py | git -C "$REPO" fast-import --quiet
        # Delta-compress as a server would before a clone.
        git -C "$REPO" repack -adq -f --window=50 --depth=50
        git -C "$REPO" checkout -q main
    fi
fi
REPO=$(cd "$REPO" && pwd)

KEYWORDS="$DATA/keywords.txt"
"$BIN" rules list --format json |
    python3 -c 'import json,sys
for k in sorted({k for r in json.load(sys.stdin) for k in r["keywords"]}): print(k)' >"$KEYWORDS"

# measure CMD...: run CMD once to warm up, then RUNS times; print the median
# wall time and the median CPU time (user + system, children included) in ms.
# CPU time is printed because a shared machine's load moves wall time a lot.
measure() {
    "$@" >/dev/null 2>&1 || true
    local log
    log=$(mktemp)
    for _ in $(seq "$RUNS"); do
        { TIMEFORMAT='%R %U %S'; time "$@" >/dev/null 2>&1; } 2>>"$log" || true
    done
    local wall cpu
    wall=$(awk '{printf "%d\n", $1 * 1000}' "$log" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    cpu=$(awk '{printf "%d\n", ($2 + $3) * 1000}' "$log" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
    echo "$wall $cpu"
    rm -f "$log"
}

baseline() { git -C "$REPO" cat-file --batch-all-objects --batch | rg -c -F -f "$KEYWORDS"; }
history() { "$BIN" scan --no-config --git "$REPO" --format json --output /dev/null --quiet; }

echo "repository: $REPO"
echo "  $(git -C "$REPO" rev-list --count --all) commits, $(git -C "$REPO" count-objects -v | awk '/in-pack/ {print $2}') objects packed, $(git -C "$REPO" count-objects -vH | awk -F': ' '/size-pack/ {print $2}') pack"
echo "  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(git --version); $(rg --version | sed -n 1p); keywords: $(wc -l <"$KEYWORDS")"
"$BIN" scan --no-config --git "$REPO" --format json --output "$DATA/history-report.json" --quiet || true
python3 - "$DATA/history-report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"  leakhound: {s['commits']} commits, {s['blobs']} unique blobs, {s['bytes'] / 1e6:.0f} MB, "
      f"{s['findings']} findings, {len(s['errors'])} errors")
PY

read -r base_ms base_cpu < <(measure baseline)
read -r ours_ms ours_cpu < <(measure history)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "history scan: ${ours_ms} ms wall, ${ours_cpu} ms CPU"
echo "baseline (cat-file | rg): ${base_ms} ms wall, ${base_cpu} ms CPU"
echo "ratio: $(ratio "$ours_ms" "$base_ms") wall (target <= 0.4), $(ratio "$ours_cpu" "$base_cpu") CPU"

# A one-file staged change in a checkout (a local clone shares the objects).
WORK="$DATA/history-work"
if [ ! -d "$WORK" ]; then
    git clone -q "$REPO" "$WORK"
fi
FILE=$(git -C "$WORK" ls-files | sed -n 100p)
printf 'KUNAVO_API_KEY = "sk-kunavo-Zq8wXv3Lk9Tn2Rb7Yc4Hm6Jd1Pf5Gs0Aa8Ee3Ii"\n' >>"$WORK/$FILE"
git -C "$WORK" add "$FILE"
staged() { (cd "$WORK" && "$BIN" scan --staged --quiet); }
read -r staged_ms staged_cpu < <(measure staged)
echo "staged scan of a one-file change ($(git -C "$WORK" ls-files | wc -l) files tracked): ${staged_ms} ms wall, ${staged_cpu} ms CPU (target well under 100 ms)"
git -C "$WORK" reset -q --hard
