#!/usr/bin/env bash
# How long `signalbox retry` of a finished run takes to start its first step
# when the journal holds about 100,000 events.
#
#   bash benches/retry_100k.sh [LINES] [REPEAT]      # defaults: 100000 5
#
# Builds the journal with a real run: step `big` prints LINES lines
# (`seq LINES`, one `step_output` event each), then step `last` fails and
# the run ends failed. Then, REPEAT times: `signalbox retry RUN --headless
# --state-dir DIR </dev/null` is started, and the time from just before its
# start to the journaled `step_started` of the retried `last` (the event's
# `ts`) is the figure; `last` fails again, so the run ends failed again and
# the next retry starts from the same, slightly longer journal.
# Goal (issue 13): the first step starts within 1 s.
#
# Environment: SIGNALBOX_BIN (use this binary instead of building), TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed), KEEP=1.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LINES=${1:-100000}
REPEAT=${2:-5}
GOAL_MS=1000
case $LINES$REPEAT in *[!0-9]*) echo "usage: $0 [LINES] [REPEAT]" >&2; exit 2 ;; esac
((LINES > 0 && REPEAT > 0)) || { echo "usage: $0 [LINES>0] [REPEAT>0]" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-retry100k.XXXXXX")
cleanup() {
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

cat >"$TMP/big.yaml" <<YAML
name: big
steps:
  big:
    run: seq $LINES
  last:
    needs: [big]
    run: exit 1
YAML

now_ms() { date +%s%3N; }
ts_ms() { date -d "$1" +%s%3N; }

cd "$TMP"
echo "building a journal: $LINES lines of output, then a failing step" >&2
if "$BIN" run big.yaml --headless --state-dir state </dev/null >/dev/null 2>"$TMP/run.err"; then
    echo "error: the run succeeded; \`last\` was to fail" >&2
    exit 1
fi
RUN=$(ls state/runs | head -n 1)
JOURNAL=$TMP/state/runs/$RUN/events.jsonl
EVENTS=$(wc -l <"$JOURNAL")
BYTES=$(wc -c <"$JOURNAL")
echo "journal: $EVENTS events, $((BYTES / 1024)) KiB" >&2

FIGURES=()
for ((r = 1; r <= REPEAT; r++)); do
    sync
    t0=$(now_ms)
    code=0
    "$BIN" retry "$RUN" --headless --state-dir state </dev/null >/dev/null 2>>"$TMP/retry.err" || code=$?
    ((code == 1)) || { echo "error: retry $r exited $code; see $TMP/retry.err" >&2; KEEP=1; exit 1; }
    line=$(grep '"type":"step_started","step":"last"' "$JOURNAL" | tail -n 1)
    started=$(sed -E 's/.*"ts":"([^"]+)".*/\1/' <<<"$line")
    resumed=$(grep '"resumed":true' "$JOURNAL" | tail -n 1 | sed -E 's/.*"ts":"([^"]+)".*/\1/')
    ms=$(($(ts_ms "$started") - t0))
    echo "  retry $r: run_started at +$(($(ts_ms "$resumed") - t0)) ms," \
        "last started at +$ms ms" >&2
    FIGURES+=("$ms")
done

sorted=$(printf '%s\n' "${FIGURES[@]}" | sort -n)
median=$(sed -n "$(((REPEAT + 1) / 2))p" <<<"$sorted")
worst=$(tail -n 1 <<<"$sorted")
echo "retry of a finished run with $EVENTS journaled events: first step started in $median ms" \
    "(median of $REPEAT; worst $worst ms; goal < $GOAL_MS ms)"
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((worst >= GOAL_MS)); then
    exit 1
fi
