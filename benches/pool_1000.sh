#!/usr/bin/env bash
# Steps on workers against the same steps here, and the dispatch overhead.
#
#   bash benches/pool_1000.sh [ROUNDS]    # from the package root; ROUNDS defaults to 3
#
# 1. 1,000 `true` steps in 10 chains of 100, `--jobs 2`: once local, once
#    with `pool: bench` over two workers (`--jobs 1` each) on this machine,
#    against a nats-server on a loopback port. Timed: the run's wall clock to
#    its exit. Goal: the pool run within 2x of the local one (medians).
# 2. Dispatch overhead: 200 steps in one chain on one worker, each printing
#    the time its process started (`date +%s%N`); the overhead of a step is
#    that time minus its `step_ready` time in the journal. The journal's
#    times are cut to the millisecond, so the middle of that millisecond is
#    taken (each figure within 0.5 ms). The same chain run here says what a
#    local step takes by the same measure. Goal: p50 under 2 ms.
#
# 3. Worker loss: a step `sleep 60` with two attempts; once a worker has
#    claimed it, that worker is killed with SIGKILL. Timed: from the kill to
#    the `step_retrying` that says `worker ID lost` (journal time). Goal:
#    within the lease (10 s, the default) + 1 s.
#
# Environment:
#   SIGNALBOX_BIN=PATH           use this binary instead of building target/release/signalbox
#   SIGNALBOX_NATS_SERVER=PATH   the nats-server (default .ci/nats/bin/nats-server, which .ci/run installs)
#   TMPDIR=/some/dir             where the files go (deleted at the end)
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROUNDS=${1:-3}
case $ROUNDS in '' | *[!0-9]* | 0) echo "usage: $0 [ROUNDS>0]" >&2; exit 2 ;; esac
NATS=${SIGNALBOX_NATS_SERVER:-$PWD/.ci/nats/bin/nats-server}
[[ -x $NATS ]] || { echo "error: no nats-server at $NATS (bash .ci/run installs one, or set SIGNALBOX_NATS_SERVER)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 2; }

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-pool.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$TMP/nats"
"$NATS" -a 127.0.0.1 -p -1 --ports_file_dir "$TMP/nats" -js -sd "$TMP/nats/js" 2>"$TMP/nats/log" &
pids+=($!)
for ((n = 0; n < 200; n++)); do
    f=("$TMP"/nats/*.ports)
    [[ -e ${f[0]} ]] && break
    sleep 0.05
done
URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["nats"][0])' "${f[0]}")
echo "nats-server at $URL" >&2

# $1: with a pool line or not; $2: the file.
chains() {
    {
        printf 'name: bench\nsteps:\n'
        for ((c = 0; c < 10; c++)); do
            for ((i = 0; i < 100; i++)); do
                printf '  c%d-s%d:\n' "$c" "$i"
                ((i > 0)) && printf '    needs: [c%d-s%d]\n' "$c" $((i - 1))
                [[ $1 == pool ]] && printf '    pool: bench\n'
                printf '    run: "true"\n'
            done
        done
    } >"$2"
}
chains local "$TMP/local.yaml"
chains pool "$TMP/pool.yaml"

declare -A worker_pid
for w in 1 2; do
    "$BIN" worker --pool bench --nats "$URL" --jobs 1 --id "bench-$w" --state-dir "$TMP/w$w" 2>"$TMP/w$w.log" &
    pids+=($!)
    worker_pid[bench-$w]=$!
done
for ((n = 0; n < 100; n++)); do
    live=$("$BIN" workers --nats "$URL" --json 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0)
    [[ $live == 2 ]] && break
    sleep 0.1
done
[[ $live == 2 ]] || { echo "error: the workers did not come up" >&2; cat "$TMP"/w*.log >&2; exit 1; }

now_us() { local t=$EPOCHREALTIME; REPLY=${t//[.,]/}; }

# Runs $1 (local or pool) once; prints its wall time in µs.
one() {
    local state="$TMP/state-$1-$2"
    rm -rf "$state"
    now_us; local t0=$REPLY
    "$BIN" run "$TMP/$1.yaml" --headless --jobs 2 --nats "$URL" --state-dir "$state" 2>/dev/null
    now_us; local t1=$REPLY
    local journal=("$state"/runs/*/events.jsonl) ok
    ok=$(grep -c '"type":"step_succeeded"' "${journal[0]}" || true)
    [[ $ok == 1000 ]] || { echo "error: $1: $ok of 1000 steps succeeded" >&2; exit 1; }
    echo $((t1 - t0))
}

one local w >/dev/null
one pool w >/dev/null
local_t=() pool_t=()
for ((r = 0; r < ROUNDS; r++)); do
    local_t+=("$(one local "$r")")
    pool_t+=("$(one pool "$r")")
done

median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ml=$(median "${local_t[@]}")
mp=$(median "${pool_t[@]}")
printf '1,000 steps, 10 chains: local %d ms, two workers %d ms (median of %d): %s x\n' \
    $((ml / 1000)) $((mp / 1000)) "$ROUNDS" "$(awk -v a="$mp" -v b="$ml" 'BEGIN { printf "%.2f", a / b }')"

# Dispatch overhead: one chain, one worker busy at a time; and the same
# chain run here, which shows what any step takes by this measure.
latency() {
    {
        printf 'name: latency\nsteps:\n'
        for ((i = 0; i < 200; i++)); do
            printf '  s%d:\n' "$i"
            ((i > 0)) && printf '    needs: [s%d]\n' $((i - 1))
            [[ $1 == pool ]] && printf '    pool: bench\n'
            printf '    run: date +%%s%%N\n'
        done
    } >"$TMP/latency-$1.yaml"
    "$BIN" run "$TMP/latency-$1.yaml" --headless --nats "$URL" --state-dir "$TMP/state-latency-$1" 2>/dev/null
    python3 - "$1" "$TMP"/state-latency-"$1"/runs/*/events.jsonl <<'PY'
import datetime, json, sys
ready, started = {}, {}
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e["type"] == "step_ready":
        t = datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        # The journal's times are cut to the millisecond: the event was in
        # that millisecond, on average half-way through it.
        ready[e["step"]] = t.timestamp() + 0.0005
    elif e["type"] == "step_output":
        started.setdefault(e["step"], int(e["line"]) / 1e9)
d = sorted((started[s] - ready[s]) * 1000 for s in started if s in ready)
if not d:
    sys.exit("error: no step printed its start")
p = lambda q: d[min(len(d) - 1, int(q * len(d)))]
where = "on the worker" if sys.argv[1] == "pool" else "here (no pool, for comparison)"
print(f"step_ready to the process started {where}, {len(d)} steps: "
      f"p50 {p(0.5):.2f} ms, p90 {p(0.9):.2f} ms, p99 {p(0.99):.2f} ms")
PY
}
latency pool
latency local

# Worker loss, at the default lease.
printf 'name: loss\nsteps:\n  slow:\n    pool: bench\n    retry: { attempts: 2, delay: 0s }\n    run: sleep 60\n' >"$TMP/loss.yaml"
"$BIN" run "$TMP/loss.yaml" --headless --nats "$URL" --state-dir "$TMP/state-loss" 2>/dev/null &
run=$!
pids+=("$run")
who=
for ((n = 0; n < 200; n++)); do
    j=("$TMP"/state-loss/runs/*/events.jsonl)
    if [[ -e ${j[0]} ]]; then
        who=$(python3 -c 'import json,sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["type"] == "step_started": print(e["worker"]); break' "${j[0]}")
        [[ -n $who ]] && break
    fi
    sleep 0.05
done
[[ -n $who ]] || { echo "error: no worker claimed the slow step" >&2; exit 1; }
sleep 0.5
now_us; killed=$REPLY
kill -9 "${worker_pid[$who]}"
for ((n = 0; n < 300; n++)); do
    grep -q '"type":"step_retrying"' "${j[0]}" && break
    sleep 0.05
done
python3 - "${j[0]}" "$killed" "$who" <<'PY'
import datetime, json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["type"] == "step_retrying":
        t = datetime.datetime.strptime(e["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        after = t.timestamp() - int(sys.argv[2]) / 1e6
        print(f"worker {sys.argv[3]} killed: attempt failed ({e['error']}) {after:.2f} s later (lease 10 s)")
        break
else:
    sys.exit("error: the lost worker was not noticed")
PY
kill "$run" 2>/dev/null || true
