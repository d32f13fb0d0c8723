#!/usr/bin/env python3
"""Write a `git fast-import` stream for a synthetic repository with years of
history, for bench/history.sh. Nothing is downloaded: file contents are real
source text taken from a local directory (the cargo registry's sources by
default), edited a little in each commit.

Shape (defaults): ~3,000 files in ~200 directories, 12,000 commits over six
years by 40 authors, 1-4 files changed per commit (edits, some additions,
deletions and renames), a feature branch merged every ~50 commits, a few
fake keys committed and later removed. Deterministic for a given seed.

usage: gen_history.py [--commits N] [--files N] [--source DIR] [--seed N]
"""

import argparse
import os
import random
import sys

ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def source_texts(root, want, rng):
    texts = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".rs", ".md", ".toml", ".c", ".h", ".py", ".txt")):
                path = os.path.join(dirpath, name)
                try:
                    size = os.path.getsize(path)
                    if 200 < size < 60_000:
                        with open(path, "rb") as f:
                            texts.append(f.read())
                except OSError:
                    pass
        if len(texts) >= want * 2:
            break
    rng.shuffle(texts)
    return texts[:want] if len(texts) >= want else texts * (want // max(len(texts), 1) + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=12_000)
    ap.add_argument("--files", type=int, default=3_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--source",
        default=os.path.expanduser("~/.cargo/registry/src"),
        help="directory whose text files give the contents",
    )
    args = ap.parse_args()
    rng = random.Random(args.seed)
    texts = source_texts(args.source, args.files + 500, rng)
    spare = texts[args.files:]
    lines_pool = [l for t in spare[:400] for l in t.split(b"\n") if l.strip()][:200_000]

    dirs = ["src"] + [
        f"{top}/{sub}"
        for top in ("src", "lib", "tools", "docs", "tests", "services")
        for sub in (f"m{i:02}" for i in range(33))
    ]
    exts = [".rs", ".md", ".toml", ".py", ".c"]
    files = {}
    for i in range(args.files):
        path = f"{rng.choice(dirs)}/f{i:05}{rng.choice(exts)}"
        files[path] = texts[i % len(texts)]
    authors = [(f"Dev {i:02}", f"dev{i:02}@example.com") for i in range(40)]
    out = sys.stdout.buffer
    t0 = 1_500_000_000
    span = 6 * 365 * 86_400
    mark = 0

    def blob(data):
        nonlocal mark
        mark += 1
        out.write(b"blob\nmark :%d\ndata %d\n" % (mark, len(data)))
        out.write(data)
        out.write(b"\n")
        return mark

    def commit(ref, n, changes, deletes, message, parents):
        nonlocal mark
        name, email = authors[n % len(authors)]
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

    # Initial import.
    changes = [(p, blob(d)) for p, d in sorted(files.items())]
    head = commit("refs/heads/main", 0, changes, [], "Initial import", [])
    branch_head = None
    leaked = []
    for n in range(1, args.commits):
        on_branch = branch_head is not None
        ref = "refs/heads/feature" if on_branch else "refs/heads/main"
        parent = branch_head if on_branch else head
        changes, deletes = [], []
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            r = rng.random()
            path = rng.choice(sorted(files)) if r > 0.04 else None
            if r < 0.02:
                new = f"{rng.choice(dirs)}/n{n:05}{rng.choice(exts)}"
                files[new] = rng.choice(spare)
                changes.append((new, blob(files[new])))
            elif r < 0.03 and len(files) > 100:
                victim = rng.choice(sorted(files))
                del files[victim]
                deletes.append(victim)
            elif r < 0.04 and len(files) > 100:
                victim = rng.choice(sorted(files))
                data = files.pop(victim)
                new = f"{rng.choice(dirs)}/r{n:05}{os.path.splitext(victim)[1]}"
                files[new] = data
                deletes.append(victim)
                changes.append((new, blob(data)))
            else:
                files[path] = edit(files[path])
                if n % 997 == 0:
                    key = "sk-kunavo-" + "".join(rng.choice(ALNUM) for _ in range(40))
                    files[path] += b'\nKUNAVO_API_KEY = "' + key.encode() + b'"\n'
                    leaked.append(path)
                elif leaked and n % 997 == 30:
                    victim = leaked.pop()
                    if victim in files:
                        files[victim] = files[victim].split(b'\nKUNAVO_API_KEY')[0]
                        changes.append((victim, blob(files[victim])))
                changes.append((path, blob(files[path])))
        seen = set()
        changes = [c for c in reversed(changes) if not (c[0] in seen or seen.add(c[0]))]
        deletes = [d for d in deletes if d not in seen]
        m = commit(ref, n, changes, deletes, f"Change {n}: edit {len(changes)} files", [parent])
        if on_branch:
            branch_head = m
            if rng.random() < 0.15:
                head = commit("refs/heads/main", n, [], [], f"Merge feature at {n}", [head, m])
                branch_head = None
        else:
            head = m
            if n % 50 == 0:
                branch_head = head
    out.write(b"reset refs/heads/feature\nfrom :%d\n\n" % head)


if __name__ == "__main__":
    main()
