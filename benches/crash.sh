#!/usr/bin/env bash
# Crash test: `kill -9` a 20-step run at random moments, resume it to the end.
#
#   bash benches/crash.sh [N]          # N trials, default 50
#
# Each trial runs tests/fixtures/resume/crash.yaml (20 steps: short sleeps,
# parallel branches, s07 fails its first attempt and retries; every execution
# of a step appends its id to `count`) with
# `signalbox run FILE --headless --json --state-dir DIR </dev/null`, sends it
# SIGKILL at a random moment, then resumes it with `signalbox resume RUN`;
# some resumes are killed again at random moments (up to MAX_KILLS kills a
# trial), and the last resumes run until the journal ends with `run_finished`.
# After every kill the script records which steps the journal says succeeded,
# and how often each had run by then.
#
# A trial passes when the run ends `succeeded`, every step has exactly one
# `step_succeeded`, no step has a `step_started` after its `step_succeeded`,
# the journal's seq is 1, 2, 3... throughout, and no step whose success was
# journaled before a kill ran again after it (its count in `count` did not
# grow). Prints "N/N trials completed, 0 steps ran twice" and exits 1 when a
# trial fails.
#
# Environment: SIGNALBOX_BIN (use this binary instead of building one),
# SEED (for $RANDOM, default: the time), MAX_KILLS (default 3), KEEP=1 (keep
# the trial folders), TMPDIR.
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

N=${1:-50}
MAX_KILLS=${MAX_KILLS:-3}
SEED=${SEED:-$(date +%s)}
case $N$MAX_KILLS$SEED in *[!0-9]*) echo "usage: $0 [N]" >&2; exit 2 ;; esac
((N > 0 && MAX_KILLS > 0)) || { echo "usage: $0 [N>0]" >&2; exit 2; }
command -v jq >/dev/null || { echo "error: needs jq" >&2; exit 2; }
RANDOM=$SEED

source benches/bin.sh
WORKFLOW=$ROOT/tests/fixtures/resume/crash.yaml

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-crash.XXXXXX")
MARK="sbxcrash-$$-$SEED"
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    # Whatever this script started and is still alive (steps that outlived a kill).
    local p
    for p in $(grep -lsz "^SBX_CRASH_MARK=$MARK\$" /proc/[0-9]*/environ | cut -d/ -f3); do
        kill -KILL "$p" 2>/dev/null || true
    done
    if [[ ${KEEP:-0} == 1 ]]; then
        echo "kept: $TMP" >&2
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
export SBX_CRASH_MARK=$MARK

# A random number of milliseconds in [lo, hi].
rand_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# The whole lines of a journal (a kill can leave none torn, but be safe).
whole() { [[ -f $1 ]] && { grep -a '' "$1" | sed -n '/}$/p'; } || true; }

finished() { whole "$1" | tail -n 1 | grep -q '"type":"run_finished"'; }

# Starts signalbox in the background in the trial folder; PID is its pid.
start() {
    "$BIN" "$@" --headless --json --state-dir "$DIR/state" </dev/null \
        >>"$DIR/stdout" 2>>"$DIR/stderr" &
    PID=$!
}

# Kills signalbox after `ms` milliseconds (unless it ended) and records what
# the journal says had succeeded, with the count of each step at that moment.
kill_after() {
    sleep_ms "$1"
    if kill -KILL "$PID" 2>/dev/null; then
        KILLS=$((KILLS + 1))
    fi
    wait "$PID" 2>/dev/null || true
    PID=
    local n=$((${#SNAPS[@]}))
    whole "$JOURNAL" | jq -r 'select(.type == "step_succeeded") | .step' | sort -u >"$DIR/ok.$n"
    sort "$DIR/count" 2>/dev/null | uniq -c | awk '{print $2, $1}' >"$DIR/count.$n" || true
    SNAPS+=("$n")
}

# Checks a finished trial; prints one line per problem.
check() {
    local j=$DIR/state/runs/$ID/events.jsonl
    local last n steps
    last=$(tail -n 1 "$j" | jq -r '"\(.type) \(.status)"')
    [[ $last == "run_finished succeeded" ]] || echo "the run ended with: $last"
    n=$(wc -l <"$j")
    jq -r .seq "$j" | awk -v n="$n" '$1 != NR { bad = 1 } END { if (bad || NR != n) print "seq is not 1, 2, 3..." }'
    steps=$(jq -r 'select(.type == "step_succeeded") | .step' "$j" | sort | uniq -c | awk '$1 == 1' | wc -l)
    ((steps == 20)) || echo "$steps of 20 steps have exactly one step_succeeded"
    jq -r 'select(.type == "step_started" or .type == "step_succeeded") | "\(.type) \(.step)"' "$j" |
        awk '$1 == "step_succeeded" { ok[$2] = 1 } $1 == "step_started" && ok[$2] { print $2 " started again after it succeeded" }'
    local s step before after
    for s in "${SNAPS[@]}"; do
        while read -r step; do
            before=$(awk -v s="$step" '$1 == s { print $2 }' "$DIR/count.$s")
            after=$(grep -cx "$step" "$DIR/count")
            if [[ ${before:-0} != "$after" ]]; then
                echo "$step succeeded before kill $((s + 1)) (had run ${before:-0} times) and ran again: $after times in all"
            fi
        done <"$DIR/ok.$s"
    done
}

echo "$N trials of $WORKFLOW, up to $MAX_KILLS kills each (SEED=$SEED), binary $BIN" >&2
COMPLETED=0
TWICE=0
KILLS_ALL=0
MIDRUN=0
RERUN=0
FAILED_TRIALS=()
for ((t = 1; t <= N; t++)); do
    DIR=$TMP/trial-$t
    mkdir -p "$DIR"
    cd "$DIR"
    SNAPS=()
    KILLS=0
    ID=
    start run "$WORKFLOW"
    # The run folder appears at once; the run takes about 1.5 s.
    for _ in $(seq 1 500); do
        ID=$(ls "$DIR/state/runs" 2>/dev/null | head -n 1 || true)
        [[ -n $ID ]] && break
        sleep 0.01
    done
    [[ -n $ID ]] || { echo "trial $t: no run folder" >&2; exit 1; }
    JOURNAL=$DIR/state/runs/$ID/events.jsonl
    kill_after "$(rand_ms 20 1500)"
    finished "$JOURNAL" || MIDRUN=$((MIDRUN + 1))
    # More kills, during resumes.
    extra=$((RANDOM % MAX_KILLS))
    for ((k = 0; k < extra; k++)); do
        finished "$JOURNAL" && break
        start resume "$ID"
        kill_after "$(rand_ms 10 800)"
    done
    # Then resume until the journal ends with run_finished.
    for _ in 1 2 3 4 5; do
        finished "$JOURNAL" && break
        start resume "$ID"
        wait "$PID" || true
        PID=
    done
    KILLS_ALL=$((KILLS_ALL + KILLS))
    RERUN=$((RERUN + $(wc -l <"$DIR/count") - 21))
    problems=$(check)
    TWICE=$((TWICE + $(grep -c 'ran again\|started again' <<<"$problems" || true)))
    if [[ -z $problems ]]; then
        COMPLETED=$((COMPLETED + 1))
    else
        FAILED_TRIALS+=("$t")
        echo "trial $t ($DIR):" >&2
        sed 's/^/  /' <<<"$problems" >&2
        KEEP=1
    fi
    cd "$TMP"
done

echo "kills: $KILLS_ALL in all; $MIDRUN trials were killed mid-run (the others ended before their" \
    "first kill); interrupted steps ran again $RERUN times" >&2
echo "$COMPLETED/$N trials completed, $TWICE steps ran twice"
((COMPLETED == N && TWICE == 0)) || { echo "failed trials: ${FAILED_TRIALS[*]}" >&2; exit 1; }
