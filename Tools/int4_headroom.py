#!/usr/bin/env python3
"""How far can a 4-bit format go on the mamba-tiny fixture? Arg-max agreement with the golden
logits for several weight encodings, measured with an independent NumPy forward pass.

Issue 4 asks for int4 arg-max agreement >= 95 % on Tests/Fixtures/mamba-tiny. This script
answers whether any reasonable 4-bit encoding gets there, so that the engine's int4 is judged
against what the format can do, not against a kernel bug:

  * a float64 NumPy Mamba forward pass (the transformers reference maths, sequential scan),
    checked against the golden f32 logits first (max abs diff ~1e-5);
  * the projections (in_proj, x_proj, out_proj) replaced by their dequantised encodings,
    the tied embedding at int8 (as `rill convert --quant int4` stores it), dt_proj f32;
  * encodings: Rill's int4 (symmetric, blocks of 32, least-squares scale search, as
    Sources/RillFormat/Quantize.swift), the same with blocks of 16, asymmetric (scale + min,
    Q4_1-like) with blocks of 32 and 16, GPTQ on the int4 grid (needs calibration ids), and
    int8 for comparison;
  * the golden positions' top-1 margins, which bound what any perturbation can keep.

Measured 2026-12-02 (all three prompts, 832 positions): f32 100 %; int4 as Rill stores it
90.5 % (the engine's own golden test measures the same); blocks of 16 90.4 %; asymmetric 90.7 %,
asymmetric in blocks of 16 (~6 bits a weight with its scale and minimum) 93.0 %; GPTQ with
10,752 tokens of the held-out WEB text 91.7 % (91.5-92.2 % over damping 0.001-0.1 and a
sequential variant); int8 99.3 %. 12 % of the golden positions have a top-1 margin under 0.1
logit, while 4-bit weights move logits by up to ~1.7: no 4-bit encoding tried reaches 95 %.

Usage (numpy and safetensors; calibration ids from the engine's own tokenizer):
  rill convert Tests/Fixtures/mamba-tiny -o /tmp/mt.rill --quant f32
  rill tokenize /tmp/mt.rill --file Tests/Fixtures/heldout-web.txt > /tmp/calib.txt
  python3 Tools/int4_headroom.py [--calib-ids /tmp/calib.txt]
"""

import argparse
import os
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file
except ImportError:
    sys.exit("needs numpy and safetensors: pip install numpy safetensors")

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "mamba-tiny")
BS = 32


def rms(x, w, eps=1e-5):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1 + np.exp(-x))


def softplus(x):
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, 20))))


class Mamba:
    def __init__(self, cfg):
        self.layers = cfg["num_hidden_layers"]
        self.e = cfg["intermediate_size"]
        self.n = cfg["state_size"]
        self.k = cfg["conv_kernel"]
        rank = cfg["time_step_rank"]
        self.r = -(-cfg["hidden_size"] // 16) if rank == "auto" else rank

    def forward(self, w, ids, inputs=None):
        """Logits (T, V); with `inputs`, appends each projection's input rows to it."""
        e, n, r, k = self.e, self.n, self.r, self.k
        x = w["backbone.embeddings.weight"][ids]
        t = len(ids)
        for i in range(self.layers):
            p = "backbone.layers.%d.mixer." % i
            xn = rms(x, w["backbone.layers.%d.norm.weight" % i])
            if inputs is not None:
                inputs.setdefault(p + "in_proj.weight", []).append(xn)
            xz = xn @ w[p + "in_proj.weight"].T
            xc, z = xz[:, :e], xz[:, e:]
            cw = w[p + "conv1d.weight"][:, 0, :]
            pad = np.vstack([np.zeros((k - 1, e)), xc])
            xc = silu(sum(pad[j:j + t] * cw[:, j] for j in range(k)) + w[p + "conv1d.bias"])
            if inputs is not None:
                inputs.setdefault(p + "x_proj.weight", []).append(xc)
            xd = xc @ w[p + "x_proj.weight"].T
            dt = softplus(xd[:, :r] @ w[p + "dt_proj.weight"].T + w[p + "dt_proj.bias"])
            b, c = xd[:, r:r + n], xd[:, r + n:]
            a = -np.exp(w[p + "A_log"])
            s = np.zeros((e, n))
            y = np.zeros((t, e))
            for j in range(t):
                s = np.exp(dt[j][:, None] * a) * s + (dt[j] * xc[j])[:, None] * b[j][None, :]
                y[j] = s @ c[j]
            y = (y + w[p + "D"] * xc) * silu(z)
            if inputs is not None:
                inputs.setdefault(p + "out_proj.weight", []).append(y)
            x = x + y @ w[p + "out_proj.weight"].T
        return rms(x, w["backbone.norm_f.weight"]) @ w["backbone.embeddings.weight"].T


# --- encodings: each maps (rows, block) floats to their dequantised values --------------------

SEARCH = [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6, -7, 7, -8, 8, -9, 9]


def int4_search(v):
    """Rill's int4 per row of a block: quants rounded on the grids m / -(8 +- 0.1k), the scale
    refitted by least squares, the pair with the least error kept. Returns (scales, quants)."""
    m = v[np.arange(len(v)), np.argmax(np.abs(v), axis=1)]
    best_d = np.zeros(len(v))
    best_q = np.zeros_like(v)
    best_e = np.full(len(v), np.inf)
    for kk in SEARCH:
        d0 = m / -(8 + 0.1 * kk)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.clip(np.round(np.where(d0[:, None] != 0, v / d0[:, None], 0)), -8, 7)
        qq = (q * q).sum(1)
        d = np.where(qq > 0, (v * q).sum(1) / np.maximum(qq, 1e-30), 0)
        err = ((v - d[:, None] * q) ** 2).sum(1)
        better = (err < best_e) & (qq > 0)
        best_d[better] = d[better]
        best_q[better] = q[better]
        best_e[better] = err[better]
    return best_d, best_q


def int4_sym(v):
    d, q = int4_search(v)
    return d[:, None] * q


def int4_asym(v):
    """Scale and minimum per block (16 levels between them), trimmed ends searched."""
    lo, hi = v.min(1), v.max(1)
    out = np.zeros_like(v)
    best = np.full(len(v), np.inf)
    for a in np.linspace(0, 0.15, 6):
        for b in np.linspace(0, 0.15, 6):
            low = lo + (hi - lo) * a
            d = np.maximum((hi - (hi - lo) * b - low) / 15, 1e-30)
            deq = low[:, None] + d[:, None] * np.clip(np.round((v - low[:, None]) / d[:, None]), 0, 15)
            err = ((v - deq) ** 2).sum(1)
            better = err < best
            out[better] = deq[better]
            best[better] = err[better]
    return out


def int8_sym(v):
    d = np.abs(v).max(1) / 127
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d[:, None] > 0, np.round(v / d[:, None]), 0)
    return d[:, None] * np.clip(q, -127, 127)


def blockwise(w, encode, bs=BS):
    rows, cols = w.shape
    nb = -(-cols // bs)
    padded = np.zeros((rows, nb * bs))
    padded[:, :cols] = w
    return np.concatenate([encode(padded[:, b * bs:(b + 1) * bs]) for b in range(nb)], 1)[:, :cols]


def gptq_int4(w, h, damp=0.01):
    """GPTQ (Frantar et al. 2022) on Rill's int4 grid: columns in order, each block's scales
    chosen when the block starts, the rounding error spread over the later columns by the
    inverse Hessian of the layer's inputs."""
    w = w.astype(np.float64).copy()
    rows, cols = w.shape
    h = h.copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += damp * np.mean(np.diag(h)) * np.eye(cols)
    u = np.linalg.cholesky(np.linalg.inv(h)).T
    out = np.zeros_like(w)
    for b0 in range(0, cols, BS):
        b1 = min(cols, b0 + BS)
        block = np.zeros((rows, BS))
        block[:, :b1 - b0] = w[:, b0:b1]
        d, _ = int4_search(block)
        err = np.zeros((rows, b1 - b0))
        for j in range(b0, b1):
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.clip(np.where(d != 0, np.round(w[:, j] / d), 0), -8, 7)
            out[:, j] = d * q
            e = (w[:, j] - out[:, j]) / u[j, j]
            w[:, j + 1:b1] -= np.outer(e, u[j, j + 1:b1])
            err[:, j - b0] = e
        w[:, b1:] -= err @ u[b0:b1, b1:]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixture", default=FIXTURE, help="a Mamba fixture folder (default mamba-tiny)")
    ap.add_argument("--calib-ids", help="comma-separated token ids of calibration text (enables GPTQ)")
    args = ap.parse_args()

    import json
    cfg = json.load(open(os.path.join(args.fixture, "config.json")))
    model = Mamba(cfg)
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(args.fixture, "model.safetensors")).items()}
    golden = load_file(os.path.join(args.fixture, "golden.safetensors"))
    prompts = sorted({k.split(".")[0] for k in golden})

    def agreement(weights):
        same = total = 0
        worst = 0.0
        for p in prompts:
            logits = model.forward(weights, golden[p + ".input_ids"])
            ref = golden[p + ".logits"]
            same += int((logits.argmax(1) == ref.argmax(1)).sum())
            total += len(ref)
            worst = max(worst, float(np.abs(logits - ref).max()))
        return "%5.1f %%   max |logit diff| %.3g" % (100 * same / total, worst)

    margins = np.concatenate([np.diff(np.sort(golden[p + ".logits"], 1)[:, -2:], axis=1)[:, 0] for p in prompts])
    print("golden top-1 margins: " + ", ".join("%.0f %% under %.2f" % (100 * (margins < t).mean(), t)
                                                 for t in (0.05, 0.1, 0.2, 0.5)))
    print("%-32s %s" % ("f32 (NumPy vs golden)", agreement(w)))

    projections = [k for k in w if w[k].ndim == 2 and k.endswith(("in_proj.weight", "x_proj.weight", "out_proj.weight"))]
    embedding = blockwise(w["backbone.embeddings.weight"], int8_sym)

    def with_projections(encode):
        v = dict(w)
        v["backbone.embeddings.weight"] = embedding
        for k in projections:
            v[k] = encode(k, w[k])
        return v

    variants = [
        ("int4 (Rill: sym, block 32)", lambda k, m: blockwise(m, int4_sym)),
        ("int4 sym, block 16", lambda k, m: blockwise(m, int4_sym, 16)),
        ("int4 asym, block 32", lambda k, m: blockwise(m, int4_asym)),
        ("int4 asym, block 16", lambda k, m: blockwise(m, int4_asym, 16)),
        ("int8 (Rill)", lambda k, m: blockwise(m, int8_sym)),
    ]
    for name, encode in variants:
        print("%-32s %s" % (name, agreement(with_projections(encode))))

    if args.calib_ids:
        ids = np.array([int(t) for t in open(args.calib_ids).read().replace("\n", ",").split(",") if t.strip()])
        inputs = {}
        for s in range(0, len(ids), 512):
            model.forward(w, ids[s:s + 512], inputs)
        hessians = {k: np.vstack(v).T @ np.vstack(v) / sum(len(a) for a in v) for k, v in inputs.items()}
        print("%-32s %s" % ("int4 GPTQ (%d calib tokens)" % len(ids),
                            agreement(with_projections(lambda k, m: gptq_int4(m, hessians[k])))))


if __name__ == "__main__":
    main()
