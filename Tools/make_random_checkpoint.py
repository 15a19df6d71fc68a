#!/usr/bin/env python3
"""Write random-weight Hugging Face checkpoints of real model sizes, for benchmarks.

Real checkpoints are gigabytes to download; benchmarks only need the right shapes, names and
sane magnitudes. Each preset reproduces the tensor names, shapes and config.json fields of one
published layout, so `rill convert` treats the folder exactly as it would the real one:

  mamba-130m        state-spaces/mamba-130m-hf   d 768,  24 layers, vocab 50280, tied
  mamba-370m        state-spaces/mamba-370m-hf   d 1024, 48 layers, vocab 50280, tied
  transnormer-385m  OpenNLPLab TransNormerLLM    d 1024, 24 layers, 8 heads, LRPE on layer 0,
                                                 glu 2048, vocab 64000, untied (~407M params)
  samba-400m        fla SambaForCausalLM         d 1024, 24 layers (attention every other layer,
                                                 16 heads, 4 KV heads, window 2048), MLP ratio 4
                                                 (2816), vocab 32000, tied (~352M params)
  subllm-1.3b       XiaoMi SUBLLM (SubllmModel)  d 2048, 24 blocks, 16 heads, SwiGLU 5504, vocab 32000,
                                                 structure TTTTT(TTTTT(TTTT)TTTTT)TTTTT, untied (the
                                                 paper's 1.3B shape; ~1.34B params)
  llama-1.3b        LlamaForCausalLM             the same blocks as subllm-1.3b with no bracket: the
                                                 same seed gives the same weights, so the two
                                                 compare subsampling alone
  mamba-small, transnormer-small, samba-small, subllm-small, llama-small
                                                 a few million parameters, for quick checks

Weights are Gaussian with the scales of the references' initialisers (projections 1/sqrt(fan_in),
output projections further divided by sqrt(2·layers) as in GPT-2's residual rescaling, Mamba's
A_log = log(1..N), D = 1, dt bias = softplus⁻¹ of a log-uniform step in [1e-3, 0.1]), so the
residual stream and every recurrence stay finite over millions of tokens. The text they produce
is noise; their speed and memory are those of the real model. No tokenizer is written: run them
with `rill run --ids` / `rill bench`.

Usage:
  python3 Tools/make_random_checkpoint.py mamba-130m /tmp/mamba-130m
  rill convert /tmp/mamba-130m -o mamba-130m-int4.rill --quant int4

Needs numpy and safetensors (pip install numpy safetensors).
"""

import argparse
import json
import math
import os
import sys
import time

try:
    import numpy as np
    from safetensors.numpy import save_file
except ImportError as e:  # pragma: no cover - environment check
    sys.exit(f"make_random_checkpoint.py: {e}; install with: pip install numpy safetensors")


PRESETS = {
    "mamba-130m": dict(arch="mamba", d=768, layers=24, vocab=50280, state=16, conv=4, expand=2, dt_rank=48),
    "mamba-370m": dict(arch="mamba", d=1024, layers=48, vocab=50280, state=16, conv=4, expand=2, dt_rank=64),
    "mamba-small": dict(arch="mamba", d=256, layers=8, vocab=4096, state=16, conv=4, expand=2, dt_rank=16),
    "transnormer-385m": dict(arch="transnormer", d=1024, layers=24, heads=8, glu=2048, vocab=64000),
    "transnormer-small": dict(arch="transnormer", d=384, layers=6, heads=6, glu=768, vocab=4096),
    "samba-400m": dict(arch="samba", d=1024, layers=24, vocab=32000, heads=16, kv_heads=4, window=2048,
                       ratio=4, state=16, conv=4, expand=2),
    "samba-small": dict(arch="samba", d=256, layers=6, vocab=4096, heads=4, kv_heads=2, window=128,
                        ratio=4, state=16, conv=4, expand=2),
    "subllm-1.3b": dict(arch="subllm", d=2048, heads=16, ffn=5504, vocab=32000,
                        structure="TTTTT(TTTTT(TTTT)TTTTT)TTTTT"),
    "llama-1.3b": dict(arch="llama", d=2048, heads=16, ffn=5504, vocab=32000, layers=24),
    "subllm-small": dict(arch="subllm", d=256, heads=4, ffn=688, vocab=4096, structure="TT(TT(TT)TT)TT"),
    "llama-small": dict(arch="llama", d=256, heads=4, ffn=688, vocab=4096, layers=10),
}


class Writer:
    """Collects tensors and reports progress; shards are not needed at these sizes."""

    def __init__(self, seed, dtype):
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.tensors = {}
        self.params = 0

    def normal(self, name, shape, std):
        a = self.rng.standard_normal(shape, dtype=np.float32)
        a *= np.float32(std)
        self.put(name, a)

    def put(self, name, array):
        self.tensors[name] = np.ascontiguousarray(array.astype(self.dtype))
        self.params += array.size


def mamba_mixer(w, prefix, d, layers, state, conv, expand, dt_rank):
    e = expand * d
    w.normal(f"{prefix}.in_proj.weight", (2 * e, d), d ** -0.5)
    w.put(f"{prefix}.conv1d.weight", w.rng.uniform(-conv ** -0.5, conv ** -0.5, (e, 1, conv)).astype(np.float32))
    w.put(f"{prefix}.conv1d.bias", w.rng.uniform(-conv ** -0.5, conv ** -0.5, (e,)).astype(np.float32))
    w.normal(f"{prefix}.x_proj.weight", (dt_rank + 2 * state, e), e ** -0.5)
    w.put(f"{prefix}.dt_proj.weight", w.rng.uniform(-dt_rank ** -0.5, dt_rank ** -0.5, (e, dt_rank)).astype(np.float32))
    dt = np.exp(w.rng.uniform(math.log(1e-3), math.log(0.1), (e,))).clip(min=1e-4)
    w.put(f"{prefix}.dt_proj.bias", (dt + np.log(-np.expm1(-dt))).astype(np.float32))  # softplus⁻¹(dt)
    w.put(f"{prefix}.A_log", np.log(np.tile(np.arange(1, state + 1, dtype=np.float32), (e, 1))))
    w.put(f"{prefix}.D", np.ones(e, dtype=np.float32))
    w.normal(f"{prefix}.out_proj.weight", (d, e), e ** -0.5 / math.sqrt(2 * layers))


def make_mamba(w, p):
    d, layers = p["d"], p["layers"]
    w.normal("backbone.embeddings.weight", (p["vocab"], d), 0.02)
    for i in range(layers):
        w.put(f"backbone.layers.{i}.norm.weight", np.ones(d, dtype=np.float32))
        mamba_mixer(w, f"backbone.layers.{i}.mixer", d, layers, p["state"], p["conv"], p["expand"], p["dt_rank"])
        progress(i + 1, layers)
    w.put("backbone.norm_f.weight", np.ones(d, dtype=np.float32))
    return {
        "architectures": ["MambaForCausalLM"], "model_type": "mamba",
        "hidden_size": d, "num_hidden_layers": layers, "vocab_size": p["vocab"],
        "state_size": p["state"], "conv_kernel": p["conv"], "expand": p["expand"],
        "intermediate_size": p["expand"] * d, "time_step_rank": p["dt_rank"],
        "use_bias": False, "use_conv_bias": True, "hidden_act": "silu",
        "layer_norm_epsilon": 1e-5, "residual_in_fp32": True, "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0,
    }


def make_transnormer(w, p):
    d, layers, heads, glu = p["d"], p["layers"], p["heads"], p["glu"]
    w.normal("model.embed_tokens.weight", (p["vocab"], d), d ** -0.5)
    lrpe = [1] + [0] * (layers - 1)
    head_dim = d // heads
    for i in range(layers):
        pre = f"model.layers.{i}"
        w.normal(f"{pre}.token_mixer.qkvu_proj.weight", (4 * d, d), d ** -0.5)
        w.normal(f"{pre}.token_mixer.out_proj.weight", (d, d), d ** -0.5 / math.sqrt(2 * layers))
        if lrpe[i]:
            # The reference's initial θ: 10000^(−2k/d) over all d channels, as [heads, 1, head_dim].
            theta = 10000 ** (-2 / d * np.arange(d, dtype=np.float64))
            w.put(f"{pre}.token_mixer.lrpe.theta", theta.reshape(heads, 1, head_dim).astype(np.float32))
        w.normal(f"{pre}.channel_mixer.l1.weight", (glu, d), d ** -0.5)
        w.normal(f"{pre}.channel_mixer.l2.weight", (glu, d), d ** -0.5)
        w.normal(f"{pre}.channel_mixer.l3.weight", (d, glu), glu ** -0.5 / math.sqrt(2 * layers))
        progress(i + 1, layers)
    w.normal("lm_head.weight", (p["vocab"], d), d ** -0.5)
    return {
        "architectures": ["TransnormerForCausalLM"], "model_type": "transnormer",
        "decoder_embed_dim": d, "decoder_layers": layers, "decoder_attention_heads": heads,
        "hidden_dim": d, "glu_dim": glu, "vocab_size": p["vocab"],
        "linear_use_lrpe_list": lrpe, "linear_act_fun": "silu", "norm_type": "simplermsnorm",
        "no_scale_embedding": False, "bias": False, "add_bos_token": False,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
    }


def make_samba(w, p):
    d, layers, heads, kv = p["d"], p["layers"], p["heads"], p["kv_heads"]
    head_dim = d // heads
    mlp = 256 * ((int(d * p["ratio"] * 2 / 3) + 255) // 256)  # fla's GatedMLP sizing
    dt_rank = math.ceil(d / 16)
    attn_layers = list(range(1, layers, 2))
    w.normal("backbone.embeddings.weight", (p["vocab"], d), 0.02)
    for i in range(layers):
        pre = f"backbone.layers.{i}"
        w.put(f"{pre}.mixer_norm.weight", np.ones(d, dtype=np.float32))
        if i in attn_layers:
            w.normal(f"{pre}.mixer.q_proj.weight", (heads * head_dim, d), d ** -0.5)
            w.normal(f"{pre}.mixer.k_proj.weight", (kv * head_dim, d), d ** -0.5)
            w.normal(f"{pre}.mixer.v_proj.weight", (kv * head_dim, d), d ** -0.5)
            w.normal(f"{pre}.mixer.o_proj.weight", (d, heads * head_dim), d ** -0.5 / math.sqrt(2 * layers))
        else:
            mamba_mixer(w, f"{pre}.mixer", d, layers, p["state"], p["conv"], p["expand"], dt_rank)
        w.put(f"{pre}.mlp_norm.weight", np.ones(d, dtype=np.float32))
        w.normal(f"{pre}.mlp.gate_proj.weight", (mlp, d), d ** -0.5)
        w.normal(f"{pre}.mlp.up_proj.weight", (mlp, d), d ** -0.5)
        w.normal(f"{pre}.mlp.down_proj.weight", (d, mlp), mlp ** -0.5 / math.sqrt(2 * layers))
        progress(i + 1, layers)
    w.put("backbone.norm_f.weight", np.ones(d, dtype=np.float32))
    return {
        "architectures": ["SambaForCausalLM"], "model_type": "samba",
        "hidden_size": d, "num_hidden_layers": layers, "vocab_size": p["vocab"],
        "state_size": p["state"], "conv_kernel": p["conv"], "expand": p["expand"],
        "time_step_rank": dt_rank, "use_bias": False, "use_conv_bias": True,
        "hidden_act": "swish", "hidden_ratio": p["ratio"], "norm_eps": 1e-5,
        "attn": {"layers": attn_layers, "num_heads": heads, "num_kv_heads": kv, "qkv_bias": False,
                 "window_size": p["window"], "rope_theta": 10000.0},
        "max_position_embeddings": 2048, "tie_word_embeddings": True,
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
    }


def decoder_blocks(w, p, layers, name):
    """The blocks SUBLLM and LLaMA share, drawn in one order for both layouts so that one seed
    gives the same weights in each; `name(i, part)` maps a part to the layout's tensor name
    (None for SUBLLM's packed w12, which is written from gate and up)."""
    d, f = p["d"], p["ffn"]
    for i in range(layers):
        w.put(name(i, "attn_norm"), np.ones(d, dtype=np.float32))
        for part in ("q", "k", "v"):
            w.normal(name(i, part), (d, d), d ** -0.5)
        w.normal(name(i, "o"), (d, d), d ** -0.5 / math.sqrt(2 * layers))
        w.put(name(i, "ffn_norm"), np.ones(d, dtype=np.float32))
        gate = w.rng.standard_normal((f, d), dtype=np.float32) * np.float32(d ** -0.5)
        up = w.rng.standard_normal((f, d), dtype=np.float32) * np.float32(d ** -0.5)
        if name(i, "gate") is None:
            w.put(name(i, "w12"), np.concatenate([gate, up]))  # SwiGLUInf: gate rows first
        else:
            w.put(name(i, "gate"), gate)
            w.put(name(i, "up"), up)
        w.normal(name(i, "down"), (d, f), f ** -0.5 / math.sqrt(2 * layers))
        progress(i + 1, layers)


def make_subllm(w, p):
    d, s = p["d"], p["structure"]
    layers = s.count("T")
    names = {"attn_norm": "self_attn_layer_norm.weight", "q": "self_attn.q_proj.weight", "k": "self_attn.k_proj.weight",
             "v": "self_attn.v_proj.weight", "o": "self_attn.out_proj.weight", "ffn_norm": "final_layer_norm.weight",
             "gate": None, "up": None, "w12": "feedforward.swiglu.w12.weight", "down": "feedforward.swiglu.w3.weight"}
    w.normal("decoder.embed_tokens.weight", (p["vocab"], d), 0.02)
    decoder_blocks(w, p, layers, lambda i, part: names[part] and f"decoder.layers.{i}.{names[part]}")
    # After the blocks, so that the blocks' draws equal llama-1.3b's.
    for k in range(s.count("(")):
        w.normal(f"decoder.downsamplers.{k}.to_scores.weight", (1, d), d ** -0.5)
        w.put(f"decoder.bypasses.{k}.bypass_scale", np.full(d, 0.5, dtype=np.float32))
    w.put("decoder.layer_norm.weight", np.ones(d, dtype=np.float32))
    w.normal("decoder.output_projection.weight", (p["vocab"], d), d ** -0.5)
    return {
        "architectures": ["SubllmModel"], "model_type": "subllm", "num_embeddings": p["vocab"],
        "decoder_embed_dim": d, "decoder_ffn_embed_dim": p["ffn"], "decoder_layers": layers,
        "decoder_attention_heads": p["heads"], "norm_name": "rmsnorm", "mlp_name": "swiglu", "qk_bias": False,
        "attn_type": "vanilla", "tokens_per_sample": 4096, "n_positions": 4096, "padding_idx": 0,
        "bos_token_id": 1, "eos_token_id": 2, "downsampling_factor_denominator": "0.64", "tie_weights": False,
        "structure": s,
    }


def make_llama(w, p):
    d, layers = p["d"], p["layers"]
    names = {"attn_norm": "input_layernorm.weight", "q": "self_attn.q_proj.weight", "k": "self_attn.k_proj.weight",
             "v": "self_attn.v_proj.weight", "o": "self_attn.o_proj.weight", "ffn_norm": "post_attention_layernorm.weight",
             "gate": "mlp.gate_proj.weight", "up": "mlp.up_proj.weight", "down": "mlp.down_proj.weight"}
    w.normal("model.embed_tokens.weight", (p["vocab"], d), 0.02)
    decoder_blocks(w, p, layers, lambda i, part: f"model.layers.{i}.{names[part]}")
    w.put("model.norm.weight", np.ones(d, dtype=np.float32))
    w.normal("lm_head.weight", (p["vocab"], d), d ** -0.5)
    return {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": p["vocab"], "hidden_size": d,
        "intermediate_size": p["ffn"], "num_hidden_layers": layers, "num_attention_heads": p["heads"],
        "num_key_value_heads": p["heads"], "hidden_act": "silu", "max_position_embeddings": 4096,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "attention_bias": False, "mlp_bias": False,
        "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
    }


def progress(done, total):
    sys.stderr.write(f"\r  layers {done}/{total}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main():
    ap = argparse.ArgumentParser(
        description="Write a random-weight Hugging Face checkpoint of a real model's layout.",
        epilog="Presets: " + ", ".join(PRESETS))
    ap.add_argument("preset", choices=sorted(PRESETS), help="which layout to write")
    ap.add_argument("out", help="output folder (created; must not hold a checkpoint already)")
    ap.add_argument("--dtype", choices=["f32", "f16"], default="f16",
                    help="tensor type in the safetensors file (default f16, as published checkpoints)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = ap.parse_args()

    p = PRESETS[args.preset]
    if os.path.exists(os.path.join(args.out, "model.safetensors")):
        sys.exit(f"{args.out}/model.safetensors exists; choose an empty folder")
    os.makedirs(args.out, exist_ok=True)
    w = Writer(args.seed, np.float16 if args.dtype == "f16" else np.float32)
    start = time.time()
    print(f"{args.preset}: generating", file=sys.stderr)
    config = {"make_random_checkpoint": {"arch": p["arch"], "preset": args.preset, "seed": args.seed}}
    makers = {"mamba": make_mamba, "transnormer": make_transnormer, "samba": make_samba, "subllm": make_subllm,
              "llama": make_llama}
    config.update(makers[p["arch"]](w, p))
    config["torch_dtype"] = "float16" if args.dtype == "f16" else "float32"
    tmp = os.path.join(args.out, "model.safetensors.partial")
    save_file(w.tensors, tmp, metadata={"format": "pt"})
    os.replace(tmp, os.path.join(args.out, "model.safetensors"))
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    print(f"{args.out}: {w.params / 1e6:.1f}M parameters, {args.dtype}, {time.time() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
