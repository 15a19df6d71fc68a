"""A plain-PyTorch stand-in for the `flash_attn` package (NOT Dao-AILab's code).

flash-linear-attention's `fla.layers.attn.Attention` refuses to be built unless
`from flash_attn import flash_attn_func, flash_attn_varlen_func` succeeds, and the GPU machine has
no flash-attn build.  Put the folder *above* this one on PYTHONPATH and the reference runs with
exact softmax attention computed here.  Semantics follow flash-attn 2.x:

- q: [B, Tq, H, D], k/v: [B, Tk, Hk, D] with H % Hk == 0; query head h reads K/V head
  h // (H / Hk) (consecutive query heads share a K/V head, as `repeat_interleave` does).
- softmax_scale defaults to 1/sqrt(D); softcap 0 = none.
- causal=True aligns the mask bottom-right: query row i sits at absolute position
  i + Tk - Tq, and sees key j iff j <= i + Tk - Tq.
- window_size=(left, right), -1 = unbounded: query at absolute position p sees key j iff
  p - left <= j <= p + right (and, with causal, j <= p).  fla passes (W - 1, 0) for a window of W,
  so a query sees itself and the W - 1 keys before it.
- the output has q's dtype; scores and softmax are computed in float32.
"""

from __future__ import annotations

import math

import torch

__version__ = "0.0.0+rill-standin"


def _mask(tq: int, tk: int, causal: bool, window_size, device) -> torch.Tensor | None:
    left, right = window_size if window_size is not None else (-1, -1)
    if not causal and left < 0 and right < 0:
        return None
    i = torch.arange(tq, device=device)[:, None] + (tk - tq)   # absolute query positions
    j = torch.arange(tk, device=device)[None, :]
    keep = torch.ones(tq, tk, dtype=torch.bool, device=device)
    if causal:
        keep &= j <= i
    if left >= 0:
        keep &= j >= i - left
    if right >= 0:
        keep &= j <= i + right
    return keep


def _attend(q, k, v, softmax_scale, causal, window_size, softcap):
    # q [B, Tq, H, D]; k, v [B, Tk, Hk, D]
    _, tq, h, d = q.shape
    tk, hk = k.shape[1], k.shape[2]
    assert h % hk == 0, f"query heads {h} not a multiple of K/V heads {hk}"
    if hk != h:
        k = k.repeat_interleave(h // hk, dim=2)
        v = v.repeat_interleave(h // hk, dim=2)
    scale = softmax_scale if softmax_scale is not None else 1.0 / math.sqrt(d)
    qf, kf, vf = (t.transpose(1, 2).float() for t in (q, k, v))     # [B, H, T, D]
    s = torch.matmul(qf, kf.transpose(-1, -2)) * scale
    if softcap and softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    keep = _mask(tq, tk, causal, window_size, q.device)
    if keep is not None:
        s = s.masked_fill(~keep, float("-inf"))
    p = torch.softmax(s, dim=-1)
    p = torch.nan_to_num(p, nan=0.0)   # rows with no visible key give 0 (flash-attn does too)
    o = torch.matmul(p, vf)
    return o.transpose(1, 2).to(q.dtype)


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                    softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False):
    assert dropout_p == 0.0, "stand-in: dropout not supported"
    assert alibi_slopes is None, "stand-in: alibi not supported"
    assert not return_attn_probs, "stand-in: return_attn_probs not supported"
    return _attend(q, k, v, softmax_scale, causal, window_size, softcap)


def flash_attn_varlen_func(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q=None, max_seqlen_k=None,
                           dropout_p=0.0, softmax_scale=None, causal=False, window_size=(-1, -1),
                           softcap=0.0, alibi_slopes=None, deterministic=False, return_attn_probs=False,
                           block_table=None):
    """q: [total_q, H, D], k/v: [total_k, Hk, D]; sequence n is rows cu[n]:cu[n+1]."""
    assert dropout_p == 0.0 and alibi_slopes is None and not return_attn_probs and block_table is None
    out = torch.empty_like(q)
    cq = cu_seqlens_q.tolist()
    ck = cu_seqlens_k.tolist()
    for n in range(len(cq) - 1):
        qs, qe, ks, ke = cq[n], cq[n + 1], ck[n], ck[n + 1]
        if qe == qs:
            continue
        o = _attend(q[None, qs:qe], k[None, ks:ke], v[None, ks:ke], softmax_scale, causal, window_size, softcap)
        out[qs:qe] = o[0]
    return out
