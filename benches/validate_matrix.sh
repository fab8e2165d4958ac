#!/usr/bin/env bash
# Times `signalbox validate` on a workflow whose one matrix step has 10,000
# instances (two axes of 100 values, a dependent `same:` matrix of 100 and a
# step needing them all), the whole process, release build; prints the
# median. Usage: bash benches/validate_matrix.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-21}
cargo build --release --locked -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
values=$(seq -s ', ' 0 99)
cat > "$tmp/matrix.yaml" <<YAML
name: matrix-10k
steps:
  build:
    matrix:
      a: [$values]
      b: [$values]
    run: echo {{ matrix.a }} {{ matrix.b }} > "out-\$SIGNALBOX_MATRIX_A"
  test:
    matrix: { a: [$values] }
    needs: [{ step: build, same: [a] }]
    run: echo {{ matrix.a }}
  publish:
    needs: [test]
    run: echo done
YAML
bin=target/release/signalbox
"$bin" validate "$tmp/matrix.yaml"
times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  "$bin" validate "$tmp/matrix.yaml"
  times+=($(( ($(date +%s%N) - start) / 1000000 )))
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
best=$(printf '%s\n' "${times[@]}" | sort -n | head -1)
echo "validate one 10,000-instance matrix step: median $median ms, best $best ms over $runs runs (goal: under 150 ms)"
