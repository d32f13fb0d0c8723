#!/usr/bin/env bash
# Audit benchmark (figures in docs/performance.md, "Audits").
#
#   bench/audit.sh
#
# Builds REPOS synthetic repositories (default 8; bench/gen_history.py,
# COMMITS commits and FILES files each, one seed each; no network) and
# FORKS forks of them (a clone of one, plus 20 commits of its own), and
# audits them as file:// URLs with the release build:
#
#   reference: what a script around leakhound did before audits: `git clone
#              --mirror` of every repository, then `leakhound scan --git` of
#              each mirror, one after the other;
#   first:     `leakhound scan --git-urls LIST --datastore DB` into an empty
#              clone directory and datastore;
#   second:    the same command again (every mirror fetched, every blob
#              skipped);
#   third:     the same, after one new commit in every repository.
#
# Each figure is the median of RUNS runs (default 3) of wall time, CPU time
# (user + system, children included) and peak RSS (GNU time's maximum
# resident set size of the largest process), printed with its ratio to the
# reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REPOS=${REPOS:-8}
FORKS=${FORKS:-4}
COMMITS=${COMMITS:-1000}
FILES=${FILES:-500}
DATA=bench/data/audit
mkdir -p "$DATA"

# An empty global config of its own: the user's must not change the figures.
: >"$DATA/gitconfig"
GIT_CONFIG_GLOBAL="$(cd "$DATA" && pwd)/gitconfig"
export GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM=1
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com

SRC="$DATA/repos"
if [ ! -f "$SRC/.done-$REPOS-$FORKS-$COMMITS-$FILES" ]; then
    rm -rf "$SRC"
    mkdir -p "$SRC"
    for i in $(seq "$REPOS"); do
        echo "generating repository $i of $REPOS..." >&2
        git init -q -b main "$SRC/r$i"
        python3 bench/gen_history.py --commits "$COMMITS" --files "$FILES" --seed "$i" |
            git -C "$SRC/r$i" fast-import --quiet
        git -C "$SRC/r$i" repack -adq
        git -C "$SRC/r$i" checkout -q main
    done
    for i in $(seq "$FORKS"); do
        git clone -q "$SRC/r$i" "$SRC/fork$i"
        for c in $(seq 20); do
            echo "fork $i change $c" >"$SRC/fork$i/fork-$c.txt"
            git -C "$SRC/fork$i" add -A
            git -C "$SRC/fork$i" commit -qm "fork change $c"
        done
    done
    touch "$SRC/.done-$REPOS-$FORKS-$COMMITS-$FILES"
fi
SRC=$(cd "$SRC" && pwd)
# LEAKHOUND_BIN: a binary to measure instead of building the release one.
BIN=${LEAKHOUND_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    TARGET=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    BIN="$TARGET/release/leakhound"
fi
LIST="$DATA/urls.txt"
: >"$LIST"
for r in "$SRC"/*/; do echo "file://${r%/}" >>"$LIST"; done

# measure CMD...: the median wall ms, CPU ms and peak RSS (KB) of RUNS runs;
# PREPARE (a function name, may be empty) runs before each.
PREPARE=
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
measure() {
    local log
    log=$(mktemp)
    for _ in $(seq "$RUNS"); do
        if [ -n "$PREPARE" ]; then "$PREPARE"; fi
        /usr/bin/time -f '%e %U %S %M' -a -o "$log" "$@" >/dev/null 2>&1 || true
    done
    # GNU time adds "Command exited with non-zero status N" lines.
    grep -E '^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$' "$log" >"$log.ok" || true
    mv "$log.ok" "$log"
    local wall cpu rss
    wall=$(awk '{printf "%d\n", $1 * 1000}' "$log" | median)
    cpu=$(awk '{printf "%d\n", ($2 + $3) * 1000}' "$log" | median)
    rss=$(awk '{print $4}' "$log" | median)
    echo "$wall $cpu $rss"
    rm -f "$log"
}

WORK="$DATA/work"
reference() {
    rm -rf "$WORK/ref"
    mkdir -p "$WORK/ref"
    local n=0
    while read -r url; do
        n=$((n + 1))
        git clone -q --mirror "$url" "$WORK/ref/$n.git"
        "$BIN" scan --no-config --git "$WORK/ref/$n.git" --format json --output /dev/null --quiet || true
    done <"$LIST"
}
# GNU time runs programs, not shell functions: the audit is a command line.
# --no-config: this repository's own .leakhound.toml (found from the
# current directory) allowlists tests/ and docs/, which would leave the
# generated repositories' blobs under those paths unread in the first audit
# but skipped in the second, so the blob counts would not add up.
AUDIT=("$BIN" scan --no-config --git-urls "$LIST" --clone-dir "$WORK/clones" --datastore "$WORK/audit.db"
    --format json --output "$WORK/report.json" --quiet)
fresh() { rm -rf "$WORK/clones" "$WORK/audit.db"; }
one_more_commit() {
    while read -r url; do
        local dir=${url#file://}
        echo "change $(date +%s%N)" >>"$dir/CHANGES.txt"
        git -C "$dir" add CHANGES.txt
        git -C "$dir" commit -qm "one more"
    done <"$LIST"
}

echo "$(grep -c . "$LIST") repositories ($REPOS generated, $FORKS forks), $COMMITS commits and $FILES files each"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(git --version)"
PREPARE=
read -r ref_ms ref_cpu ref_rss < <(measure bash -c "$(declare -f reference); BIN='$BIN' WORK='$WORK' LIST='$LIST' reference")
PREPARE=fresh
read -r first_ms first_cpu first_rss < <(measure "${AUDIT[@]}")
python3 - "$WORK/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"first audit: {s['repositories']} repositories, {s['commits']} commits, {s['blobs']} blobs read, "
      f"{s.get('blobs_skipped', 0)} skipped, {s['findings']} findings, {len(s['errors'])} errors")
PY
PREPARE=
read -r second_ms second_cpu second_rss < <(measure "${AUDIT[@]}")
python3 - "$WORK/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"second audit: {s['blobs']} blobs read, {s['blobs_skipped']} skipped, {s['findings']} findings")
PY
PREPARE=one_more_commit
read -r third_ms third_cpu third_rss < <(measure "${AUDIT[@]}")
python3 - "$WORK/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"after one commit per repository: {s['blobs']} blobs read, {s['blobs_skipped']} skipped")
PY
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
printf '%-34s %9s %9s %9s %7s %7s\n' run "wall ms" "CPU ms" "RSS MB" "wall x" "CPU x"
row() {
    printf '%-34s %9s %9s %9s %7s %7s\n' "$1" "$2" "$3" "$(($4 / 1024))" "$(ratio "$2" "$ref_ms")" "$(ratio "$3" "$ref_cpu")"
}
row "reference (clone + scan --git)" "$ref_ms" "$ref_cpu" "$ref_rss"
row "first audit" "$first_ms" "$first_cpu" "$first_rss"
row "second audit (nothing new)" "$second_ms" "$second_cpu" "$second_rss"
row "after one commit per repository" "$third_ms" "$third_cpu" "$third_rss"
