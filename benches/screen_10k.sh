#!/usr/bin/env bash
# How much the screen slows a run: 10,000 `true` steps in 10 chains, `--jobs 2`,
# on the screen (a detached tmux session of 160x48) and headless.
#
#   bash benches/screen_10k.sh [RUNS]     # from the package root; RUNS defaults to 3
#
# Each run's figure is its `run_finished` event's `duration_ms` in the journal
# (from the run's start to its end, the same clock for both), and the CPU the
# signalbox process used, its own and not its steps' (user+sys from /proc, read
# when the run has ended; the screen stays up until it is killed; headless, the
# last reading before it exits, up to 0.2 s early). The figure is the median over RUNS, the
# runs alternating screen and headless. Goal (issue 11): screen <= 1.15x headless.
#
# Environment: STEPS (default 10000, a multiple of 10), SIGNALBOX_BIN, TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${1:-${RUNS:-3}}
STEPS=${STEPS:-10000}
CHAINS=10
JOBS=2
case $RUNS$STEPS in *[!0-9]*) echo "usage: $0 [RUNS]" >&2; exit 2 ;; esac
((RUNS > 0 && STEPS % CHAINS == 0 && STEPS > 0)) || { echo "usage: $0 [RUNS>0]" >&2; exit 2; }
command -v tmux >/dev/null || { echo "error: tmux is required" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-screen.XXXXXX")
SESSION="signalbox-screen-$$"
cleanup() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

awk -v chains="$CHAINS" -v len=$((STEPS / CHAINS)) 'BEGIN {
    print "name: bench"; print "steps:"
    for (c = 0; c < chains; c++) for (i = 0; i < len; i++) {
        printf "  c%d-s%d:\n", c, i
        if (i > 0) printf "    needs: [c%d-s%d]\n", c, i - 1
        print "    run: true"
    }
}' >"$TMP/chains.yaml"

# The run's duration_ms, once its journal under $1 says it finished. With a
# pid as $2, that process's CPU so far goes to $TMP/cpu at each look, so the
# last look before a headless run exits is kept.
finished_ms() {
    local deadline=$((SECONDS + 900)) j
    while :; do
        [[ -n ${2:-} ]] && cpu_ms "$2" >"$TMP/cpu.new" 2>/dev/null && mv "$TMP/cpu.new" "$TMP/cpu"
        for j in "$1"/runs/*/events.jsonl; do
            if [[ -f $j ]] && tail -n 1 "$j" | grep -q '"type":"run_finished"'; then
                tail -n 1 "$j" | sed -E 's/.*"duration_ms":([0-9]+).*/\1/'
                return
            fi
        done
        ((SECONDS < deadline)) || { echo "error: the run did not finish" >&2; exit 1; }
        sleep 0.2
    done
}

# user+sys of process $1 in ms, from /proc/PID/stat (fields 14 and 15, in ticks).
cpu_ms() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%d", ($12 + $13) * 1000 / hz }' \
        "/proc/$1/stat"
}

screen_run() {
    local state=$TMP/state pid ms cpu
    rm -rf "$state"
    tmux new-session -d -s "$SESSION" -x 160 -y 48 \
        "exec '$BIN' run '$TMP/chains.yaml' --jobs $JOBS --state-dir '$state' 2>/dev/null"
    pid=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
    ms=$(finished_ms "$state")
    # The screen draws the end once more after the journal has it.
    sleep 0.3
    cpu=$(cpu_ms "$pid" 2>/dev/null || echo 0)
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    echo "$ms $cpu"
}

headless_run() {
    local state=$TMP/state ms cpu
    rm -rf "$state"
    "$BIN" run "$TMP/chains.yaml" --headless --jobs "$JOBS" --state-dir "$state" \
        </dev/null >/dev/null 2>&1 &
    local pid=$!
    echo 0 >"$TMP/cpu"
    ms=$(finished_ms "$state" "$pid")
    # Read before the process is reaped (or its last look, 0.2 s before).
    cpu=$(cpu_ms "$pid" 2>/dev/null || cat "$TMP/cpu")
    wait "$pid" || true
    echo "$ms $cpu"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

echo "$STEPS steps (10 chains), --jobs $JOBS, $RUNS runs each; cpus: $(nproc)," \
    "load average: $(cut -d' ' -f1 /proc/loadavg)"
headless_run >/dev/null # warm-up
S_MS=() S_CPU=() H_MS=() H_CPU=()
for ((r = 1; r <= RUNS; r++)); do
    read -r ms cpu < <(screen_run)
    S_MS+=("$ms") S_CPU+=("$cpu")
    read -r hms hcpu < <(headless_run)
    H_MS+=("$hms") H_CPU+=("$hcpu")
    echo "  run $r: screen $ms ms ($cpu ms CPU), headless $hms ms ($hcpu ms CPU)"
done
s=$(printf '%s\n' "${S_MS[@]}" | median)
h=$(printf '%s\n' "${H_MS[@]}" | median)
sc=$(printf '%s\n' "${S_CPU[@]}" | median)
hc=$(printf '%s\n' "${H_CPU[@]}" | median)
ratio=$(awk -v a="$s" -v b="$h" 'BEGIN { printf "%.2f", a / b }')
echo "screen (tmux 160x48): $s ms, signalbox CPU $sc ms; headless: $h ms, CPU $hc ms:" \
    "${ratio}x (goal <= 1.15x)"
if [[ ${BENCH_STRICT:-0} == 1 ]] && awk -v r="$ratio" 'BEGIN { exit !(r > 1.15) }'; then
    exit 1
fi
