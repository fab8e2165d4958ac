#!/usr/bin/env bash
# Times `signalbox validate` on a 10,000-step workflow (100 chains of 100
# steps), the whole process, release build. Usage: bash benches/validate.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release --locked -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 benches/gen.py chains 100 100 > "$tmp/10k.yaml"
bin=target/release/signalbox
"$bin" validate "$tmp/10k.yaml"
best=999999; total=0
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "$bin" validate "$tmp/10k.yaml"
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  total=$((total + ms)); (( ms < best )) && best=$ms
done
echo "validate 10,000 steps: mean $((total / runs)) ms, best $best ms over $runs runs (goal: under 150 ms)"
