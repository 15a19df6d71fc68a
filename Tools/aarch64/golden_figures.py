#!/usr/bin/env python3
"""Summarises the figures the golden tests print (Tests/RillModelsTests/GoldenLogitsChecks.swift)
from the output of `swift test --filter RillModelsTests` (or of the test bundle run directly),
one row per fixture and measure, with one column per log: e.g. arm64 beside x86-64.

  f32 (K/V ...) max |Δlogit|: the largest over the fixture's prompts, prefill and step modes
  int8 / int4 arg-max agreement: over the prompts' positions, prefill and step modes, each
      prompt weighted by its length as the test weights it (the length is recovered as the
      smallest n ≤ 1,000 for which every fraction printed for the prompt, int8 and int4, is a
      multiple of 1/n)

Usage: Tools/aarch64/golden_figures.py NAME=LOG [NAME=LOG ...]
"""
import re
import sys
from fractions import Fraction

F32 = re.compile(r"^(\S+) f32 \(K/V (\w+)\) (\w+): prefill max\|Δ\| (\S+), step max\|Δ\| (\S+), last16 (\S+)")
# SUBLLM/LLaMA (SubllmGoldenTests): prefill in several chunkings, and step, against the full pass.
SUB_PREFILL = re.compile(r"^(\S+) f32 (p\d+) prefill chunk \d+: max\|Δ\| (\S+)")
SUB_STEP = re.compile(r"^(\S+) f32 (p\d+) step: max\|Δ\| vs full pass ([^,\s]+)")
AGREE = re.compile(r"^(\S+) (int8|int4) (\w+): arg-max agreement prefill (\S+), step (\S+)")


def length_of(fractions):
    """The smallest n whose multiples of 1/n include every value (the prompt's token count)."""
    for n in range(1, 1001):
        if all(abs(v * n - round(v * n)) < 1e-9 for v in fractions):
            return n
    return 1


def parse(path):
    f32, fractions, agree = {}, {}, []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if m := F32.match(line):
            key = (m[1], f"f32 K/V {m[2]} max \\|Δlogit\\| prefill / step")
            pre, step = float(m[4]), float(m[5])
            old = f32.get(key, (0.0, 0.0))
            f32[key] = (max(old[0], pre), max(old[1], step))
        elif (m := SUB_PREFILL.match(line)) or (m2 := SUB_STEP.match(line)):
            key = ((m or m2)[1], "f32 K/V f32 max \\|Δlogit\\| prefill / step")
            old = f32.get(key, (0.0, 0.0))
            f32[key] = (max(old[0], float(m[3])), old[1]) if m else (old[0], max(old[1], float(m2[3])))
        elif m := AGREE.match(line):
            pre, step = float(m[4]), float(m[5])
            fractions.setdefault((m[1], m[3]), []).extend([pre, step])
            agree.append((m[1], m[2], m[3], pre, step))
    # A prompt's length from every fraction printed for it (int8 and int4, both modes).
    lengths = {k: length_of(v) for k, v in fractions.items()}
    sums = {}
    for fixture, quant, prompt, pre, step in agree:
        key = (fixture, f"{quant} arg-max agreement prefill+step")
        n = lengths[(fixture, prompt)]
        s, w = sums.get(key, (0.0, 0))
        sums[key] = (s + (pre + step) * n, w + 2 * n)
    rows = {k: f"{a:.2g} / {b:.2g}" for k, (a, b) in f32.items()}
    rows.update({k: f"{100 * s / w:.1f} %" for k, (s, w) in sums.items()})
    return rows


def main(args):
    if not args:
        print(__doc__, file=sys.stderr)
        return 2
    names, tables = [], []
    for a in args:
        name, _, path = a.partition("=")
        names.append(name)
        tables.append(parse(path))
    keys = sorted({k for t in tables for k in t})
    print("| fixture | measure | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for k in keys:
        print(f"| {k[0]} | {k[1]} | " + " | ".join(t.get(k, "—") for t in tables) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
