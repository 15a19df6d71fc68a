#!/usr/bin/env python3
"""Independent float64 SUBLLM (no reference code) checked against a fixture's golden.

    check_subllm_plain.py Tests/Fixtures/subllm-tiny [--verbose]

Reads config.json + model.safetensors and implements the maths written in that fixture's
README, three ways:
  full      one pass over the whole prompt; inside a bracket RoPE uses each token's index in the
            sequence that bracket received (the reference's full-prompt pass; the truth)
            -> compared with pK.logits and pK.kept_lL / pK.weight_lL / pK.score_lL;
  counted   token by token from an empty cache, each level's RoPE position = the number of
            tokens that reached that level before this one (what Rill's decoding does)
            -> compared with pK.logits (must agree with `full`);
  ref-step  the reference's own decoding: prefill n-16 tokens like `full`, then one token at a
            time rotated at its ORIGINAL position at every level
            -> compared with pK.step_logits_last16 (documents the reference's inconsistency).
Needs only torch and safetensors; CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file

torch.set_default_dtype(torch.float64)


class Plain:
    def __init__(self, folder):
        cfg = json.load(open(os.path.join(folder, "config.json")))
        sd = {k: v.double() for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        self.sd = sd
        self.d = sd["decoder.embed_tokens.weight"].shape[1]
        self.H = cfg["decoder_attention_heads"]
        self.hd = self.d // self.H
        self.eps = 1e-5                      # LayerNorm(..., eps=1e-5) default -> RMSNorm(dim, 1e-5)
        self.structure = cfg["structure"]
        self.ffn = sd["decoder.layers.0.feedforward.swiglu.w3.weight"].shape[1]
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.inv_freq = inv.double()         # the module computes inv_freq in float32
        self.out_w = sd.get("decoder.output_projection.weight", sd["decoder.embed_tokens.weight"])
        # parse the structure: ('T', layer) | ('(', k, [children]) nested
        self.tree = self._parse()

    def _parse(self):
        stack = [[]]
        layer, ds, bp = 0, 0, 0
        for ch in self.structure:
            if ch == "T":
                stack[-1].append(("T", layer))
                layer += 1
            elif ch == "(":
                node = ("(", ds, [], None)
                ds += 1
                stack[-1].append(node)
                stack.append(node[2])
            else:
                stack.pop()
                node = stack[-1][-1]
                stack[-1][-1] = ("(", node[1], node[2], bp)
                bp += 1
        return stack[0]

    # --- pieces
    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    def rope(self, x, pos):  # x [m, H, hd], pos [m]
        f = pos.double()[:, None] * self.inv_freq[None, :]
        emb = torch.cat([f, f], -1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def lin(self, x, name):
        y = x @ self.sd[name + ".weight"].T
        b = self.sd.get(name + ".bias")
        return y if b is None else y + b

    def qkv(self, i, x, pos):
        p = f"decoder.layers.{i}."
        h = self.rms(x, self.sd[p + "self_attn_layer_norm.weight"])
        m = x.shape[0]
        q = self.rope(self.lin(h, p + "self_attn.q_proj").view(m, self.H, self.hd), pos)
        k = self.rope(self.lin(h, p + "self_attn.k_proj").view(m, self.H, self.hd), pos)
        v = self.lin(h, p + "self_attn.v_proj").view(m, self.H, self.hd)
        return q, k, v

    def finish_block(self, i, x, att):
        p = f"decoder.layers.{i}."
        x = x + self.lin(att.reshape(x.shape[0], self.d), p + "self_attn.out_proj")
        h = self.rms(x, self.sd[p + "final_layer_norm.weight"])
        ab = self.lin(h, p + "feedforward.swiglu.w12")
        a, b = ab[:, : self.ffn], ab[:, self.ffn:]
        return x + self.lin(torch.nn.functional.silu(a) * b, p + "feedforward.swiglu.w3")

    def attend(self, q, k, v, causal_offset):
        # q [m, H, hd], k/v [L, H, hd]; query j sees keys 0..causal_offset+j
        s = torch.einsum("mhd,lhd->hml", q, k) / self.hd ** 0.5
        m, L = q.shape[0], k.shape[0]
        mask = torch.arange(L)[None, :] > (torch.arange(m)[:, None] + causal_offset)
        s = s.masked_fill(mask[None], float("-inf"))
        return torch.einsum("hml,lhd->mhd", torch.softmax(s, -1), v)

    def head(self, x):
        return self.rms(x, self.sd["decoder.layer_norm.weight"]) @ self.out_w.T

    def score(self, k, x):
        return (x @ self.sd[f"decoder.downsamplers.{k}.to_scores.weight"].T)[:, 0]

    def merge(self, bp, outer, inner, idx, w):
        y = outer.clone()
        y[idx] = w[:, None] * inner + (1 - w[:, None]) * outer[idx]
        return outer + (y - outer) * self.sd[f"decoder.bypasses.{bp}.bypass_scale"]

    # --- full-prompt pass (optionally returning caches for the reference's decoding)
    def full(self, ids, caches=None):
        x = self.sd["decoder.embed_tokens.weight"][torch.tensor(ids)]
        levels = {}

        def run(nodes, x, pos, orig):
            for node in nodes:
                if node[0] == "T":
                    q, k, v = self.qkv(node[1], x, pos)
                    if caches is not None:
                        caches[node[1]] = (k, v)
                    x = self.finish_block(node[1], x, self.attend(q, k, v, 0))
                else:
                    _, kd, children, bp = node
                    s = self.score(kd, x)
                    keep = s > 0
                    idx = keep.nonzero()[:, 0]
                    w = s[idx].clamp(0, 1)
                    levels[kd] = dict(kept=orig[idx], weight=w, score=s)
                    if caches is not None:
                        caches[("count", kd)] = len(idx)
                    if len(idx) > 0:
                        inner = run(children, x[idx], idx, orig[idx])  # RoPE: index in the received sequence
                        x = self.merge(bp, x, inner, idx, w)
            return x

        x = run(self.tree, x, torch.arange(len(ids)), torch.arange(len(ids)))
        return self.head(x), levels

    # --- one token through the per-layer caches.  Inside a bracket, RoPE uses the token's index in
    # the sequence that bracket RECEIVED: its original position t at an outermost bracket; at a
    # nested one, the number of tokens the enclosing bracket kept before it (counted per '(').
    # original_positions=True is the reference's decoding: t at every level.
    def step(self, tok, t, caches, original_positions):
        x = self.sd["decoder.embed_tokens.weight"][torch.tensor([tok])]

        def run(nodes, x, rope_pos, idx_here):
            for node in nodes:
                if node[0] == "T":
                    q, k, v = self.qkv(node[1], x, torch.tensor([rope_pos]))
                    pk, pv = caches.get(node[1], (k[:0], v[:0]))
                    k, v = torch.cat([pk, k]), torch.cat([pv, v])
                    caches[node[1]] = (k, v)
                    x = self.finish_block(node[1], x, self.attend(q, k, v, k.shape[0] - 1))
                else:
                    _, kd, children, bp = node
                    s = self.score(kd, x)[0]
                    if s > 0:
                        n_before = caches.get(("count", kd), 0)  # index of this token among the kept ones
                        caches[("count", kd)] = n_before + 1
                        inner = run(children, x, t if original_positions else idx_here, n_before)
                        w = s.clamp(0, 1).reshape(1)
                        x = self.merge(bp, x, inner, torch.tensor([0]), w)
            return x

        return self.head(run(self.tree, x, t, t))[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    m = Plain(a.folder)
    g = load_file(os.path.join(a.folder, "golden.safetensors"))
    n_levels = m.structure.count("(")
    worst = dict(full=0.0, counted=0.0, ref_step=0.0, score=0.0, weight=0.0)
    bad_kept, k = 0, 0
    while f"p{k}.input_ids" in g:
        ids = g[f"p{k}.input_ids"].tolist()
        n = len(ids)
        gl = g[f"p{k}.logits"].double()
        full, levels = m.full(ids)
        worst["full"] = max(worst["full"], float((full - gl).abs().max()))
        for L in range(n_levels):
            gk = g[f"p{k}.kept_l{L + 1}"].long()
            if not torch.equal(levels[L]["kept"], gk):
                bad_kept += 1
            else:
                worst["weight"] = max(worst["weight"], float((levels[L]["weight"] - g[f"p{k}.weight_l{L + 1}"]).abs().max()))
            if levels[L]["score"].shape == g[f"p{k}.score_l{L + 1}"].shape:
                worst["score"] = max(worst["score"], float((levels[L]["score"] - g[f"p{k}.score_l{L + 1}"]).abs().max()))
        # counted decoding from an empty cache, every token
        caches = {}
        rows = torch.stack([m.step(tok, t, caches, original_positions=False) for t, tok in enumerate(ids)])
        worst["counted"] = max(worst["counted"], float((rows - gl).abs().max()))
        # the reference's decoding: prefill n-16 like `full`, then original positions at every level
        caches = {}
        m.full(ids[: n - 16], caches)
        rows = torch.stack([m.step(ids[t], t, caches, original_positions=True) for t in range(n - 16, n)])
        d_ref = float((rows - g[f"p{k}.step_logits_last16"].double()).abs().max())
        worst["ref_step"] = max(worst["ref_step"], d_ref)
        if a.verbose:
            print(f"p{k}: n={n} full {float((full - gl).abs().max()):.3g} ref-step {d_ref:.3g} kept "
                  + " ".join(f"L{L + 1} {len(levels[L]['kept'])}" for L in range(n_levels)))
        k += 1
    print(f"{k} prompts: max |plain - golden| full {worst['full']:.3g}, counted decoding {worst['counted']:.3g}, "
          f"reference-style decoding vs step_logits_last16 {worst['ref_step']:.3g}; scores {worst['score']:.3g}, "
          f"weights {worst['weight']:.3g}; kept-position mismatches {bad_kept}")
    return 0 if bad_kept == 0 and worst["full"] < 1e-3 and worst["counted"] < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
