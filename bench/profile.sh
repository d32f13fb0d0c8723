#!/usr/bin/env bash
# The figures in docs/performance.md that bench/run.sh and bench/history.sh
# do not print: CPU time by `perf stat`, where the time goes by
# `perf record`, single-thread throughput on a sample, and `-j 1`.
#
#   bench/profile.sh cpu [TREE]      perf stat (task-clock), 2 runs each of
#                                    rg -c -i -F -a -uuu -f KEYWORDS TREE and
#                                    leakhound scan --no-ignore TREE
#   bench/profile.sh record [TREE]   perf record -g of one leakhound scan of
#                                    TREE; the top symbols and libraries go to
#                                    bench/data/perf-{symbols,dso}.txt
#   bench/profile.sh sample [TREE]   the first ~118 MB of TREE's files copied
#                                    to bench/data/sample; MB/s of
#                                    `leakhound scan -j 1` and `rg -j 1` on it
#   bench/profile.sh record-history [REPO]  the same for `scan --git REPO`
#   bench/profile.sh history-j1 [REPO]  `leakhound scan --git -j 1` and
#                                    `-j 2` on REPO, median wall time of 3
#
# TREE defaults to bench/data/tree/repo (`bench/run.sh --keep` leaves it);
# REPO to bench/data/history-repo (`bench/history.sh` makes it). KEYWORDS is
# bench/data/keywords.txt, written here from `leakhound rules list`.
# Needs perf (linux-perf), rg and a release build (built here unless
# LEAKHOUND=PATH names a binary). perf may need
# `sysctl kernel.perf_event_paranoid=1`.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=bench/data
mkdir -p "$DATA"
die() { echo "bench/profile.sh: $*" >&2; exit 2; }

mode=${1:-}
[ -n "$mode" ] || { sed -n '2,/^set -euo/{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 2; }
shift
for tool in perf rg; do
    command -v "$tool" >/dev/null || die "needs $tool"
done
if [ -n "${LEAKHOUND:-}" ]; then
    BIN=$LEAKHOUND
else
    cargo build --release --quiet
    BIN=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/leakhound
fi
KEYWORDS=$DATA/keywords.txt
"$BIN" rules list --format json |
    python3 -c 'import json,sys
for k in sorted({k.lower() for r in json.load(sys.stdin) for k in r["keywords"]}): print(k)' >"$KEYWORDS"
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $("$BIN" --version); $(rg --version | sed -n 1p); $(wc -l <"$KEYWORDS") keywords" >&2

tree() {
    local t=${1:-$DATA/tree/repo}
    [ -d "$t" ] || die "no tree at $t: run bench/run.sh --keep first"
    echo "$t"
}

case $mode in
cpu)
    TREE=$(tree "${1:-}")
    for cmd in "rg -c -i -F -a -uuu -f $KEYWORDS $TREE" \
        "$BIN scan --no-config --no-ignore --format json --output /dev/null $TREE"; do
        echo "== $cmd"
        # -r 2: two runs; task-clock is the CPU time of all threads.
        perf stat -r 2 -e task-clock -- $cmd >/dev/null 2>"$DATA/perf-stat.txt" || true
        grep -E 'task-clock|elapsed' "$DATA/perf-stat.txt"
    done
    ;;
record | record-history)
    if [ "$mode" = record ]; then
        target=(--no-ignore "$(tree "${1:-}")")
    else
        REPO=${1:-$DATA/history-repo}
        [ -d "$REPO" ] || die "no repository at $REPO: run bench/history.sh first"
        target=(--git "$REPO")
    fi
    perf record -g -o "$DATA/perf.data" -- \
        "$BIN" scan --no-config "${target[@]}" --format json --output /dev/null --quiet || true
    perf report -i "$DATA/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
        grep -v '^#' | grep '%' | head -30 >"$DATA/perf-symbols.txt"
    perf report -i "$DATA/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        grep -v '^#' | grep '%' | head -15 >"$DATA/perf-dso.txt"
    echo "== by symbol"; cat "$DATA/perf-symbols.txt"
    echo "== by library"; cat "$DATA/perf-dso.txt"
    ;;
sample)
    TREE=$(tree "${1:-}")
    SAMPLE=$DATA/sample
    if [ ! -d "$SAMPLE" ]; then
        # Files in path order until 118 MB: the same sample every time.
        mkdir -p "$SAMPLE"
        (cd "$TREE" && find . -type f -print0 | sort -z |
            python3 -c '
import os, shutil, sys
total, limit = 0, 118_000_000
for p in sys.stdin.buffer.read().split(b"\0"):
    if not p or total >= limit: continue
    dst = os.path.join(sys.argv[1].encode(), p)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(p, dst)
    total += os.path.getsize(p)
' "$(cd "$OLDPWD" && pwd)/$SAMPLE")
    fi
    bytes=$(find "$SAMPLE" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
    rate() { # CMD...: MB/s of the best of 3 runs
        local best=
        for _ in 1 2 3; do
            local t0 t1
            t0=$(date +%s.%N)
            "$@" >/dev/null 2>&1 || true
            t1=$(date +%s.%N)
            best=$(awk -v a="$t1" -v b="$t0" -v m="${best:-1e9}" 'BEGIN {d = a - b; print (d < m ? d : m)}')
        done
        awk -v n="$bytes" -v t="$best" 'BEGIN {printf "%.0f MB/s (%.2f s)\n", n / t / 1e6, t}'
    }
    echo "sample: $bytes bytes"
    echo "leakhound scan -j 1: $(rate "$BIN" scan --no-config -j 1 --no-ignore --format json --output /dev/null "$SAMPLE")"
    echo "rg -j 1 -c -i -F -f KEYWORDS: $(rate rg -j 1 -c -i -F -a -uuu -f "$KEYWORDS" "$SAMPLE")"
    ;;
history-j1)
    REPO=${1:-$DATA/history-repo}
    [ -d "$REPO" ] || die "no repository at $REPO: run bench/history.sh first"
    for j in 1 2; do
        "$BIN" scan --no-config --git -j "$j" "$REPO" --format json --output /dev/null --quiet || true
        times=()
        for _ in 1 2 3; do
            t0=$(date +%s.%N)
            "$BIN" scan --no-config --git -j "$j" "$REPO" --format json --output /dev/null --quiet || true
            t1=$(date +%s.%N)
            times+=("$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.2f", a - b}')")
        done
        echo "scan --git -j $j: $(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p) s wall (median of 3: ${times[*]})"
    done
    ;;
*) die "unknown mode $mode (cpu, record, record-history, sample, history-j1)" ;;
esac
