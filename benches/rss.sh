#!/usr/bin/env bash
# Peak resident memory (VmHWM) of signalbox while a step floods it with output.
#
#   bash benches/rss.sh                 # from the package root
#
# Cases (each must stay under LIMIT_MB, 64 by default):
#   headless        run --headless, human lines to /dev/null
#   json-slow       run --headless --json into a reader that takes 1 ms a line
#                   (measured once the run has ended: the whole flood went through
#                   while the reader lagged; then it is stopped)
#   screen          run on the screen, in a detached tmux session of 200x50
#                   (measured once the screen shows the run's end)
# each while a step prints 2,000,000 short lines (`seq`) and while one prints
# 50,000 lines of 64 KiB (3.2 GB); then, on a 300 MB journal:
#   replay          replay RUN, not a terminal (human lines to /dev/null)
#   replay-json     replay RUN --json
#   runs            runs, on a state dir holding that run
#
# Environment:
#   SIGNALBOX_BIN=PATH   use this binary instead of building target/release/signalbox
#   TMPDIR=/some/dir     where the state dirs go (the 64 KiB cases write 3.2 GB of
#                        journal and 3.2 GB of step log; each is removed after its case)
#   LIMIT_MB=64          the bound to check
#   BENCH_STRICT=1       exit 1 when a case is over the bound
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

LIMIT_MB=${LIMIT_MB:-64}
for tool in tmux perl awk /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required" >&2; exit 2; }
done

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-rss.XXXXXX")
SESSION="signalbox-rss-$$"
PIDS=()
cleanup() {
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$TMP/short.yaml" <<'EOF'
name: short
steps:
  flood:
    run: seq 1 2000000
EOF
cat >"$TMP/long.yaml" <<'EOF'
name: long
steps:
  flood:
    run: |
      line=$(head -c 65535 /dev/zero | tr '\0' x)
      yes "$line" | head -n 50000
EOF
cat >"$TMP/journal.yaml" <<'EOF'
name: journal
steps:
  flood:
    run: |
      line=$(head -c 4000 /dev/zero | tr '\0' x)
      yes "$line" | head -n 75000
EOF

ROWS=()
FAILED=0
record() { # case, flood, kB
    local mb ok
    mb=$(awk -v k="$3" 'BEGIN { printf "%.1f", k / 1024 }')
    ok=$(awk -v k="$3" -v l="$LIMIT_MB" 'BEGIN { print (k / 1024 < l) ? "yes" : "NO" }')
    [[ $ok == yes ]] || FAILED=1
    ROWS+=("$(printf '%-12s %-22s %10s %6s' "$1" "$2" "$mb" "$ok")")
    echo "  $1 / $2: $mb MB" >&2
}

hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

journal_of() { # the journal of the one run under state dir $1, or nothing
    local f
    for f in "$1"/runs/*/events.jsonl; do
        [[ -e $f ]] && echo "$f"
        return 0
    done
}

# Waits (at most $2 s) until the journal under state dir $1 ends with run_finished.
wait_end() {
    local deadline=$((SECONDS + $2)) j
    while ((SECONDS < deadline)); do
        j=$(journal_of "$1")
        if [[ -n $j ]] && tail -c 512 "$j" | grep -q '"type":"run_finished"'; then
            return 0
        fi
        sleep 0.5
    done
    echo "error: the run under $1 did not end within $2 s" >&2
    return 1
}

headless() { # workflow, label
    local state="$TMP/state" out="$TMP/time.txt"
    /usr/bin/time -o "$out" -f %M "$BIN" run --headless --state-dir "$state" "$TMP/$1" \
        >/dev/null 2>&1 </dev/null
    record headless "$2" "$(tail -n 1 "$out")"
    rm -rf "$state"
}

json_slow() { # workflow, label
    local state="$TMP/state" pipe="$TMP/pipe" pid reader peak
    mkfifo "$pipe"
    perl -e '$| = 1; while (<STDIN>) { select(undef, undef, undef, 0.001) }' <"$pipe" &
    reader=$!
    "$BIN" run --headless --json --state-dir "$state" "$TMP/$1" >"$pipe" 2>/dev/null </dev/null &
    pid=$!
    PIDS+=("$pid" "$reader")
    wait_end "$state" 600
    peak=$(hwm "$pid")
    kill "$pid" "$reader" 2>/dev/null || true
    wait "$pid" "$reader" 2>/dev/null || true
    record json-slow "$2" "$peak"
    rm -rf "$state" "$pipe"
}

screen() { # workflow, label
    local state="$TMP/state" pid peak deadline
    tmux new-session -d -s "$SESSION" -x 200 -y 50 \
        "exec '$BIN' run --state-dir '$state' '$TMP/$1' 2>/dev/null"
    pid=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
    wait_end "$state" 600
    deadline=$((SECONDS + 300))
    until tmux capture-pane -p -t "$SESSION" | grep -q '✓ succeeded in'; do
        ((SECONDS < deadline)) || { echo "error: the screen did not show the end" >&2; break; }
        sleep 0.5
    done
    peak=$(hwm "$pid")
    tmux kill-session -t "$SESSION" 2>/dev/null || true
    record screen "$2" "$peak"
    rm -rf "$state"
}

echo "signalbox peak RSS; binary $BIN" >&2
for case in headless json_slow screen; do
    "$case" short.yaml "2,000,000 short lines"
    "$case" long.yaml "50,000 lines of 64 KiB"
done

# A 300 MB journal: 75,000 lines of 4 KB.
state="$TMP/state"
"$BIN" run --headless --state-dir "$state" "$TMP/journal.yaml" >/dev/null 2>&1 </dev/null
j=$(journal_of "$state")
run=$(basename "$(dirname "$j")")
size=$(awk -v b="$(stat -c %s "$j")" 'BEGIN { printf "%d MB journal", b / 1e6 }')
measure() { # label, args...
    local label=$1 out="$TMP/time.txt"
    shift
    /usr/bin/time -o "$out" -f %M "$BIN" "$@" >/dev/null 2>&1 </dev/null
    record "$label" "$size" "$(tail -n 1 "$out")"
}
measure replay replay "$run" --state-dir "$state"
measure replay-json replay "$run" --json --state-dir "$state"
measure runs runs --state-dir "$state"

printf '\n%-12s %-22s %10s %6s\n' case flood "peak MB" "< $LIMIT_MB"
printf '%s\n' "${ROWS[@]}"
if [[ $FAILED == 1 && ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
