#!/usr/bin/env bash
# What exposure costs a history scan (figures in docs/performance.md,
# "Exposure"): `leakhound scan --git REPO` with the report's secrets (the
# default) against `--no-exposure`, alternating, RUNS runs of each (default
# 3); prints each run's wall time, CPU time (user + system) and peak RSS
# (GNU time) and the ratios of the medians. Target: at most 1.10. On a
# shared machine the CPU ratio is the steadier of the two.
#
#   bench/exposure.sh [REPO]        (LEAKHOUND=path/to/binary to skip the build)
#
# REPO defaults to the synthetic history of bench/history.sh (~12,000
# commits, a few keys committed and removed: bench/gen_history.py). A
# repository without findings measures nothing: exposure runs only for
# keys that were found.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
BIN=${LEAKHOUND:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  TARGET=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  BIN="$TARGET/release/leakhound"
fi
REPO=${1:-bench/data/history}
if [ ! -d "$REPO" ]; then
  mkdir -p "$REPO"
  git init -q "$REPO"
  python3 bench/gen_history.py | git -C "$REPO" fast-import --quiet
fi
on=() off=() rss_on=() rss_off=() cpu_on=() cpu_off=()
rss_file=$(mktemp)
trap 'rm -f "$rss_file"' EXIT
for _ in $(seq "$RUNS"); do
  for mode in on off; do
    extra=()
    [ "$mode" = off ] && extra=(--no-exposure)
    start=$(date +%s.%N)
    /usr/bin/time -f '%M %U %S' -o "$rss_file" \
      "$BIN" scan --git "$REPO" ${extra[@]+"${extra[@]}"} --format json -o /dev/null || [ $? -eq 1 ]
    end=$(date +%s.%N)
    t=$(echo "$end - $start" | bc)
    read -r kb user sys < <(tail -n 1 "$rss_file")
    cpu=$(echo "$user + $sys" | bc)
    echo "$mode $t s, CPU $cpu s, peak RSS $((kb / 1024)) MB"
    if [ "$mode" = on ]; then
      on+=("$t") cpu_on+=("$cpu") rss_on+=("$kb")
    else
      off+=("$t") cpu_off+=("$cpu") rss_off+=("$kb")
    fi
  done
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_on=$(median "${on[@]}") m_off=$(median "${off[@]}")
echo "median with exposure ${m_on} s, without ${m_off} s, ratio $(echo "scale=3; $m_on / $m_off" | bc)"
c_on=$(median "${cpu_on[@]}") c_off=$(median "${cpu_off[@]}")
echo "median CPU with exposure ${c_on} s, without ${c_off} s, ratio $(echo "scale=3; $c_on / $c_off" | bc)"
r_on=$(median "${rss_on[@]}") r_off=$(median "${rss_off[@]}")
echo "median peak RSS with exposure $((r_on / 1024)) MB, without $((r_off / 1024)) MB"
