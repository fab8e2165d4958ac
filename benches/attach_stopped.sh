#!/usr/bin/env bash
# What two attached screens cost a run when one of them is stopped (SIGSTOP)
# for the whole run: the 1,000-step benchmark (10 chains of 100 `true` steps,
# benches/gen.py) detached, with and without the screens.
#
#   bash benches/attach_stopped.sh [ROUNDS]     # from the package root; ROUNDS defaults to 5
#
# Each round is one run of each kind, alternating which goes first. "with":
# the workflow's first step waits for a file the benchmark makes (`until
# [ -e GO ]`, polled every 10 ms), so the screens are attached before any
# work: `run FILE --detach`, two `signalbox attach RUN` in tmux sessions of
# 160x48, the second stopped with SIGSTOP as soon as its first frame is on
# screen, then GO. "none": the same run with no screen. The figure is the
# time from the first step's `step_succeeded` to the `run_finished` event,
# read from the journal's `ts` (ms): the whole workflow after the start
# gate. Also shown: the run process's own CPU (utime+stime; not its steps'),
# which other work on a shared machine disturbs less than the wall time, and
# the live screen's own CPU and wake-ups over the same span. The stopped screen gets SIGCONT and SIGTERM after the run; nothing
# is left running. Goal (issue 12): with <= 1.05 x none, medians. Each
# round's own ratio is shown too, and their median and spread.
#
# Environment: CHAINS, LENGTH (default 10 and 100), JOBS (default 2), WITH
# (both, the default; live or stopped: only that screen, to tell them apart),
# SIGNALBOX_BIN, TMPDIR, BENCH_STRICT=1 (exit 1 when the goal is missed).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${1:-${ROUNDS:-5}}
CHAINS=${CHAINS:-10}
LENGTH=${LENGTH:-100}
JOBS=${JOBS:-2}
# Which screens "with" has: both (the goal's case), or only one of them, to
# tell their costs apart.
WITH=${WITH:-both}
GOAL=1.05
case $WITH in both | live | stopped) ;; *) echo "error: WITH is both, live or stopped" >&2; exit 2 ;; esac
case $ROUNDS$CHAINS$LENGTH$JOBS in *[!0-9]*) echo "usage: $0 [ROUNDS]" >&2; exit 2 ;; esac
((ROUNDS > 0)) || { echo "usage: $0 [ROUNDS>0]" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is required (benches/gen.py)" >&2; exit 2; }

source benches/bin.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-stopped.XXXXXX")
source benches/attach_lib.sh
trap 'attach_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The chains, behind one gate step that every chain's first step needs.
python3 benches/gen.py chains "$CHAINS" "$LENGTH" >"$TMP/chains.yaml"
{
    printf 'name: bench\nsteps:\n  gate:\n    run: "until [ -e %s ]; do sleep 0.01; done"\n' "$TMP/GO"
    sed -n '3,$p' "$TMP/chains.yaml" |
        awk '/^  c[0-9]+-s0:$/ { print; print "    needs: [gate]"; next } { print }'
} >"$TMP/gated.yaml"
STEPS=$((CHAINS * LENGTH + 1))

TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ms since the epoch of an RFC 3339 `ts` (UTC, with milliseconds).
ts_ms() {
    local ts=$1 s
    s=$(date -u -d "${ts%.*}Z" +%s)
    REPLY=$((s * 1000 + 10#${ts: -4:3}))
}

# Waits for the run to finish; REPLY: ms from the gate's step_succeeded to
# run_finished; CPU: the run process's own CPU in ms (utime+stime, read once
# the journal has run_finished, or its last reading before it exited, up to
# 0.1 s early; not its steps').
measure() {
    local deadline=$((SECONDS + 900)) last g f
    CPU=0
    while :; do
        if [[ -r /proc/$RUN_PID/stat ]] && ticks "$RUN_PID" 2>/dev/null; then
            CPU=$((REPLY * 1000 / TICK))
        fi
        last=$(tail -n 1 "$JOURNAL")
        [[ $last == *'"type":"run_finished"'* ]] && break
        ((SECONDS < deadline)) || { echo "error: the run did not finish" >&2; exit 1; }
        sleep 0.1
    done
    [[ $last == *'"status":"succeeded"'* ]] || { echo "error: the run did not succeed: $last" >&2; exit 1; }
    g=$(grep -m 1 -F '"type":"step_succeeded","step":"gate"' "$JOURNAL" | sed -E 's/.*"ts":"([^"]+)".*/\1/')
    f=$(sed -E 's/.*"ts":"([^"]+)".*/\1/' <<<"$last")
    ts_ms "$g"; g=$REPLY
    ts_ms "$f"; f=$REPLY
    REPLY=$((f - g))
}

# Waits until the screen of session $1 shows the graph.
first_frame() {
    local deadline=$((SECONDS + 30))
    until [[ $(tm capture-pane -p -t "$1" 2>/dev/null) == *"graph $STEPS steps"* ]]; do
        ((SECONDS < deadline)) || { echo "error: screen $1 drew nothing in 30 s" >&2; exit 1; }
        sleep 0.02
    done
}

one_run() {
    local with=$1
    STATE=$TMP/state
    rm -rf "$STATE" "$TMP/GO"
    detach_run "$TMP/gated.yaml" "$STATE" --jobs "$JOBS"
    wait_journal '"type":"step_started","step":"gate"' 1
    LIVE_PID=
    if ((with)) && [[ $WITH != stopped ]]; then
        attach_screen live
        first_frame live
        LIVE_PID=$PANE_PID
    fi
    if ((with)) && [[ $WITH != live ]]; then
        attach_screen stopped
        first_frame stopped
        kill -STOP "$PANE_PID"
        STOPPED_PIDS+=("$PANE_PID")
    fi
    [[ -n $LIVE_PID ]] && thread_ns "$LIVE_PID" >"$TMP/live0"
    touch "$TMP/GO"
    measure
    local ms=$REPLY cpu=$CPU
    SCREEN= SCREEN_MS=
    if [[ -n $LIVE_PID ]]; then
        thread_ns "$LIVE_PID" >"$TMP/live1"
        read -r ns sw < <(ns_between "$TMP/live0" "$TMP/live1")
        SCREEN_MS=$((ns / 1000000))
        SCREEN="; the live screen's CPU $SCREEN_MS ms, $sw wake-ups"
    fi
    if ((with)); then
        # What the stopped screen asked the run to keep is still there; it
        # reads on from the journal once it goes on.
        leave_screen stopped
        leave_screen live
        STOPPED_PIDS=()
    fi
    for _ in $(seq 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$RUN_PID" 2>/dev/null && { echo "error: the run's process is still there after its end" >&2; exit 1; }
    REPLY=$ms CPU=$cpu
}

echo "$((STEPS - 1)) steps ($CHAINS chains) + a start gate, --jobs $JOBS, $ROUNDS rounds; cpus: $(nproc)," \
    "load average: $(cut -d' ' -f1 /proc/loadavg)"
one_run 0 >/dev/null # warm-up
W=() N=() WC=() NC=() R=() SMS=()
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        one_run 1; w=$REPLY wc=$CPU seen=$SCREEN sms=$SCREEN_MS
        one_run 0; n=$REPLY nc=$CPU
    else
        one_run 0; n=$REPLY nc=$CPU
        one_run 1; w=$REPLY wc=$CPU seen=$SCREEN sms=$SCREEN_MS
    fi
    SCREEN=$seen
    [[ -n $sms ]] && SMS+=("$sms")
    W+=("$w") N+=("$n") WC+=("$wc") NC+=("$nc")
    R+=("$(awk -v a="$w" -v b="$n" 'BEGIN { printf "%.3f", a / b }')")
    echo "  round $r: with screens ($WITH) $w ms (run process CPU $wc ms), none $n ms (CPU $nc ms): ${R[-1]}x$SCREEN"
done
w=$(printf '%s\n' "${W[@]}" | median)
n=$(printf '%s\n' "${N[@]}" | median)
wc=$(printf '%s\n' "${WC[@]}" | median)
nc=$(printf '%s\n' "${NC[@]}" | median)
ratio=$(awk -v a="$w" -v b="$n" 'BEGIN { printf "%.3f", a / b }')
cratio=$(awk -v a="$wc" -v b="$nc" 'BEGIN { printf "%.3f", (b > 0) ? a / b : 0 }')
if awk -v r="$ratio" -v g="$GOAL" 'BEGIN { exit !(r <= g) }'; then v=met; else v=MISSED; fi
case $WITH in
    both) what="two attached screens, one stopped" ;;
    live) what="one attached screen" ;;
    stopped) what="one attached screen, stopped" ;;
esac
echo "$((STEPS - 1))-step run with $what: median $w ms; with none: $n ms:" \
    "${ratio}x (goal <= ${GOAL}x): $v; the run process's CPU: $wc ms vs $nc ms, ${cratio}x"
if ((${#SMS[@]})); then
    echo "the live screen's CPU: median $(printf '%s\n' "${SMS[@]}" | median) ms"
fi
# Each round's own ratio tells how far other work on the machine moved it.
echo "each round's with / none: median $(printf '%s\n' "${R[@]}" | median)x," \
    "from $(printf '%s\n' "${R[@]}" | sort -n | head -n 1)x to $(printf '%s\n' "${R[@]}" | maximum)x"
if [[ $v == MISSED && ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
