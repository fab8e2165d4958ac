# Sourced by the benchmark scripts: sets BIN to the binary to time,
# $SIGNALBOX_BIN if set (e.g. an older build to compare), else a release
# build of this checkout, made here. Run from the repository's top.
if [[ -n ${SIGNALBOX_BIN:-} ]]; then
    BIN=$SIGNALBOX_BIN
else
    echo "building: cargo build --release" >&2
    cargo build --release --locked --quiet --bin signalbox
    BIN="${CARGO_TARGET_DIR:-$PWD/target}/release/signalbox"
fi
[[ $BIN == /* ]] || BIN="$PWD/$BIN"
[[ -x $BIN ]] || { echo "error: no binary at $BIN" >&2; exit 2; }
