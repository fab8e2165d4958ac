#!/usr/bin/env bash
# How long `signalbox edit` takes to check and apply an edit of a live
# 10,000-step run, end to end: the command started, the file read, sent
# through the run's socket, planned and applied in the run's loop (the
# revision written and synced, `dag_modified` journaled and synced, the
# graph changed), the reply printed, the command exited.
#
#   bash benches/edit_10k.sh [STEPS] [REPEAT]      # defaults: 10000 9
#
# The run: an approval `gate`, then STEPS-1 steps that need it, so the run
# stays live and every step is pending. Each repeat adds one more step
# (`extra_N`, needing `gate`) with `signalbox edit RUN --file F --yes`.
# Goal (issue 13): under 200 ms.
#
# Environment: SIGNALBOX_BIN (use this binary instead of building), TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed), KEEP=1.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STEPS=${1:-10000}
REPEAT=${2:-9}
GOAL_MS=200
case $STEPS$REPEAT in *[!0-9]*) echo "usage: $0 [STEPS] [REPEAT]" >&2; exit 2 ;; esac
((STEPS > 1 && REPEAT > 0)) || { echo "usage: $0 [STEPS>1] [REPEAT>0]" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-edit10k.XXXXXX")
RUN=
cleanup() {
    [[ -n $RUN ]] && "$BIN" reject "$RUN" gate --state-dir "$TMP/state" 2>/dev/null || true
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept: $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

workflow() { # extra steps
    printf 'name: big\nsteps:\n  gate:\n    approval: { prompt: go? }\n'
    for ((i = 1; i < STEPS; i++)); do
        printf '  s%d:\n    needs: [gate]\n    run: "true"\n' "$i"
    done
    for ((e = 1; e <= $1; e++)); do
        printf '  extra_%d:\n    needs: [gate]\n    run: "true"\n' "$e"
    done
}

cd "$TMP"
workflow 0 >w0.yaml
for ((r = 1; r <= REPEAT; r++)); do workflow "$r" >"w$r.yaml"; done
RUN=$("$BIN" run w0.yaml --detach --state-dir state)
echo "run $RUN: $STEPS steps, live at its gate" >&2

now_ms() { date +%s%3N; }
FIGURES=()
for ((r = 1; r <= REPEAT; r++)); do
    t0=$(now_ms)
    "$BIN" edit "$RUN" --file "w$r.yaml" --yes --state-dir state </dev/null >"edit$r.out" 2>"edit$r.err" ||
        { echo "error: edit $r failed; see $TMP/edit$r.err" >&2; KEEP=1; exit 1; }
    ms=$(($(now_ms) - t0))
    grep -q "applied: revision $r of" "edit$r.out" ||
        { echo "error: edit $r did not apply revision $r; see $TMP/edit$r.out" >&2; KEEP=1; exit 1; }
    echo "  edit $r (+extra_$r): $ms ms" >&2
    FIGURES+=("$ms")
done

sorted=$(printf '%s\n' "${FIGURES[@]}" | sort -n)
median=$(sed -n "$(((REPEAT + 1) / 2))p" <<<"$sorted")
worst=$(tail -n 1 <<<"$sorted")
echo "edit of a live $STEPS-step run, checked and applied (the whole command): $median ms" \
    "(median of $REPEAT; worst $worst ms; goal < $GOAL_MS ms)"
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((worst >= GOAL_MS)); then
    exit 1
fi
