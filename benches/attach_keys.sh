#!/usr/bin/env bash
# A key pressed on an attached screen to its approval_resolved: p50/p99
# (goal: p99 under 5 ms). What is measured and how: benches/attach_keys.rs.
#
#   bash benches/attach_keys.sh [KEYS]     # from the package root; KEYS defaults to 500 (>= 200)
#
# Environment: SIGNALBOX_BIN (the run's binary; else a release build of this
# checkout), GAP_MS (pause between keys, default 30), TMPDIR,
# BENCH_STRICT=1 (exit 1 when the goal is missed).
set -euo pipefail
export LC_ALL=C

cd "$(dirname "${BASH_SOURCE[0]}")/.."

KEYS=${1:-${ATTACH_KEYS:-500}}
case $KEYS in *[!0-9]* | '') echo "usage: $0 [KEYS]" >&2; exit 2 ;; esac

source benches/bin.sh
echo "building: cargo bench --bench attach_keys" >&2
SIGNALBOX_BIN=$BIN ATTACH_KEYS=$KEYS cargo bench --locked --quiet --bench attach_keys
