#!/usr/bin/env bash
# Time and peak RSS of `signalbox validate` and `graph` on inputs at the
# loader's limits (SPEC §6), release build. No goal is asserted; the figures
# go in the README. Usage: bash benches/limits.sh
#
#   needs-100k   one step needing 100,000 others (3.4 MB)
#   steps-9.9m   85,000 steps in a 9.9 MiB file (every tenth starts a chain)
#   steps-100k   100,000 steps in chains of ten
#   blocks-20k   20,000 steps whose `run` is a block scalar (`run: |`)
#   vars-300k    300,000 vars (6.7 MB)
#   scalar-9m    one 9 MB `run` scalar
#   unknown-20k  20,000 steps, each needing an unknown step (20,000 errors)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
bin=$PWD/target/release/signalbox
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$tmp" <<'EOF'
import sys
d = sys.argv[1]

def write(name, head, steps):
    with open(f"{d}/{name}.yaml", "w") as f:
        f.write(head)
        for s in steps:
            f.write(s)

n = 100_000
write("needs-100k", "name: wide\nsteps:\n",
      [f"  s{i}:\n    run: 'true'\n" for i in range(n)]
      + ["  last:\n    needs: [" + ", ".join(f"s{i}" for i in range(n)) + "]\n    run: 'true'\n"])

def big():
    size, i = 0, 0
    while True:
        if i % 10:
            s = f"  step-{i}:\n    needs: [step-{i-1}]\n    run: echo building the component number {i} of the very large workflow && sleep 0\n"
        else:
            s = f"  step-{i}:\n    run: echo hello there this is a longer line of shell text for step {i}\n"
        size += len(s)
        if size > 9.9 * 1024 * 1024:
            return
        yield s
        i += 1

write("steps-9.9m", "name: big\nsteps:\n", big())
write("steps-100k", "name: big\nsteps:\n",
      [f"  s{i}:\n    run: 'true'\n" + (f"    needs: [s{i-1}]\n" if i % 10 else "") for i in range(n)])
write("blocks-20k", "name: big\nsteps:\n", [f"  s{i}:\n    run: |\n      echo {i}\n" for i in range(20_000)])
write("vars-300k", "name: big\nvars:\n" + "".join(f"  v{i}: value{i}\n" for i in range(300_000)),
      ["steps:\n  a:\n    run: 'true'\n"])
write("scalar-9m", "name: big\nsteps:\n", ["  a:\n    run: 'echo " + "x" * 9_000_000 + "'\n"])
write("unknown-20k", "name: big\nsteps:\n", [f"  s{i}:\n    needs: [t{i}]\n    run: 'true'\n" for i in range(20_000)])
EOF
measure() { # LABEL ARGS...
  local label=$1; shift
  # CPU seconds (user + system), so a busy machine does not skew them.
  /usr/bin/time -f "%U %S %M" -o "$tmp/time" "$bin" "$@" > /dev/null 2>&1 || true
  read -r user sys kb < <(tail -1 "$tmp/time")
  secs=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  printf '%-34s %7s s %7d MB\n' "$label" "$secs" $((kb / 1024))
}
for f in needs-100k steps-9.9m steps-100k blocks-20k vars-300k scalar-9m unknown-20k; do
  measure "validate $f" validate "$tmp/$f.yaml"
done
for f in needs-100k steps-100k; do
  measure "graph $f (text)" graph "$tmp/$f.yaml"
  measure "graph $f (dot)" graph "$tmp/$f.yaml" --format dot
done
