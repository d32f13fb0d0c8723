#!/usr/bin/env python3
"""Write a `git fast-import` stream for a large synthetic repository shaped
like a long-lived project (git/git's size by default), for bench/gitscale.sh.
Nothing is downloaded: file contents are real source text from a local
directory (the cargo registry's sources by default), edited a little in each
commit. Deterministic for a given seed.

Shape (defaults): 200,000 commits over 20 years by 300 authors; ~4,000
files in ~200 directories; a main line plus up to 4 long-lived topic
branches open at once, each forked from main, advanced alongside it and
merged back with a real merge (the merge's tree holds both sides' changes,
so its diff against either parent is large); 1-4 files changed per commit
(edits, additions, deletions, renames with and without edits); a few large
incompressible binary blobs; a fake key committed every ~1,000 commits and
removed ~30 commits later; a tag every 1,000 main commits; and a mirror's
ref set: `refs/pull/N/head` for every topic (merged or abandoned) and
`refs/pull/N/merge` for some.

usage: gen_big_history.py [--commits N] [--files N] [--source DIR] [--seed N]
"""

import argparse
import os
import random
import sys

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def source_texts(root, want, rng, max_size):
    texts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".rs", ".md", ".toml", ".c", ".h", ".py", ".txt")):
                path = os.path.join(dirpath, name)
                try:
                    size = os.path.getsize(path)
                    if 200 < size < max_size:
                        with open(path, "rb") as f:
                            texts.append(f.read())
                except OSError:
                    pass
        if len(texts) >= want * 2:
            break
    rng.shuffle(texts)
    if len(texts) >= want:
        return texts[:want]
    return texts * (want // max(len(texts), 1) + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=200_000)
    ap.add_argument("--files", type=int, default=4_000)
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--max-file", type=int, default=24_000)
    ap.add_argument(
        "--source",
        default=os.path.expanduser("~/.cargo/registry/src"),
        help="directory whose text files give the contents",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts = source_texts(args.source, args.files + 600, rng, args.max_file)
    spare = texts[args.files:]
    lines_pool = [l for t in spare[:500] for l in t.split(b"\n") if l.strip()][:200_000]
    dirs = ["src"] + [
        f"{top}/{sub}"
        for top in ("src", "lib", "tools", "docs", "t", "builtin")
        for sub in (f"m{i:02}" for i in range(33))
    ]
    exts = [".rs", ".md", ".toml", ".py", ".c", ".h"]
    main_files = {}
    for i in range(args.files):
        main_files[f"{rng.choice(dirs)}/f{i:05}{rng.choice(exts)}"] = texts[i % len(texts)]
    authors = [(f"Dev {i:03}", f"dev{i:03}@example.com") for i in range(300)]
    out = sys.stdout.buffer
    t0 = 1_100_000_000
    span = 20 * 365 * 86_400
    mark = 0
    marks = {}  # content id -> blob mark, so an unchanged file is not re-sent

    def blob(data):
        nonlocal mark
        key = id(data)
        if key in marks and marks[key][1] is data:
            return marks[key][0]
        mark += 1
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
        out.write(data)
        out.write(b"\n")
        marks[key] = (mark, data)
        if len(marks) > 20_000:  # bounded: only recent blobs are reused
            for old in list(marks)[:10_000]:
                del marks[old]
        return mark

    def commit(ref, n, changes, deletes, message, parents):
        nonlocal mark
        name, email = authors[(n * 7919) % len(authors)]
        when = t0 + span * n // args.commits
        mark += 1
        out.write(b"commit %s\nmark :%d\n" % (ref.encode(), mark))
        out.write(f"author {name} <{email}> {when} +0000\n".encode())
        out.write(f"committer {name} <{email}> {when} +0000\n".encode())
        msg = message.encode()
        out.write(b"data %d\n%s\n" % (len(msg), msg))
        if parents:
            out.write(b"from :%d\n" % parents[0])
            for p in parents[1:]:
                out.write(b"merge :%d\n" % p)
        for path in deletes:
            out.write(b"D %s\n" % path.encode())
        for path, m in changes:
            out.write(b"M 100644 :%d %s\n" % (m, path.encode()))
        out.write(b"\n")
        return mark

    def edit(data):
        lines = data.split(b"\n")
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(lines) + 1)
            op = rng.random()
            if op < 0.5:
                lines.insert(at, rng.choice(lines_pool))
            elif op < 0.8 and lines:
                lines[min(at, len(lines) - 1)] = rng.choice(lines_pool)
            elif len(lines) > 5:
                del lines[min(at, len(lines) - 1)]
        return b"\n".join(lines)

    leaked = []

    def change_set(files, n):
        """Edit `files` in place; return (changes, deletes) as paths."""
        changed, deletes = [], []
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            r = rng.random()
            if r < 0.02:
                new = f"{rng.choice(dirs)}/n{n:06}{rng.choice(exts)}"
                files[new] = rng.choice(spare)
                changed.append(new)
            elif r < 0.028 and len(files) > 100:
                victim = rng.choice(list(files))
                del files[victim]
                deletes.append(victim)
            elif r < 0.04 and len(files) > 100:
                victim = rng.choice(list(files))
                data = files.pop(victim)
                if r > 0.034:
                    data = edit(data)  # renamed and edited
                new = f"{rng.choice(dirs)}/r{n:06}{os.path.splitext(victim)[1]}"
                files[new] = data
                deletes.append(victim)
                changed.append(new)
            elif r < 0.0401 and n > 1000:
                new = f"assets/blob{n:06}.bin"
                files[new] = rng.randbytes(rng.randint(2, 6) * 1_000_000)
                changed.append(new)
            else:
                path = rng.choice(list(files))
                files[path] = edit(files[path])
                if n % 997 == 0:
                    key = "sk-kunavo-" + "".join(rng.choice(ALNUM) for _ in range(40))
                    files[path] += b'\nKUNAVO_API_KEY = "' + key.encode() + b'"\n'
                    leaked.append((path, files))
                changed.append(path)
        if leaked and n % 997 == 30:
            path, where = leaked.pop()
            if where is files and path in files:
                files[path] = files[path].split(b"\nKUNAVO_API_KEY")[0]
                changed.append(path)
        deletes = [d for d in deletes if d not in files]
        changed = sorted(set(p for p in changed if p in files))
        return changed, deletes

    head = commit(
        "refs/heads/main", 0,
        [(p, blob(d)) for p, d in sorted(main_files.items())], [], "Initial import", [],
    )
    topics = []  # dicts: files, fork snapshot, head mark, number, changed paths
    pull = 0
    main_n = 0
    for n in range(1, args.commits):
        if len(topics) < 4 and rng.random() < 0.02:
            pull += 1
            topics.append({
                "files": dict(main_files), "head": head, "pull": pull,
                "touched": set(), "deleted": set(), "len": rng.randint(5, 120),
            })
        if topics and rng.random() < 0.45:
            t = rng.choice(topics)
            changed, deletes = change_set(t["files"], n)
            t["touched"].update(changed)
            t["deleted"].update(deletes)
            t["touched"].difference_update(deletes)
            t["head"] = commit(
                f"refs/heads/topic-{t['pull']}", n,
                [(p, blob(t["files"][p])) for p in changed], deletes,
                f"topic {t['pull']}: change {n}", [t["head"]],
            )
            t["len"] -= 1
            if t["len"] <= 0:
                topics.remove(t)
                out.write(b"reset refs/pull/%d/head\nfrom :%d\n\n" % (t["pull"], t["head"]))
                if rng.random() < 0.1:
                    continue  # abandoned: only its pull ref keeps it
                # A real merge: main's tree plus the topic's changes.
                mchanges = []
                for p in sorted(t["touched"]):
                    if p in t["files"]:
                        main_files[p] = t["files"][p]
                        mchanges.append((p, blob(main_files[p])))
                mdel = sorted(p for p in t["deleted"] if p in main_files)
                for p in mdel:
                    del main_files[p]
                head = commit(
                    "refs/heads/main", n, mchanges, mdel,
                    f"Merge topic {t['pull']}", [head, t["head"]],
                )
                if rng.random() < 0.3:
                    out.write(b"reset refs/pull/%d/merge\nfrom :%d\n\n" % (t["pull"], head))
                out.write(b"reset refs/heads/topic-%d\nfrom 0000000000000000000000000000000000000000\n\n" % t["pull"])
            continue
        changed, deletes = change_set(main_files, n)
        head = commit(
            "refs/heads/main", n, [(p, blob(main_files[p])) for p in changed], deletes,
            f"Change {n}: edit {len(changed)} files", [head],
        )
        main_n += 1
        if main_n % 1000 == 0:
            out.write(b"reset refs/tags/v%d.%d\nfrom :%d\n\n" % (main_n // 10000, main_n // 1000 % 10, head))


if __name__ == "__main__":
    main()
