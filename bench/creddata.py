#!/usr/bin/env python3
"""Line-level recall/precision of leakhound on a sample of Samsung/CredData (issue 21).

Reads CredData's snapshot.json and meta/*.csv from a bare git dir (--creddata), takes the
repositories listed in bench/creddata-repos.txt (one owner/name per line), reads each
labelled file at the pinned commit (repo id[:40]) from /work/.mirror/OWNER+NAME/repo,
writes the files under their original paths into --out, scans with leakhound and scores.
A file is matched to its label by CredData's FileID = sha256(path)[:8].
"""
import argparse, binascii, collections, csv, hashlib, io, json, os, shutil, subprocess, sys

def git(gd, *a):
    return subprocess.run(["git", "--git-dir=" + gd, *a], capture_output=True).stdout

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--creddata", default="/work/.mirror/Samsung+CredData/repo")
    ap.add_argument("--repos", default=os.path.join(os.path.dirname(__file__), "creddata-repos.txt"))
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--out", default="/work/data/creddata")
    ap.add_argument("--leakhound", default="leakhound")
    a = ap.parse_args()
    snap = json.loads(git(a.creddata, "show", "HEAD:snapshot.json"))
    by_name = {u.split("github.com/")[1]: rid for rid, u in snap.items()}
    wanted = [l.strip() for l in open(a.repos) if l.strip() and not l.startswith("#")]
    shutil.rmtree(a.out, ignore_errors=True)
    labels = collections.defaultdict(list)  # relpath -> [(start,end,gt,cat)]
    skipped = []
    for name in wanted:
        rid = by_name[name]
        commit = rid[:40]
        mid = f"{binascii.crc32(binascii.unhexlify(rid)):08x}"  # CredData's meta/<id>.csv name
        gd = os.path.join(a.mirrors, name.replace("/", "+"), "repo")
        if os.path.isdir(os.path.join(gd, ".git")):
            gd = os.path.join(gd, ".git")
        rows = list(csv.DictReader(io.StringIO(git(a.creddata, "show", f"HEAD:meta/{mid}.csv").decode())))
        files = git(gd, "ls-tree", "-r", "--name-only", "-z", commit).decode(errors="replace").split("\0")
        if not files or files == [""]:
            skipped.append((name, f"commit absent, {len(rows)} label rows")); continue
        ids = {hashlib.sha256(p.encode()).hexdigest()[:8]: p for p in files if p}
        missing = 0
        for r in rows:
            p = ids.get(r["FileID"])
            if p is None:
                missing += 1; continue
            rel = f"{mid}/{p}"
            dst = os.path.join(a.out, rel)
            if not os.path.exists(dst):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(git(gd, "show", f"{commit}:{p}"))
            labels[rel].append((int(r["LineStart"]), int(r["LineEnd"]), r["GroundTruth"], r["Category"]))
        if missing:
            skipped.append((name, f"{missing} label rows without file"))
    nT = sum(1 for v in labels.values() for x in v if x[2] == "T")
    nF = sum(1 for v in labels.values() for x in v if x[2] == "F")
    print(f"repos: {len(wanted)} listed; files: {len(labels)}; labelled rows: T={nT} F={nF}")
    for s in skipped:
        print("  skipped/partial:", *s)
    for conf in ["default", "low"]:
        cmd = [a.leakhound, "scan", "--no-ignore", "--format", "jsonl", a.out]
        if conf == "low":
            cmd[2:2] = ["--min-confidence", "low"]
        out = subprocess.run(cmd, capture_output=True, text=True).stdout
        hits = collections.defaultdict(set)  # rel -> {line}
        byline = collections.defaultdict(list)
        for l in out.splitlines():
            try:
                f = json.loads(l)
            except ValueError:
                continue
            path = f.get("path") or f.get("file") or (f.get("location") or {}).get("path")
            line = f.get("line") or f.get("start_line") or (f.get("location") or {}).get("line")
            rule = f.get("rule_id") or f.get("rule") or "?"
            if path is None or line is None:
                continue
            rel = os.path.relpath(os.path.join(a.out, path) if not os.path.isabs(path) else path, a.out)
            hits[rel].add(int(line)); byline[(rel, int(line))].append(rule)
        rec = collections.Counter(); tot = collections.Counter()
        for rel, v in labels.items():
            for s, e, gt, cat in v:
                if gt != "T":
                    continue
                tot[cat] += 1; tot["ALL"] += 1
                if any(s <= x <= e for x in hits.get(rel, ())):
                    rec[cat] += 1; rec["ALL"] += 1
        tp = fpF = fpU = 0; fprules = collections.Counter()
        for (rel, ln), rules in byline.items():
            gts = {gt for s, e, gt, c in labels.get(rel, []) if s <= ln <= e}
            if "T" in gts: tp += 1
            elif "F" in gts or "X" in gts: fpF += 1; fprules.update(set(rules))
            else: fpU += 1; fprules.update(set(rules))
        print(f"\n== confidence {conf}: finding lines {len(byline)}")
        print(f"recall ALL {rec['ALL']}/{tot['ALL']} = {100*rec['ALL']/max(1,tot['ALL']):.1f}%")
        print(f"precision strict {tp}/{tp+fpF+fpU} = {100*tp/max(1,tp+fpF+fpU):.1f}%; labelled-only {tp}/{tp+fpF} = {100*tp/max(1,tp+fpF):.1f}%  (FP on F/X lines {fpF}, on unlabelled lines {fpU})")
        for c in sorted(tot, key=lambda c: -tot[c]):
            if c != "ALL":
                print(f"  {c:28s} {rec[c]:4d}/{tot[c]:4d} = {100*rec[c]/tot[c]:5.1f}%  missed {tot[c]-rec[c]}")
        print("  top FP rules:", ", ".join(f"{r} {n}" for r, n in fprules.most_common(8)))

if __name__ == "__main__":
    main()
