#!/usr/bin/env bash
# How long `signalbox resume` takes to start a step when the journal holds
# about 100,000 events.
#
#   bash benches/resume_100k.sh [LINES] [REPEAT]      # defaults: 100000 5
#
# Builds the journal with a real run: step `big` prints LINES lines
# (`seq LINES`, one `step_output` event each), then step `slow` starts
# (`sleep 600`) and signalbox is killed with SIGKILL. Then, REPEAT times:
# `signalbox resume RUN --headless --state-dir DIR </dev/null` is started, and
# the time from just before its start to the journaled `step_started` of the
# re-run `slow` (the event's `ts`) is the figure; the resume is killed in turn
# and the next one starts from the same, slightly longer journal. `slow`'s
# processes are killed by this script after each kill.
# Goal (issue 5): the first step starts within 1 s.
#
# Environment: SIGNALBOX_BIN (use this binary instead of building), TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed), KEEP=1.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

LINES=${1:-100000}
REPEAT=${2:-5}
GOAL_MS=1000
case $LINES$REPEAT in *[!0-9]*) echo "usage: $0 [LINES] [REPEAT]" >&2; exit 2 ;; esac
((LINES > 0 && REPEAT > 0)) || { echo "usage: $0 [LINES>0] [REPEAT>0]" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-resume100k.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    kill_slow
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
# `slow` writes its process group to slow.pgid each time it starts.
kill_slow() {
    if [[ -s $TMP/slow.pgid ]]; then
        kill -KILL -- "-$(cat "$TMP/slow.pgid")" 2>/dev/null || true
        rm -f "$TMP/slow.pgid"
    fi
}
trap cleanup EXIT

cat >"$TMP/big.yaml" <<EOF
name: big
steps:
  big:
    run: seq $LINES
  slow:
    needs: [big]
    run: echo \$\$ > slow.pgid; exec sleep 600
EOF

now_ms() { date +%s%3N; }
ts_ms() { date -d "$1" +%s%3N; }

# Waits until the journal holds `want` step_started events of `slow`.
wait_started() {
    local want=$1 deadline=$(($(now_ms) + 120000))
    while (($(grep -c '"type":"step_started","step":"slow"' "$JOURNAL" || true) < want)); do
        (($(now_ms) < deadline)) || { echo "error: slow never started" >&2; exit 1; }
        kill -0 "$PID" 2>/dev/null || { echo "error: signalbox ended" >&2; exit 1; }
        sleep 0.002
    done
}

cd "$TMP"
echo "building a journal: $LINES lines of output, then a slow step" >&2
"$BIN" run big.yaml --headless --state-dir state </dev/null >/dev/null 2>"$TMP/run.err" &
PID=$!
for _ in $(seq 1 1000); do
    RUN=$(ls state/runs 2>/dev/null | head -n 1 || true)
    [[ -n $RUN ]] && break
    sleep 0.01
done
JOURNAL=$TMP/state/runs/$RUN/events.jsonl
wait_started 1
{ kill -KILL "$PID" && wait "$PID"; } 2>/dev/null || true
PID=
kill_slow
EVENTS=$(wc -l <"$JOURNAL")
BYTES=$(wc -c <"$JOURNAL")
echo "journal: $EVENTS events, $((BYTES / 1024)) KiB" >&2

FIGURES=()
for ((r = 1; r <= REPEAT; r++)); do
    sync
    t0=$(now_ms)
    "$BIN" resume "$RUN" --headless --state-dir state </dev/null >/dev/null 2>>"$TMP/resume.err" &
    PID=$!
    wait_started $((r + 1))
    seen=$(now_ms)
    { kill -KILL "$PID" && wait "$PID"; } 2>/dev/null || true
    PID=
    kill_slow
    line=$(grep '"type":"step_started","step":"slow"' "$JOURNAL" | tail -n 1)
    started=$(sed -E 's/.*"ts":"([^"]+)".*/\1/' <<<"$line")
    resumed=$(grep '"resumed":true' "$JOURNAL" | tail -n 1 | sed -E 's/.*"ts":"([^"]+)".*/\1/')
    ms=$(($(ts_ms "$started") - t0))
    echo "  resume $r: run_started at +$(($(ts_ms "$resumed") - t0)) ms," \
        "slow started at +$ms ms (seen in the journal at +$((seen - t0)) ms)" >&2
    FIGURES+=("$ms")
done

sorted=$(printf '%s\n' "${FIGURES[@]}" | sort -n)
median=$(sed -n "$(((REPEAT + 1) / 2))p" <<<"$sorted")
worst=$(tail -n 1 <<<"$sorted")
echo "resume of a run with $EVENTS journaled events: first step started in $median ms" \
    "(median of $REPEAT; worst $worst ms; goal < $GOAL_MS ms)"
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((worst >= GOAL_MS)); then
    exit 1
fi
