#!/usr/bin/env bash
# The loose-object guard (src/source/loose.rs; docs/performance.md, "Loose
# objects"): FILES files (default 20,000) in 100 directories, committed and
# never packed, so the repository holds about FILES + 100 loose objects (what
# `git add` of a large tree leaves until `git gc`), then one file changed
# and staged. Runs `leakhound scan --staged` there and, as the reference, in
# a packed copy of the same repository (no loose objects), RUNS times each
# (default 10) with hyperfine, and prints peak RSS.
#
#   bench/loose.sh [FILES]
#
# LEAKHOUND=PATH runs that binary (default: a release build, built here);
# BEFORE=PATH adds a second binary to compare with (an older build).
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-20000}
RUNS=${RUNS:-10}
DATA=bench/data
mkdir -p "$DATA"
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
LOOSE=$DATA/loose-$FILES
PACKED=$DATA/loose-$FILES-packed
if [ ! -d "$LOOSE/.git" ]; then
    rm -rf "$LOOSE" "$PACKED"
    mkdir -p "$LOOSE"
    python3 - "$LOOSE" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.txt"), "w") as f:
        f.write(f"content {i}\n" * 60)
PY
    git -C "$LOOSE" init -q -b main
    git -C "$LOOSE" config gc.auto 0
    git -C "$LOOSE" add -A
    git -C "$LOOSE" -c user.name=bench -c user.email=bench@example.com commit -qm all
    echo "changed" >>"$LOOSE/d00/f0.txt"
    git -C "$LOOSE" add d00/f0.txt
    cp -a "$LOOSE" "$PACKED"
    git -C "$PACKED" gc -q --prune=now
fi
echo "loose objects: $(git -C "$LOOSE" count-objects | cut -d ' ' -f 1) (packed copy: $(git -C "$PACKED" count-objects | cut -d ' ' -f 1))"
commands=()
names=()
for b in "$BIN" ${BEFORE:+"$BEFORE"}; do
    label=$([ "$b" = "$BIN" ] && echo this || echo before)
    commands+=("$b scan --staged --no-config -q $PACKED" "$b scan --staged --no-config -q $LOOSE")
    names+=(-n "$label, packed (reference)" -n "$label, $FILES loose objects")
done
hyperfine -N -w 2 -r "$RUNS" -i "${names[@]}" "${commands[@]}"
for b in "$BIN" ${BEFORE:+"$BEFORE"}; do
    for repo in "$PACKED" "$LOOSE"; do
        /usr/bin/time -f "peak RSS %M KB: $b $repo" "$b" scan --staged --no-config -q "$repo" || true
    done
done
