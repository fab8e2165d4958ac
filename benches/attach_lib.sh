# Sourced by the attach benchmarks (attach_*.sh): a detached run, screens
# attached to it in a tmux server of the benchmark's own, and the figures.
# Expects BIN (benches/bin.sh) and TMP (a temporary folder) to be set, and
# attach_cleanup to be called from the script's EXIT trap.

command -v tmux >/dev/null || { echo "error: tmux is required" >&2; exit 2; }
[[ -r /proc/self/stat ]] || { echo "error: needs /proc (Linux)" >&2; exit 2; }

# A tmux server of this benchmark's own: killing it ends every screen it has.
TMUX_SOCK="signalbox-bench-$$"
tm() { tmux -L "$TMUX_SOCK" "$@"; }
# Pids of run processes this benchmark started, for the cleanup.
RUN_PIDS=()
STOPPED_PIDS=()

attach_cleanup() {
    local p
    for p in "${STOPPED_PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; done
    tm kill-server 2>/dev/null || true
    for p in "${RUN_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
    done
}

now_us() { local t=$EPOCHREALTIME; REPLY=${t//[.,]/}; }

# Starts `run FILE --detach` with the state dir $2; sets RUN (its id), RUN_DIR,
# RUN_PID (the run's own process, from its lock file) and JOURNAL.
detach_run() {
    local file=$1 state=$2
    shift 2
    RUN=$("$BIN" run "$file" --detach --state-dir "$state" "$@" </dev/null 2>"$TMP/detach.err") || {
        echo "error: run --detach failed:" >&2
        cat "$TMP/detach.err" >&2
        exit 1
    }
    RUN_DIR=$state/runs/$RUN
    JOURNAL=$RUN_DIR/events.jsonl
    RUN_PID=$(<"$RUN_DIR/lock")
    RUN_PIDS+=("$RUN_PID")
}

# Waits (up to $3 seconds, default 300) until the journal has $2 lines
# matching the fixed string $1.
wait_journal() {
    local what=$1 want=$2 deadline=$((SECONDS + ${3:-300})) n=0
    while :; do
        n=$(grep -cF -- "$what" "$JOURNAL" 2>/dev/null || true)
        ((n >= want)) && return 0
        kill -0 "$RUN_PID" 2>/dev/null || { echo "error: the run ended before $want x $what" >&2; exit 1; }
        ((SECONDS < deadline)) || { echo "error: only $n of $want x $what after ${3:-300}s" >&2; exit 1; }
        sleep 0.05
    done
}

# Opens `signalbox attach RUN` (extra arguments after $1) in a new tmux
# session named $1 of 160x48; sets PANE_PID (the attach process itself:
# the pane execs it).
attach_screen() {
    local name=$1
    shift
    tm new-session -d -s "$name" -x 160 -y 48 \
        "exec '$BIN' attach '$RUN' --state-dir '$STATE' $* 2>>'$TMP/attach.err'"
    tm set-option -t "$name" remain-on-exit on >/dev/null
    PANE_PID=$(tm list-panes -t "$name" -F '#{pane_pid}')
}

# Leaves the screen of session $1 as SIGTERM does (it detaches; the run
# goes on) and waits until its process is gone.
leave_screen() {
    local name=$1 pid
    pid=$(tm list-panes -t "$name" -F '#{pane_pid}' 2>/dev/null) || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        [[ $(tm list-panes -t "$name" -F '#{pane_dead}' 2>/dev/null) == 1 ]] && break
        sleep 0.02
    done
    tm kill-session -t "$name" 2>/dev/null || true
}

# utime+stime of process $1 in clock ticks (fields 14 and 15 of /proc/PID/stat).
ticks() {
    local s
    s=$(<"/proc/$1/stat")
    s=${s##*) }
    read -ra f <<<"$s"
    REPLY=$((f[11] + f[12]))
}

# Each thread of process $1 as "TID NS SWITCHES" a line: its on-CPU
# nanoseconds (/proc/PID/task/TID/schedstat: exact, where the kernel has
# it) and its context switches (each one a wake-up).
thread_ns() {
    local t line k v sw
    for t in /proc/"$1"/task/*; do
        read -r line _ <"$t/schedstat" 2>/dev/null || continue
        sw=0
        while read -r k v; do
            case $k in voluntary_ctxt_switches: | nonvoluntary_ctxt_switches:) sw=$((sw + v)) ;; esac
        done <"$t/status" 2>/dev/null || true
        echo "${t##*/} $line $sw"
    done
}

# "NS SWITCHES" between two thread_ns snapshots (files $1, $2): a thread
# that ended in between is left out (the pool's threads end after idling,
# having used nothing), one that started counts from zero.
ns_between() {
    awk 'NR == FNR { ns[$1] = $2; sw[$1] = $3; next }
        { n += $2 - ns[$1]; s += $3 - sw[$1] } END { printf "%d %d\n", n, s }' "$1" "$2"
}

# Median and percentiles of numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
maximum() { sort -n | tail -n 1; }
