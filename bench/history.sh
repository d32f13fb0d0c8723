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

# median_ms CMD...: run CMD once to warm up, then RUNS times; print the median in ms.
median_ms() {
    "$@" >/dev/null 2>&1 || true
    local times=()
    for _ in $(seq "$RUNS"); do
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        times+=($(((t1 - t0) / 1000000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

baseline() { git -C "$REPO" cat-file --batch-all-objects --batch | rg -c -F -f "$KEYWORDS"; }
history() { "$BIN" scan --git "$REPO" --format json --output /dev/null --quiet; }

echo "repository: $REPO"
echo "  $(git -C "$REPO" rev-list --count --all) commits, $(git -C "$REPO" count-objects -v | awk '/in-pack/ {print $2}') objects packed, $(git -C "$REPO" count-objects -vH | awk -F': ' '/size-pack/ {print $2}') pack"
echo "  $(nproc) cores; $(git --version); $(rg --version | head -1); keywords: $(wc -l <"$KEYWORDS")"
"$BIN" scan --git "$REPO" --format json --output "$DATA/history-report.json" --quiet || true
python3 - "$DATA/history-report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"  leakhound: {s['commits']} commits, {s['blobs']} unique blobs, {s['bytes'] / 1e6:.0f} MB, "
      f"{s['findings']} findings, {len(s['errors'])} errors")
PY

base_ms=$(median_ms baseline)
ours_ms=$(median_ms history)
echo "history scan:  ${ours_ms} ms   baseline (cat-file | rg): ${base_ms} ms   ratio: $(awk -v a="$ours_ms" -v b="$base_ms" 'BEGIN {printf "%.2f", a / b}') (target <= 0.4)"

# A one-file staged change in a checkout (a local clone shares the objects).
WORK="$DATA/history-work"
if [ ! -d "$WORK" ]; then
    git clone -q "$REPO" "$WORK"
fi
FILE=$(git -C "$WORK" ls-files | sed -n 100p)
printf 'KUNAVO_API_KEY = "sk-kunavo-Zq8wXv3Lk9Tn2Rb7Yc4Hm6Jd1Pf5Gs0Aa8Ee3Ii"\n' >>"$WORK/$FILE"
git -C "$WORK" add "$FILE"
staged() { (cd "$WORK" && "$BIN" scan --staged --quiet); }
staged_ms=$(median_ms staged)
echo "staged scan of a one-file change ($(git -C "$WORK" ls-files | wc -l) files tracked): ${staged_ms} ms (target well under 100 ms)"
git -C "$WORK" reset -q --hard
