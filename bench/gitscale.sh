#!/usr/bin/env bash
# Git at scale (docs/performance.md, "Git at scale"; issue 12): on one
# repository, in one run, each leakhound figure beside its git + ripgrep
# reference, with peak RSS:
#   1. `scan --range HEAD~N..HEAD` against `git log -p RANGE | rg -F -f KW`
#      (target: at most 2x);
#   2. `scan --git` against `git cat-file --batch-all-objects --batch | rg -F -f KW`,
#      and its peak RSS (target: at most 500 MB on a git/git-sized history,
#      mirror refs included);
#   3. `scan --staged` of a one-file change in a checkout, with hyperfine
#      (RUNS, default 100; median, fastest and mean), against `git diff
#      --cached --quiet` (target: at most 15 ms).
#
#   bench/gitscale.sh [REPO]
#
# Without REPO, a bare repository is generated under bench/data/ with
# bench/gen_big_history.py (COMMITS, default 200,000: merges, renames, long
# topic branches, large binary blobs, tags and refs/pull/* as a mirror
# clone has them; no network). LEAKHOUND=PATH measures that binary instead
# of a fresh release build (BASE=PATH adds a second one, e.g. the previous
# commit's, to every line). RANGES (default "200 2000") are the N of the
# ranges measured.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench/data
mkdir -p "$DATA"
COMMITS=${COMMITS:-200000}
RANGES=${RANGES:-"200 2000"}
for tool in rg hyperfine /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/gitscale.sh needs $tool" >&2; exit 2; }
done
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
BINS=("$BIN")
[ -n "${BASE:-}" ] && BINS+=("$BASE")

REPO=${1:-}
if [ -z "$REPO" ]; then
    REPO="$DATA/gitscale-$COMMITS.git"
    if [ ! -d "$REPO" ]; then
        echo "generating $REPO ($COMMITS commits; about 1 minute per 10,000 on an idle core)..." >&2
        git init -q --bare "$REPO"
        python3 bench/gen_big_history.py --commits "$COMMITS" | git -C "$REPO" fast-import --quiet --depth=50
        git -C "$REPO" symbolic-ref HEAD refs/heads/main
        # Deltas as a served repository has them (fast-import's are reused;
        # AGGRESSIVE=1 recomputes them all, as `git gc --aggressive`).
        if [ -n "${AGGRESSIVE:-}" ]; then
            git -C "$REPO" gc -q --aggressive
        else
            git -C "$REPO" repack -adq --window=20 --depth=50
        fi
    fi
fi
REPO=$(cd "$REPO" && pwd)
KW="$DATA/keywords.txt"
"$BIN" rules list --format json |
    python3 -c 'import json,sys
for k in sorted({k for r in json.load(sys.stdin) for k in r["keywords"]}): print(k)' >"$KW"

# run LABEL CMD...: one warm-up run, then one measured run with /usr/bin/time:
# wall seconds and peak RSS.
run() {
    local label=$1
    shift
    "$@" >/dev/null 2>&1 || true
    /usr/bin/time -f "%e %M" -o "$DATA/time.out" "$@" >/dev/null 2>&1 || true
    read -r secs kb < <(tail -n 1 "$DATA/time.out")
    printf '  %-48s %8.2f s %7d MB\n' "$label" "$secs" $((kb / 1024))
    echo "$secs" >"$DATA/last.secs"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "repository: $REPO"
echo "  $(git -C "$REPO" rev-list --count --all) commits ($(git -C "$REPO" rev-list --count --merges --all) merges), $(git -C "$REPO" for-each-ref | wc -l) refs, $(git -C "$REPO" count-objects -v | awk '/in-pack/ {print $2}') objects, $(git -C "$REPO" count-objects -vH | awk -F': ' '/size-pack/ {print $2}') packed"
echo "  $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $(git --version); $(rg --version | sed -n 1p); $(wc -l <"$KW") keywords"

for n in $RANGES; do
    range="HEAD~$n..HEAD"
    echo "range $range: $(git -C "$REPO" rev-list --count "$range") commits, $(git -C "$REPO" rev-list --count --merges "$range") merges"
    run "git log -p $range | rg -F -f KW" sh -c "git -C '$REPO' log -p '$range' | rg -c -F -f '$KW'"
    ref=$(cat "$DATA/last.secs")
    for b in "${BINS[@]}"; do
        run "$(basename "$b") scan --range $range" "$b" scan --no-config --range "$range" "$REPO" --quiet
        echo "    ratio $(ratio "$(cat "$DATA/last.secs")" "$ref") (target <= 2)"
    done
done

echo "history:"
run "git cat-file --batch-all-objects --batch | rg" sh -c "git -C '$REPO' cat-file --batch-all-objects --batch | rg -c -F -f '$KW'"
ref=$(cat "$DATA/last.secs")
for b in "${BINS[@]}"; do
    run "$(basename "$b") scan --git" "$b" scan --no-config --git "$REPO" --quiet
    echo "    ratio $(ratio "$(cat "$DATA/last.secs")" "$ref") (peak RSS target <= 500 MB)"
done

WORK="$DATA/gitscale-work"
[ -d "$WORK" ] || git clone -q --shared "$REPO" "$WORK"
FILE=$(git -C "$WORK" ls-files | sed -n 100p)
printf 'KUNAVO_API_KEY = "sk-kunavo-Zq8wXv3Lk9Tn2Rb7Yc4Hm6Jd1Pf5Gs0Aa8Ee3Ii"\n' >>"$WORK/$FILE"
git -C "$WORK" add "$FILE"
echo "staged, one changed file of $(git -C "$WORK" ls-files | wc -l) tracked:"
cmds=("git diff --cached --quiet")
for b in "${BINS[@]}"; do cmds+=("$b scan --staged --quiet"); done
# Median and fastest run as well as the mean: on a shared machine a few
# slow runs move the mean of a 10 ms command by milliseconds.
STAGED_JSON="$(pwd)/$DATA/staged.json"
(cd "$WORK" && hyperfine -N -i --warmup 5 --runs "${RUNS:-100}" \
    --export-json "$STAGED_JSON" "${cmds[@]}" >/dev/null 2>&1)
python3 - "$DATA/staged.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
ref = statistics.median(results[0]["times"])
for r in results:
    t = sorted(r["times"])
    print("  %-48s median %6.1f ms, fastest %6.1f ms, mean %6.1f ms (%.1fx the median of git diff)" % (
        r["command"].split("/")[-1][:48], statistics.median(t) * 1e3, t[0] * 1e3,
        statistics.mean(t) * 1e3, statistics.median(t) / ref))
PY
git -C "$WORK" reset -q --hard
