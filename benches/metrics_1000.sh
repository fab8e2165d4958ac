#!/usr/bin/env bash
# Serving metrics costs the run nothing: 1,000 `true` steps in 10 chains of 100,
# --jobs 2, with `--metrics 127.0.0.1:0` and a scrape (curl) every 100 ms, and
# without --metrics.
#
#   bash benches/metrics_1000.sh [ROUNDS]    # from the package root; ROUNDS defaults to 5
#
# Each round runs both, one after the other (in alternating order), after one
# warm-up of each. Timed: the wall clock of `signalbox run FILE --headless --jobs 2`,
# to the process's exit. The scraper reads the port from <run>/metrics.addr and
# scrapes until the run ends (one curl process, `--rate 10/s`); the count of good
# scrapes (HTTP 200) per run is printed, and the CPU time signalbox spent (user +
# sys, which the machine's other load disturbs less than the wall clock). Goal: the median
# with metrics within 1.03x of the median without.
#
# Environment:
#   SIGNALBOX_BIN=PATH   use this binary instead of building target/release/signalbox
#   TMPDIR=/some/dir     where the workflow and state dirs go (deleted at the end)
#   BENCH_STRICT=1       exit 1 when the goal is missed
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${1:-5}
case $ROUNDS in '' | *[!0-9]* | 0) echo "usage: $0 [ROUNDS>0]" >&2; exit 2 ;; esac
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-metrics.XXXXXX")
scraper=
cleanup() { [[ -n $scraper ]] && kill "$scraper" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
    printf 'name: bench\nsteps:\n'
    for ((c = 0; c < 10; c++)); do
        for ((i = 0; i < 100; i++)); do
            printf '  c%d-s%d:\n' "$c" "$i"
            ((i > 0)) && printf '    needs: [c%d-s%d]\n' "$c" $((i - 1))
            printf '    run: true\n'
        done
    done
} >"$TMP/wf.yaml"

now_us() { local t=$EPOCHREALTIME; REPLY=${t//[.,]/}; }

# Scrapes the run under state dir $1 ten times a second until a line comes
# on the FIFO $2: one curl process (--rate 10/s over a URL range), and a
# blocking read rather than a polling loop, so the scraper's own start-ups
# and sleeps do not take CPU from the run; counts the good scrapes in
# $1/scrapes.
scrape() {
    local state=$1 done=$2 addr= f
    local n
    for ((n = 0; n < 500; n++)); do
        [[ -z $addr ]] || break
        f=("$state"/runs/*/metrics.addr)
        if [[ -e ${f[0]} ]]; then addr=$(<"${f[0]}"); else sleep 0.005; fi
    done
    local curl=
    if [[ -n $addr ]]; then
        curl -s --rate 10/s -w '%{stderr}%{http_code}\n' "http://$addr/metrics?n=[1-100000]" \
            >/dev/null 2>"$state/codes" &
        curl=$!
    fi
    read -r _ <"$done"
    [[ -n $curl ]] || { echo 0 >"$state/scrapes"; return; }
    kill "$curl" 2>/dev/null || true
    wait "$curl" 2>/dev/null || true
    grep -c '^200$' "$state/codes" >"$state/scrapes" || true
}

# Runs once, `plain` or `metrics`; prints its wall time in µs.
one() {
    local state="$TMP/state-$1-$2" extra=()
    rm -rf "$state"
    mkdir -p "$state"
    if [[ $1 == metrics ]]; then
        extra=(--metrics 127.0.0.1:0)
        mkfifo "$state/done"
        scrape "$state" "$state/done" &
        scraper=$!
    fi
    now_us; local t0=$REPLY
    local TIMEFORMAT='%U %S'
    { time "$BIN" run "$TMP/wf.yaml" --headless --jobs 2 --state-dir "$state" "${extra[@]}" 2>/dev/null; } 2>"$state/cpu"
    now_us; local t1=$REPLY
    if [[ $1 == metrics ]]; then
        echo >"$state/done"
        wait "$scraper"
        scraper=
    fi
    local journal=("$state"/runs/*/events.jsonl)
    local ok
    ok=$(grep -c '"type":"step_succeeded"' "${journal[0]}" || true)
    [[ $ok == 1000 ]] || { echo "error: $1: $ok of 1000 steps succeeded" >&2; exit 1; }
    # CPU seconds of signalbox (user + sys), in ms: what the run itself spent.
    awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$state/cpu" >"$state/cpu_ms"
    echo $((t1 - t0))
}

one plain w >/dev/null
one metrics w >/dev/null

plain=() metrics=() scrapes=() cpu_plain=() cpu_metrics=()
for ((r = 0; r < ROUNDS; r++)); do
    if ((r % 2)); then
        metrics+=("$(one metrics "$r")"); plain+=("$(one plain "$r")")
    else
        plain+=("$(one plain "$r")"); metrics+=("$(one metrics "$r")")
    fi
    scrapes+=("$(<"$TMP/state-metrics-$r/scrapes")")
    cpu_plain+=("$(<"$TMP/state-plain-$r/cpu_ms")")
    cpu_metrics+=("$(<"$TMP/state-metrics-$r/cpu_ms")")
done

median() { printf '%s\n' "$@" | sort -n | awk '{ x[NR] = $1 } END { print (NR % 2) ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2 }'; }
mp=$(median "${plain[@]}")
mm=$(median "${metrics[@]}")
echo "1000 steps (10 chains of 100), --jobs 2, $ROUNDS rounds, load $(cut -d' ' -f1 /proc/loadavg)"
echo "without --metrics:           median $((mp / 1000)) ms  (${plain[*]} µs)"
echo "with --metrics, 10 scrapes/s: median $((mm / 1000)) ms  (${metrics[*]} µs)"
echo "good scrapes per run: ${scrapes[*]}"
cp=$(median "${cpu_plain[@]}")
cm=$(median "${cpu_metrics[@]}")
echo "CPU of signalbox (user+sys): median $cp ms without, $cm ms with  (${cpu_plain[*]} / ${cpu_metrics[*]} ms)"
awk -v a="$cm" -v b="$cp" 'BEGIN { printf "CPU ratio %.3fx\n", a / b }'
awk -v a="$mm" -v b="$mp" 'BEGIN { r = a / b; printf "ratio %.3fx   goal <= 1.03   %s\n", r, r <= 1.03 ? "met" : "MISSED"; exit !(r <= 1.03) }' ||
    { [[ ${BENCH_STRICT:-0} == 1 ]] && exit 1; true; }
