#!/usr/bin/env bash
# Two leakhound builds on the same file tree, in the same run: did a change
# cost speed or memory?
#
# usage: bench/compare.sh OLD_BINARY NEW_BINARY [TREE]
#
# TREE defaults to bench/data/tree/repo (`bench/run.sh --keep` leaves it,
# or `python3 bench/gen_tree.py bench/data/tree --size-mb 1024 --seed 1`).
#
# Times, with hyperfine (1 warm-up, $RUNS runs each, default 5, in one run):
#   OLD scan --no-config --no-ignore --format json --output /dev/null TREE
#   NEW scan --no-config --no-ignore --format json --output /dev/null TREE
#   NEW the same, with only OLD's rules (--config bench/data/old-rules.toml,
#       which disables every rule id OLD does not have): the same work as OLD,
#       so the difference is the code's, not the rule set's
# then the peak RSS of each (GNU time's %M, median of 3 runs), and the
# number of findings of each.
#
# Writes bench/data/hyperfine-compare.json and prints the ratios.
# Needs hyperfine, python3 and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench/data
die() { echo "bench/compare.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] || { sed -n '2,/^set -euo/{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
OLD=$1 NEW=$2 TREE=${3:-$DATA/tree/repo}
for b in "$OLD" "$NEW"; do [ -x "$b" ] || die "no binary at $b"; done
[ -d "$TREE" ] || die "no tree at $TREE: run bench/run.sh --keep first"
command -v hyperfine >/dev/null || die "needs hyperfine"
[ -x /usr/bin/time ] || die "needs GNU time (/usr/bin/time)"
mkdir -p "$DATA"

# Rule ids of each build; NEW runs OLD's rules only through a config that
# disables the rest.
ids() { "$1" rules list --format json | python3 -c 'import json,sys; print("\n".join(sorted(r["id"] for r in json.load(sys.stdin))))'; }
ids "$OLD" >"$DATA/old-rule-ids.txt"
ids "$NEW" >"$DATA/new-rule-ids.txt"
missing=$(comm -23 "$DATA/old-rule-ids.txt" "$DATA/new-rule-ids.txt" | wc -l)
python3 - "$DATA/old-rule-ids.txt" "$DATA/new-rule-ids.txt" "$DATA/old-rules.toml" <<'PY'
import json, sys
old = set(open(sys.argv[1]).read().split())
new = open(sys.argv[2]).read().split()
off = [i for i in new if i not in old]
with open(sys.argv[3], "w") as f:
    f.write("# written by bench/compare.sh: the new build with the old build's rules only\n")
    f.write("disabled_rules = %s\n" % json.dumps(off))
PY
# A rule that names another in `parts` needs it: turn such rules back on
# until the config loads.
for _ in $(seq 1 50); do
    err=$("$NEW" rules list --config "$DATA/old-rules.toml" 2>&1 >/dev/null) && break
    # shellcheck disable=SC2016 # backquotes of the message, not expansions
    need=$(printf '%s\n' "$err" | sed -n 's/.*names `\([^`]*\)`, which is not a rule.*/\1/p' | head -n1)
    [ -n "$need" ] || die "the new build refuses $DATA/old-rules.toml: $err"
    python3 - "$DATA/old-rules.toml" "$need" <<'PY'
import json, re, sys
path, need = sys.argv[1], sys.argv[2]
text = open(path).read()
m = re.search(r"^disabled_rules = (.*)$", text, re.M)
ids = [i for i in json.loads(m.group(1)) if i != need]
open(path, "w").write(text[:m.start()] + "disabled_rules = " + json.dumps(ids) + text[m.end():])
PY
done
echo "rules: old $(wc -l <"$DATA/old-rule-ids.txt"), new $(wc -l <"$DATA/new-rule-ids.txt"), new with old-rules.toml $("$NEW" rules list --config "$DATA/old-rules.toml" --format json | python3 -c "import json,sys; print(len(json.load(sys.stdin)))"), old ids the new build lacks: $missing" >&2
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

args="--no-ignore --format json --output /dev/null"
old_cmd="$OLD scan --no-config $args $TREE"
new_cmd="$NEW scan --no-config $args $TREE"
same_cmd="$NEW scan --config $DATA/old-rules.toml $args $TREE"
# -i: a scan that finds keys exits 1.
hyperfine --warmup 1 --runs "${RUNS:-5}" -i --export-json "$DATA/hyperfine-compare.json" \
    -n old "$old_cmd" -n new "$new_cmd" -n new-old-rules "$same_cmd" >&2

# Peak RSS in KiB, median of 3 runs (GNU time's %M, written to a file so
# the scan's own stderr cannot mix in).
rss() {
    local runs=()
    for _ in 1 2 3; do
        /usr/bin/time -o "$DATA/rss.tmp" -f '%M' "$@" >/dev/null 2>&1 || true
        runs+=("$(tail -n1 "$DATA/rss.tmp")")
    done
    printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p
}
count() { { "$@" 2>/dev/null || true; } | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))'; }
# shellcheck disable=SC2086
{
    old_rss=$(rss $OLD scan --no-config $args "$TREE")
    new_rss=$(rss $NEW scan --no-config $args "$TREE")
    same_rss=$(rss $NEW scan --config "$DATA/old-rules.toml" $args "$TREE")
    old_n=$(count $OLD scan --no-config --no-ignore --format json "$TREE")
    new_n=$(count $NEW scan --no-config --no-ignore --format json "$TREE")
    same_n=$(count $NEW scan --config "$DATA/old-rules.toml" --no-ignore --format json "$TREE")
}
rm -f "$DATA/rss.tmp"

python3 - "$DATA/hyperfine-compare.json" "$old_rss" "$new_rss" "$same_rss" "$old_n" "$new_n" "$same_n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
old_rss, new_rss, same_rss, old_n, new_n, same_n = (int(x) for x in sys.argv[2:])
o = r["old"]
print("%-14s %8s %8s %7s %12s %9s %9s" % ("build", "mean s", "stddev", "ratio", "peak RSS MB", "RSS ratio", "findings"))
for name, rss, n in (("old", old_rss, old_n), ("new", new_rss, new_n), ("new-old-rules", same_rss, same_n)):
    x = r[name]
    print("%-14s %8.3f %8.3f %6.2fx %12.1f %8.2fx %9d" % (
        name, x["mean"], x["stddev"] or 0, x["mean"] / o["mean"], rss / 1024, rss / old_rss, n))
PY
