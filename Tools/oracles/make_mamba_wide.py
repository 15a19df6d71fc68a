#!/usr/bin/env python3
"""A wider Mamba (d_model 768) trained with the reference implementation, for side-by-side 4-bit
quality measurements (issue 22, item 1): llama.cpp's K-quant mixes fall back to other types on
128-wide rows, so mamba-tiny alone cannot show how Q4_K_M compares on real widths.

The model is transformers' `MambaForCausalLM`, trained with make_oracles.py's recipe (KJV text,
random 257-token windows, AdamW (0.9, 0.95), wd 0.01, 5 % warm-up then cosine to 10 %, bf16
autocast, batch 32 x 256, grad clip 1.0, seed 1, the training-only fast scan) and the shared
fixtures' tokenizer (Tests/Fixtures/mamba-tiny/tokenizer.json, vocab 2048).  It is saved in the
fixture layout (config.json, model.safetensors in float32, tokenizer.json,
tokenizer_config.json, train_info.json), without a golden: the checkpoint is ~67 MB, too large
for the repository, and is kept outside it (e.g. /work/ck/mamba-wide/).

Default shape: hidden 768, 4 layers, expand 2 (d_inner 1536), state 16, conv 4, time_step_rank
"auto" (48), tied embeddings: 16.66 M parameters, 66.6 MB in float32 -- small enough to come back
from the GPU machine in one `run` call (at most 64 MiB of files, 16 MiB each), compressed and split.

    # on the GPU machine (the `run` tool, carry [".vendor/kjv_dump.txt"], timeout 600):
    python3 Tools/oracles/make_mamba_wide.py train --seconds 330 --out /tmp/mamba-wide
    python3 Tools/oracles/make_mamba_wide.py pack --ckpt /tmp/mamba-wide --out $OUT
    # back here:
    python3 Tools/oracles/make_mamba_wide.py unpack --parts DIR_WITH_PARTS --out /work/ck/mamba-wide

`train` takes make_oracles.py's train options too (--lr, --seed, --set key=JSON, --init-from,
--device); --hidden / --layers change the shape (intermediate_size = 2 * hidden).

What was run (2026-12-03, nvidia-h200, torch 2.11.0+cu130, transformers 5.17.0), one `run` call of
362 s (451 s held, machine start included), carry [".vendor/kjv_dump.txt.gz"] (the dump gzip'd
here and `gunzip -c` there, to save 3 MB of the 64 MiB that may travel):
    gunzip -c .vendor/kjv_dump.txt.gz > .vendor/kjv_dump.txt
    python3 Tools/oracles/make_mamba_wide.py train --seconds 330 --out /tmp/mamba-wide
    python3 Tools/oracles/make_mamba_wide.py pack --ckpt /tmp/mamba-wide --out $OUT
-> 862 steps of 32 x 256 tokens (0.384 s a step; ~6 passes over the 1.15 M-token corpus), lr 2e-3,
loss 11.41 -> 1.347 (mean of the last 20; uniform would be ln 2048 = 7.62); 4 parts, 61.9 MB.
Kept at /work/ck/mamba-wide/.  Its f32 perplexity on Tests/Fixtures/heldout-web.txt (--ctx 256):
1318.116 (transformers on a CPU), 1318.116 (Rill), 1318.116 (llama.cpp): KJV-only training makes it
a poor model of web text (mamba-tiny: 301.6), and a confident one (KJV slice: 3.48).
Note: the repository's tracked files are 75.7 MB, over the 64 MiB a `run` call may send; for
that call two tracked fixtures were swapped for symlinks to identical copies outside the
checkout and restored right after (a link travels as a link).
"""

from __future__ import annotations

import argparse
import glob
import gzip
import io
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

PART_BYTES = 16_000_000  # under the 16 MiB per-file limit of the `run` tool
CKPT_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
              "train_info.json", "generation_config.json")


def register(mo, hidden: int, layers: int):
    mo.PRESETS["mamba-wide"] = dict(
        arch="mamba", tokenizer=mo.SHARED_TOKENIZER, prompts="shared",
        config=dict(
            hidden_size=hidden, num_hidden_layers=layers, state_size=16, conv_kernel=4, expand=2,
            intermediate_size=2 * hidden, time_step_rank="auto", use_conv_bias=True, use_bias=False,
            layer_norm_epsilon=1e-5, residual_in_fp32=True, tie_word_embeddings=True,
            vocab_size=2048, pad_token_id=0, bos_token_id=0, eos_token_id=0, initializer_range=0.1,
        ))


def cmd_train(a, rest):
    import make_oracles as mo
    register(mo, a.hidden, a.layers)
    argv = ["train", "--preset", "mamba-wide", "--seconds", str(a.seconds), "--out", a.out, "--no-golden"]
    if "--lr" not in rest:
        argv += ["--lr", "2e-3"]  # 3e-3 (the tiny presets') is on the edge for 768-wide layers
    return mo.main(argv + rest)


def cmd_pack(a, rest):
    """The checkpoint folder as one gzip'd tar, split into PART_BYTES pieces: mamba-wide.tgz.part-NN."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name in CKPT_FILES:
            p = os.path.join(a.ckpt, name)
            if os.path.exists(p):
                t.add(p, arcname=name)
    data = gzip.compress(buf.getvalue(), compresslevel=6)
    os.makedirs(a.out, exist_ok=True)
    n = 0
    for i in range(0, len(data), PART_BYTES):
        with open(os.path.join(a.out, f"mamba-wide.tgz.part-{n:02d}"), "wb") as f:
            f.write(data[i:i + PART_BYTES])
        n += 1
    print(f"packed {len(buf.getvalue())} bytes of tar into {len(data)} gzip bytes, {n} parts")
    return 0


def cmd_unpack(a, rest):
    parts = sorted(glob.glob(os.path.join(a.parts, "mamba-wide.tgz.part-*")))
    if not parts:
        sys.exit(f"no mamba-wide.tgz.part-* in {a.parts}")
    data = b"".join(open(p, "rb").read() for p in parts)
    os.makedirs(a.out, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(data)), mode="r") as t:
        t.extractall(a.out, filter="data")
    print(f"{len(parts)} parts -> {a.out}: {sorted(os.listdir(a.out))}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train", help="train on the GPU (other options pass through to make_oracles.py train)")
    t.add_argument("--seconds", type=float, required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--hidden", type=int, default=768)
    t.add_argument("--layers", type=int, default=4)
    p = sub.add_parser("pack", help="checkpoint folder -> gzip'd tar split into <16 MiB parts")
    p.add_argument("--ckpt", required=True)
    p.add_argument("--out", required=True)
    u = sub.add_parser("unpack", help="parts -> checkpoint folder")
    u.add_argument("--parts", required=True)
    u.add_argument("--out", required=True)
    a, rest = ap.parse_known_args(argv)
    if rest and a.cmd != "train":
        ap.error(f"unknown arguments {rest}")
    return {"train": cmd_train, "pack": cmd_pack, "unpack": cmd_unpack}[a.cmd](a, rest)


if __name__ == "__main__":
    sys.exit(main())
