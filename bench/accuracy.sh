#!/usr/bin/env bash
# Accuracy benchmark (issue 21): recall and false positives on a generated
# corpus of credential files, and findings per rule and confidence on two
# real third-party trees nobody on this project wrote.
#
#   bench/accuracy.sh [LEAKHOUND]      (default: target/release/leakhound)
#
# Corpora, rebuilt on every run:
#   creds   bench/gen_credentials.py: 36 kinds of credential and config
#           files x 3 planted values (positives, truth.tsv), and the same
#           files with placeholders (`password`, `changeme`, `<password>`,
#           `${VAR}`, `%(x)s`, `****`, `your-password`, empty) as negatives.
#   python  the Python installation's library with its site-packages:
#           $(python3 -c 'import sys,sysconfig;print(sysconfig.get_paths()["stdlib"])')
#   crates  the crate sources cargo unpacked: ~/.cargo/registry/src/*/
#           (the crates this project and its tools depend on; pinned by
#           Cargo.lock, listed by `ls ~/.cargo/registry/src/*/`).
#
# "reported" is what the default confidence (medium) reports; a binary
# without confidence (before issue 21) reports everything it finds.
set -euo pipefail

BIN=${1:-target/release/leakhound}
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

LOW=()
if "$BIN" scan --help 2>/dev/null | grep -q -- '--min-confidence'; then
    LOW=(--min-confidence low)
fi

python3 "$HERE/gen_credentials.py" "$WORK/creds"
(cd "$WORK/creds" && "$BIN" scan --no-ignore --show-secrets --format json "${LOW[@]}" pos neg >"$WORK/creds.json" || true)

STDLIB=$(python3 -c 'import sysconfig;print(sysconfig.get_paths()["stdlib"])')
CRATES=$(ls -d "$HOME"/.cargo/registry/src/*/ | head -1)
for corpus in python crates; do
    case $corpus in
        python) dir=$STDLIB ;;
        crates) dir=$CRATES ;;
    esac
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$WORK/$corpus.time" \
        "$BIN" scan --no-ignore --format json "${LOW[@]}" "$dir" >"$WORK/$corpus.json" || true
    echo "$corpus: $dir ($(tail -1 "$WORK/$corpus.time" | awk '{printf "%.2f s CPU", $1 + $2}'), $(echo "$(date +%s.%N) - $start" | bc) s wall)"
done

python3 - "$WORK" <<'EOF'
import collections, json, sys
work = sys.argv[1]

def reported(f):
    return f.get("confidence", "high") != "low"

r = json.load(open(f"{work}/creds.json"))
truth = [l.rstrip("\n").split("\t", 1) for l in open(f"{work}/creds/truth.tsv")]
found = collections.defaultdict(list)
for f in r["findings"]:
    found[f["path"]].append(f)

def hit(f, v):
    s = f["secret"]
    return s == v or (len(s) >= 6 and (s in v or v in s))

tp = tp_all = 0
missed = collections.Counter()
kinds = collections.Counter()
for path, v in truth:
    kind = path.split("/", 2)[2]
    kinds[kind] += 1
    fs = [f for f in found.get(path, []) if hit(f, v)]
    tp_all += bool(fs)
    if any(reported(f) for f in fs):
        tp += 1
    else:
        missed[kind] += 1
neg = [f for f in r["findings"] if f["path"].startswith("neg/")]
extra = [f for f in r["findings"] if f["path"].startswith("pos/")
         and not any(hit(f, v) for p, v in truth if p == f["path"])]
n = len(truth)
print(f"\ncreds: {n} planted values in {len(kinds)} file kinds")
print(f"  recall at the default confidence: {tp}/{n} = {100 * tp / n:.1f}%   (any confidence: {tp_all}/{n})")
print(f"  false positives on {len(set(f['path'] for f in neg)) if neg else 0} of the placeholder files: "
      f"{sum(reported(f) for f in neg)} reported, {len(neg)} at any confidence")
print(f"  other findings in the positive files: {sum(reported(f) for f in extra)} reported, {len(extra)} at any confidence")
if missed:
    print("  missed at the default:", ", ".join(f"{k} ({c})" for k, c in sorted(missed.items())))
for f in neg:
    if reported(f):
        print(f"  FP: {f['path']}: {f['rule_id']} {f['secret']!r}")

for corpus in ("python", "crates"):
    r = json.load(open(f"{work}/{corpus}.json"))
    fs = r["findings"]
    by = collections.Counter((f["rule_id"], f.get("confidence", "-")) for f in fs)
    print(f"\n{corpus}: {r['stats']['files']} files, {len(fs)} findings at any confidence, "
          f"{sum(reported(f) for f in fs)} at the default")
    rules = sorted({k for k, _ in by})
    print(f"  {'rule':40} {'high':>5} {'medium':>6} {'low':>5} {'-':>4}")
    for rule in rules:
        print(f"  {rule:40} " + " ".join(f"{by[(rule, c)]:>{w}}" for c, w in
              (("high", 5), ("medium", 6), ("low", 5), ("-", 4))))
EOF
