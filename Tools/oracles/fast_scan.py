"""Training-only speed-up of the Mamba selective scan (never used for golden outputs).

Without mamba_ssm, both references (transformers' MambaMixer and fla's Mamba layer) run the scan
as a Python loop over the sequence: 256 tiny steps forward and backward, which makes a training
step CPU-bound (~0.2 s per layer).  For TRAINING only, `patched_for_training()` swaps in the same
recurrence computed in two levels -- a loop over the Q positions inside chunks (all chunks at once),
then a loop over the chunks to carry the state -- Q + L/Q Python steps instead of L.  The maths
is identical (h_t = exp(dt*A) h_{t-1} + dt*B_t*u_t; y_t = C_t.h_t + D*u_t; y *= silu(z)); only
the summation order of the carried state differs (f32 rounding).  `check()` compares it with the
reference loop.  Golden outputs are always computed with the unpatched reference code.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F


def chunked_states(dA: torch.Tensor, dBu: torch.Tensor, q: int = 16) -> torch.Tensor:
    """All states h_t of h_t = dA_t * h_{t-1} + dBu_t, h_{-1} = 0.

    dA, dBu: [b, d, L, N] (float32).  Returns [b, d, L, N].
    """
    b, d, L, N = dA.shape
    nc = math.ceil(L / q)
    pad = nc * q - L
    if pad:
        dA = F.pad(dA, (0, 0, 0, pad), value=1.0)
        dBu = F.pad(dBu, (0, 0, 0, pad), value=0.0)
    a = dA.reshape(b, d, nc, q, N)
    x = dBu.reshape(b, d, nc, q, N)
    # level 1: inside every chunk at once, from a zero state; P = running product of decays
    local, prod = [], []
    h = torch.zeros_like(x[:, :, :, 0])
    p = torch.ones_like(a[:, :, :, 0])
    for t in range(q):
        h = a[:, :, :, t] * h + x[:, :, :, t]
        p = p * a[:, :, :, t]
        local.append(h)
        prod.append(p)
    local = torch.stack(local, dim=3)          # [b, d, nc, q, N]
    prod = torch.stack(prod, dim=3)
    # level 2: carry the state across chunks
    carry = [torch.zeros_like(local[:, :, 0, 0])]
    for c in range(nc - 1):
        carry.append(prod[:, :, c, -1] * carry[-1] + local[:, :, c, -1])
    carry = torch.stack(carry, dim=2)          # [b, d, nc, N], state entering chunk c
    states = local + prod * carry[:, :, :, None]
    return states.reshape(b, d, nc * q, N)[:, :, :L]


def scan(u, delta, A, B, C, D, z):
    """u, delta, z: [b, d, L]; A: [d, N]; B, C: [b, L, N]; D: [d].  delta after softplus."""
    dtype = u.dtype
    dA = torch.exp(A[None, :, None, :] * delta.float()[:, :, :, None])
    dBu = delta.float()[:, :, :, None] * B.float()[:, None, :, :] * u.float()[:, :, :, None]
    states = chunked_states(dA, dBu)
    y = torch.einsum("bdln,bln->bdl", states, C.float())
    y = y + u.float() * D.float()[None, :, None]
    y = y * F.silu(z.float())
    return y.to(dtype)


# MARK: - transformers MambaMixer (function-level patch of mamba_selective_scan)

def _hf_selective_scan(hidden_states, dt, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False, **kwargs):
    assert not return_last_state, "fast scan is for training without cache only"
    if delta_bias is not None:
        dt = dt + delta_bias.to(dt.dtype)[..., None]
    if delta_softplus:
        dt = F.softplus(dt)
    # B, C arrive as [b, N, L]
    return scan(hidden_states, dt, A, B.transpose(1, 2), C.transpose(1, 2), D, z)


# MARK: - fla Mamba layer (method-level patch of slow_forward)

def _fla_slow_forward(self, input_states, last_state=None, use_cache=False, attention_mask=None, **kwargs):
    assert last_state is None and not use_cache and attention_mask is None, \
        "fast scan is for training without cache only"
    seq_len = input_states.shape[1]
    dtype = input_states.dtype
    projected_states = self.in_proj(input_states).transpose(1, 2)
    hidden_states, gate = projected_states.chunk(2, dim=1)
    hidden_states = self.act(self.conv1d(hidden_states)[..., :seq_len])
    ssm_parameters = self.x_proj(hidden_states.transpose(1, 2))
    time_step, B, C = torch.split(ssm_parameters, [self.dt_rank, self.ssm_state_size, self.ssm_state_size], dim=-1)
    dt = F.softplus(self.dt_proj(time_step)).transpose(1, 2)
    A = -torch.exp(self.A_log.float())
    y = scan(hidden_states, dt, A, B, C, self.D, gate)
    return self.out_proj(y.transpose(1, 2).to(dtype)), None, None


@contextlib.contextmanager
def patched_for_training():
    """Within the block, training forwards of both Mamba references use the chunked scan."""
    saved = []
    try:
        import transformers.models.mamba.modeling_mamba as hf
        saved.append((hf, "mamba_selective_scan", hf.mamba_selective_scan))
        hf.mamba_selective_scan = _hf_selective_scan
    except ImportError:
        pass
    try:
        import fla.layers.mamba as fm
        saved.append((fm.Mamba, "slow_forward", fm.Mamba.slow_forward))
        fm.Mamba.slow_forward = _fla_slow_forward
    except ImportError:
        pass
    try:
        yield
    finally:
        for obj, name, val in saved:
            setattr(obj, name, val)


def check(device="cpu", L=256, b=2, d=8, N=4) -> float:
    """Max abs difference between the chunked scan and the sequential recurrence."""
    g = torch.Generator().manual_seed(0)
    u = torch.randn(b, d, L, generator=g).to(device)
    delta = F.softplus(torch.randn(b, d, L, generator=g)).to(device)
    A = -torch.exp(torch.randn(d, N, generator=g)).to(device)
    B = torch.randn(b, L, N, generator=g).to(device)
    C = torch.randn(b, L, N, generator=g).to(device)
    D = torch.randn(d, generator=g).to(device)
    z = torch.randn(b, d, L, generator=g).to(device)
    h = torch.zeros(b, d, N, device=device)
    ys = []
    for t in range(L):
        h = torch.exp(A * delta[:, :, t, None]) * h + delta[:, :, t, None] * B[:, None, t] * u[:, :, t, None]
        ys.append((h * C[:, None, t]).sum(-1))
    ref = (torch.stack(ys, -1) + u * D[None, :, None]) * F.silu(z)
    return (scan(u, delta, A, B, C, D, z) - ref).abs().max().item()


if __name__ == "__main__":
    print("max |chunked - sequential| =", check())
