#!/usr/bin/env bash
# A hook costs the run nothing: 1,000 `true` steps in 10 chains of 100, --jobs 2,
# with and without a hook on every step_succeeded that sleeps 1 s.
#
#   bash benches/hooks_1000.sh [ROUNDS]      # from the package root; ROUNDS defaults to 5
#
# Each round runs both workflows, one after the other (in alternating order), after one
# warm-up of each. Timed: the wall clock of `signalbox run FILE --headless --jobs 2`, to
# the process's exit. With the hook, at most 4 hook processes run at once and each hook
# queues 256 events, so nearly every event is dropped for the hook (and counted in
# signalbox.log); the one hook process running at the end is stopped. Goal: the median
# with the hook within 1.10x of the median without.
#
# Environment:
#   SIGNALBOX_BIN=PATH   use this binary instead of building target/release/signalbox
#   TMPDIR=/some/dir     where the workflows and state dirs go (deleted at the end)
#   BENCH_STRICT=1       exit 1 when the goal is missed
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${1:-5}
case $ROUNDS in '' | *[!0-9]* | 0) echo "usage: $0 [ROUNDS>0]" >&2; exit 2 ;; esac

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-hooks.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

steps() {
    for ((c = 0; c < 10; c++)); do
        for ((i = 0; i < 100; i++)); do
            printf '  c%d-s%d:\n' "$c" "$i"
            ((i > 0)) && printf '    needs: [c%d-s%d]\n' "$c" $((i - 1))
            printf '    run: true\n'
        done
    done
}
{ printf 'name: bench\nsteps:\n'; steps; } >"$TMP/plain.yaml"
{
    printf 'name: bench\nhooks:\n  - name: slow\n    on: [step_succeeded]\n    run: sleep 1\n'
    printf 'steps:\n'
    steps
} >"$TMP/hooked.yaml"

now_us() { local t=$EPOCHREALTIME; REPLY=${t//[.,]/}; }

# Runs one workflow; prints its wall time in µs.
one() {
    local state="$TMP/state-$1"
    rm -rf "$state"
    now_us; local t0=$REPLY
    "$BIN" run "$TMP/$1.yaml" --headless --jobs 2 --state-dir "$state" 2>/dev/null
    now_us; local t1=$REPLY
    local journal=("$state"/runs/*/events.jsonl)
    local ok
    ok=$(grep -c '"type":"step_succeeded"' "${journal[0]}" || true)
    [[ $ok == 1000 ]] || { echo "error: $1: $ok of 1000 steps succeeded" >&2; exit 1; }
    echo $((t1 - t0))
}

one plain >/dev/null
one hooked >/dev/null
grep -q 'hook `slow` dropped' "$TMP/state-hooked/signalbox.log" ||
    { echo "error: the hooked run logged no drops" >&2; exit 1; }
drops=$(grep -o 'hook `slow` dropped [0-9]*' "$TMP/state-hooked/signalbox.log" | tail -1)
ran=$(grep -c '"type":"hook_finished"' "$TMP"/state-hooked/runs/*/events.jsonl || true)

plain=() hooked=()
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2)); then
        hooked+=("$(one hooked)"); plain+=("$(one plain)")
    else
        plain+=("$(one plain)"); hooked+=("$(one hooked)")
    fi
done

median() { printf '%s\n' "$@" | sort -n | awk '{ x[NR] = $1 } END { print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'; }
mp=$(median "${plain[@]}")
mh=$(median "${hooked[@]}")
echo "1000 steps (10 chains of 100), --jobs 2, $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)"
echo "without hooks: median $((mp / 1000)) ms  (${plain[*]} µs)"
echo "with the hook: median $((mh / 1000)) ms  (${hooked[*]} µs)"
echo "the warm-up's hook: $ran hook_finished journaled, $drops events"
awk -v a="$mh" -v b="$mp" 'BEGIN { r = a / b; printf "ratio %.3fx   goal <= 1.10   %s\n", r, r <= 1.10 ? "met" : "MISSED"; exit !(r <= 1.10) }' ||
    { [[ ${BENCH_STRICT:-0} == 1 ]] && exit 1; true; }
