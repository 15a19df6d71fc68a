#!/usr/bin/env python3
"""Train a tiny SUBLLM with XiaoMi's reference module and write its golden outputs.

    make_subllm.py selftest [--device cpu]          # import the patched reference, random model checks
    make_subllm.py train  --seconds 330 --out DIR [--no-golden] [--device cpu] [--batch 16 --seqlen 512]
    make_subllm.py golden --ckpt DIR [--out DIR] [--compare REF_DIR]

The reference is `modeling/modeling_subllm_inference.py` of github XiaoMi/subllm (commit
ce6e335), copied into the git-ignored `.vendor/subllm_ref/` (never committed) and executed from
there with exactly these import-time changes (REFERENCE_PATCHES below, also written to golden.json):
  1. line 532 `attention_type == == 'flash'` -> `attention_type == 'flash'` (a syntax error as
     published: the module does not import at all otherwise);
  2. line 204 `F.softmax(x, dim=dim, dtype=torch.bfloat16)` -> `dtype=torch.float32` (VanillaAttn
     would otherwise round the attention probabilities to bfloat16 even in a float32 model);
  3. stand-in modules for its top-level imports of GPU packages that the `attn_type: vanilla`
     path never calls (each stand-in raises if called): `xformers.components.attention.core.
     scaled_dot_product_attention` (line 33), `flash_attn.layers.rotary.ApplyRotaryEmbQKV_`
     (line 34), `flash_attn.flash_attn_interface.flash_attn_func / flash_attn_qkvpacked_func`
     (line 35), `rotary_emb` (line 38, used only by the module's own ApplyRotaryEmbQKV_ class,
     which nothing instantiates). `xformers.ops` stays unimportable, so XFORMERS_AVAILABLE is
     False (FlashAttn, never built for `vanilla`, is the only user of fmha);
  4. `apex` is made unimportable while the module loads, so LayerNorm(...) returns the module's
     own `RMSNorm` class (lines 131-142), not apex's FusedRMSNorm (same maths, a CUDA kernel);
     apex is not installed on the GPU machine anyway, this only pins the choice.
The stand-ins are removed from sys.modules right after the module is executed.

Golden (golden.safetensors; float32, eval mode, TF32 off; batch 1), per prompt K:
  pK.input_ids int32 [n]
  pK.logits f32 [n, V]             ONE forward of the whole prompt (the truth)
  pK.step_logits_last16 f32 [16, V] the reference's OWN decoding: prefill n-16 tokens, then one
                                    token per call through its cache (documents its inconsistency:
                                    it rotates every level at the token's original position)
  pK.kept_lL int32 [m_L]            ORIGINAL positions kept by the L-th '(' of `structure`
                                    (L = 1 the first/outermost) in the full-prompt pass
  pK.weight_lL f32 [m_L]            their weights clamp(score, 0, 1)
  pK.score_lL f32 [r_L]             raw scores of every token that REACHED that '(' (in order)
  pK.greedy int32 [32]              greedy continuation, re-running the full-prompt pass each step
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENDOR = os.path.join(REPO, ".vendor")
REF_DIR = os.path.join(VENDOR, "subllm_ref")
REF_FILE = os.path.join(REF_DIR, "modeling_subllm_inference.py")
REF_COMMIT = "ce6e335d661c766749d125b8db3e5df442b0f20b"
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import kjv_data  # noqa: E402

SHARED_TOKENIZER = os.path.join(REPO, "Tests", "Fixtures", "mamba-tiny")

# config.json as XiaoMi's published configs write it (config/subllm-1.3B-keep0p4-4k_config.json),
# plus model_type / architectures.  Every key here is read by the module (see subllm_notes).
SUBLLM_TINY = {
    "architectures": ["SubllmModel"],
    "model_type": "subllm",
    "num_embeddings": 2048,
    "decoder_embed_dim": 128,
    "decoder_ffn_embed_dim": 320,
    "hidden_size": 128,
    "decoder_layers": 10,
    "decoder_attention_heads": 4,
    "norm_name": "rmsnorm",
    "mlp_name": "swiglu",
    "qk_bias": True,
    "use_fused": False,
    "attn_type": "vanilla",
    "tokens_per_sample": 512,
    "n_positions": 512,
    "padding_idx": 0,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "scale_token_embedding": False,
    "downsampling_factor_denominator": "0.64",
    "tie_weights": False,
    "structure": "TT(TT(TT)TT)TT",
}

REFERENCE_PATCHES = [
    ("line 532: `attention_type == == 'flash'` -> `attention_type == 'flash'` (syntax error as published)",
     "attention_type == == 'flash'", "attention_type == 'flash'"),
    ("line 204: utils_softmax `F.softmax(x, dim=dim, dtype=torch.bfloat16)` -> dtype=torch.float32 "
     "(float32 attention probabilities instead of bfloat16 ones)",
     "F.softmax(x, dim=dim, dtype=torch.bfloat16)", "F.softmax(x, dim=dim, dtype=torch.float32)"),
]
STANDINS = [
    "xformers.components.attention.core.scaled_dot_product_attention (line 33): never called",
    "flash_attn.layers.rotary.ApplyRotaryEmbQKV_ (line 34): never called",
    "flash_attn.flash_attn_interface.flash_attn_func, flash_attn_qkvpacked_func (line 35): never called",
    "rotary_emb (line 38): used only inside the module's ApplyRotaryEmbQKV_, never called",
    "xformers.ops not importable -> XFORMERS_AVAILABLE False (fmha is used only by FlashAttn, not built for vanilla)",
    "apex made unimportable while loading -> the module's own RMSNorm (lines 131-142), not apex FusedRMSNorm",
]

HELDOUT_FRAC = 0.985          # the last 1.5% of the tokenised corpus is never trained on
PROMPT_LENGTHS = (64, 100, 150, 200)
PROMPT_SCORE_MARGIN = 1e-3    # min |score| of any prompt token at any level (robust keep decisions)


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


# MARK: - the reference module, patched at import time

_REF = None


def load_reference(device: str):
    """Execute the vendored reference with REFERENCE_PATCHES and the stand-ins; returns the module."""
    global _REF
    if _REF is not None:
        return _REF
    import torch
    import transformers  # noqa: F401  (imported BEFORE the stand-ins: it probes flash_attn itself)
    from transformers import PretrainedConfig, PreTrainedModel  # noqa: F401
    from transformers.modeling_outputs import ModelOutput  # noqa: F401
    src = open(REF_FILE, encoding="utf-8").read()
    for _, old, new in REFERENCE_PATCHES:
        assert src.count(old) == 1, f"patch target not found exactly once: {old!r}"
        src = src.replace(old, new)

    def never(*a, **k):
        raise RuntimeError("stand-in called: the vanilla attention path must not use this")

    saved = {}

    def stand_in(name, **attrs):
        saved[name] = sys.modules.get(name)
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m

    for name in ("xformers", "xformers.components", "xformers.components.attention", "flash_attn",
                 "flash_attn.layers"):
        stand_in(name)
    stand_in("xformers.components.attention.core", scaled_dot_product_attention=never)
    stand_in("flash_attn.layers.rotary", ApplyRotaryEmbQKV_=never)
    stand_in("flash_attn.flash_attn_interface", flash_attn_func=never, flash_attn_qkvpacked_func=never)
    stand_in("rotary_emb", apply_rotary=never)
    for name in ("apex", "apex.normalization"):
        saved[name] = sys.modules.get(name)
        sys.modules[name] = None  # import raises ImportError
    if not str(device).startswith("cuda"):
        # DownsampledDecoder forces initialize_params_on_gpu=True (line 1716); on a CPU-only
        # debugging run, let "the current CUDA device" be the CPU (left so: the module calls it
        # again whenever a model is built).
        torch.cuda.current_device = lambda: "cpu"
    try:
        mod = types.ModuleType("modeling_subllm_inference")
        mod.__file__ = REF_FILE
        sys.modules[mod.__name__] = mod
        exec(compile(src, REF_FILE, "exec"), mod.__dict__)
    finally:
        for name, old in saved.items():
            if old is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = old
    assert mod.XFORMERS_AVAILABLE is False and mod.has_fused_layernorm is False
    _REF = mod
    return mod


def build_model(cfg: dict, device: str, seed: int = 1):
    """SubllmModel(SubllmConfig(**config.json)) moved to `device` in float32."""
    import torch
    ref = load_reference(device)
    kw = {k: v for k, v in cfg.items() if k not in ("model_type",)}
    config = ref.SubllmConfig(**kw)
    torch.manual_seed(seed)
    model = ref.SubllmModel(config)
    # The module builds some parameters on the "GPU" (line 1716) and others (SwiGLU, scorers,
    # bypass scales, RoPE inv_freq) on the CPU: move everything, then float32.
    return config, model.to(device).float()


def load_checkpoint(ckpt: str, device: str):
    import torch
    from safetensors.torch import load_file
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    config, model = build_model(cfg, device)
    sd = load_file(os.path.join(ckpt, "model.safetensors"))
    model.load_state_dict(sd, strict=True)
    return cfg, config, model.to(device).float()


# MARK: - forward helpers (batch 1, exactly as the reference is called)

class Capture:
    """Forward hooks on every downsampler: (indexes, weights) and the raw to_scores outputs."""

    def __init__(self, model, structure: str):
        self.parent = []  # enclosing downsampler of each '(' (None = outermost)
        stack = []
        for ch in structure:
            if ch == "(":
                self.parent.append(stack[-1] if stack else None)
                stack.append(len(self.parent) - 1)
            elif ch == ")":
                stack.pop()
        self.records = []
        self.scores = []
        self.on = True
        dec = model.decoder
        for k, ds in enumerate(dec.downsamplers):
            ds.register_forward_hook(self._ds_hook(k))
            ds.to_scores.register_forward_hook(self._score_hook(k))

    def _ds_hook(self, k):
        def hook(mod, inputs, outputs):
            if self.on:
                indexes, weights, _ = outputs
                self.records.append((k, indexes.detach(), weights.detach()))
        return hook

    def _score_hook(self, k):
        def hook(mod, inputs, output):
            if self.on:
                self.scores.append((k, output))
        return hook

    def reset(self):
        self.records, self.scores = [], []

    def levels(self, n: int):
        """Per downsampler: original kept positions, weights, raw scores (batch 1 only)."""
        import torch
        out = {}
        by_k = {k: (i, w) for k, i, w in self.records}
        sc = {k: s for k, s in self.scores}
        for k in range(len(self.parent)):
            idx, w = by_k[k]
            p = self.parent[k]
            received = torch.arange(n, device=idx.device) if p is None else out[p]["kept"]
            kept = received[idx[0].long()]
            out[k] = dict(kept=kept, weight=w[0].float(), score=sc[k][:, 0, 0].detach().float(),
                          received=received)
        return out


def full_pass(model, ids_list, device):
    import torch
    ids = torch.tensor([ids_list], device=device)
    out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
    return out.logits[0].float(), out.past_key_values


def step_pass(model, ids_list, n_prefill, device):
    """The reference's own decoding: prefill n_prefill tokens, then one token per call."""
    import torch
    ids = torch.tensor([ids_list], device=device)
    out = model(input_ids=ids[:, :n_prefill], attention_mask=torch.ones_like(ids[:, :n_prefill]),
                use_cache=True)
    past = out.past_key_values
    rows = []
    for t in range(n_prefill, len(ids_list)):
        out = model(input_ids=ids[:, t:t + 1], past_key_values=past, use_cache=True,
                    attention_mask=torch.ones(1, t + 1, dtype=ids.dtype, device=device))
        past = out.past_key_values
        rows.append(out.logits[0, -1].float())
    return torch.stack(rows)


def set_exact_f32():
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")


# MARK: - golden

def analyse_prompt(model, cap, ids_list, device, n_levels, min_margin=PROMPT_SCORE_MARGIN):
    """Everything the golden needs for one prompt, or raises ValueError if the prompt does not meet
    the fixture's requirements (each level keeps >= 2 and drops >= 1, in the full prompt and in
    the n-16 prefill; robust score margin; no assert in the reference's greedy passes)."""
    import torch
    n = len(ids_list)
    if 0 in ids_list:
        raise ValueError("token id 0 (padding_idx) in prompt")
    cap.reset()
    full, _ = full_pass(model, ids_list, device)
    lv = cap.levels(n)
    npre = n - 16
    facts = []
    for k in range(n_levels):
        kept, received = lv[k]["kept"], lv[k]["received"]
        kp = int((kept < npre).sum())
        rp = int((received < npre).sum())
        margin = float(lv[k]["score"].abs().min())
        facts.append(dict(received=int(received.numel()), kept=int(kept.numel()),
                          received_prefill=rp, kept_prefill=kp, min_abs_score=margin))
        if not (2 <= kept.numel() < received.numel()):
            raise ValueError(f"level {k + 1}: keeps {kept.numel()} of {received.numel()}")
        if not (2 <= kp < rp):
            raise ValueError(f"level {k + 1} in the n-16 prefill: keeps {kp} of {rp}")
        if margin < min_margin:
            raise ValueError(f"level {k + 1}: a score within {margin:.2g} of 0")
    cap.on = False
    try:
        step = step_pass(model, ids_list, npre, device)
        seq = list(ids_list)
        greedy = [int(torch.argmax(full[-1]))]
        for _ in range(31):
            lg, _ = full_pass(model, seq + greedy, device)
            greedy.append(int(torch.argmax(lg[-1])))
    except (AssertionError, RuntimeError, IndexError, TypeError) as e:
        raise ValueError(f"reference failed on this prompt: {type(e).__name__}: {e}")
    finally:
        cap.on = True
    return dict(full=full, step=step, levels=lv, facts=facts, greedy=greedy)


def candidate_prompts(tok, corpus_ids, length: int, start_token: int):
    """Yield (token offset, text, ids) of `length` tokens from the held-out tail, starting at a verse start
    at or after start_token and moving on by ~37 tokens each time."""
    nl = kjv_data.encode(tok, "\n")
    assert len(nl) == 1
    nl = nl[0]
    s = start_token
    while s + length + 1 < len(corpus_ids):
        while s < len(corpus_ids) and corpus_ids[s] != nl:
            s += 1
        text = tok.decode(corpus_ids[s + 1:s + 1 + length])
        ids = kjv_data.encode(tok, text)
        if len(ids) == length:
            yield s, text, ids
        s += 37


def choose_prompts(model, cap, tok, device, n_levels):
    corpus_ids = kjv_data.encode(tok, kjv_data.load_corpus())
    cut = int(len(corpus_ids) * HELDOUT_FRAC)
    chosen, rejected = [], []
    start = cut
    for length in PROMPT_LENGTHS:
        for s, text, ids in candidate_prompts(tok, corpus_ids, length, start):
            try:
                res = analyse_prompt(model, cap, ids, device, n_levels)
            except ValueError as e:
                rejected.append(f"{length} tokens at corpus token {s + 1}: {e}")
                continue
            chosen.append((text, ids, res))
            start = s + 1 + length  # the next prompt starts after this one
            break
        else:
            raise RuntimeError(f"no held-out prompt of {length} tokens meets the requirements")
    return chosen, rejected


def write_golden(out_dir, model, cfg, tok, device, info, prompts=None):
    import torch
    from safetensors.torch import save_file
    set_exact_f32()
    model.eval()
    t0 = time.time()
    n_levels = cfg["structure"].count("(")
    cap = Capture(model, cfg["structure"])
    rejected = []
    with torch.no_grad():
        if prompts is None:
            chosen, rejected = choose_prompts(model, cap, tok, device, n_levels)
        else:
            chosen = []
            for text in prompts:
                ids = kjv_data.encode(tok, text)
                chosen.append((text, ids, analyse_prompt(model, cap, ids, device, n_levels)))
    tensors = {}
    per_prompt = []
    kept_w, inside_w = 0, 0
    level_tot = [[0, 0] for _ in range(n_levels)]
    for k, (text, ids, r) in enumerate(chosen):
        n = len(ids)
        d = (r["full"][n - 16:] - r["step"]).abs()
        tensors[f"p{k}.input_ids"] = torch.tensor(ids, dtype=torch.int32)
        tensors[f"p{k}.logits"] = r["full"].cpu().contiguous()
        tensors[f"p{k}.step_logits_last16"] = r["step"].cpu().contiguous()
        tensors[f"p{k}.greedy"] = torch.tensor(r["greedy"], dtype=torch.int32)
        for L in range(n_levels):
            lv = r["levels"][L]
            tensors[f"p{k}.kept_l{L + 1}"] = lv["kept"].to(torch.int32).cpu().contiguous()
            tensors[f"p{k}.weight_l{L + 1}"] = lv["weight"].cpu().contiguous()
            tensors[f"p{k}.score_l{L + 1}"] = lv["score"].cpu().contiguous()
            w = lv["weight"]
            kept_w += int(w.numel())
            inside_w += int(((w > 0) & (w < 1)).sum())
            level_tot[L][0] += int(lv["kept"].numel())
            level_tot[L][1] += int(lv["received"].numel())
        per_prompt.append(dict(
            tokens=n, max_abs_full_minus_step=float(d.max()),
            max_abs_full_minus_step_per_row=[float(x) for x in d.max(dim=1).values],
            levels=[dict(level=L + 1, **r["facts"][L],
                         kept_fraction_of_received=r["facts"][L]["kept"] / r["facts"][L]["received"],
                         kept_fraction_of_prompt=r["facts"][L]["kept"] / n,
                         weights_strictly_inside=int(((r["levels"][L]["weight"] > 0)
                                                      & (r["levels"][L]["weight"] < 1)).sum()))
                    for L in range(n_levels)],
            greedy_text=tok.decode(r["greedy"])))
        log(f"golden p{k}: n={n} max|full-step|={float(d.max()):.3g} levels "
            + " ".join(f"L{L + 1} {f['kept']}/{f['received']} (prefill {f['kept_prefill']}/{f['received_prefill']},"
                       f" min|s| {f['min_abs_score']:.2g})" for L, f in enumerate(r["facts"]))
            + f" greedy {tok.decode(r['greedy'])[:50]!r}")
    save_file(tensors, os.path.join(out_dir, "golden.safetensors"))
    import torch as _t
    import transformers
    g = {
        "implementation": "XiaoMi/subllm modeling/modeling_subllm_inference.py SubllmModel "
                          f"(github commit {REF_COMMIT[:7]}), executed from .vendor/subllm_ref with the patches below",
        "reference_commit": REF_COMMIT,
        "torch": _t.__version__, "transformers": transformers.__version__,
        "reference_patches": [p[0] for p in REFERENCE_PATCHES],
        "reference_standins": STANDINS,
    }
    g.update(info)
    g["vocab"] = int(cfg["num_embeddings"])
    g["structure"] = cfg["structure"]
    g["prompts"] = [c[0] for c in chosen]
    g["prompt_tokens"] = [len(c[1]) for c in chosen]
    g["prompts_source"] = (f"KJV corpus tail (tokens from {HELDOUT_FRAC:.3f} of the tokenised corpus on, never "
                           "trained on), each starting at a verse start; the first candidate of each length "
                           f"{list(PROMPT_LENGTHS)} meeting the requirements (rejected candidates listed)")
    g["prompts_rejected"] = rejected
    g["per_prompt"] = per_prompt
    g["kept_fraction_per_level"] = [dict(level=L + 1, kept=a, received=b, fraction_of_received=a / b)
                                    for L, (a, b) in enumerate(level_tot)]
    g["kept_weights_strictly_inside_0_1"] = dict(inside=inside_w, kept=kept_w, fraction=inside_w / max(kept_w, 1))
    g["max_abs_full_minus_step"] = max(p["max_abs_full_minus_step"] for p in per_prompt)
    g["golden_path"] = (
        "batch 1, eval mode, torch.no_grad. full = ONE call model(input_ids, attention_mask=ones, use_cache=True) "
        "(use_cache=False hits `assert False`, line 1895); step = the reference's own decoding: one call on the "
        "first n-16 tokens, then one call per token with past_key_values and attention_mask=ones(1, t+1) "
        "(its RoPE position = mask length - 1 at every level); greedy = argmax of the last row, re-running the "
        "full-prompt call on prompt + tokens so far at every step (the truth; the reference's decoding would "
        "rotate nested levels differently)")
    g["golden_seconds"] = round(time.time() - t0, 1)
    g["golden_precision"] = ("float32, eval mode, TF32 off (allow_tf32=False, matmul precision 'highest'), on "
                             + (_t.cuda.get_device_name(0) if str(device).startswith("cuda") else "the CPU"))
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(g, f, indent=2)
    return tensors, g


# MARK: - training

def train(model, cfg, tok_ids, seconds, device, seed, lr=3e-3, batch=32, seqlen=256,
          keep_lo=0.5, keep_hi=0.75, min_rms=1.0, max_rms=3.0, pen_coef=1.0, warmup_frac=0.05, final_frac=0.1):
    """The reference forward in train mode (its dropout 0.1 and bypass-scale limiter active; its
    Balancers never fire without a batch_count), float32 with TF32, AdamW (0.9, 0.95), wd 0.01,
    grad clip 1.0, lr warm-up 5% then cosine to 10% on the wall-clock fraction of `seconds`.
    Loss = cross entropy + a keep-rate penalty per '(' : with f = mean(sigmoid(10 * score)) (a
    soft fraction of score > 0) and r = rms(score) over the tokens that reached it,
    pen_coef * (relu(keep_lo - f) + relu(f - keep_hi) + relu(min_rms - r) + relu(r - max_rms)).
    (The reference's own score Balancer, lines 1533-1539, would hold the keep rate near
    1/downsampling_factor and rms(score) within [1.25, 5]; it is inert here, see above.)"""
    import torch
    import torch.nn.functional as F
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model.train()
    n_levels = cfg["structure"].count("(")
    cap = Capture(model, cfg["structure"])
    data = torch.tensor(tok_ids, dtype=torch.long, device=device)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    offs = torch.arange(seqlen + 1, device=device)
    mask = torch.ones(batch, seqlen, dtype=torch.long, device=device)

    def lr_at(frac):
        if frac < warmup_frac:
            return lr * max(frac / warmup_frac, 0.01)
        p = min((frac - warmup_frac) / (1 - warmup_frac), 1.0)
        return lr * (final_frac + (1 - final_frac) * 0.5 * (1 + math.cos(math.pi * p)))

    losses, keeps, pens, skipped = [], [], [], 0
    step, t0 = 0, time.time()
    while True:
        frac = (time.time() - t0) / seconds
        if frac >= 1.0:
            break
        cur = lr_at(frac)
        for gp in opt.param_groups:
            gp["lr"] = cur
        starts = torch.randint(0, data.numel() - seqlen - 1, (batch,), generator=gen).to(device)
        w = data[starts[:, None] + offs[None, :]]
        x, y = w[:, :-1], w[:, 1:]
        cap.reset()
        try:
            logits = model(input_ids=x, attention_mask=mask, use_cache=True).logits
        except (AssertionError, RuntimeError, IndexError, TypeError) as e:
            # a level keeping all or exactly one token of the widest sequence trips the reference
            skipped += 1
            if skipped <= 5:
                log(f"step {step}: reference forward failed ({type(e).__name__}: {str(e)[:80]}), batch skipped")
            continue
        ce = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        pen = torch.zeros((), device=device)
        kr = []
        for k, s in cap.scores:
            f = torch.sigmoid(10.0 * s.float()).mean()
            r = s.float().pow(2).mean().sqrt()
            pen = pen + pen_coef * (F.relu(keep_lo - f) + F.relu(f - keep_hi)
                                    + F.relu(min_rms - r) + F.relu(r - max_rms))
            kr.append(float((s > 0).float().mean()) if step % 50 == 0 else None)
        loss = ce + pen
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 1:
            losses.append(float(ce.detach()))
            pens.append(float(pen.detach()))
            keeps.append(kr)
        if step % 200 == 1:
            log(f"step {step} ce {float(ce):.3f} pen {float(pen):.3g} keep/received {kr} lr {cur:.2e} "
                f"{(time.time() - t0) / step:.3f}s/step")
    model.eval()
    return dict(steps=step, skipped_batches=skipped, losses_every50=losses, keep_rate_every50=keeps,
                penalty_every50=pens, train_seconds=round(time.time() - t0, 1), n_levels=n_levels)


def heldout_ce(model, ids, device, windows=8, seqlen=512):
    """Mean next-token cross entropy of the eval-mode full-prompt pass on held-out windows."""
    import torch
    import torch.nn.functional as F
    model.eval()
    tot, ok = 0.0, 0
    step = (len(ids) - seqlen - 1) // windows
    with torch.no_grad():
        for w in range(windows):
            seq = ids[w * step:w * step + seqlen + 1]
            try:
                lg, _ = full_pass(model, seq[:-1], device)
            except (AssertionError, RuntimeError, IndexError, TypeError):
                continue  # a level kept every token (the reference asserts)
            tot += float(F.cross_entropy(lg, torch.tensor(seq[1:], device=device)))
            ok += 1
    return tot / max(ok, 1)


# MARK: - commands

def save_checkpoint(model, cfg, out):
    from safetensors.torch import save_file
    os.makedirs(out, exist_ok=True)
    sd = {k: v.detach().float().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    kjv_data.copy_tokenizer(SHARED_TOKENIZER, out)
    return sd


def cmd_train(a):
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg = dict(SUBLLM_TINY)
    for kv in a.set or []:
        key, _, val = kv.partition("=")
        cfg[key] = json.loads(val)
    tok = kjv_data.load_tokenizer(SHARED_TOKENIZER)
    assert tok.get_vocab_size() == cfg["num_embeddings"]
    ids = kjv_data.encode(tok, kjv_data.load_corpus())
    cut = int(len(ids) * HELDOUT_FRAC)
    log(f"corpus {len(ids)} tokens; training on the first {cut}")
    config, model = build_model(cfg, device, a.seed)
    nparams = sum(p.numel() for p in model.parameters())
    log(f"params {nparams:,}; config {json.dumps(cfg)}")
    t0 = time.time()
    tr = train(model, cfg, ids[:cut], a.seconds, device, a.seed, lr=a.lr, batch=a.batch,
               seqlen=a.seqlen, keep_lo=a.keep_lo, keep_hi=a.keep_hi, min_rms=a.min_rms, max_rms=a.max_rms,
               pen_coef=a.pen)
    last = tr["losses_every50"][-5:]
    log(f"trained {tr['steps']} steps ({tr['skipped_batches']} batches skipped); ce (last samples) {last}")
    sd = save_checkpoint(model, cfg, a.out)
    for k in sd:
        log(f"   tensor {k} {list(sd[k].shape)}")
    info = {
        "train_loss_last_samples_mean": sum(last) / len(last),
        "params": nparams,
        "steps": tr["steps"],
        "skipped_batches": tr["skipped_batches"],
        "batch": f"{a.batch} x {a.seqlen} tokens",
        "lr": a.lr, "seed": a.seed,
        "optimizer": "AdamW betas (0.9, 0.95), weight decay 0.01, grad clip 1.0, float32 with TF32",
        "schedule": "5% warm-up then cosine to 10%, on the wall-clock fraction of the budget",
        "train_seconds": tr["train_seconds"],
        "train_mode": ("reference forward in train() mode, called like the golden (attention_mask=ones, "
                       "use_cache=True): its Dropout(0.1) and BypassModule limit_param_value([0,1]) act; "
                       "its score Balancers never fire (ScheduledFloat prob defaults to 0 without batch_count)"),
        "keep_rate_penalty": (f"{a.pen} * (relu({a.keep_lo} - f) + relu(f - {a.keep_hi}) + relu({a.min_rms} - r) "
                              f"+ relu(r - {a.max_rms})) per '(' with f = mean(sigmoid(10*score)), r = rms(score) "
                              "over the tokens reaching it (training only; stands in for the reference's score "
                              "Balancer, inert without a batch_count)"),
        "train_data": f"KJV corpus, random {a.seqlen + 1}-token windows of the first {HELDOUT_FRAC:.3f} of its tokens",
        "tokenizer": "tokenizer.json of this folder (copied from Tests/Fixtures/mamba-tiny)",
        "train_ce_curve_every50": tr["losses_every50"],
        "keep_rate_curve_every50": tr["keep_rate_every50"],
        "penalty_curve_every50": tr["penalty_every50"],
    }
    with open(os.path.join(a.out, "train_info.json"), "w") as f:
        json.dump(info, f, indent=2)
    if a.no_golden:
        log(f"done (no golden): {a.out}")
        return 0
    # golden from a FRESH model loaded from the files (the trained object has its RoPE tables
    # cached from training and train-mode state)
    _, config, model = load_checkpoint(a.out, device)
    info["heldout_ce_eval"] = heldout_ce(model, ids[cut:], device)
    log(f"held-out cross entropy (eval mode, full-prompt pass, 8 x 512 tokens): {info['heldout_ce_eval']:.3f}")
    _, g = write_golden(a.out, model, cfg, tok, device, info)
    g["train_plus_golden_seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(a.out, "golden.json"), "w") as f:
        json.dump(g, f, indent=2)
    log(f"done: {a.out} max|full-step| {g['max_abs_full_minus_step']:.3g} kept {g['kept_fraction_per_level']} "
        f"inside {g['kept_weights_strictly_inside_0_1']}")
    return 0


def cmd_golden(a):
    import shutil
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cfg, config, model = load_checkpoint(a.ckpt, device)
    tok = kjv_data.load_tokenizer(a.ckpt)
    prior = {}
    for name in ("train_info.json", "golden.json"):
        p = os.path.join(a.ckpt, name)
        if os.path.exists(p):
            prior = json.load(open(p))
            break
    out = a.out or a.ckpt
    os.makedirs(out, exist_ok=True)
    if os.path.abspath(out) != os.path.abspath(a.ckpt):
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "train_info.json"):
            if os.path.exists(os.path.join(a.ckpt, name)):
                shutil.copyfile(os.path.join(a.ckpt, name), os.path.join(out, name))
    keep = {k: v for k, v in prior.items() if k.startswith("train") or k in (
        "params", "steps", "skipped_batches", "batch", "lr", "seed", "optimizer", "schedule", "keep_rate_penalty",
        "tokenizer", "keep_rate_curve_every50", "penalty_curve_every50")}
    tensors, g = write_golden(out, model, cfg, tok, device, keep, prompts=prior.get("prompts"))
    if a.compare:
        from safetensors.torch import load_file
        ref = load_file(os.path.join(a.compare, "golden.safetensors"))
        worst, ids_diff = 0.0, 0
        for k, v in sorted(ref.items()):
            t = tensors[k]
            if t.shape != v.shape:
                log(f"   {k}: shape {tuple(t.shape)} vs {tuple(v.shape)}")
                ids_diff += 1
            elif v.dtype.is_floating_point:
                worst = max(worst, float((t - v).abs().max()))
            else:
                ids_diff += int((t != v).sum())
        log(f"compare with {a.compare}: max |diff| over float tensors {worst:.3g}; differing ints {ids_diff}")
    return 0


def cmd_selftest(a):
    """Random (untrained) model: imports, kept levels, full vs step, on the given device."""
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    set_exact_f32()
    cfg = dict(SUBLLM_TINY)
    config, model = build_model(cfg, device, seed=3)
    model.eval()
    log("config.to_dict keys:", sorted(config.to_dict()))
    cap = Capture(model, cfg["structure"])
    tok = kjv_data.load_tokenizer(SHARED_TOKENIZER)
    text = ("And God said, Let there be light: and there was light. And God saw the light, that it was good: "
            "and God divided the light from the darkness. And God called the light Day, and the darkness he "
            "called Night. And the evening and the morning were the first day.")
    ids = kjv_data.encode(tok, text)
    with torch.no_grad():
        r = analyse_prompt(model, cap, ids, device, cfg["structure"].count("("), min_margin=0.0)
    n = len(ids)
    d = (r["full"][n - 16:] - r["step"]).abs().max(dim=1).values
    log(f"n={n}; per level: {r['facts']}; max|full-step| per step row: {[round(float(x), 6) for x in d]}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("selftest")
    s.add_argument("--device", default=None)
    t = sub.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--seconds", type=float, required=True)
    t.add_argument("--set", action="append", help="config override key=JSON")
    t.add_argument("--seed", type=int, default=1)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--seqlen", type=int, default=512)
    t.add_argument("--keep-lo", type=float, default=0.5)
    t.add_argument("--keep-hi", type=float, default=0.75)
    t.add_argument("--min-rms", type=float, default=1.0)
    t.add_argument("--max-rms", type=float, default=3.0)
    t.add_argument("--pen", type=float, default=1.0)
    t.add_argument("--no-golden", action="store_true")
    t.add_argument("--device", default=None)
    g = sub.add_parser("golden")
    g.add_argument("--ckpt", required=True)
    g.add_argument("--out", default=None)
    g.add_argument("--compare", default=None)
    g.add_argument("--device", default=None)
    a = ap.parse_args(argv)
    return {"selftest": cmd_selftest, "train": cmd_train, "golden": cmd_golden}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
