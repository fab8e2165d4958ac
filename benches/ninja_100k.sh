#!/usr/bin/env bash
# signalbox vs ninja on the same graph of `true` steps in 10 chains, two at a
# time, at 1,000, 10,000 and 100,000 steps; then `validate` of the 100,000-step
# file. Wall clock and peak RSS of each run, and the cost per step side by side.
#
#   bash benches/ninja_100k.sh [RUNS]      # from the package root; RUNS defaults to 3
#
# What is run, for each size N in SIZES (10 chains of N/10 steps):
#   signalbox  signalbox run chains-N.yaml --headless --jobs 2 --state-dir DIR 2>/dev/null
#              (journal on, state dir under TMPDIR, every check on)
#   ninja      ninja -j2 -f build-N.ninja   (one edge per step, rule `true`, each edge
#              depending on the one before it in its chain; outputs never written, so
#              every edge runs every time)
#   validate   signalbox validate chains-100000.yaml
# Each command runs RUNS times (after one warm-up unless WARMUP=0), under `/usr/bin/time -f '%e %M'`:
# the figure is the median wall clock and the largest peak RSS.
# Goals (issue 11): at 100,000 steps signalbox <= 1.1x ninja and <= 100 MB;
# validate <= 0.3 s and <= 100 MB; the cost per step flat from 1k to 100k.
#
# ninja is installed with `apt-get install -y ninja-build` when it is missing;
# when that fails, signalbox is measured alone and the script says so.
#
# Environment:
#   SIZES="1000 10000 100000"   the step counts (each a multiple of 10)
#   WARMUP=0                    no warm-up run (a 100,000-step run takes minutes)
#   SIGNALBOX_BIN=PATH          use this binary instead of building target/release/signalbox
#   TMPDIR=/some/dir            where the workflows and state dirs go
#   BENCH_STRICT=1              exit 1 when a goal at 100,000 steps is missed
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNS=${1:-${RUNS:-3}}
WARMUP=${WARMUP:-1}
SIZES=${SIZES:-"1000 10000 100000"}
CHAINS=10
JOBS=2
case $RUNS in '' | *[!0-9]* | 0) echo "usage: $0 [RUNS>0]" >&2; exit 2 ;; esac
case $WARMUP in 0 | 1) ;; *) echo "error: WARMUP is 0 or 1" >&2; exit 2 ;; esac
for n in $SIZES; do
    case $n in '' | *[!0-9]*) echo "error: SIZES must be numbers" >&2; exit 2 ;; esac
    ((n % CHAINS == 0 && n > 0)) || { echo "error: $n is not a multiple of $CHAINS" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "error: /usr/bin/time is required (apt-get install time)" >&2; exit 2; }
command -v awk >/dev/null || { echo "error: awk is required" >&2; exit 2; }

if ! command -v ninja >/dev/null; then
    echo "ninja is missing: apt-get install -y ninja-build" >&2
    apt-get install -y ninja-build >/dev/null 2>&1 || true
fi
HAVE_NINJA=0
if command -v ninja >/dev/null; then
    HAVE_NINJA=1
else
    echo "warning: ninja could not be installed; measuring signalbox alone" >&2
fi

source benches/bin.sh

TMP=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-ninja.XXXXXX")
cleanup() { rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The workflow: CHAINS chains of LENGTH steps, as `benches/gen.py chains`.
gen_workflow() {
    awk -v chains="$CHAINS" -v len="$1" 'BEGIN {
        print "name: bench"; print "steps:"
        for (c = 0; c < chains; c++) for (i = 0; i < len; i++) {
            printf "  c%d-s%d:\n", c, i
            if (i > 0) printf "    needs: [c%d-s%d]\n", c, i - 1
            print "    run: true"
        }
    }'
}

# The same graph for ninja: an edge per step whose output is never written.
gen_ninja() {
    awk -v chains="$CHAINS" -v len="$1" 'BEGIN {
        print "rule t"; print "  command = true"
        for (c = 0; c < chains; c++) for (i = 0; i < len; i++) {
            if (i > 0) printf "build c%d-s%d: t c%d-s%d\n", c, i, c, i - 1
            else printf "build c%d-s%d: t\n", c, i
        }
        printf "default"
        for (c = 0; c < chains; c++) printf " c%d-s%d", c, len - 1
        print ""
    }'
}

# Runs "$@" RUNS times after a warm-up; prints "median_seconds max_rss_kib
# median_cpu_seconds" (CPU: user+sys of the command and the steps it waited for).
measure() {
    local times=() cpus=() rss=0 r e m u s
    for ((r = 1 - WARMUP; r <= RUNS; r++)); do
        "${PREPARE[@]}"
        /usr/bin/time -f '%e %M %U %S' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/err" || {
            echo "error: failed: $*" >&2
            tail -n 5 "$TMP/err" >&2
            exit 1
        }
        ((r < 1)) && continue
        read -r e m u s <"$TMP/time"
        times+=("$e")
        cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')")
        ((m > rss)) && rss=$m
    done
    med() { sort -g | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }
    echo "$(printf '%s\n' "${times[@]}" | med) $rss $(printf '%s\n' "${cpus[@]}" | med)"
}

noop() { :; }
fresh_state() { rm -rf "$TMP/state"; }
fresh_ninja() { rm -f "$TMP/.ninja_log" "$TMP/.ninja_deps"; }

fstype=$(stat -f -c %T "$TMP" 2>/dev/null || echo "?")
echo "10 chains, --jobs $JOBS, $RUNS runs each (median wall clock, largest peak RSS)"
echo "cpus: $(nproc), load average: $(cut -d' ' -f1 /proc/loadavg), state dir on: $fstype"
printf '%-8s %-10s %8s %8s %9s %9s %9s %8s\n' steps tool seconds "CPU s" "peak MB" \
    "us/step" "CPU us/st" "x ninja"

declare -A SB_T SB_M NJ_T NJ_M
for n in $SIZES; do
    length=$((n / CHAINS))
    gen_workflow "$length" >"$TMP/chains-$n.yaml"
    gen_ninja "$length" >"$TMP/build-$n.ninja"
    PREPARE=(fresh_state)
    read -r t m c < <(measure "$BIN" run "$TMP/chains-$n.yaml" --headless --jobs "$JOBS" \
        --state-dir "$TMP/state")
    done_steps=$(grep -c '"type":"step_succeeded"' "$TMP"/state/runs/*/events.jsonl || true)
    [[ $done_steps == "$n" ]] || { echo "error: $done_steps of $n steps succeeded" >&2; exit 1; }
    SB_T[$n]=$t SB_M[$n]=$m
    ratio=-
    if ((HAVE_NINJA)); then
        PREPARE=(fresh_ninja)
        read -r nt nm nc < <(cd "$TMP" && measure ninja -j"$JOBS" -f "build-$n.ninja")
        NJ_T[$n]=$nt NJ_M[$n]=$nm
        ratio=$(awk -v a="$t" -v b="$nt" 'BEGIN { printf "%.2f", a / b }')
    fi
    row() {
        awk -v n="$n" -v tool="$1" -v t="$2" -v m="$3" -v c="$4" -v r="$5" 'BEGIN {
            printf "%-8d %-10s %8.2f %8.2f %9.1f %9.1f %9.1f %8s\n", n, tool, t, c, m / 1024,
                t * 1e6 / n, c * 1e6 / n, r }'
    }
    row signalbox "$t" "$m" "$c" "$ratio"
    ((HAVE_NINJA)) && row ninja "$nt" "$nm" "$nc" ""
    fresh_state
done

largest=${SIZES##* }
PREPARE=(noop)
read -r vt vm vc < <(measure "$BIN" validate "$TMP/chains-$largest.yaml")
bytes=$(wc -c <"$TMP/chains-$largest.yaml")
awk -v n="$largest" -v t="$vt" -v m="$vm" -v c="$vc" -v b="$bytes" 'BEGIN {
    printf "validate of the %d-step file (%.1f MB): %.2f s (%.2f s CPU), %.1f MB peak\n", n, b / 1e6, t, c, m / 1024 }'

missed=0
if [[ $largest == 100000 ]]; then
    if ((HAVE_NINJA)); then
        awk -v a="${SB_T[$largest]}" -v b="${NJ_T[$largest]}" 'BEGIN { exit !(a / b > 1.1) }' && missed=1
    fi
    ((SB_M[$largest] > 100 * 1024)) && missed=1
    awk -v t="$vt" 'BEGIN { exit !(t > 0.3) }' && missed=1
    ((vm > 100 * 1024)) && missed=1
    echo "goals at 100,000 steps: <= 1.1x ninja, <= 100 MB; validate <= 0.3 s, <= 100 MB:" \
        "$( ((missed)) && echo missed || echo met)"
fi
if [[ ${BENCH_STRICT:-0} == 1 ]] && ((missed)); then
    exit 1
fi
