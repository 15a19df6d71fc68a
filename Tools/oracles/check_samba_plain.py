#!/usr/bin/env python3
"""An independent, plain-maths SAMBA forward (float64, CPU, no fla) checked against a fixture's golden.

It implements exactly what Tests/Fixtures/samba-tiny/README.md states -- layer pattern, norms,
rotate-half RoPE, sliding window, GQA mapping, SwiGLU MLP, Mamba mixer, tied/untied head -- and
compares its logits with the reference's golden.safetensors.  Both a whole-sequence pass and a
token-by-token recurrent pass (conv window, SSM state, K/V ring buffer of W positions) are checked.
If the README were wrong about any of those points the difference would be O(1), not ~1e-5.

    python3 Tools/oracles/check_samba_plain.py Tests/Fixtures/samba-tiny [Tests/Fixtures/holdout/samba ...]
Needs torch (CPU is enough) and safetensors.
"""

from __future__ import annotations

import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

DT = torch.float64


class Samba:
    def __init__(self, folder):
        self.cfg = json.load(open(os.path.join(folder, "config.json")))
        self.w = {k: v.to(DT) for k, v in load_file(os.path.join(folder, "model.safetensors")).items()}
        c = self.cfg
        self.d = c["hidden_size"]
        self.L = c["num_hidden_layers"]
        self.eps = c["norm_eps"]
        self.attn_layers = set(c["attn"]["layers"])
        self.H = c["attn"]["num_heads"]
        self.Hk = c["attn"]["num_kv_heads"] or self.H
        self.hd = self.d // self.H
        self.W = c["attn"]["window_size"]
        self.theta = c["attn"]["rope_theta"]
        self.N = c["state_size"]
        self.K = c["conv_kernel"]
        self.di = c["expand"] * self.d
        self.R = c["time_step_rank"]
        emb = self.w["backbone.embeddings.weight"]
        self.head = self.w.get("lm_head.weight", emb)   # tied when lm_head.weight is absent
        inv = 1.0 / (self.theta ** (torch.arange(0, self.hd, 2, dtype=torch.float32) / self.hd))
        self.inv_freq = inv.to(DT)                       # fla builds it in float32

    def p(self, i, name):
        return self.w[f"backbone.layers.{i}.{name}"]

    def rms(self, x, weight):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    def rope(self, x, pos):
        # x [T, heads, hd]; rotate-half (GPT-NeoX), all hd dims, positions from 0
        ang = pos[:, None].to(DT) * self.inv_freq[None, :]          # [T, hd/2]
        cos, sin = ang.cos()[:, None, :], ang.sin()[:, None, :]
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)

    def mlp(self, i, x):
        g = x @ self.p(i, "mlp.gate_proj.weight").T
        u = x @ self.p(i, "mlp.up_proj.weight").T
        return (F.silu(g) * u) @ self.p(i, "mlp.down_proj.weight").T

    # whole sequence -------------------------------------------------------------------------
    def attention_full(self, i, x):
        T = x.shape[0]
        q = (x @ self.p(i, "mixer.q_proj.weight").T).view(T, self.H, self.hd)
        k = (x @ self.p(i, "mixer.k_proj.weight").T).view(T, self.Hk, self.hd)
        v = (x @ self.p(i, "mixer.v_proj.weight").T).view(T, self.Hk, self.hd)
        pos = torch.arange(T)
        q, k = self.rope(q, pos), self.rope(k, pos)
        g = self.H // self.Hk
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)   # query head h -> kv head h // g
        s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(self.hd)
        ti, sj = pos[:, None], pos[None, :]
        keep = (sj <= ti) & (sj >= ti - self.W + 1)
        s = s.masked_fill(~keep, float("-inf"))
        o = torch.einsum("hts,shd->thd", s.softmax(-1), v).reshape(T, self.d)
        return o @ self.p(i, "mixer.o_proj.weight").T

    def mamba_full(self, i, x):
        T = x.shape[0]
        xz = x @ self.p(i, "mixer.in_proj.weight").T
        u, z = xz[:, : self.di], xz[:, self.di:]
        cw = self.p(i, "mixer.conv1d.weight")[:, 0, :]                     # [di, K]
        up = F.pad(u.T, (self.K - 1, 0))                                    # causal: K-1 zeros on the left
        u = F.silu(torch.stack([(up[:, t:t + self.K] * cw).sum(-1) for t in range(T)], 0)
                   + self.p(i, "mixer.conv1d.bias"))
        dbc = u @ self.p(i, "mixer.x_proj.weight").T
        dt, B, C = dbc[:, : self.R], dbc[:, self.R: self.R + self.N], dbc[:, self.R + self.N:]
        dt = F.softplus(dt @ self.p(i, "mixer.dt_proj.weight").T + self.p(i, "mixer.dt_proj.bias"))
        A = -torch.exp(self.p(i, "mixer.A_log"))
        h = torch.zeros(self.di, self.N, dtype=DT)
        ys = []
        for t in range(T):
            h = torch.exp(dt[t, :, None] * A) * h + dt[t, :, None] * B[t][None, :] * u[t, :, None]
            ys.append(h @ C[t])
        y = (torch.stack(ys) + u * self.p(i, "mixer.D")) * F.silu(z)
        return y @ self.p(i, "mixer.out_proj.weight").T

    def forward_full(self, ids):
        x = self.w["backbone.embeddings.weight"][ids]
        for i in range(self.L):
            hn = self.rms(x, self.p(i, "mixer_norm.weight"))
            x = x + (self.attention_full(i, hn) if i in self.attn_layers else self.mamba_full(i, hn))
            x = x + self.mlp(i, self.rms(x, self.p(i, "mlp_norm.weight")))
        return self.rms(x, self.w["backbone.norm_f.weight"]) @ self.head.T

    # token by token, fixed-size state ----------------------------------------------------------
    def new_state(self):
        st = {}
        for i in range(self.L):
            if i in self.attn_layers:   # ring buffer of the last W keys/values (after RoPE)
                st[i] = dict(k=torch.zeros(self.W, self.Hk, self.hd, dtype=DT),
                             v=torch.zeros(self.W, self.Hk, self.hd, dtype=DT))
            else:
                st[i] = dict(conv=torch.zeros(self.di, self.K, dtype=DT), h=torch.zeros(self.di, self.N, dtype=DT))
        return st

    def step(self, tok, pos, st):
        x = self.w["backbone.embeddings.weight"][tok]
        for i in range(self.L):
            hn = self.rms(x, self.p(i, "mixer_norm.weight"))
            s = st[i]
            if i in self.attn_layers:
                q = (hn @ self.p(i, "mixer.q_proj.weight").T).view(1, self.H, self.hd)
                k = (hn @ self.p(i, "mixer.k_proj.weight").T).view(1, self.Hk, self.hd)
                v = (hn @ self.p(i, "mixer.v_proj.weight").T).view(1, self.Hk, self.hd)
                p_ = torch.tensor([pos])
                q, k, v = self.rope(q, p_)[0], self.rope(k, p_)[0], v[0]     # [H, hd], [Hk, hd], [Hk, hd]
                slot = pos % self.W
                s["k"][slot], s["v"][slot] = k, v
                n = min(pos + 1, self.W)                     # valid slots: the last W positions
                kk, vv = s["k"][:n], s["v"][:n]              # order is irrelevant for softmax-attention
                g = self.H // self.Hk
                o = torch.empty(self.H, self.hd, dtype=DT)
                for hh in range(self.H):
                    sc = (kk[:, hh // g] @ q[hh]) / math.sqrt(self.hd)
                    o[hh] = sc.softmax(0) @ vv[:, hh // g]
                out = o.reshape(self.d) @ self.p(i, "mixer.o_proj.weight").T
            else:
                xz = hn @ self.p(i, "mixer.in_proj.weight").T
                u, z = xz[: self.di], xz[self.di:]
                s["conv"] = torch.cat([s["conv"][:, 1:], u[:, None]], 1)
                u = F.silu((s["conv"] * self.p(i, "mixer.conv1d.weight")[:, 0, :]).sum(-1) + self.p(i, "mixer.conv1d.bias"))
                dbc = u @ self.p(i, "mixer.x_proj.weight").T
                dt, B, C = dbc[: self.R], dbc[self.R: self.R + self.N], dbc[self.R + self.N:]
                dt = F.softplus(dt @ self.p(i, "mixer.dt_proj.weight").T + self.p(i, "mixer.dt_proj.bias"))
                A = -torch.exp(self.p(i, "mixer.A_log"))
                s["h"] = torch.exp(dt[:, None] * A) * s["h"] + dt[:, None] * B[None, :] * u[:, None]
                y = (s["h"] @ C + u * self.p(i, "mixer.D")) * F.silu(z)
                out = y @ self.p(i, "mixer.out_proj.weight").T
            x = x + out
            x = x + self.mlp(i, self.rms(x, self.p(i, "mlp_norm.weight")))
        return self.rms(x, self.w["backbone.norm_f.weight"]) @ self.head.T


def check(folder) -> float:
    m = Samba(folder)
    g = load_file(os.path.join(folder, "golden.safetensors"))
    worst = 0.0
    k = 0
    while f"p{k}.input_ids" in g:
        ids = g[f"p{k}.input_ids"].long()
        n = ids.numel()
        full = m.forward_full(ids)
        d_full = (full.float() - g[f"p{k}.logits"]).abs().max().item()
        st = m.new_state()
        steps = [m.step(int(ids[t]), t, st) for t in range(n)]
        step = torch.stack(steps[-16:]).float()
        d_step = (step - g[f"p{k}.step_logits_last16"]).abs().max().item()
        # greedy continuation through the recurrent state
        nxt = int(torch.argmax(full[-1]))
        greedy = [nxt]
        for t in range(n, n + 31):
            nxt = int(torch.argmax(m.step(nxt, t, st)))
            greedy.append(nxt)
        same = sum(int(a == b) for a, b in zip(greedy, g[f"p{k}.greedy"].tolist()))
        print(f"{folder} p{k}: n={n} max|plain full - golden| {d_full:.3g}, "
              f"max|plain recurrent - golden step| {d_step:.3g}, greedy {same}/32 equal")
        worst = max(worst, d_full, d_step)
        k += 1
    return worst


if __name__ == "__main__":
    folders = sys.argv[1:] or [os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "samba-tiny")]
    w = max(check(f) for f in folders)
    print(f"worst {w:.3g}")
    sys.exit(0 if w < 1e-3 else 1)
