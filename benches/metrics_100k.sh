#!/usr/bin/env bash
# A scrape of a run with 100,000 steps: 100,000 independent approval steps, all
# open, served with `--metrics 127.0.0.1:0`.
#
#   bash benches/metrics_100k.sh [STEPS] [SCRAPES]     # defaults: 100000 200
#
# Starts `signalbox run FILE --headless --metrics 127.0.0.1:0 </dev/null`, waits
# until every `approval_requested` is journaled and a scrape says
# `signalbox_waits_open{...,kind="approval"} STEPS`, then times SCRAPES scrapes one
# after the other with curl's `%{time_total}` (connect, request, whole body).
# Prints the median and the max, then sends SIGTERM and checks exit code 130.
# Goal: the median under 10 ms.
#
# Environment: TMPDIR, SIGNALBOX_BIN (use this binary instead of building),
# BENCH_STRICT=1 (exit 1 when the goal is missed), OPEN_TIMEOUT (seconds to wait
# for the waits to open, default 600).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STEPS=${1:-100000}
SCRAPES=${2:-200}
OPEN_TIMEOUT=${OPEN_TIMEOUT:-600}
case $STEPS$SCRAPES in '' | *[!0-9]*) echo "usage: $0 [STEPS] [SCRAPES]" >&2; exit 2 ;; esac
((STEPS > 0 && SCRAPES > 0)) || { echo "usage: $0 [STEPS>0] [SCRAPES>0]" >&2; exit 2; }
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-metrics100k.XXXXXX")
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
    printf 'name: wide\nsteps:\n'
    for ((i = 0; i < STEPS; i++)); do
        printf '  a%d:\n    approval: { prompt: "ok?", timeout: 1h }\n' "$i"
    done
} >"$TMP/waits.yaml"

"$BIN" run "$TMP/waits.yaml" --headless --state-dir "$TMP/state" --metrics 127.0.0.1:0 \
    </dev/null >/dev/null 2>"$TMP/stderr" &
PID=$!

# Polling for the waits to open is the benchmark's, not the engine's.
addr=
want="kind=\"approval\"} $STEPS"
for ((t = 0; t < OPEN_TIMEOUT * 10; t++)); do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "error: signalbox exited before the waits opened; its stderr ends:" >&2
        tail -n 5 "$TMP/stderr" >&2
        exit 1
    fi
    if [[ -z $addr ]]; then
        f=("$TMP"/state/runs/*/metrics.addr)
        [[ -e ${f[0]} ]] && addr=$(<"${f[0]}")
    fi
    if [[ -n $addr ]] && curl -sf "http://$addr/metrics" | grep -q "signalbox_waits_open{.*$want\$"; then
        break
    fi
    sleep 0.1
done
curl -sf "http://$addr/metrics" >"$TMP/body"
grep -q "signalbox_waits_open{.*$want\$" "$TMP/body" ||
    { echo "error: the waits did not all open within ${OPEN_TIMEOUT}s" >&2; exit 1; }

times=()
for ((i = 0; i < SCRAPES; i++)); do
    times+=("$(curl -sf -o /dev/null -w '%{time_total}' "http://$addr/metrics")")
done

kill -TERM "$PID"
wait "$PID" && rc=0 || rc=$?
PID=
((rc == 130)) || { echo "error: after SIGTERM the run exited $rc, not 130" >&2; exit 1; }

stats=$(printf '%s\n' "${times[@]}" | sort -g | awk '{ x[NR] = $1 * 1000 } END {
    m = (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2
    printf "%.2f %.2f %.2f", m, x[int(NR * 0.99 + 0.5)], x[NR] }')
read -r med p99 max <<<"$stats"
echo "$STEPS approval steps open, $SCRAPES scrapes of $(wc -c <"$TMP/body") bytes, load $(cut -d' ' -f1 /proc/loadavg)"
echo "scrape time (curl time_total): median $med ms, p99 $p99 ms, max $max ms"
awk -v m="$med" 'BEGIN { printf "goal: median < 10 ms   %s\n", m < 10 ? "met" : "MISSED"; exit !(m < 10) }' ||
    { [[ ${BENCH_STRICT:-0} == 1 ]] && exit 1; true; }
