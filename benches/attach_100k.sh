#!/usr/bin/env bash
# How long `signalbox attach` takes to show a run that journaled 100,000 events.
#
#   bash benches/attach_100k.sh [ROUNDS]     # from the package root; ROUNDS defaults to 5
#
# One detached run (`run FILE --detach`): a step prints LINES lines (each one
# a `step_output` event in the journal), then an approval that needs it
# opens and stays open, so the run stays live with LINES + 6 events. Each
# round opens `signalbox attach RUN` in a tmux session of 160x48 and polls
# `tmux capture-pane -p` until the screen shows what only the last events
# draw: the step's last line (`line LINES of the printer`) and the wait
# (`gate waits for approval` in the log, `waits 1 open` in the queue); the
# figure is the time from starting the attach to that screen. The screen is
# then left with SIGTERM (it detaches) before the next round. Also printed:
# when the first frame appeared (the graph's title). Goal (issue 12): the
# full screen within 1 s, median and max over the rounds.
#
# Environment: LINES_OUT (default 100000), SIGNALBOX_BIN, TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${1:-${ROUNDS:-5}}
LINES_OUT=${LINES_OUT:-100000}
GOAL_MS=1000
TIMEOUT_MS=30000
case $ROUNDS$LINES_OUT in *[!0-9]*) echo "usage: $0 [ROUNDS]" >&2; exit 2 ;; esac
((ROUNDS > 0 && LINES_OUT > 0)) || { echo "usage: $0 [ROUNDS>0]" >&2; exit 2; }

source benches/bin.sh
TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-attach.XXXXXX")
source benches/attach_lib.sh
trap 'attach_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$TMP/big.yaml" <<EOF
name: big
steps:
  print:
    run: seq -f 'line %g of the printer' 1 $LINES_OUT
  gate:
    needs: [print]
    approval: { prompt: "ship it?", timeout: 1h }
EOF

STATE=$TMP/state
detach_run "$TMP/big.yaml" "$STATE"
wait_journal '"type":"approval_requested"' 1
events=$(wc -l <"$JOURNAL")
echo "run $RUN: $events events journaled ($(du -k "$JOURNAL" | cut -f1) KiB); cpus: $(nproc)," \
    "load average: $(cut -d' ' -f1 /proc/loadavg)"

# Milliseconds from starting an attach to its full screen; the first frame's
# time goes to FIRST.
one_round() {
    local name=scr$1 t0 now screen first=
    now_us; t0=$REPLY
    attach_screen "$name"
    while :; do
        screen=$(tm capture-pane -p -t "$name" 2>/dev/null || true)
        now_us; now=$REPLY
        if [[ -z $first && $screen == *"graph 2 steps"* ]]; then first=$(((now - t0) / 1000)); fi
        if [[ $screen == *"line $LINES_OUT of the printer"* &&
            $screen == *"gate waits for approval"* && $screen == *"waits 1 open"* ]]; then
            break
        fi
        if (((now - t0) / 1000 > TIMEOUT_MS)); then
            echo "error: the screen was not complete after ${TIMEOUT_MS} ms; it shows:" >&2
            printf '%s\n' "$screen" >&2
            exit 1
        fi
        sleep 0.005
    done
    FIRST=$first
    REPLY=$(((now - t0) / 1000))
    leave_screen "$name"
}

ALL=() FIRSTS=()
for ((r = 1; r <= ROUNDS; r++)); do
    one_round "$r"
    ALL+=("$REPLY") FIRSTS+=("$FIRST")
    echo "  round $r: full screen after $REPLY ms (first frame after $FIRST ms)"
done
kill -0 "$RUN_PID" 2>/dev/null || { echo "error: the run ended during the rounds" >&2; exit 1; }

med=$(printf '%s\n' "${ALL[@]}" | median)
max=$(printf '%s\n' "${ALL[@]}" | maximum)
fmed=$(printf '%s\n' "${FIRSTS[@]}" | median)
verdict() { if awk -v x="$1" -v g="$GOAL_MS" 'BEGIN { exit !(x <= g) }'; then echo met; else echo MISSED; fi; }
vm=$(verdict "$med") vx=$(verdict "$max")
v=$vx
echo "attach to a run of $events events, full screen (tmux 160x48): median $med ms, max $max ms" \
    "over $ROUNDS rounds (first frame: median $fmed ms); goal <= $GOAL_MS ms: median $vm, max $vx"
if [[ $v == MISSED && ${BENCH_STRICT:-0} == 1 ]]; then exit 1; fi
