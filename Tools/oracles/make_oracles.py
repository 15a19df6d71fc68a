#!/usr/bin/env python3
"""Train tiny Mamba / TransNormerLLM / SAMBA checkpoints on the KJV text and write golden outputs
with the REFERENCE implementations (see Tools/oracles/README.md for the device commands).

    make_oracles.py selftest                      # imports, versions, stand-in and scan checks
    make_oracles.py train  --preset samba-tiny --seconds 400 --out DIR [--init-from CKPT]
    make_oracles.py golden --ckpt DIR [--out DIR] [--compare REF_DIR]

References: transformers `MambaForCausalLM`; OpenNLPLab's TransNormerLLM remote code
(`.vendor/tnl_ref`, copied from github weigao266/TNL-MoE smoe/models/tnl/, run with
use_triton=False, do_eval=False); flash-linear-attention 0.6.0 `SambaForCausalLM` with the
plain-PyTorch `flash_attn` stand-in in Tools/oracles/flash_attn_standin.

Golden files (the shared fixtures' format): golden.safetensors with, per prompt K,
  pK.input_ids int32 [n]; pK.logits f32 [n, vocab] (one cache-less forward);
  pK.step_logits_last16 f32 [16, vocab] (prefill n-16 tokens through the cache, then 16 single
  steps); pK.greedy int32 [32] (token 1 = argmax of the full pass's last row, then one token per
  call through the cache; argmax takes the first index on ties);
and golden.json (prompts, max_abs_full_minus_step, training facts, versions).  All in float32,
eval mode, TF32 off.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENDOR = os.path.join(REPO, ".vendor")
for p in (HERE, os.path.join(HERE, "flash_attn_standin"), VENDOR):
    if p not in sys.path:
        sys.path.insert(0, p)
# TransNormerLLM reference switches, read at import time of its modules.
os.environ.setdefault("use_triton", "False")
os.environ.setdefault("do_eval", "False")

import kjv_data  # noqa: E402

SHARED_TOKENIZER = os.path.join(REPO, "Tests", "Fixtures", "mamba-tiny")
SHARED_GOLDEN = os.path.join(REPO, "Tests", "Fixtures", "mamba-tiny", "golden.json")
HOLDOUT_TOKENIZER = os.path.join(VENDOR, "tok1536")

# MARK: - presets

PRESETS = {
    # fla SambaForCausalLM, same tokenizer and prompts as the shared fixtures.
    "samba-tiny": dict(
        arch="samba", tokenizer=SHARED_TOKENIZER, prompts="shared",
        config=dict(
            hidden_size=128, num_hidden_layers=4, state_size=16, expand=2, conv_kernel=4,
            time_step_rank="auto", use_bias=False, use_conv_bias=True, norm_eps=1e-5,
            hidden_ratio=3,  # GatedMLP intermediate = 256*ceil(int(128*3*2/3)/256) = 256
            attn=dict(layers=[1, 3], num_heads=4, num_kv_heads=2, qkv_bias=False,
                      window_size=64, rope_theta=10000.0),
            max_position_embeddings=2048, hidden_act="swish",
            fuse_norm=True, fuse_swiglu=True, fuse_cross_entropy=True,
            tie_word_embeddings=True, vocab_size=2048,
            pad_token_id=0, bos_token_id=0, eos_token_id=0, initializer_range=0.02,
        )),
    # Hold-outs: other shapes and a different tokenizer (vocab 1536).
    "holdout-mamba": dict(
        arch="mamba", tokenizer=HOLDOUT_TOKENIZER, prompts="holdout",
        config=dict(
            hidden_size=96, num_hidden_layers=3, state_size=8, conv_kernel=3, expand=2,
            intermediate_size=192, time_step_rank=10, use_conv_bias=True, use_bias=False,
            layer_norm_epsilon=1e-6, residual_in_fp32=True, tie_word_embeddings=True,
            vocab_size=1536, pad_token_id=0, bos_token_id=0, eos_token_id=0, initializer_range=0.1,
        )),
    "holdout-transnormer": dict(
        arch="transnormer", tokenizer=HOLDOUT_TOKENIZER, prompts="holdout",
        config=dict(
            decoder_embed_dim=96, decoder_layers=3, decoder_attention_heads=3, hidden_dim=96,
            glu_dim=192, linear_use_lrpe_list=[1, 0, 1], no_scale_embedding=True,
            norm_type="simplermsnorm", linear_act_fun="silu", bias=False, add_bos_token=False,
            vocab_size=1536, pad_token_id=0, bos_token_id=0, eos_token_id=0, init_std=0.02,
        )),
    "holdout-samba": dict(
        arch="samba", tokenizer=HOLDOUT_TOKENIZER, prompts="holdout",
        config=dict(
            hidden_size=96, num_hidden_layers=5, state_size=8, expand=2, conv_kernel=3,
            time_step_rank=6, use_bias=False, use_conv_bias=True, norm_eps=1e-6,
            hidden_ratio=4,  # GatedMLP intermediate = 256*ceil(int(96*4*2/3)/256) = 256
            attn=dict(layers=[1, 4], num_heads=6, num_kv_heads=2, qkv_bias=False,
                      window_size=32, rope_theta=50000.0),
            max_position_embeddings=2048, hidden_act="swish",
            fuse_norm=True, fuse_swiglu=True, fuse_cross_entropy=True,
            tie_word_embeddings=False, vocab_size=1536,
            pad_token_id=0, bos_token_id=0, eos_token_id=0, initializer_range=0.02,
        )),
}

# transformers LlamaForCausalLM: the paper's baseline (SUBLLM with no brackets); GQA 4 query / 2 K/V
# heads.  Its prompts are subllm-tiny's (a golden.json path given to `golden --prompts`).
PRESETS["llama-tiny"] = dict(
    arch="llama", tokenizer=SHARED_TOKENIZER, prompts="shared",
    config=dict(
        vocab_size=2048, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, hidden_act="silu", max_position_embeddings=512,
        rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=False, mlp_bias=False,
        tie_word_embeddings=False, bos_token_id=0, eos_token_id=0, initializer_range=0.02,
    ))

HOLDOUT_P0 = "The quick brown fox jumps over the lazy dog, and the old man walked slowly to the market."
HOLDOUT_P1 = dict(start_frac=0.3, tokens=300)


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


# MARK: - model construction (reference code only)

def build_config(arch: str, cfg: dict):
    if arch == "mamba":
        from transformers import MambaConfig
        return MambaConfig(**cfg)
    if arch == "transnormer":
        from tnl_ref.configuration_transnormer import TransnormerConfig
        c = TransnormerConfig(**cfg)
        c.auto_map = {"AutoConfig": "configuration_transnormer.TransnormerConfig",
                      "AutoModelForCausalLM": "modeling_transnormer.TransnormerForCausalLM"}
        c.architectures = ["TransnormerForCausalLM"]
        return c
    if arch == "samba":
        from fla.models.samba.configuration_samba import SambaConfig
        c = SambaConfig(**cfg)
        c.architectures = ["SambaForCausalLM"]
        return c
    if arch == "llama":
        from transformers import LlamaConfig
        c = LlamaConfig(**cfg)
        c.architectures = ["LlamaForCausalLM"]
        return c
    raise ValueError(arch)


def build_model(arch: str, config):
    if arch == "mamba":
        from transformers import MambaForCausalLM
        return MambaForCausalLM(config)
    if arch == "transnormer":
        from tnl_ref.modeling_transnormer import TransnormerForCausalLM
        return TransnormerForCausalLM(config)
    if arch == "samba":
        from fla.models.samba.modeling_samba import SambaForCausalLM
        return SambaForCausalLM(config)
    if arch == "llama":
        from transformers import LlamaForCausalLM
        config._attn_implementation = "eager"  # the plain softmax(QK^T/sqrt(d)+mask)V maths, no SDPA kernel
        return LlamaForCausalLM(config)
    raise ValueError(arch)


def implementation_name(arch: str) -> str:
    return {"mamba": "transformers.models.mamba.modeling_mamba.MambaForCausalLM",
            "transnormer": "tnl_ref.modeling_transnormer.TransnormerForCausalLM",
            "samba": "fla.models.samba.modeling_samba.SambaForCausalLM",
            "llama": "transformers.models.llama.modeling_llama.LlamaForCausalLM"}[arch]


def arch_of_config(cfg: dict) -> str:
    mt = cfg.get("model_type")
    if mt in ("mamba", "transnormer", "samba", "llama"):
        return mt
    raise ValueError(f"unknown model_type {mt!r}")


def load_checkpoint(ckpt: str, device):
    """Build from config.json and load_state_dict the safetensors (never from_pretrained: it
    leaves TransNormer's plain-tensor `slopes` empty on the meta device)."""
    import torch
    from safetensors.torch import load_file
    raw = json.load(open(os.path.join(ckpt, "config.json")))
    arch = arch_of_config(raw)
    if arch == "mamba":
        from transformers import MambaConfig
        config = MambaConfig.from_dict(raw)
    elif arch == "transnormer":
        from tnl_ref.configuration_transnormer import TransnormerConfig
        config = TransnormerConfig.from_dict(raw)
    elif arch == "llama":
        from transformers import LlamaConfig
        config = LlamaConfig.from_dict(raw)
    else:
        from fla.models.samba.configuration_samba import SambaConfig
        config = SambaConfig.from_dict(raw)
    torch.manual_seed(0)
    model = build_model(arch, config)
    sd = load_file(os.path.join(ckpt, "model.safetensors"))
    res = model.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or res.unexpected_keys:
        raise RuntimeError(f"state dict mismatch: missing {missing}, unexpected {res.unexpected_keys}")
    if getattr(config, "tie_word_embeddings", False) and "lm_head.weight" not in sd:
        emb = model.get_input_embeddings().weight
        assert model.lm_head.weight.data_ptr() == emb.data_ptr(), "tied lm_head not tied after load"
    return arch, config, model.to(device).float()


# MARK: - reference forward helpers

def reset_tnl_offsets(model):
    """Trap (1): NormLinearAttention keeps the LRPE position in `self.offset` and a cache-less call
    uses the stale value; set it to 0 before every fresh prompt."""
    for m in model.modules():
        if hasattr(m, "offset") and hasattr(m, "qkvu_proj"):
            m.offset = 0


def forward_full(arch, model, ids):
    if arch == "transnormer":
        reset_tnl_offsets(model)
    return model(input_ids=ids, use_cache=False).logits


def forward_prefill(arch, model, ids):
    """Returns (logits, cache) after feeding ids through the cache."""
    if arch == "transnormer":
        reset_tnl_offsets(model)
    out = model(input_ids=ids, use_cache=True)
    cache = out.cache_params if arch == "mamba" else out.past_key_values
    return out.logits, cache


def forward_step(arch, model, tok, cache):
    if arch == "mamba":
        out = model(input_ids=tok, cache_params=cache, use_cache=True)
        return out.logits, out.cache_params
    out = model(input_ids=tok, past_key_values=cache, use_cache=True)
    return out.logits, out.past_key_values


# MARK: - prompts

def make_prompts(kind: str, tok) -> list[str]:
    if kind == "shared":
        return json.load(open(SHARED_GOLDEN))["prompts"]
    if kind == "holdout":
        corpus = kjv_data.load_corpus()
        ids = kjv_data.encode(tok, corpus)
        return [HOLDOUT_P0, kjv_data.corpus_slice_prompt(tok, ids, HOLDOUT_P1["start_frac"], HOLDOUT_P1["tokens"])]
    if os.path.exists(kind):
        return json.load(open(kind))["prompts"]
    raise ValueError(kind)


# MARK: - golden

def set_exact_f32():
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


def compute_golden(arch, model, tok, prompts, device):
    import torch
    set_exact_f32()
    model.eval()
    tensors, maxdiffs = {}, []
    with torch.no_grad():
        for k, text in enumerate(prompts):
            ids_list = kjv_data.encode(tok, text)
            n = len(ids_list)
            assert n > 16, f"prompt {k} has only {n} tokens"
            ids = torch.tensor([ids_list], device=device)
            full = forward_full(arch, model, ids)[0].float()
            _, cache = forward_prefill(arch, model, ids[:, : n - 16])
            steps = []
            for t in range(n - 16, n):
                lg, cache = forward_step(arch, model, ids[:, t:t + 1], cache)
                steps.append(lg[0, -1].float())
            step = torch.stack(steps)
            d = (full[n - 16:] - step).abs().max().item()
            maxdiffs.append(d)
            # greedy: token 1 from the full pass, the rest through a cache of the whole prompt
            _, cache = forward_prefill(arch, model, ids)
            nxt = int(torch.argmax(full[-1]).item())
            greedy = [nxt]
            for _ in range(31):
                lg, cache = forward_step(arch, model, torch.tensor([[nxt]], device=device), cache)
                nxt = int(torch.argmax(lg[0, -1]).item())
                greedy.append(nxt)
            tensors[f"p{k}.input_ids"] = torch.tensor(ids_list, dtype=torch.int32)
            tensors[f"p{k}.logits"] = full.cpu().contiguous()
            tensors[f"p{k}.step_logits_last16"] = step.cpu().contiguous()
            tensors[f"p{k}.greedy"] = torch.tensor(greedy, dtype=torch.int32)
            log(f"golden p{k}: n={n} max|full-step|={d:.3g} greedy: {tok.decode(greedy)[:60]!r}")
    return tensors, maxdiffs


def versions(arch):
    import torch
    import transformers
    v = {"torch": torch.__version__, "transformers": transformers.__version__}
    try:
        import fla
        v["fla"] = getattr(fla, "__version__", "?")
    except ImportError:
        pass
    return v


def write_golden(out_dir, arch, model, tok, prompts, device, info: dict):
    import torch
    from safetensors.torch import save_file
    t0 = time.time()
    tensors, maxdiffs = compute_golden(arch, model, tok, prompts, device)
    save_file(tensors, os.path.join(out_dir, "golden.safetensors"))
    g = {"implementation": implementation_name(arch)}
    g.update(versions(arch))
    g.update(info)
    g["vocab"] = int(model.config.vocab_size)
    g["prompts"] = prompts
    g["prompt_tokens"] = [int(tensors[f"p{k}.input_ids"].numel()) for k in range(len(prompts))]
    g["max_abs_full_minus_step"] = max(maxdiffs)
    g["max_abs_full_minus_step_per_prompt"] = maxdiffs
    g["golden_seconds"] = round(time.time() - t0, 1)
    g["golden_precision"] = ("float32, eval mode, TF32 off (allow_tf32=False, matmul precision 'highest'), on "
                             + (torch.cuda.get_device_name(0) if str(device).startswith("cuda") else "the CPU"))
    if arch == "transnormer":
        g["transnormer_env"] = {"use_triton": os.environ["use_triton"], "do_eval": os.environ["do_eval"]}
        g["golden_path"] = ("eval mode, inference(): full-sequence logits = one cache-less call (block algorithm, "
                            "BLOCK=256); step logits = prefill n-16 tokens with use_cache=True, then one token per "
                            "call (recurrence on kv state); LRPE offset reset to 0 before each cache-less call")
    if arch == "samba":
        g["flash_attn"] = "Tools/oracles/flash_attn_standin (plain PyTorch, flash-attn semantics; no flash-attn build)"
        g["golden_path"] = ("eval mode; full = one call with use_cache=False (fla Mamba slow_forward: sequential "
                            "scan; attention through flash_attn_func stand-in, window (W-1, 0)); step = prefill "
                            "n-16 tokens with use_cache=True, then one token per call with past_key_values")
    if arch == "llama":
        g["attn_implementation"] = model.config._attn_implementation
        g["golden_path"] = ("eval mode; full = one call with use_cache=False; step = prefill n-16 tokens with "
                            "use_cache=True, then one token per call with past_key_values (DynamicCache); "
                            "greedy through the cache of the whole prompt")
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(g, f, indent=2)
    return tensors, g


def compare_golden(tensors, ref_dir):
    from safetensors.torch import load_file
    ref = load_file(os.path.join(ref_dir, "golden.safetensors"))
    report = {}
    for k, v in sorted(ref.items()):
        if k not in tensors:
            report[k] = "missing"
            continue
        a, b = tensors[k], v
        if a.shape != b.shape:
            report[k] = f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
        elif a.dtype.is_floating_point:
            report[k] = (a.float() - b.float()).abs().max().item()
        else:
            report[k] = int((a != b).sum().item())  # number of differing ids
    return report


# MARK: - training

def train(arch, model, config, tok_ids, seconds, device, seed, lr=3e-3, batch=32, seqlen=256,
          warmup_frac=0.05, final_frac=0.1, fast_scan=True):
    """AdamW (0.9, 0.95), wd 0.01, lr warm-up 5% then cosine to 10%, scheduled on the wall-clock
    fraction of `seconds` (counted from the end of a first, compiling step); bf16 autocast; grad
    clip 1.0; random 257-token windows of the tokenised corpus."""
    import torch
    import torch.nn.functional as F
    import fast_scan as fs
    torch.backends.cuda.matmul.allow_tf32 = True
    model.train()
    data = torch.tensor(tok_ids, dtype=torch.long, device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    offs = torch.arange(seqlen + 1, device=device)

    def batch_fn():
        starts = torch.randint(0, data.numel() - seqlen - 1, (batch,), generator=gen).to(device)
        w = data[starts[:, None] + offs[None, :]]
        return w[:, :-1], w[:, 1:]

    def lr_at(frac):
        if frac < warmup_frac:
            return lr * max(frac / warmup_frac, 0.01)
        p = min((frac - warmup_frac) / (1 - warmup_frac), 1.0)
        return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * p)))

    ctx = fs.patched_for_training() if fast_scan else contextlib.nullcontext()
    losses, step, t_start, first_step_s = [], 0, None, None
    t0 = time.time()
    dev_type = "cuda" if str(device).startswith("cuda") else "cpu"
    with ctx:
        while True:
            now = time.time()
            frac = 0.0 if t_start is None else (now - t_start) / seconds
            if frac >= 1.0:
                break
            cur = lr_at(frac)
            for gp in opt.param_groups:
                gp["lr"] = cur
            x, y = batch_fn()
            with torch.autocast(dev_type, dtype=torch.bfloat16):
                if arch == "transnormer":
                    reset_tnl_offsets(model)
                logits = model(input_ids=x, use_cache=False).logits
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step <= 2 or step % 50 == 0:
                losses.append(loss.item())
            else:
                losses.append(loss.detach())  # keep on device, no sync
            if t_start is None:
                if dev_type == "cuda":
                    torch.cuda.synchronize()
                first_step_s = time.time() - t0
                t_start = time.time()
                log(f"first step (compile) {first_step_s:.1f}s, loss {losses[0]:.3f}")
            if step % 200 == 0:
                log(f"step {step} loss {float(losses[-1]):.3f} lr {cur:.2e} "
                    f"{(time.time() - t_start) / max(step - 1, 1):.3f}s/step")
    losses = [float(l) for l in losses]
    model.eval()
    return dict(steps=step, losses=losses, first_step_seconds=round(first_step_s, 1),
                train_seconds=round(time.time() - t0, 1))


# MARK: - commands

def cmd_selftest(a):
    import torch
    import fast_scan as fs
    log("python", sys.version.split()[0])
    log("versions", versions("samba"))
    log("cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    log("fast scan max diff (cpu):", fs.check("cpu"), "(dev):", fs.check(dev))
    # flash_attn stand-in vs an explicit loop over queries
    import flash_attn
    torch.manual_seed(0)
    q = torch.randn(2, 7, 4, 8, device=dev)
    k = torch.randn(2, 11, 2, 8, device=dev)
    v = torch.randn(2, 11, 2, 8, device=dev)
    o = flash_attn.flash_attn_func(q, k, v, causal=True, window_size=(3, 0))
    ref = torch.empty_like(o)
    for b in range(2):
        for h in range(4):
            for i in range(7):
                p = i + 11 - 7
                js = [j for j in range(11) if p - 3 <= j <= p]
                s = torch.stack([q[b, i, h] @ k[b, j, h // 2] for j in js]) / math.sqrt(8)
                w = torch.softmax(s, 0)
                ref[b, i, h] = sum(w[t] * v[b, js[t], h // 2] for t in range(len(js)))
    log("flash_attn stand-in vs loop:", (o - ref).abs().max().item())
    try:
        import fla.layers.attn as fa
        log("fla attn sees flash_attn_func:", fa.flash_attn_func is not None, fa.flash_attn_func.__module__)
        names = ("holdout-mamba", "samba-tiny")
    except ImportError:
        names = ("holdout-mamba",)
    # the training-only fast scan inside the real modules, train mode, no cache
    for name in names:
        pr = PRESETS[name]
        torch.manual_seed(0)
        model = build_model(pr["arch"], build_config(pr["arch"], dict(pr["config"]))).to(dev).float().train()
        if pr["arch"] == "samba":
            log(f"{name} modules:\n{model}")
        x = torch.randint(0, pr["config"]["vocab_size"], (4, 256), device=dev)
        set_exact_f32()
        t = time.time()
        ref = model(input_ids=x, use_cache=False).logits
        ref.float().logsumexp(-1).mean().backward()
        g_ref = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        t_ref = time.time() - t
        with fs.patched_for_training():
            t = time.time()
            fast = model(input_ids=x, use_cache=False).logits
            fast.float().logsumexp(-1).mean().backward()
            t_fast = time.time() - t
        g_fast = [p.grad.clone() for p in model.parameters()]
        gd = max(((a - b).abs().max() / (a.abs().max() + 1e-12)).item() for a, b in zip(g_ref, g_fast))
        log(f"{name}: train-mode logits |fast - reference| = {(fast - ref).abs().max().item():.3g}, "
            f"max relative grad diff {gd:.3g}; fwd+bwd {t_ref:.2f}s reference vs {t_fast:.2f}s fast "
            f"(first calls include compiles)")
        del model
    return 0


def cmd_train(a):
    import torch
    preset = PRESETS[a.preset]
    arch = preset["arch"]
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = a.out
    os.makedirs(out, exist_ok=True)
    tok_dir = a.tokenizer or preset["tokenizer"]
    tok = kjv_data.load_tokenizer(tok_dir)
    corpus = kjv_data.load_corpus()
    ids = kjv_data.encode(tok, corpus)
    log(f"{a.preset}: corpus {len(ids)} tokens, vocab {tok.get_vocab_size()}")
    cfg = dict(preset["config"])
    for kv in a.set or []:
        key, _, val = kv.partition("=")
        cfg[key] = json.loads(val)
    assert cfg["vocab_size"] == tok.get_vocab_size()
    prior = {}
    if a.init_from:
        arch2, config, model = load_checkpoint(a.init_from, device)
        assert arch2 == arch
        prior = read_prior(a.init_from)
        log(f"continuing from {a.init_from} ({prior.get('steps', '?')} steps)")
    else:
        config = build_config(arch, cfg)
        torch.manual_seed(a.seed)
        model = build_model(arch, config).to(device).float()
    nparams = sum(p.numel() for p in model.parameters())
    log(f"params {nparams:,}  config: {json.dumps(cfg)}")
    t0 = time.time()
    tr = train(arch, model, config, ids, a.seconds, device, a.seed + (1 if a.init_from else 0),
               lr=a.lr, fast_scan=not a.no_fast_scan and arch != "llama")
    last20 = tr["losses"][-20:]
    log(f"trained {tr['steps']} steps; loss mean last 20 = {sum(last20) / len(last20):.3f}")
    # save: f32, save_pretrained (tied lm_head is not written)
    model.save_pretrained(out, safe_serialization=True)
    kjv_data.copy_tokenizer(tok_dir, out)
    # a tied embedding must not be duplicated; check what was written
    from safetensors import safe_open
    with safe_open(os.path.join(out, "model.safetensors"), "pt") as f:
        names = list(f.keys())
        assert all(f.get_slice(k).get_dtype() == "F32" for k in names)
        for k in sorted(names):
            log(f"   tensor {k} {f.get_slice(k).get_shape()}")
    log(f"model.safetensors: {len(names)} tensors, {os.path.getsize(os.path.join(out, 'model.safetensors'))} bytes")
    steps_total = tr["steps"] + int(prior.get("steps", 0))
    info = {
        "train_loss_mean_last20": sum(last20) / len(last20),
        "train_loss_last_step": tr["losses"][-1],
        "params": nparams,
        "steps": steps_total,
        "batch": "32 x 256 tokens",
        "lr": a.lr,
        "seed": a.seed,
        "optimizer": "AdamW betas (0.9, 0.95), weight decay 0.01, grad clip 1.0, bf16 autocast",
        "schedule": "5% warm-up then cosine to 10%, on the wall-clock fraction of the budget",
        "train_segments": prior.get("train_segments", []) + [
            {"steps": tr["steps"], "seconds": a.seconds, "first_step_seconds": tr["first_step_seconds"],
             "fast_scan": not a.no_fast_scan and arch != "llama"}],
        "tokenizer": f"tokenizer.json of this folder (copied from {os.path.relpath(tok_dir, REPO)})",
        "train_loss_curve_every50": tr["losses"][::50],
        "preset": a.preset,
        "prompts_kind": preset["prompts"],
        "train_seconds_total": round(time.time() - t0, 1),
    }
    with open(os.path.join(out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    if a.no_golden:
        log(f"done (no golden): {out}")
        return 0
    prompts = make_prompts(preset["prompts"], tok)
    _, g = write_golden(out, arch, model, tok, prompts, device, info)
    g["train_plus_golden_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump(g, f, indent=2)
    log(f"done: {out} max|full-step| {g['max_abs_full_minus_step']:.3g}")
    return 0


def read_prior(ckpt: str) -> dict:
    """Training facts of a checkpoint folder: train_info.json, else golden.json, else {}."""
    for name in ("train_info.json", "golden.json"):
        p = os.path.join(ckpt, name)
        if os.path.exists(p):
            return json.load(open(p))
    return {}


def cmd_golden(a):
    import torch
    device = "cuda" if torch.cuda.is_available() else "cpu"
    arch, config, model = load_checkpoint(a.ckpt, device)
    tok = kjv_data.load_tokenizer(a.ckpt)
    prior = read_prior(a.ckpt)
    if a.prompts:
        prompts = make_prompts(a.prompts, tok)
    elif prior.get("prompts"):
        prompts = prior["prompts"]
    else:
        prompts = make_prompts(prior.get("prompts_kind", "shared"), tok)
    out = a.out or a.ckpt
    os.makedirs(out, exist_ok=True)
    if os.path.abspath(out) != os.path.abspath(a.ckpt):
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "generation_config.json", "train_info.json"):
            if os.path.exists(os.path.join(a.ckpt, name)):
                shutil.copyfile(os.path.join(a.ckpt, name), os.path.join(out, name))
    keep = {k: prior[k] for k in ("train_loss_mean_last20", "train_loss_last_step", "params", "steps", "batch",
                                  "lr", "seed", "optimizer", "schedule", "train_segments", "tokenizer",
                                  "train_loss_curve_every50", "preset", "prompts_from") if k in prior}
    if a.prompts and os.path.exists(a.prompts):
        keep["prompts_from"] = f"the prompts of {a.prompts}"
    if "train_info.json" not in os.listdir(a.ckpt):
        keep["recomputed_from"] = os.path.relpath(os.path.abspath(a.ckpt), REPO)
    tensors, g = write_golden(out, arch, model, tok, prompts, device, keep)
    if a.compare:
        rep = compare_golden(tensors, a.compare)
        worst = max((v for v in rep.values() if isinstance(v, float)), default=float("nan"))
        ids_diff = sum(v for k, v in rep.items() if isinstance(v, int))
        log(f"compare with {a.compare}: max |logit diff| over all tensors {worst:.3g}; differing ids {ids_diff}")
        for k, v in rep.items():
            log(f"   {k}: {v}")
        with open(os.path.join(out, "compare.json"), "w") as f:
            json.dump({"reference": a.compare, "max_abs_logit_diff": worst, "differing_ids": ids_diff,
                       "per_tensor": rep}, f, indent=2)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")
    t = sub.add_parser("train")
    t.add_argument("--preset", required=True, choices=sorted(PRESETS))
    t.add_argument("--out", required=True)
    t.add_argument("--seconds", type=float, required=True, help="training wall-clock budget after the first step")
    t.add_argument("--tokenizer", default=None, help="folder with tokenizer.json (default: the preset's)")
    t.add_argument("--set", action="append", help="config override key=JSON")
    t.add_argument("--init-from", default=None, help="continue training from this checkpoint folder")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--no-golden", action="store_true", help="only train and save (golden later with `golden`)")
    t.add_argument("--device", default=None, help="default: cuda if available (cpu only for smoke tests)")
    t.add_argument("--no-fast-scan", action="store_true", help="train with the reference sequential scan")
    g = sub.add_parser("golden")
    g.add_argument("--ckpt", required=True)
    g.add_argument("--out", default=None)
    g.add_argument("--compare", default=None, help="folder with a golden.safetensors to diff against")
    g.add_argument("--prompts", default=None, help="'shared', 'holdout' or a golden.json (if ckpt has none)")
    a = ap.parse_args(argv)
    return {"selftest": cmd_selftest, "train": cmd_train, "golden": cmd_golden}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
