#!/usr/bin/env bash
# Benchmark leakhound against ripgrep.
#
# usage: bench/run.sh [MODE] [--size-mb N] [--keep]
#
# MODE
#   tree (default)  Generate a ~N MiB source-like tree with planted keys
#                   (bench/gen_tree.py, into bench/data/tree unless a tree of that
#                   size is already there), then time with hyperfine on the same files
#                     rg -c -i -F -a -uuu -f bench/data/keywords.txt TREE
#                         (counting the rules' keywords: the prefilter floor)
#                     leakhound scan --no-config --format json --output /dev/null --no-ignore TREE
#                         (--no-config: the .leakhound.toml of the directory the
#                         bench runs in, this repository's own, must not apply)
#                   and check recall: one leakhound run with --show-secrets, compared
#                   with the tree's planted.json.
#
# OPTIONS
#   --size-mb N  size of the generated tree in MiB (default 1024)
#   --keep       keep bench/data/tree after a run that generated it (default: it is
#                deleted on exit; a tree that was already there is reused and kept)
#
# ENVIRONMENT
#   LEAKHOUND=PATH  time this binary instead of building target/release/leakhound
#
# Writes bench/data/results.json (one entry per mode) and, for the tree mode,
# bench/data/{keywords.txt,hyperfine-tree.json,findings-tree.json}.
# Needs cargo, python3 (3.11+, or tomli), rg and hyperfine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

DATA=bench/data
SEED=1
RESULTS=$DATA/results.json

die() { echo "bench: $*" >&2; exit 2; }
usage() { sed -n '2,/^set -euo pipefail/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# ---------------------------------------------------------------- arguments
mode=tree
size_mb=1024
keep=0
if [[ $# -gt 0 && $1 != -* ]]; then
  mode=$1
  shift
fi
while [[ $# -gt 0 ]]; do
  case $1 in
    --size-mb) [[ $# -ge 2 ]] || die "--size-mb needs a value"; size_mb=$2; shift 2 ;;
    --size-mb=*) size_mb=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $size_mb =~ ^[0-9]+$ && $size_mb -gt 0 ]] || die "--size-mb takes a positive whole number of MiB"
case $mode in
  tree) ;;
  *) usage >&2; die "unknown mode: $mode" ;;
esac

# ---------------------------------------------------------------- tools
missing=()
for tool in python3 rg hyperfine; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [[ -z ${LEAKHOUND:-} ]] && ! command -v cargo >/dev/null 2>&1; then
  missing+=(cargo)
fi
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "bench: missing: ${missing[*]}" >&2
  pkgs=()
  for tool in "${missing[@]}"; do
    case $tool in
      rg) pkgs+=(ripgrep) ;;
      hyperfine) pkgs+=(hyperfine) ;;
      python3) pkgs+=(python3) ;;
    esac
  done
  [[ ${#pkgs[@]} -gt 0 ]] && echo "bench: on Debian/Ubuntu: sudo apt-get install ${pkgs[*]}" >&2
  [[ " ${missing[*]} " == *" cargo "* ]] && echo "bench: cargo: install a Rust toolchain (rustup), or set LEAKHOUND=PATH" >&2
  exit 2
fi
python3 -c 'import tomllib' 2>/dev/null || python3 -c 'import tomli' 2>/dev/null ||
  die "python3 >= 3.11 (tomllib) or the tomli package is needed to read rules/*.toml"

mkdir -p "$DATA"

# ---------------------------------------------------------------- leakhound binary
if [[ -n ${LEAKHOUND:-} ]]; then
  lh=$LEAKHOUND
else
  echo "bench: cargo build --release" >&2
  cargo build --release
  lh=${CARGO_TARGET_DIR:-target}/release/leakhound
fi
[[ -x $lh ]] || die "no leakhound binary at $lh"
lh_version=$("$lh" --version 2>/dev/null | head -n1 || true)

# ---------------------------------------------------------------- keywords of the rules
shopt -s nullglob
rule_files=(rules/*.toml)
shopt -u nullglob
[[ ${#rule_files[@]} -gt 0 ]] || die "no rules/*.toml"
kw_file=$DATA/keywords.txt
python3 - "$kw_file" "${rule_files[@]}" <<'PY'
import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
out, files = sys.argv[1], sys.argv[2:]
kws = set()
for path in files:
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    for rule in doc.get("rules", []):
        for k in rule.get("keywords", []):
            k = k.strip().lower()
            if k:
                kws.add(k)
if not kws:
    sys.exit("bench: no keywords in %s" % " ".join(files))
with open(out, "w") as f:
    f.write("\n".join(sorted(kws)) + "\n")
print("bench: %d keywords from %d rule files -> %s" % (len(kws), len(files), out), file=sys.stderr)
PY
n_keywords=$(wc -l <"$kw_file")

# ---------------------------------------------------------------- modes
case $mode in
tree)
  tree_dir=$DATA/tree
  repo=$tree_dir/repo
  planted=$tree_dir/planted.json
  hf_json=$DATA/hyperfine-tree.json
  findings=$DATA/findings-tree.json
  generated=0
  cleanup() {
    rm -rf "$tree_dir.tmp"
    if [[ $generated -eq 1 && $keep -eq 0 ]]; then
      echo "bench: removing $tree_dir (use --keep to keep it)" >&2
      rm -rf "$tree_dir"
    fi
  }
  trap cleanup EXIT

  if [[ -d $repo && -f $planted ]] &&
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d.get("size_mb") != float(sys.argv[2]) or d.get("seed") != int(sys.argv[3]))' \
      "$planted" "$size_mb" "$SEED"; then
    echo "bench: reusing $repo" >&2
  else
    rm -rf "$tree_dir" "$tree_dir.tmp"
    generated=1
    python3 bench/gen_tree.py "$tree_dir.tmp" --size-mb "$size_mb" --seed "$SEED"
    mv "$tree_dir.tmp" "$tree_dir"
  fi
  read -r total_bytes n_files < <(find "$repo" -type f -printf '%s\n' | awk '{ s += $1; n++ } END { print s + 0, n + 0 }')
  echo "bench: tree $repo: $total_bytes bytes in $n_files files" >&2

  printf -v rg_cmd '%q ' rg -c -i -F -a -uuu -f "$kw_file" "$repo"
  printf -v lh_cmd '%q ' "$lh" scan --no-config --format json --output /dev/null --no-ignore "$repo"
  # -i: leakhound exits 1 when it finds keys (and rg would exit 1 on no match).
  hyperfine --warmup 1 --runs 3 -i --export-json "$hf_json" \
    -n rg "$rg_cmd" \
    -n leakhound "$lh_cmd"

  echo "bench: recall run: leakhound scan --no-config --format json --show-secrets --no-ignore" >&2
  lh_rc=0
  "$lh" scan --no-config --format json --show-secrets --no-ignore --output "$findings" "$repo" || lh_rc=$?
  [[ $lh_rc -le 1 ]] || die "leakhound exited with $lh_rc on the recall run"
  [[ -s $findings ]] || die "leakhound wrote no findings file ($findings)"

  python3 - "$RESULTS" "$hf_json" "$planted" "$findings" "$repo" "$total_bytes" "$n_files" \
    "$size_mb" "$SEED" "$n_keywords" "$lh_rc" "$lh_version" "$(rg --version | head -n1)" \
    "$(hyperfine --version)" "$(git rev-parse --short HEAD 2>/dev/null || echo none)" \
    "$rg_cmd" "$lh_cmd" <<'PY'
import datetime, json, os, sys
from collections import Counter, defaultdict

(results_path, hf_path, planted_path, findings_path, repo, total_bytes, n_files, size_mb, seed,
 n_keywords, lh_rc, lh_version, rg_version, hf_version, git_rev, rg_cmd, lh_cmd) = sys.argv[1:]
total_bytes, n_files = int(total_bytes), int(n_files)

# ---- timings
hf = {r["command"]: r for r in json.load(open(hf_path))["results"]}
def timing(name):
    r = hf[name]
    return {k: r.get(k) for k in ("mean", "stddev", "median", "min", "max", "times", "exit_codes")}
rg, lh = timing("rg"), timing("leakhound")
mbps = total_bytes / lh["mean"] / 1e6
ratio = lh["mean"] / rg["mean"]

# ---- findings: any JSON object with a string "secret" (single document or JSON lines)
text = open(findings_path, encoding="utf-8", errors="replace").read()
try:
    docs = [json.loads(text)]
except json.JSONDecodeError:
    docs = [json.loads(l) for l in text.splitlines() if l.strip()]
SECRET_KEYS = ("secret", "raw_secret", "match")
findings = []
def walk(o):
    if isinstance(o, dict):
        for k in SECRET_KEYS:
            if isinstance(o.get(k), str):
                findings.append(o)
                return
        for v in o.values():
            walk(v)
    elif isinstance(o, list):
        for v in o:
            walk(v)
for d in docs:
    walk(d)

def field(o, names, depth=0):
    if isinstance(o, dict):
        for n in names:
            if n in o and isinstance(o[n], (str, int)) and not isinstance(o[n], bool):
                return o[n]
        if depth < 3:
            for v in o.values():
                r = field(v, names, depth + 1)
                if r is not None:
                    return r
    return None

abs_repo = os.path.abspath(repo)
def rel(p):
    if not isinstance(p, str):
        return None
    if p.startswith("file://"):
        p = p[7:]
    if os.path.isabs(p):
        return os.path.relpath(p, abs_repo)
    if os.path.exists(os.path.join(repo, p)):
        return os.path.normpath(p)
    return os.path.relpath(os.path.abspath(p), abs_repo)

pl = json.load(open(planted_path))
planted = {p["secret"]: p for p in pl["planted"]}
ph_strings = set(pl.get("placeholder_strings", [])) | {p["text"] for p in pl["placeholders"]}
ph_locs = {(p["path"], p["line"]) for p in pl["placeholders"]}

found = defaultdict(list)     # planted secret -> findings
rules_by_kind = defaultdict(Counter)  # planted kind -> rule ids that reported it
partial = defaultdict(list)   # planted secret -> findings whose secret overlaps it
ph_reported, extra = [], []
for f in findings:
    s = next(f[k] for k in SECRET_KEYS if isinstance(f.get(k), str))
    loc = (rel(field(f, ("path", "file", "uri", "file_path"))), field(f, ("line", "start_line", "startLine", "line_number")))
    if s in planted:
        found[s].append(loc)
        rules_by_kind[planted[s]["kind"]][str(field(f, ("rule_id", "ruleId", "rule", "id")))] += 1
        continue
    over = [p for p in planted if len(s) >= 8 and (s in p or p in s)]
    if over:
        for p in over:
            partial[p].append(loc)
    elif s in ph_strings or any(x in s for x in ph_strings) or loc in ph_locs:
        ph_reported.append({"secret": s, "path": loc[0], "line": loc[1]})
    else:
        extra.append({"secret": s, "path": loc[0], "line": loc[1],
                      "rule": field(f, ("rule_id", "ruleId", "rule", "id"))})

missed = [p for s, p in planted.items() if s not in found]
loc_ok = sum(1 for s, locs in found.items()
             if any(l[0] == planted[s]["path"] and l[1] in (planted[s]["line"], None) for l in locs))
def by(key):
    tot, hit = Counter(), Counter()
    for s, p in planted.items():
        tot[p[key]] += 1
        hit[p[key]] += s in found
    return {str(k): {"planted": tot[k], "found": hit[k]} for k in sorted(tot, key=str)}

recall = {
    "planted": len(planted),
    "found": len(found),
    "missed": len(missed),
    "recall": len(found) / len(planted) if planted else None,
    "found_at_planted_location": loc_ok,
    "partial_matches": len([s for s in partial if s not in found]),
    "placeholders_planted": len(pl["placeholders"]),
    "placeholders_reported": len(ph_reported),
    "other_findings": len(extra),
    "findings_total": len(findings),
    "leakhound_exit_code": int(lh_rc),
    "by_kind": by("kind"),
    "rules_by_kind": {k: dict(v) for k, v in sorted(rules_by_kind.items())},
    "by_file_category": by("file_category"),
    "by_named": by("named"),
    "by_hidden": by("hidden"),
    "missed_keys": [{k: p[k] for k in ("kind", "path", "line", "column", "secret", "file_category", "named", "hidden")} for p in missed],
    "placeholders_reported_sample": ph_reported[:50],
    "other_findings_sample": extra[:50],
}

entry = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "git_rev": git_rev,
    "machine": {"nproc": os.cpu_count()},
    "tree": {"size_mb": float(size_mb), "seed": int(seed), "bytes": total_bytes, "files": n_files},
    "keywords": int(n_keywords),
    "tools": {"leakhound": lh_version, "rg": rg_version, "hyperfine": hf_version},
    "commands": {"rg": rg_cmd.strip(), "leakhound": lh_cmd.strip()},
    "timings_s": {"rg": rg, "leakhound": lh},
    "leakhound_mb_per_s": round(mbps, 1),
    "leakhound_over_rg": round(ratio, 3),
    "recall": recall,
}
results = {}
try:
    with open(results_path) as f:
        results = json.load(f)
    if not isinstance(results, dict):
        results = {}
except (OSError, ValueError):
    pass
results["tree"] = entry
with open(results_path, "w") as f:
    json.dump(results, f, indent=2)
    f.write("\n")

print()
print("tree       %d bytes (%.1f MiB) in %d files" % (total_bytes, total_bytes / 2**20, n_files))
print("rg         mean %.3f s ± %.3f  (%d keywords, -c -i -F -a -uuu)" % (rg["mean"], rg["stddev"] or 0, int(n_keywords)))
print("leakhound  mean %.3f s ± %.3f" % (lh["mean"], lh["stddev"] or 0))
print("leakhound  %.1f MB/s (10^6 bytes/s); leakhound/rg = %.2fx" % (mbps, ratio))
print("recall     %d/%d planted keys found (%.1f%%), %d missed, %d at the planted path:line"
      % (len(found), len(planted), 100.0 * len(found) / max(len(planted), 1), len(missed), loc_ok))
print("           %d placeholders reported (must be 0), %d other findings, %d findings in all"
      % (len(ph_reported), len(extra), len(findings)))
if not findings:
    print("           WARNING: no object with a \"secret\" field in %s: cannot check recall" % findings_path)
for p in missed[:20]:
    print("  missed   %-12s %s:%d  %s" % (p["kind"], p["path"], p["line"], p["secret"]))
if len(missed) > 20:
    print("  ... %d more in %s" % (len(missed) - 20, results_path))
for p in ph_reported[:10]:
    print("  placeholder reported  %s:%s  %s" % (p["path"], p["line"], p["secret"]))
print("results    %s" % results_path)
PY
  ;;
esac
