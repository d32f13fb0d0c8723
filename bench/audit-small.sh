#!/usr/bin/env bash
# An audit of many small repositories (issue 22, "Audits"): is each
# repository's history scanned while others are, or one after another?
#
#   bench/audit-small.sh
#
# Generates N small repositories (default 50; bench/gen_history.py,
# COMMITS commits and FILES files each, default 60 and 120, seeds 1..N; no
# network) and times, in one run, wall and CPU time (GNU time, median of
# RUNS runs, default 3):
#
#   audit:       leakhound scan --git-urls LIST --clone-dir DIR (file:// URLs,
#                a fresh clone directory each run: clones and scans);
#   audit again: the same with the clones already there (fetches and scans);
#   one by one:  leakhound scan --git MIRROR for each of the same mirrors,
#                one after the other (each with every core);
#   concurrent:  the same scans, $(nproc) at a time with -j 1 each (xargs -P):
#                what scanning small repositories side by side gives.
#
# The audit is as fast as "concurrent" when it scans small repositories side
# by side, and as slow as "one by one" (or slower) when it does not.
# LEAKHOUND=PATH measures that binary instead of a fresh release build;
# OLD=PATH adds the audit of an older build (mirrors there) and checks that
# both audits report the same findings.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
COMMITS=${COMMITS:-60}
FILES=${FILES:-120}
RUNS=${RUNS:-3}
DATA=bench/data/audit-small
mkdir -p "$DATA"
: >"$DATA/gitconfig"
GIT_CONFIG_GLOBAL="$(cd "$DATA" && pwd)/gitconfig"
export GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM=1
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

SRC=$DATA/repos
if [ ! -f "$SRC/.done-$N-$COMMITS-$FILES" ]; then
    rm -rf "$SRC"
    mkdir -p "$SRC"
    for i in $(seq "$N"); do
        git init -q --bare "$SRC/r$i.git"
        python3 bench/gen_history.py --commits "$COMMITS" --files "$FILES" --seed "$i" |
            git -C "$SRC/r$i.git" fast-import --quiet
        git -C "$SRC/r$i.git" symbolic-ref HEAD refs/heads/main
        git -C "$SRC/r$i.git" repack -adq
    done
    touch "$SRC/.done-$N-$COMMITS-$FILES"
fi
SRC=$(cd "$SRC" && pwd)
LIST=$DATA/urls.txt
for i in $(seq "$N"); do echo "file://$SRC/r$i.git"; done >"$LIST"
WORK=$(cd "$DATA" && pwd)/work
mkdir -p "$WORK"
echo "$N repositories of $COMMITS commits and $FILES files each ($(du -sh "$SRC" | cut -f1) in all); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
# measure PREPARE CMD...: median wall s and CPU s of RUNS runs.
measure() {
    local prepare=$1 log
    shift
    log=$(mktemp)
    for _ in $(seq "$RUNS"); do
        [ -z "$prepare" ] || "$prepare"
        /usr/bin/time -f '%e %U %S' -a -o "$log" "$@" >/dev/null 2>&1 || true
    done
    grep -E '^[0-9.]+ [0-9.]+ [0-9.]+$' "$log" >"$log.ok" || true
    echo "$(awk '{print $1}' "$log.ok" | median) $(awk '{print $2 + $3}' "$log.ok" | median)"
    rm -f "$log" "$log.ok"
}
fresh() { rm -rf "$WORK/clones"; }
AUDIT=("$BIN" scan --no-config --git-urls "$LIST" --clone-dir "$WORK/clones" --format json --output "$WORK/report.json" --quiet)
read -r a_wall a_cpu < <(measure fresh "${AUDIT[@]}")
python3 - "$WORK/report.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["stats"]
print(f"audit: {s['repositories']} repositories, {s['commits']} commits, {s['blobs']} blobs, {s['findings']} findings, {len(s['errors'])} errors")
PY
read -r b_wall b_cpu < <(measure "" "${AUDIT[@]}")
digest() { # count and digest of (repository, fingerprint) of a report's findings
    python3 - "$1" <<'PY'
import hashlib, json, sys
f = json.load(open(sys.argv[1]))["findings"]
keys = sorted(f"{x['commit']['repository']} {x['fingerprint']}" for x in f)
print(len(keys), hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16])
PY
}
if [ -n "${OLD:-}" ]; then
    cp "$WORK/report.json" "$WORK/new.json"
    OLD_AUDIT=("$OLD" "${AUDIT[@]:1}")
    read -r o_wall o_cpu < <(measure "" "${OLD_AUDIT[@]}")
    [ "$(digest "$WORK/report.json")" = "$(digest "$WORK/new.json")" ] ||
        { echo "the old and new audits report different findings" >&2; exit 1; }
fi
# The audit's own mirrors, scanned from outside it.
ls -d "$WORK"/clones/*/ >"$WORK/mirrors.txt"
[ "$(wc -l <"$WORK/mirrors.txt")" -eq "$N" ] || { echo "expected $N mirrors in $WORK/clones" >&2; exit 1; }
one_by_one() { while read -r m; do "$BIN" scan --no-config --git "$m" --format json --output /dev/null --quiet || true; done <"$WORK/mirrors.txt"; }
export -f one_by_one
export BIN WORK
read -r s_wall s_cpu < <(measure "" bash -c one_by_one)
read -r c_wall c_cpu < <(measure "" sh -c "xargs -P $(nproc) -I{} $BIN scan --no-config -j 1 --git {} --format json --output /dev/null --quiet <'$WORK/mirrors.txt' || true")
printf '%-44s %8s %8s %8s\n' run "wall s" "CPU s" "wall x"
row() { printf '%-44s %8s %8s %7sx\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$s_wall" 'BEGIN {printf "%.2f", a / b}')"; }
row "one by one: scan --git of each mirror" "$s_wall" "$s_cpu"
row "concurrent: $(nproc) at a time, -j 1 each" "$c_wall" "$c_cpu"
row "audit, fresh clone directory" "$a_wall" "$a_cpu"
row "audit, mirrors already there (fetch)" "$b_wall" "$b_cpu"
[ -z "${OLD:-}" ] || row "old audit, mirrors already there" "$o_wall" "$o_cpu"
echo "load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
