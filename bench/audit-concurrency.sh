#!/usr/bin/env bash
# Small repositories scanned several at a time (figures in
# docs/performance.md, "Audits: small repositories at once").
#
#   bench/audit-concurrency.sh            (LEAKHOUND=path/to/binary to skip the build)
#   OLD=path/to/older/leakhound bench/audit-concurrency.sh
#
# Builds REPOS small synthetic repositories (default 50; bench/gen_history.py,
# COMMITS commits and FILES files each, one seed each; no network), mirrors
# them once into a clone directory with an audit (not timed), then times,
# RUNS runs each (default 3), alternating, on the same mirrors:
#
#   one by one: `leakhound scan --git MIRROR` of each mirror, one after the
#               other (each with every thread): what running them one by
#               one costs;
#   audit:      `leakhound scan --git-urls LIST --clone-dir DIR` (every
#               mirror fetched, a no-op, then scanned: small ones several
#               at a time);
#   old audit:  the same with $OLD, when given (an audit that scans one
#               repository at a time).
#
# Prints the median wall and CPU time of each, the ratios, and checks that
# every run reports the same findings.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
REPOS=${REPOS:-50}
COMMITS=${COMMITS:-1000}
FILES=${FILES:-150}
DATA=bench/data/audit-concurrency
mkdir -p "$DATA"
: >"$DATA/gitconfig"
GIT_CONFIG_GLOBAL="$(cd "$DATA" && pwd)/gitconfig"
export GIT_CONFIG_GLOBAL GIT_CONFIG_NOSYSTEM=1

SRC="$DATA/repos"
if [ ! -f "$SRC/.done-$REPOS-$COMMITS-$FILES" ]; then
    rm -rf "$SRC"
    mkdir -p "$SRC"
    for i in $(seq "$REPOS"); do
        git init -q -b main "$SRC/r$i"
        python3 bench/gen_history.py --commits "$COMMITS" --files "$FILES" --seed "$((100 + i))" |
            git -C "$SRC/r$i" fast-import --quiet
        git -C "$SRC/r$i" repack -adq
    done
    touch "$SRC/.done-$REPOS-$COMMITS-$FILES"
fi
SRC=$(cd "$SRC" && pwd)
BIN=${LEAKHOUND:-}
if [ -z "$BIN" ]; then
    cargo build --release --quiet
    TARGET=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    BIN="$TARGET/release/leakhound"
fi
LIST="$DATA/urls.txt"
: >"$LIST"
for r in "$SRC"/*/; do echo "file://${r%/}" >>"$LIST"; done
CLONES="$DATA/clones"
rm -rf "$CLONES"
"$BIN" scan --no-config --git-urls "$LIST" --clone-dir "$CLONES" --format json -o /dev/null --quiet || [ $? -eq 1 ]
mapfile -t MIRRORS < <(find "$CLONES" -mindepth 1 -maxdepth 4 -type d -name '*.git' | sort)
[ "${#MIRRORS[@]}" -eq "$REPOS" ] || { echo "expected $REPOS mirrors, found ${#MIRRORS[@]}" >&2; exit 2; }

count() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$1"; }
one_by_one() {
    local n=0
    for m in "${MIRRORS[@]}"; do
        "$BIN" scan --no-config --git "$m" --format json -o "$DATA/one-$n.json" --quiet || [ $? -eq 1 ]
        n=$((n + 1))
    done
}
audit() {
    "$1" scan --no-config --git-urls "$LIST" --clone-dir "$CLONES" --format json -o "$DATA/audit.json" --quiet || [ $? -eq 1 ]
}
timed() { # NAME CMD...: appends "wall user system" to $DATA/NAME.raw
    /usr/bin/time -f '%e %U %S' -a -o "$DATA/$1.raw" "${@:2}"
}
rm -f "$DATA"/*.raw
for _ in $(seq "$RUNS"); do
    timed one bash -c "$(declare -p BIN MIRRORS DATA); $(declare -f one_by_one); one_by_one"
    timed audit bash -c "$(declare -p LIST CLONES DATA); $(declare -f audit); audit $BIN"
    if [ -n "${OLD:-}" ]; then
        timed old bash -c "$(declare -p LIST CLONES DATA); $(declare -f audit); audit $OLD"
        cp "$DATA/audit.json" "$DATA/old.json"
        audit "$BIN"
    fi
done
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
stat() { # NAME: median wall and CPU seconds
    local f="$DATA/$1.raw"
    grep -E '^[0-9.]+ [0-9.]+ [0-9.]+$' "$f" >"$f.ok" || true
    echo "$(awk '{print $1}' "$f.ok" | median) $(awk '{printf "%.2f\n", $2 + $3}' "$f.ok" | median)"
}
read -r w1 c1 <<<"$(stat one)"
read -r wa ca <<<"$(stat audit)"
one_findings=0
for f in "$DATA"/one-*.json; do one_findings=$((one_findings + $(count "$f"))); done
echo "$REPOS repositories ($COMMITS commits, $FILES files each), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "one by one: wall ${w1} s, CPU ${c1} s, ${one_findings} findings"
echo "audit:      wall ${wa} s, CPU ${ca} s, $(count "$DATA/audit.json") findings; $(echo "scale=2; $w1 / $wa" | bc)x faster than one by one"
if [ -n "${OLD:-}" ]; then
    read -r wo co <<<"$(stat old)"
    echo "old audit:  wall ${wo} s, CPU ${co} s, $(count "$DATA/old.json") findings; the new audit is $(echo "scale=2; $wo / $wa" | bc)x faster"
fi
[ "$one_findings" -eq "$(count "$DATA/audit.json")" ] || { echo "the findings differ" >&2; exit 1; }
