#!/usr/bin/env python3
"""Which 4-bit encoding? KL(f32 || q) on held-out text for several block encodings of a Mamba
fixture's projections, measured with the NumPy Mamba forward pass of Tools/int4_headroom.py.

This is the measurement behind int4k (Formats/rill.md section 6.5). Each encoding replaces the
in_proj, x_proj and out_proj matrices by their dequantised values (the tied embedding int8 in
every row, as `rill convert --quant int4` stores it); KL is over the second half of chunks of
512 held-out tokens, as `rill perplexity` scores them. Encodings (bits a weight in brackets):

  sym      Rill's int4: symmetric, least-squares scale search, f32 scale          (5.0)
  sym16    the same with the scale rounded to f16                                 (4.5)
  nl       a non-uniform 16-level codebook (IQ4_NL's levels), f16 scale           (4.5)
  asym16   scale and minimum per block, both f16                                  (5.0)
  asymk    int4k: scale and minimum as u8 codes against f32 row scales            (4.5 + 64/row)
  asymk256 the same with 6-bit codes against each 256 elements' f16 scales (Q4_K) (4.5)

each also weighted by the mean squared activation of its input column over a calibration text
(`imp=True`, llama.cpp's importance matrix). Measured 2026-12-03 on mamba-tiny (4 chunks):
sym 1.34e-2, sym16 1.33e-2, nl 1.22e-2, asym16 1.04e-2, asymk 1.05e-2, asymk256 1.11e-2;
weighted: 1.31e-2, 1.31e-2, 1.17e-2, 9.9e-3, 9.9e-3, 1.06e-2; int8 1.0e-4.

Usage (numpy and safetensors; token ids from the engine's own tokenizer):
  rill convert Tests/Fixtures/mamba-tiny -o /tmp/mt.rill --quant f32
  rill tokenize /tmp/mt.rill --file Tests/Fixtures/heldout-web.txt > /tmp/held.ids
  rill tokenize /tmp/mt.rill --file CALIBRATION.txt > /tmp/calib.ids
  python3 Tools/int4_encodings.py --held-ids /tmp/held.ids --calib-ids /tmp/calib.ids
"""

import argparse
import json
import os
import sys

try:
    import numpy as np
    from safetensors.numpy import load_file
except ImportError:
    sys.exit("needs numpy and safetensors: pip install numpy safetensors")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from int4_headroom import FIXTURE, Mamba, blockwise, int8_sym  # noqa: E402

CTX = 512

NL = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.float64)


def f16(x):
    return x.astype(np.float16).astype(np.float64)


def nl_encode(v, wt):
    # per block: scale search over candidates, nearest codebook level, weighted LS refit
    amax_i = np.argmax(np.abs(v), 1)
    m = v[np.arange(len(v)), amax_i]
    best = np.zeros_like(v); beste = np.full(len(v), np.inf)
    for itry in range(-9, 10):
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(m != 0, (NL[0] + itry) / m, 0)
        t = v * inv[:, None]
        idx = np.abs(t[:, :, None] - NL[None, None, :]).argmin(-1)
        q = NL[idx]
        sqx = (wt * v * q).sum(1); sq2 = (wt * q * q).sum(1)
        d = np.where(sq2 > 0, sqx / np.maximum(sq2, 1e-30), 0)
        d = f16(d)
        # re-round on the stored scale
        with np.errstate(divide="ignore", invalid="ignore"):
            t2 = np.where(d[:, None] != 0, v / d[:, None], 0)
        q = NL[np.abs(t2[:, :, None] - NL[None, None, :]).argmin(-1)]
        deq = d[:, None] * q
        e = (wt * (v - deq) ** 2).sum(1)
        better = e < beste
        best[better] = deq[better]; beste[better] = e[better]
    return best


def sym_encode(v, wt, scale_dtype=None):
    amax_i = np.argmax(np.abs(v), 1)
    m = v[np.arange(len(v)), amax_i]
    best = np.zeros_like(v); beste = np.full(len(v), np.inf)
    for kk in range(-9, 10):
        d0 = m / -(8 + 0.1 * kk)
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.clip(np.round(np.where(d0[:, None] != 0, v / d0[:, None], 0)), -8, 7)
        sq2 = (wt * q * q).sum(1)
        d = np.where(sq2 > 0, (wt * v * q).sum(1) / np.maximum(sq2, 1e-30), 0)
        if scale_dtype == "f16":
            d = f16(d)
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.clip(np.round(np.where(d[:, None] != 0, v / d[:, None], 0)), -8, 7)
        deq = d[:, None] * q
        e = (wt * (v - deq) ** 2).sum(1)
        better = e < beste
        best[better] = deq[better]; beste[better] = e[better]
    return best


def asym_params(v, wt):
    # Q4_K-style search: min <= 0 offset, scale; iterate candidates on the range
    lo = np.minimum(v.min(1), 0); hi = v.max(1)
    bd = np.zeros(len(v)); bm = lo.copy(); beste = np.full(len(v), np.inf)
    for step in np.arange(-1.0, 1.01, 0.1):
        iscale = np.where(hi > lo, (15 + step) / np.maximum(hi - lo, 1e-30), 0)
        q = np.clip(np.round((v - lo[:, None]) * iscale[:, None]), 0, 15)
        # weighted LS for (d, mn): v ~ d*q + mn
        sw = wt.sum(1); sq = (wt * q).sum(1); sqq = (wt * q * q).sum(1)
        sx = (wt * v).sum(1); sqx = (wt * q * v).sum(1)
        det = sw * sqq - sq * sq
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(det > 0, (sw * sqx - sq * sx) / det, 0)
            mn = np.where(det > 0, (sqq * sx - sq * sqx) / det, lo)
        mn = np.minimum(mn, 0)  # keep offset non-positive
        deq = d[:, None] * q + mn[:, None]
        e = (wt * (v - deq) ** 2).sum(1)
        better = e < beste
        bd[better] = d[better]; bm[better] = mn[better]; beste[better] = e[better]
    return bd, bm


def asym_requant(v, d, mn):
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.round(np.where(d[:, None] != 0, (v - mn[:, None]) / d[:, None], 0)), 0, 15)
    return d[:, None] * q + mn[:, None]


def encode_matrix(mat, kind, wcol=None, bs=32):
    rows, cols = mat.shape
    nb = -(-cols // bs)
    P = np.zeros((rows, nb * bs)); P[:, :cols] = mat
    W = np.ones((rows, nb * bs))
    if wcol is not None:
        wc = np.zeros(nb * bs); wc[:cols] = wcol
        W = np.broadcast_to(wc, (rows, nb * bs)).copy()
    out = np.zeros_like(P)
    if kind.startswith("asymk"):
        ds = np.zeros((rows, nb)); ms = np.zeros((rows, nb))
        for b in range(nb):
            sl = slice(b * bs, (b + 1) * bs)
            ds[:, b], ms[:, b] = asym_params(P[:, sl], W[:, sl])
        # Two scales per row in f32 (int4k), or per 8 blocks in f16 with 6-bit codes (Q4_K).
        k256 = kind == "asymk256"
        SB = 8 if k256 else nb
        top = 63 if k256 else 255
        rnd = f16 if k256 else (lambda a: a.astype(np.float32).astype(np.float64))
        for s0 in range(0, nb, SB):
            s1 = min(nb, s0 + SB)
            D = rnd(np.maximum(ds[:, s0:s1].max(1), 1e-30) / top)
            M = rnd(np.maximum((-ms[:, s0:s1]).max(1), 1e-30) / top)
            for b in range(s0, s1):
                sl = slice(b * bs, (b + 1) * bs)
                sc = np.clip(np.round(ds[:, b] / D), 0, top)
                mc = np.clip(np.round(-ms[:, b] / M), 0, top)
                out[:, sl] = asym_requant(P[:, sl], sc * D, -mc * M)
    else:
        for b in range(nb):
            sl = slice(b * bs, (b + 1) * bs)
            v, wt = P[:, sl], W[:, sl]
            if kind == "sym":
                out[:, sl] = sym_encode(v, wt)
            elif kind == "sym16":
                out[:, sl] = sym_encode(v, wt, "f16")
            elif kind == "nl":
                out[:, sl] = nl_encode(v, wt)
            elif kind == "asym16":
                d, mn = asym_params(v, wt)
                out[:, sl] = asym_requant(v, f16(d), f16(mn))
    return out[:, :cols]


def logsoftmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def read_ids(path):
    return np.array([int(t) for t in open(path).read().replace("\n", ",").split(",") if t.strip()])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--fixture", default=FIXTURE, help="a Mamba checkpoint folder (default mamba-tiny)")
    ap.add_argument("--held-ids", required=True, help="token ids of the held-out text (rill tokenize output)")
    ap.add_argument("--calib-ids", required=True, help="token ids of a calibration text (for the weighted rows)")
    ap.add_argument("--chunks", type=int, default=4, help="chunks of 512 held-out tokens to score (default 4)")
    ap.add_argument("--kinds", default="sym sym16 nl asym16 asymk asymk256", help="encodings to measure")
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.fixture, "config.json")))
    model = Mamba(cfg)
    w = {k: v.astype(np.float64) for k, v in load_file(os.path.join(args.fixture, "model.safetensors")).items()}
    held, calib = read_ids(args.held_ids), read_ids(args.calib_ids)
    base = [logsoftmax(model.forward(w, held[c * CTX:(c + 1) * CTX]))[CTX // 2:] for c in range(args.chunks)]
    inputs = {}
    for s in range(0, len(calib) - CTX + 1, CTX):
        model.forward(w, calib[s:s + CTX], inputs)
    imp = {k: (np.vstack(v) ** 2).mean(0) for k, v in inputs.items()}

    def kl(weights):
        tot, agree = [], []
        for c in range(args.chunks):
            lq = logsoftmax(model.forward(weights, held[c * CTX:(c + 1) * CTX]))[CTX // 2:]
            p = np.exp(base[c])
            tot.append((p * (base[c] - lq)).sum(-1))
            agree.append(base[c].argmax(-1) == lq.argmax(-1))
        return np.concatenate(tot).mean(), np.concatenate(agree).mean()

    projs = [k for k in w if w[k].ndim == 2 and k.endswith(("in_proj.weight", "x_proj.weight", "out_proj.weight"))]
    emb8 = blockwise(w["backbone.embeddings.weight"], int8_sym)

    def variant(encode):
        v = dict(w)
        v["backbone.embeddings.weight"] = emb8
        for k in projs:
            v[k] = encode(k)
        return v

    print("%-10s %-6s %-10s %-8s" % ("encoding", "imp", "KL mean", "top-1"))
    print("%-10s %-6s %-10.3g %-8.3f" % ("int8", "-", *kl(variant(lambda k: blockwise(w[k], int8_sym)))))
    for kind in args.kinds.split():
        for use_imp in (False, True):
            k_, a_ = kl(variant(lambda k: encode_matrix(w[k], kind, imp[k] if use_imp else None)))
            print("%-10s %-6s %-10.3g %-8.3f" % (kind, use_imp, k_, a_), flush=True)


if __name__ == "__main__":
    main()
