#!/usr/bin/env bash
# Remake the README's pictures from the real binary.
#
#   assets/remake.sh            # everything: screenshots (SVG + one PNG) and the cast
#   SKIP_CAST=1 assets/remake.sh   # screenshots only
#
# Needs: cargo, tmux, python3, rsvg-convert (Debian: librsvg2-bin) and
# asciinema (Debian: asciinema). Runs workflows/demo.yaml in detached tmux
# sessions on a private tmux server with a throwaway --state-dir, drives it
# with send-keys, waits for each moment by polling `tmux capture-pane` with a
# deadline, and converts the coloured capture with assets/ansi2svg.py. The
# files land in assets/ only when every step worked; the tmux server and the
# temporary directory are removed on any exit.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/assets
BIN=$ROOT/target/release/signalbox
CONVERT=$OUT/ansi2svg.py
TITLE="signalbox run workflows/demo.yaml"

for tool in cargo tmux python3 rsvg-convert; do
    command -v "$tool" >/dev/null || { echo "remake.sh: $tool is missing (rsvg-convert: apt-get install -y librsvg2-bin)" >&2; exit 2; }
done
if [[ -z ${SKIP_CAST:-} ]] && ! command -v asciinema >/dev/null; then
    echo "remake.sh: asciinema is missing (apt-get install -y asciinema, or SKIP_CAST=1)" >&2
    exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/signalbox-assets.XXXXXX")
SOCK=signalbox-assets-$$ # a private tmux server: never touches the user's sessions
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
    tm kill-server 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s remake.sh: %s\n' "$(date +%T)" "$*" >&2; }

log "building release"
cargo build --release --quiet

mkdir -p "$WORK/out"

# start SESSION COLS ROWS: a detached session running the demo in a
# throwaway directory of its own (workflows/ linked in, state in .signalbox
# there), so that the screen and the exit line show the paths a user sees.
start() {
    local s=$1 cols=$2 rows=$3 dir=$WORK/run-$1
    mkdir -p "$dir"
    ln -s "$ROOT/workflows" "$dir/workflows"
    tm new-session -d -s "$s" -x "$cols" -y "$rows" -c "$dir" \
        env PATH="$(dirname "$BIN"):$PATH" TERM=xterm-256color "${@:4}"
}
DEMO=(signalbox run workflows/demo.yaml --state-dir .signalbox)

# poll SESSION SECONDS PREDICATE...: capture the pane (with colours into
# $WORK/SESSION.ansi, plain into $WORK/SESSION.txt, both from one capture)
# until PREDICATE succeeds; PREDICATE reads the plain screen from $SCREEN
# (and may replace $WORK/$SESSION.ansi with a better capture).
# Fails after SECONDS, showing the last screen.
poll() {
    local s=$1 secs=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while :; do
        if ! tm capture-pane -e -p -t "$s" >"$WORK/$s.ansi" 2>/dev/null; then
            log "session $s ended while waiting for: $*"
            return 1
        fi
        sed 's/\x1b\[[0-9;:]*m//g' "$WORK/$s.ansi" >"$WORK/$s.txt"
        if SESSION=$s SCREEN=$WORK/$s.txt "$@"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            log "gave up after ${secs}s on session $s waiting for: $*"
            cat "$WORK/$s.txt" >&2
            return 1
        fi
        sleep 0.1
    done
}

# Predicates over $SCREEN.
has() { grep -qF -- "$1" "${SCREEN:?}"; }
status_has() { tail -n 1 "${SCREEN:?}" | grep -qE -- "$1"; }
# An approval and a question open while a step still runs or backs off,
# after the breaker has opened (so the status line shows that too). That
# lasts about a second; should a slow machine miss it, take the last capture
# that had a step running or backing off, else the first with the waits open.
busy_waits() {
    has "go-live p10" && has "? notes  " || return 1
    if status_has '(▶|↻)[0-9]'; then
        status_has 'registry open' && return 0
        cp "$WORK/$SESSION.ansi" "$WORK/$SESSION.near"
        return 1
    fi
    if [[ -f $WORK/$SESSION.near ]]; then
        cp "$WORK/$SESSION.near" "$WORK/$SESSION.ansi"
    fi
    log "missed the moment the breaker opened in session $SESSION; using the closest capture"
}
run_over() { status_has '(succeeded|failed|cancelled) in [0-9]'; }

# svg SESSION NAME [extra ansi2svg args]: the last capture of SESSION as NAME.svg.
svg() {
    local s=$1 name=$2
    shift 2
    local size
    size=$(tm display-message -p -t "$s" '#{pane_width} #{pane_height}')
    python3 "$CONVERT" "$WORK/$s.ansi" --cols "${size% *}" --rows "${size#* }" \
        --title "$TITLE" -o "$WORK/out/$name.svg" "$@"
    log "captured $name.svg"
}

# cursor_arg SESSION: --cursor X,Y when the program shows its cursor.
cursor_arg() {
    local c
    c=$(tm display-message -p -t "$1" '#{cursor_flag} #{cursor_x},#{cursor_y}')
    if [[ ${c%% *} == 1 ]]; then
        echo "--cursor=${c#* }"
    fi
}

# select_wait SESSION TEXT: move the wait-queue selection (the line with
# "›") onto the line holding TEXT, with j and k.
select_wait() {
    local s=$1 want=$2 i screen sel tgt
    for i in $(seq 10); do
        screen=$(tm capture-pane -p -t "$s")
        tgt=$(grep -nF -- "$want" <<<"$screen" | head -n 1 | cut -d: -f1)
        sel=$(grep -nE -- '›(◆|\?) ' <<<"$screen" | head -n 1 | cut -d: -f1)
        if [[ -n $tgt && $tgt == "$sel" ]]; then
            return 0
        fi
        if [[ -n $tgt && -n $sel && $tgt -lt $sel ]]; then
            tm send-keys -t "$s" k
        else
            tm send-keys -t "$s" j
        fi
        sleep 0.4
    done
    log "could not select $want in session $s"
    return 1
}

# type_slowly SESSION TEXT: type TEXT a key at a time, as a person would.
type_slowly() {
    local s=$1 text=$2 i
    for ((i = 0; i < ${#text}; i++)); do
        tm send-keys -t "$s" -l "${text:i:1}"
        sleep 0.12
    done
}

# quit SESSION: q (and y if it asks), then wait for the program to leave.
quit() {
    local s=$1 i
    tm send-keys -t "$s" q
    for i in $(seq 50); do
        tm has-session -t "$s" 2>/dev/null || return 0
        if tm capture-pane -p -t "$s" 2>/dev/null | grep -qF "y quit and cancel"; then
            tm send-keys -t "$s" y
        fi
        sleep 0.1
    done
    log "session $s did not quit; killing it"
    tm kill-session -t "$s" 2>/dev/null || true
}

# ---- 160x48: the wait queue, the answer box, the end of the run ----------
log "screenshots at 160x48"
start big 160 48 "${DEMO[@]}"
poll big 15 has "? survey"
tm send-keys -t big w # focus the wait queue
poll big 25 busy_waits
svg big screen

select_wait big "? notes  "
tm send-keys -t big Enter
poll big 5 has "answer notes"
tm send-keys -t big Down
poll big 5 has "› New features"
cursor=$(cursor_arg big)
svg big answer ${cursor:+"$cursor"}

tm send-keys -t big Enter
poll big 5 has 'notes answered "New features"'
select_wait big "◆ go-live p10"
tm send-keys -t big a
poll big 90 run_over
sleep 0.5
poll big 5 run_over
svg big end
quit big

# ---- 80x24: the same moment on a small terminal, and the help -------------
log "screenshots at 80x24"
start small 80 24 "${DEMO[@]}"
poll small 15 has "? survey"
tm send-keys -t small w
poll small 25 busy_waits
svg small screen-80x24
tm send-keys -t small '?'
poll small 5 has "this help"
svg small help-80x24
tm send-keys -t small Escape
quit small

# ---- the PNG of the main screenshot ---------------------------------------
rsvg-convert "$WORK/out/screen.svg" -o "$WORK/out/screen.png"
log "rendered screen.png"

# ---- the cast: 120x36, keys sent from outside -------------------------------
if [[ -z ${SKIP_CAST:-} ]]; then
    log "recording demo.cast at 120x36 (about 40 s)"
    start cast 120 36 ASCIINEMA_CONFIG_HOME="$WORK/asciinema-config" \
        asciinema rec --quiet --overwrite --idle-time-limit 3 --title "signalbox run workflows/demo.yaml" \
        --command "${DEMO[*]}" "$WORK/out/demo.cast"
    # Steps run in parallel; fetch-assets retries; waits open (about 5 s in).
    poll cast 20 has "go-live p10"
    sleep 3
    # Filter the log: publish-mirror's retries, the breaker, the fallback.
    tm send-keys -t cast /
    sleep 0.6
    type_slowly cast publish
    sleep 0.6
    tm send-keys -t cast Enter
    sleep 3
    tm send-keys -t cast Escape
    sleep 1
    # The wait queue: answer the question from its box, approve go-live.
    tm send-keys -t cast w
    sleep 1.2
    select_wait cast "? notes  "
    sleep 1
    tm send-keys -t cast Enter
    poll cast 5 has "answer notes"
    sleep 1.8
    tm send-keys -t cast Down
    poll cast 5 has "› New features"
    sleep 1.2
    tm send-keys -t cast Enter
    poll cast 5 has 'notes answered "New features"'
    sleep 1.5
    select_wait cast "◆ go-live p10"
    sleep 1
    tm send-keys -t cast a
    poll cast 20 has "deploy succeeded"
    sleep 1
    # The graph: unit-tests' output.
    for _ in 1 2 3; do
        tm capture-pane -p -t cast | grep -q "┏ graph" && break
        tm send-keys -t cast Tab
        sleep 0.5
    done
    for _ in 1 2 3 4 5 6; do
        tm capture-pane -p -t cast | grep -q "unit-tests: succeeded" && break
        tm send-keys -t cast l
        sleep 0.5
    done
    sleep 0.8
    tm send-keys -t cast Enter
    sleep 3
    tm send-keys -t cast Escape
    # survey counts down in the wait queue, times out and takes its default.
    poll cast 60 run_over
    sleep 3
    tm send-keys -t cast '?'
    sleep 3
    tm send-keys -t cast Escape
    sleep 1.5
    quit cast
    for _ in $(seq 50); do
        tm has-session -t cast 2>/dev/null || break
        sleep 0.1
    done
    log "recorded demo.cast ($(du -h "$WORK/out/demo.cast" | cut -f1))"
fi

# ---- publish ----------------------------------------------------------------
cp "$WORK"/out/* "$OUT"/
log "wrote: $(cd "$WORK/out" && echo *)"
du -ch "$OUT"/*.svg "$OUT"/*.png "$OUT"/*.cast 2>/dev/null | tail -n 1 >&2
