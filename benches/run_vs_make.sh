#!/usr/bin/env bash
# signalbox vs xargs vs make on 1,000 `true` steps in 10 chains of 100, two at a time.
#
#   bash benches/run_vs_make.sh [RUNS]        # from the package root; RUNS defaults to 10
#
# What is timed (wall clock, mean over RUNS runs, after one warm-up run of each):
#   signalbox  signalbox run chains.yaml --headless --jobs 2 --state-dir DIR 2>/dev/null
#              (journal on: every run writes DIR/runs/<id>/events.jsonl, logs/, outputs/)
#   xargs      seq 1000 | xargs -P2 -n1 sh -c true
#   make       make -j2 -f Makefile     (10 chains of 100 .PHONY targets, recipe `@true`)
# Goals: signalbox/xargs <= 1.3, signalbox/make < 1.
#
# Environment:
#   RUNS=N               runs per command (the first argument wins)
#   BENCH_TIMER=auto     `hyperfine` when it is installed, else a bash loop (`loop`);
#                        the loop runs the three commands round-robin
#   TMPDIR=/some/dir     where the temporary folder (workflow, Makefile, state dir) goes.
#                        signalbox writes files for every step (journal, fdatasync before
#                        spawns, logs/, outputs/, pids/), so the state dir's file system
#                        shows in the figure: compare with TMPDIR=/dev/shm (tmpfs). On an
#                        ext4 without a journal, files deleted in the last minutes (a
#                        previous run of this script) make creating files slower.
#   SIGNALBOX_BIN=PATH   use this binary instead of building target/release/signalbox
#   BENCH_STRICT=1       exit 1 when a goal is missed
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${1:-${RUNS:-10}}
CHAINS=10
LENGTH=100
JOBS=2
STEPS=$((CHAINS * LENGTH))
case $RUNS in '' | *[!0-9]* | 0) echo "usage: $0 [RUNS>0]" >&2; exit 2 ;; esac

for tool in make xargs seq awk; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 2; }
done

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-bench.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The same workflow as `python3 benches/gen.py chains 10 100`.
{
    printf 'name: bench\nsteps:\n'
    for ((c = 0; c < CHAINS; c++)); do
        for ((i = 0; i < LENGTH; i++)); do
            printf '  c%d-s%d:\n' "$c" "$i"
            ((i > 0)) && printf '    needs: [c%d-s%d]\n' "$c" $((i - 1))
            printf '    run: true\n'
        done
    done
} >"$TMP/chains.yaml"

# The same graph for make: every step a .PHONY target whose recipe is `@true`.
{
    printf '.PHONY: all'
    for ((c = 0; c < CHAINS; c++)); do
        for ((i = 0; i < LENGTH; i++)); do printf ' c%d-s%d' "$c" "$i"; done
    done
    printf '\nall:'
    for ((c = 0; c < CHAINS; c++)); do printf ' c%d-s%d' "$c" $((LENGTH - 1)); done
    printf '\n'
    for ((c = 0; c < CHAINS; c++)); do
        for ((i = 0; i < LENGTH; i++)); do
            if ((i > 0)); then
                printf 'c%d-s%d: c%d-s%d\n\t@true\n' "$c" "$i" "$c" $((i - 1))
            else
                printf 'c%d-s%d:\n\t@true\n' "$c" "$i"
            fi
        done
    done
} >"$TMP/Makefile"

# A make or a CI job around this script must not hand its jobserver to ours.
unset MAKEFLAGS MFLAGS GNUMAKEFLAGS MAKELEVEL

STATE="$TMP/state"
NAMES=(signalbox xargs make)
CMDS=(
    "'$BIN' run '$TMP/chains.yaml' --headless --jobs $JOBS --state-dir '$STATE' 2>/dev/null"
    "seq $STEPS | xargs -P$JOBS -n1 sh -c true"
    "make -j$JOBS -s -f '$TMP/Makefile'"
)

# Sanity: each command works, and signalbox really ran every step with its journal on.
for k in "${!CMDS[@]}"; do
    if ! (eval "${CMDS[$k]}") >/dev/null; then
        echo "error: ${NAMES[$k]} failed: ${CMDS[$k]}" >&2
        exit 1
    fi
done
journals=("$STATE"/runs/*/events.jsonl)
journal=${journals[0]}
succeeded=$(grep -c '"type":"step_succeeded"' "$journal" || true)
if [[ $succeeded != "$STEPS" ]]; then
    echo "error: the signalbox journal shows $succeeded of $STEPS steps succeeded" >&2
    exit 1
fi

timer=${BENCH_TIMER:-auto}
if [[ $timer == auto ]]; then
    if command -v hyperfine >/dev/null; then timer=hyperfine; else timer=loop; fi
fi

fstype=$(stat -f -c %T "$TMP" 2>/dev/null || echo "?")
load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo "?")
echo "$STEPS steps ($CHAINS chains of $LENGTH), --jobs $JOBS, $RUNS runs each, timer: $timer"
cpus=$(nproc 2>/dev/null || echo 1)
echo "cpus: $cpus, load average: $load, state dir on: $fstype ($TMP)"
if awk -v l="$load" -v c="$cpus" 'BEGIN { exit !(l + 0 > c / 2) }'; then
    echo "warning: the machine is busy (load $load on $cpus CPUs): expect noisy figures" >&2
fi

# Fills MEAN, SD, MIN, CPU (user+sys of the command and its children, mean), in seconds.
declare -A MEAN SD MED MIN CPU

if [[ $timer == hyperfine ]]; then
    args=()
    for k in "${!CMDS[@]}"; do args+=(-n "${NAMES[$k]}" "${CMDS[$k]}"); done
    hyperfine --style none --warmup 1 --runs "$RUNS" --export-csv "$TMP/times.csv" "${args[@]}" >/dev/null
    # command,mean,stddev,median,user,system,min,max
    while IFS=, read -r name mean sd median user sys min _max; do
        MEAN[$name]=$mean SD[$name]=$sd MED[$name]=$median MIN[$name]=$min
        CPU[$name]=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.6f", u + s }')
    done < <(tail -n +2 "$TMP/times.csv")
elif [[ $timer == loop ]]; then
    # Children's user+sys in microseconds from a `times` snapshot. `times` runs in this
    # shell, before and after each command: in a subshell it would see no children.
    child_cpu() {
        awk 'NR == 2 {
            t = 0
            for (f = 1; f <= 2; f++) { split($f, p, "m"); sub("s", "", p[2]); t += p[1] * 60 + p[2] }
            printf "%d", t * 1e6
        }' "$1"
    }
    # Microseconds since the epoch; bash 5 has it without a fork.
    if [[ -n ${EPOCHREALTIME:-} ]]; then
        now_us() { local t=$EPOCHREALTIME; REPLY=${t//[.,]/}; }
    else
        now_us() { REPLY=$(date +%s%6N); }
    fi
    declare -A WALLS CPUS
    for ((r = 0; r <= RUNS; r++)); do # run 0 is the warm-up
        for k in "${!CMDS[@]}"; do
            times >"$TMP/cpu0"
            now_us; t0=$REPLY
            eval "${CMDS[$k]}" >/dev/null
            now_us; t1=$REPLY
            times >"$TMP/cpu1"
            if ((r > 0)); then
                WALLS[${NAMES[$k]}]+="$((t1 - t0)) "
                CPUS[${NAMES[$k]}]+="$(($(child_cpu "$TMP/cpu1") - $(child_cpu "$TMP/cpu0"))) "
            fi
        done
    done
    for name in "${NAMES[@]}"; do
        read -r "MEAN[$name]" "SD[$name]" "MED[$name]" "MIN[$name]" < <(echo "${WALLS[$name]}" | tr ' ' '\n' | grep . | sort -n | awk '
            { x[NR] = $1; s += $1 }
            END {
                n = NR; m = s / n; v = 0
                for (i = 1; i <= n; i++) v += (x[i] - m) ^ 2
                sd = n > 1 ? sqrt(v / (n - 1)) : 0
                med = n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2
                printf "%.6f %.6f %.6f %.6f\n", m / 1e6, sd / 1e6, med / 1e6, x[1] / 1e6
            }')
        CPU[$name]=$(echo "${CPUS[$name]}" | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.6f", s / NF / 1e6 }')
    done
else
    echo "error: BENCH_TIMER must be auto, hyperfine or loop" >&2
    exit 2
fi

echo
printf '%-10s %9s %9s %9s %9s %9s %12s\n' command "mean ms" "± sd ms" "median" "min ms" "cpu ms" "per step µs"
for name in "${NAMES[@]}"; do
    awk -v n="$name" -v m="${MEAN[$name]}" -v s="${SD[$name]}" -v med="${MED[$name]}" -v lo="${MIN[$name]}" \
        -v c="${CPU[$name]}" -v steps="$STEPS" -v jobs="$JOBS" \
        'BEGIN { printf "%-10s %9.1f %9.1f %9.1f %9.1f %9.1f %12.0f\n", n, m * 1e3, s * 1e3, med * 1e3, lo * 1e3, c * 1e3, m * 1e6 * jobs / steps }'
done
echo "(cpu: user+sys of the command and its children, mean per run; per step: mean wall × jobs / steps)"
echo

missed=0
ratio() { # name goal-op goal
    awk -v a="${MEAN[signalbox]}" -v b="${MEAN[$1]}" -v op="$2" -v goal="$3" -v n="$1" 'BEGIN {
        r = a / b
        ok = (op == "<=") ? (r <= goal) : (r < goal)
        printf "signalbox/%-6s %6.2fx   goal %s %s   %s\n", n, r, op, goal, ok ? "met" : "MISSED"
        exit ok ? 0 : 1
    }' || missed=1
}
ratio xargs "<=" 1.3
ratio make "<" 1

if ((missed)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
