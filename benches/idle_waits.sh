#!/usr/bin/env bash
# What 10,000 open approvals cost while nobody answers them.
#
#   bash benches/idle_waits.sh [WAITS] [IDLE_SECONDS]     # defaults: 10000 5
#
# Runs a workflow of WAITS independent approval steps (each
# `approval: { prompt: "ok?", timeout: 1h }`) with
# `signalbox run FILE --headless --state-dir DIR </dev/null`, waits until all WAITS
# `approval_requested` events are in the journal, then measures over IDLE_SECONDS:
#   - CPU time of the process, utime+stime from /proc/PID/stat (clock ticks, usually
#     10 ms each) and, where the kernel has it, the exact figure summed over its threads
#     from /proc/PID/task/*/schedstat;
#   - context switches of all its threads (each one a wake-up);
#   - VmRSS (and VmHWM) from /proc/PID/status.
# Then sends SIGTERM and checks the run ends with exit code 130.
# Goals: at most 20 ms of CPU in 5 s, at most 100 MB of RSS.
#
# Environment: TMPDIR (where the temporary folder goes), SIGNALBOX_BIN (use this binary
# instead of building), BENCH_STRICT=1 (exit 1 when a goal is missed), OPEN_TIMEOUT
# (seconds to wait for the waits to open, default 300).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

WAITS=${1:-10000}
IDLE=${2:-5}
OPEN_TIMEOUT=${OPEN_TIMEOUT:-300}
CPU_GOAL_MS=20  # for 5 s; scaled to IDLE below
RSS_GOAL_MB=100
case $WAITS$IDLE in *[!0-9]*) echo "usage: $0 [WAITS] [IDLE_SECONDS]" >&2; exit 2 ;; esac
((WAITS > 0 && IDLE > 0)) || { echo "usage: $0 [WAITS>0] [IDLE_SECONDS>0]" >&2; exit 2; }
[[ -r /proc/self/stat ]] || { echo "error: needs /proc (Linux)" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-idle.XXXXXX")
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
    printf 'name: idle\nsteps:\n'
    for ((i = 0; i < WAITS; i++)); do
        printf '  a%d:\n    approval: { prompt: "ok?", timeout: 1h }\n' "$i"
    done
} >"$TMP/waits.yaml"

now_ms() { local t=$EPOCHREALTIME; t=${t//[.,]/}; REPLY=$((t / 1000)); }

now_ms; t_start=$REPLY
"$BIN" run "$TMP/waits.yaml" --headless --state-dir "$TMP/state" </dev/null >/dev/null 2>"$TMP/stderr" &
PID=$!

# Waiting for the waits to open is allowed to poll: it is the benchmark, not the engine.
journal=
opened=0
while :; do
    if ! kill -0 "$PID" 2>/dev/null; then
        wait "$PID" && rc=0 || rc=$?
        PID=
        echo "error: signalbox exited ($rc) before the waits opened; its stderr ends:" >&2
        tail -n 5 "$TMP/stderr" >&2
        exit 1
    fi
    if [[ -z $journal ]]; then
        journals=("$TMP"/state/runs/*/events.jsonl)
        [[ -f ${journals[0]} ]] && journal=${journals[0]}
    fi
    if [[ -n $journal ]]; then
        opened=$(grep -c '"type":"approval_requested"' "$journal" || true)
        ((opened >= WAITS)) && break
    fi
    now_ms
    if ((REPLY - t_start > OPEN_TIMEOUT * 1000)); then
        echo "error: only $opened of $WAITS approvals opened after ${OPEN_TIMEOUT}s" >&2
        exit 1
    fi
    sleep 0.05
done
now_ms; open_ms=$((REPLY - t_start))

TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# utime+stime in clock ticks: fields 14 and 15, counted after the ")" closing the name.
ticks() { local s; s=$(<"/proc/$PID/stat"); s=${s##*) }; read -ra f <<<"$s"; REPLY=$((f[11] + f[12])); }
# Exact on-CPU nanoseconds summed over the threads (first field of schedstat).
cpu_ns() {
    local t sum=0 line
    for t in /proc/"$PID"/task/*/schedstat; do
        read -r line _ <"$t" 2>/dev/null || continue
        sum=$((sum + line))
    done
    REPLY=$sum
}
switches() {
    local t sum=0 k v
    for t in /proc/"$PID"/task/*/status; do
        while read -r k v; do
            case $k in voluntary_ctxt_switches: | nonvoluntary_ctxt_switches:) sum=$((sum + v)) ;; esac
        done <"$t" 2>/dev/null || true
    done
    REPLY=$sum
}
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PID/status"; }
has_schedstat=0
[[ -r /proc/$PID/schedstat ]] && has_schedstat=1

# Let the tail of the opening (journal writes, the headless printer) finish first.
sleep 0.5
ticks; ticks0=$REPLY
cpu_ns; ns0=$REPLY
switches; sw0=$REPLY
now_ms; w0=$REPLY
sleep "$IDLE"
ticks; ticks1=$REPLY
cpu_ns; ns1=$REPLY
switches; sw1=$REPLY
now_ms; w1=$REPLY
rss_kb=$(status_kb VmRSS)
hwm_kb=$(status_kb VmHWM)
threads=$(status_kb Threads)

window_ms=$((w1 - w0))
tick_ms=$(((ticks1 - ticks0) * 1000 / TICK))
goal_ms=$((CPU_GOAL_MS * IDLE / 5))

# Cancel and check the exit code.
now_ms; k0=$REPLY
kill -TERM "$PID"
rc=
for ((i = 0; i < 600; i++)); do # up to 60 s
    if ! kill -0 "$PID" 2>/dev/null; then
        wait "$PID" && rc=0 || rc=$?
        PID=
        break
    fi
    sleep 0.1
done
now_ms; stop_ms=$((REPLY - k0))
finished=$(grep -c '"type":"run_finished","status":"cancelled"' "$journal" || true)

echo "$WAITS approvals, all opened in ${open_ms} ms (as seen by polling the journal every 50 ms)"
echo "threads: $threads"
printf 'CPU in %d ms idle: %d ms by utime+stime (%d ticks of %d ms)' \
    "$window_ms" "$tick_ms" $((ticks1 - ticks0)) $((1000 / TICK))
if ((has_schedstat)); then
    awk -v ns=$((ns1 - ns0)) 'BEGIN { printf ", %.3f ms by schedstat", ns / 1e6 }'
fi
echo
echo "context switches in the window: $((sw1 - sw0))"
awk -v kb="$rss_kb" -v hwm="$hwm_kb" 'BEGIN { printf "RSS: %.1f MB (peak %.1f MB)\n", kb / 1024, hwm / 1024 }'

missed=0
cpu_for_goal=$tick_ms
if ((has_schedstat)); then cpu_for_goal=$(((ns1 - ns0) / 1000000)); fi
if ((cpu_for_goal <= goal_ms)); then v=met; else v=MISSED; missed=1; fi
echo "goal: CPU <= ${goal_ms} ms in ${IDLE} s: $v"
if ((rss_kb <= RSS_GOAL_MB * 1024)); then v=met; else v=MISSED; missed=1; fi
echo "goal: RSS <= ${RSS_GOAL_MB} MB: $v"
if [[ -z $rc ]]; then
    echo "SIGTERM: still running after 60 s: MISSED"
    missed=1
else
    if [[ $rc == 130 ]]; then v=met; else v=MISSED; missed=1; fi
    echo "SIGTERM: exit code $rc after ${stop_ms} ms (want 130): $v; run_finished cancelled journaled: $finished"
fi

if ((missed)) && [[ ${BENCH_STRICT:-0} == 1 ]]; then
    exit 1
fi
