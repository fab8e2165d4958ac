#!/usr/bin/env bash
# Times `signalbox graph` of one step with 100,000 needs (goal: under 1 s),
# text and DOT, the whole process with its peak RSS, release build.
# Usage: bash benches/graph_fanin.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cargo build --release --locked -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp/fanin.yaml" <<'PY'
import sys
n = 100_000
lines = ["name: fanin", "steps:"]
lines += [f"  s{i}: {{ run: 'true' }}" for i in range(n)]
lines += ["  gate:", "    run: 'true'", "    needs: [" + ", ".join(f"s{i}" for i in range(n)) + "]"]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
bin=target/release/signalbox
for format in text dot; do
  best=999999; rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" graph --format "$format" "$tmp/fanin.yaml" > /dev/null
    read -r secs kb < "$tmp/time"
    ms=$(python3 -c "print(int(float('$secs') * 1000))")
    (( ms < best )) && best=$ms
    rss=$kb
  done
  echo "graph --format $format of a step with 100,000 needs: best $best ms over $runs runs, peak RSS $((rss / 1024)) MB (goal: under 1 s)"
done
