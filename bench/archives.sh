#!/usr/bin/env bash
# Archive benchmark (figures in docs/performance.md, "Archives").
#
# usage: bench/archives.sh [--size-mb N] [--runs N]
#
# Generates a source-like tree (bench/gen_tree.py, seed 1, N MiB, default
# 256) with planted keys, packs its top-level directories into jars
# (`zip -r`, deflate) and .tar.gz files (`tar czf`), alternately, and times
# with hyperfine (1 warm-up, RUNS runs, default 3), on the same archives:
#   reference  every archive decompressed and its entries searched for the
#              rules' keywords: `unzip -p J | rg -c -i -F -a -f KEYWORDS`
#              for each jar, `tar -xzOf T | rg …` for each tar.gz (the
#              decompress-and-grep floor: no regex, no validation, one entry
#              stream per archive, archives one after another);
#   leakhound  `leakhound scan --no-ignore --format json --output /dev/null DIR`.
# Then one recall run (planted keys found at `archive!path`), and peak RSS of
# each side from GNU time.
#
# ENVIRONMENT
#   LEAKHOUND=PATH  time this binary instead of building a release build
#
# Writes bench/data/archives/{hyperfine.json,findings.json,summary.json}.
# Needs cargo, python3 (3.11+ or tomli), rg, hyperfine, zip, unzip, tar,
# gzip and GNU time (/usr/bin/time).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

size_mb=256
runs=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --size-mb) size_mb=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "bench: unknown argument: $1" >&2; exit 2 ;;
  esac
done
for tool in python3 rg hyperfine zip unzip tar gzip /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: missing $tool" >&2; exit 2; }
done

DATA=bench/data/archives
mkdir -p "$DATA"
if [[ -n ${LEAKHOUND:-} ]]; then
  lh=$LEAKHOUND
else
  cargo build --release --quiet
  lh=${CARGO_TARGET_DIR:-target}/release/leakhound
fi

# Keywords of the rules, as bench/run.sh makes them.
kw=$DATA/keywords.txt
python3 - "$kw" rules/*.toml <<'PY'
import sys
try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib
out, files = sys.argv[1], sys.argv[2:]
kws = set()
for path in files:
    with open(path, "rb") as f:
        for rule in tomllib.load(f).get("rules", []):
            kws.update(k.strip().lower() for k in rule.get("keywords", []) if k.strip())
open(out, "w").write("\n".join(sorted(kws)) + "\n")
PY

tree=$DATA/tree-$size_mb
packed=$DATA/packed-$size_mb
if [[ ! -d $packed ]]; then
  rm -rf "$tree" "$packed.tmp"
  python3 bench/gen_tree.py "$tree" --size-mb "$size_mb" --seed 1
  mkdir -p "$packed.tmp"
  i=0
  # Top-level entries, dotfiles included, in a stable order.
  while IFS= read -r name; do
    if (( i % 2 == 0 )); then
      (cd "$tree/repo" && zip -q -r "$ROOT/$packed.tmp/part$i.jar" "$name")
    else
      tar -C "$tree/repo" -czf "$packed.tmp/part$i.tar.gz" "$name"
    fi
    i=$((i + 1))
  done < <(ls -A "$tree/repo" | LC_ALL=C sort)
  mv "$tree/planted.json" "$packed.tmp.planted.json"
  rm -rf "$tree"
  mv "$packed.tmp" "$packed"
  mv "$packed.tmp.planted.json" "$DATA/planted-$size_mb.json"
fi
packed_bytes=$(du -sb "$packed" | cut -f1)
echo "bench: $packed: $(ls "$packed" | wc -l) archives, $packed_bytes bytes" >&2

printf -v ref_cmd 'for j in %q/*.jar; do unzip -p "$j"; done | rg -c -i -F -a -f %q; for t in %q/*.tar.gz; do tar -xzOf "$t"; done | rg -c -i -F -a -f %q' \
  "$packed" "$kw" "$packed" "$kw"
printf -v lh_cmd '%q scan --no-config --no-ignore --format json --output /dev/null %q' "$lh" "$packed"
hyperfine --warmup 1 --runs "$runs" -i --export-json "$DATA/hyperfine.json" \
  -n reference "bash -c $(printf %q "$ref_cmd")" \
  -n leakhound "$lh_cmd"

# Peak RSS in KiB (leakhound exits 1 when it finds keys: not a failure here).
rss() { { /usr/bin/time -f %M bash -c "$1" 2>&1 >/dev/null || true; } | tail -n1; }
ref_rss=$(rss "$ref_cmd")
lh_rss=$(rss "$lh_cmd")

rc=0
"$lh" scan --no-config --no-ignore --format json --show-secrets --output "$DATA/findings.json" "$packed" || rc=$?
[[ $rc -le 1 ]] || { echo "bench: leakhound exited $rc" >&2; exit 2; }

python3 - "$DATA" "$size_mb" "$packed_bytes" "$ref_rss" "$lh_rss" <<'PY'
import json, sys
data, size_mb, packed_bytes, ref_rss, lh_rss = sys.argv[1:]
hf = {r["command"]: r for r in json.load(open(f"{data}/hyperfine.json"))["results"]}
ref, lh = hf["reference"], hf["leakhound"]
planted = json.load(open(f"{data}/planted-{size_mb}.json"))
want = {p["secret"] for p in planted["planted"]}
report = json.load(open(f"{data}/findings.json"))
got = {f["secret"] for f in report["findings"]}
inside = sum("!" in f["path"] for f in report["findings"])
summary = {
    "packed_bytes": int(packed_bytes),
    "reference_mean_s": ref["mean"], "reference_stddev_s": ref["stddev"],
    "reference_user_s": ref["user"], "reference_system_s": ref["system"],
    "leakhound_mean_s": lh["mean"], "leakhound_stddev_s": lh["stddev"],
    "leakhound_user_s": lh["user"], "leakhound_system_s": lh["system"],
    "ratio_wall": lh["mean"] / ref["mean"],
    "ratio_cpu": (lh["user"] + lh["system"]) / (ref["user"] + ref["system"]),
    "reference_peak_rss_kb": int(ref_rss), "leakhound_peak_rss_kb": int(lh_rss),
    "planted": len(want), "planted_found": len(want & got),
    "findings": len(report["findings"]), "findings_inside_archives": inside,
    "skipped": report["stats"]["skipped"][:5],
}
json.dump(summary, open(f"{data}/summary.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
PY
