#!/usr/bin/env python3
"""Writes generated workflows for the benchmarks.

gen.py chains CHAINS LENGTH [COMMAND]  -> CHAINS chains of LENGTH steps each
"""
import sys


def chains(n_chains, length, command="true"):
    out = ["name: bench", "steps:"]
    for c in range(n_chains):
        for i in range(length):
            out.append(f"  c{c}-s{i}:")
            if i > 0:
                out.append(f"    needs: [c{c}-s{i - 1}]")
            out.append(f"    run: {command}")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "chains":
        cmd = sys.argv[4] if len(sys.argv) > 4 else "true"
        sys.stdout.write(chains(int(sys.argv[2]), int(sys.argv[3]), cmd))
    else:
        sys.exit(f"unknown kind {kind}")
