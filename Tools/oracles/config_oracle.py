#!/usr/bin/env python3
"""Writes config.json files with the reference implementations' own configuration classes,
and what each reference model reads from them, for RillFormatTests/ConfigOracleTests.

    python3 Tools/oracles/config_oracle.py [--out Tests/Fixtures/configs]

Runs on the CPU without torch: only the configuration classes are imported.
- Mamba: transformers' MambaConfig (pip install transformers==5.17.0).
- TransNormerLLM: configuration_transnormer.py of the HF remote code, from .vendor/tnl_ref/
  (Tools/oracles/prepare_vendor.sh, step 4).
- SAMBA: fla 0.6.0's SambaConfig, from the wheel in .whl/ (prepare_vendor.sh, step 1); only
  fla/models/configuration_utils.py and fla/models/samba/configuration_samba.py are loaded,
  because fla's package __init__ imports torch and triton.
- SUBLLM: XiaoMi's SubllmConfig, from .vendor/subllm_ref/modeling_subllm_inference.py
  (prepare_vendor.sh, step 5); the module imports torch, so only the class's source is taken
  out with `ast` and run (it needs `ast` and PretrainedConfig, nothing else).
- LLaMA: transformers' LlamaConfig.

For each case it writes <arch>/<case>.json (the config as the class saved it, or that text with
its booleans rewritten as 0/1 where noted) and adds to <arch>/expected.json what the reference
*model* reads: the values its modules are built from, computed here the way modeling_*.py
computes them (e.g. intermediate_size after __post_init__, glu_dim -1 -> d, fla's GatedMLP
width). Nothing here is committed but the outputs.
"""
import argparse
import importlib.util
import json
import math
import os
import re
import sys
import types
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[name] = m
    spec.loader.exec_module(m)
    return m


def fla_samba_config():
    whl = [f for f in os.listdir(os.path.join(ROOT, ".whl")) if f.startswith("flash_linear_attention-0.6.0")]
    if not whl:
        sys.exit("no .whl/flash_linear_attention-0.6.0*.whl: run Tools/oracles/prepare_vendor.sh")
    dest = "/tmp/rill-fla-0.6.0"
    with zipfile.ZipFile(os.path.join(ROOT, ".whl", whl[0])) as z:
        z.extractall(dest)
    for name in ["fla", "fla.models", "fla.models.samba"]:
        m = types.ModuleType(name)
        m.__path__ = []
        sys.modules[name] = m
    load_module("fla.models.configuration_utils", f"{dest}/fla/models/configuration_utils.py")
    return load_module("fla.models.samba.configuration_samba", f"{dest}/fla/models/samba/configuration_samba.py").SambaConfig


def tnl_config():
    path = os.path.join(ROOT, ".vendor/tnl_ref/configuration_transnormer.py")
    if not os.path.exists(path):
        sys.exit("no .vendor/tnl_ref: run Tools/oracles/prepare_vendor.sh (step 4)")
    return load_module("tnl_configuration", path).TransnormerConfig


def subllm_config():
    import ast as _ast
    from transformers.configuration_utils import PretrainedConfig
    path = os.path.join(ROOT, ".vendor/subllm_ref/modeling_subllm_inference.py")
    if not os.path.exists(path):
        sys.exit("no .vendor/subllm_ref: run Tools/oracles/prepare_vendor.sh (step 5)")
    tree = _ast.parse(open(path).read().replace("== ==", "=="))
    node = next(n for n in tree.body if isinstance(n, _ast.ClassDef) and n.name == "SubllmConfig")
    ns = {"ast": _ast, "PretrainedConfig": PretrainedConfig}
    exec(compile(_ast.Module(body=[node], type_ignores=[]), path, "exec"), ns)
    return ns["SubllmConfig"]


SUBLLM_ALIASES = {"decoder_embed_dim": "hidden_size", "num_embeddings": "vocab_size", "decoder_layers": "n_layer",
                  "decoder_attention_heads": "n_head"}


def as_aliases(text):
    """The same config with SubllmConfig's fields under the names its attribute_map maps onto
    them (`hidden_size` for `decoder_embed_dim`, …), as a hand-written config may have them."""
    d = json.loads(text)
    for k, a in SUBLLM_ALIASES.items():
        if k in d:
            d[a] = d.pop(k)
    return json.dumps(d, indent=2)


def bools_as_ints(text):
    """The same JSON with every true/false written as 1/0, as configs of transformers 4.x and
    hand-edited ones have them (the 5.x classes refuse to *build* such values, so the case is
    made by rewriting what the class saved)."""
    return re.sub(r"\b(true|false)\b", lambda m: "1" if m.group(1) == "true" else "0", text)


# ---------------------------------------------------------------- what the reference models read

def mamba_reads(c):
    return {
        "hidden_size": c.hidden_size, "num_layers": c.num_hidden_layers, "vocab_size": c.vocab_size,
        "state_size": c.state_size, "conv_kernel": c.conv_kernel, "intermediate_size": c.intermediate_size,
        "time_step_rank": c.time_step_rank, "layer_norm_epsilon": c.layer_norm_epsilon,
        "use_conv_bias": bool(c.use_conv_bias), "use_bias": bool(c.use_bias),
        "tie": bool(c.tie_word_embeddings),
    }


def tnl_reads(c):
    L = c.decoder_layers
    lst = list(c.linear_use_lrpe_list)
    lrpe = [bool(x) for x in lst[:L]] if lst else [bool(c.linear_use_lrpe)] * L
    tie = getattr(c, "tie_word_embeddings", None)
    return {
        "embed_dim": c.decoder_embed_dim, "hidden_dim": c.hidden_dim, "num_layers": L,
        "num_heads": c.decoder_attention_heads,
        "glu_dim": c.decoder_embed_dim if c.glu_dim == -1 else c.glu_dim,  # TransnormerDecoderLayer
        "vocab_size": c.vocab_size, "lrpe_layers": lrpe, "no_scale_embedding": bool(c.no_scale_embedding),
        "norm_epsilon": 1e-6,
        # transformers 5 ties only when the attribute is set and true; unset decides by the
        # checkpoint (Rill's TieRule), written "unset".
        "tie": "unset" if tie is None else bool(tie),
    }


def samba_reads(c):
    attn = c.attn
    specs = [] if attn is None else ([attn] if isinstance(attn, dict) else list(attn))
    layers = sorted(l for s in specs for l in s["layers"])
    s0 = specs[0] if specs else None
    ratio = 4 if c.hidden_ratio is None else c.hidden_ratio
    mlp = int(c.hidden_size * ratio * 2 / 3)  # fla.modules.mlp.GatedMLP
    mlp = 256 * ((mlp + 256 - 1) // 256)
    out = {
        "hidden_size": c.hidden_size, "num_layers": c.num_hidden_layers, "vocab_size": c.vocab_size,
        "state_size": c.state_size, "conv_kernel": c.conv_kernel, "mamba_inner_size": c.intermediate_size,
        "time_step_rank": c.time_step_rank,
        "use_conv_bias": True,  # SambaBlock builds fla's Mamba without use_conv_bias: its default, True
        "use_bias": bool(c.use_bias), "attention_layers": layers,
        "intermediate_size": mlp, "norm_epsilon": c.norm_eps, "tie": bool(c.tie_word_embeddings),
    }
    if s0:
        out.update({
            "num_heads": s0["num_heads"], "num_kv_heads": s0["num_kv_heads"], "head_dim": c.hidden_size // s0["num_heads"],
            "window_size": s0["window_size"], "rope_theta": s0["rope_theta"], "qkv_bias": bool(s0["qkv_bias"]),
        })
    return out


def subllm_reads(c):
    # DownsampledDecoder(**c.to_dict()): its own defaults for the keys the class does not set.
    d = c.to_dict()
    return {
        "hidden_size": c.decoder_embed_dim, "num_layers": c.decoder_layers, "num_heads": c.decoder_attention_heads,
        "num_kv_heads": c.decoder_attention_heads, "head_dim": c.decoder_embed_dim // c.decoder_attention_heads,
        "intermediate_size": c.decoder_ffn_embed_dim, "vocab_size": c.num_embeddings, "structure": c.structure,
        "norm_epsilon": 1e-5, "rope_theta": 10000.0,
        "qk_bias": bool(c.qk_bias or d.get("bias", False)), "vo_bias": bool(d.get("bias", False)),
        "embedding_scale": 1.0 if d.get("no_scale_embedding", True) else math.sqrt(c.decoder_embed_dim),
        "max_positions": c.n_positions, "keep_rate": 1.0 / c.downsampling_factor[0],
        "tie": bool(c.tie_weights),
    }


def llama_reads(c):
    rp = c.rope_parameters or {}
    return {
        "hidden_size": c.hidden_size, "num_layers": c.num_hidden_layers, "num_heads": c.num_attention_heads,
        "num_kv_heads": c.num_key_value_heads, "head_dim": c.head_dim, "intermediate_size": c.intermediate_size,
        "vocab_size": c.vocab_size, "structure": "T" * c.num_hidden_layers, "norm_epsilon": c.rms_norm_eps,
        "rope_theta": rp.get("rope_theta", 10000.0), "qk_bias": bool(c.attention_bias),
        "vo_bias": bool(c.attention_bias), "embedding_scale": 1.0, "max_positions": c.max_position_embeddings,
        "tie": bool(c.tie_word_embeddings),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "Tests/Fixtures/configs"))
    args = ap.parse_args()
    import transformers
    from transformers import LlamaConfig, MambaConfig

    TnlConfig = tnl_config()
    SambaConfig = fla_samba_config()
    SubllmConfig = subllm_config()
    cases = {
        "mamba": (MambaConfig, mamba_reads, [
            ("defaults-diff", {}, "diff"),
            ("defaults-full", {}, "full"),
            ("small-full", dict(hidden_size=96, num_hidden_layers=3, vocab_size=1536, state_size=8, conv_kernel=3,
                                expand=3, time_step_rank=10, layer_norm_epsilon=1e-6, use_bias=True,
                                use_conv_bias=False, tie_word_embeddings=False), "full"),
            ("small-diff", dict(hidden_size=96, num_hidden_layers=3, vocab_size=1536, state_size=8, conv_kernel=3,
                                expand=3, layer_norm_epsilon=1e-6, use_bias=True, use_conv_bias=False,
                                tie_word_embeddings=False), "diff"),
            ("small-bools-as-ints", dict(hidden_size=96, num_hidden_layers=3, vocab_size=1536, state_size=8,
                                         use_bias=True, use_conv_bias=False, tie_word_embeddings=False), "full-ints"),
            ("swish-auto-rank", dict(hidden_size=200, num_hidden_layers=2, vocab_size=300, hidden_act="swish",
                                     time_step_rank="auto"), "diff"),
        ]),
        "transnormer": (TnlConfig, tnl_reads, [
            ("defaults-diff", dict(linear_use_lrpe=0), "diff"),
            ("defaults-full", dict(linear_use_lrpe=1), "full"),
            # The class stores what it is given: these are written as the integers 1 and 0.
            ("ints-as-saved", dict(decoder_embed_dim=96, decoder_layers=3, decoder_attention_heads=3, hidden_dim=96,
                                   glu_dim=-1, vocab_size=1536, no_scale_embedding=1, linear_use_lrpe=0,
                                   linear_use_lrpe_list=[1, 0, 1], bias=0), "full"),
            ("bools", dict(decoder_embed_dim=128, decoder_layers=4, decoder_attention_heads=4, hidden_dim=128,
                           glu_dim=256, vocab_size=2048, no_scale_embedding=True, linear_use_lrpe=False,
                           linear_use_lrpe_list=[True, False, False, False, True], bias=False,
                           tie_word_embeddings=True), "full"),
            ("list-empty-flag-on", dict(decoder_embed_dim=64, decoder_layers=2, decoder_attention_heads=2,
                                        hidden_dim=64, glu_dim=128, vocab_size=100, linear_use_lrpe=1,
                                        tie_word_embeddings=False), "diff"),
        ]),
        "samba": (SambaConfig, samba_reads, [
            ("defaults-diff", {}, "diff"),
            ("defaults-full", {}, "full"),
            ("small-full", dict(hidden_size=96, num_hidden_layers=5, vocab_size=1536, state_size=8, conv_kernel=3,
                                expand=2, time_step_rank=6, norm_eps=1e-6, hidden_ratio=4, use_conv_bias=False,
                                attn={"layers": [1, 4], "num_heads": 6, "num_kv_heads": 2, "qkv_bias": True,
                                      "window_size": 32, "rope_theta": 50000.0},
                                tie_word_embeddings=True), "full"),
            ("small-bools-as-ints", dict(hidden_size=96, num_hidden_layers=5, vocab_size=1536, use_bias=True,
                                         attn={"layers": [0, 2], "num_heads": 4, "window_size": 16},
                                         tie_word_embeddings=True), "full-ints"),
            ("attn-list", dict(hidden_size=128, num_hidden_layers=6, vocab_size=2048, hidden_ratio=None,
                               attn=[{"layers": [1], "num_heads": 4, "num_kv_heads": 2, "window_size": 64},
                                     {"layers": [4, 3], "num_heads": 4, "num_kv_heads": 2, "window_size": 64}]), "diff"),
            ("no-attention", dict(hidden_size=64, num_hidden_layers=2, vocab_size=256, attn=None), "full"),
        ]),
        "subllm": (SubllmConfig, subllm_reads, [
            ("defaults-needs-structure", dict(structure="TTTTT(TTTTT(TTTT)TTTTT)TTTTT"), "diff"),
            ("xiaomi-1.3b", dict(num_embeddings=32000, decoder_embed_dim=2048, decoder_ffn_embed_dim=5504,
                                 decoder_layers=24, decoder_attention_heads=16, qk_bias=False, tokens_per_sample=4096,
                                 n_positions=4096, downsampling_factor_denominator="0.64", tie_weights=False,
                                 structure="TTTTT(TTTTT(TTTT)TTTTT)TTTTT"), "full"),
            ("tiny-ints", dict(num_embeddings=2048, decoder_embed_dim=128, decoder_ffn_embed_dim=320, decoder_layers=10,
                               decoder_attention_heads=4, qk_bias=1, tie_weights=0, n_positions=512,
                               structure="TT(TT(TT)TT)TT", no_scale_embedding=False, bias=1), "full"),
            # attribute_map: hidden_size, vocab_size, n_layer and n_head name the same fields.
            ("aliases", dict(hidden_size=96, vocab_size=500, n_layer=4, n_head=3, decoder_ffn_embed_dim=200,
                             structure="T(TT)T"), "full-aliases"),
            ("plain", dict(decoder_embed_dim=64, decoder_layers=2, decoder_attention_heads=2, num_embeddings=100,
                           structure="TT", tie_weights=True), "diff"),
        ]),
        "llama": (LlamaConfig, llama_reads, [
            ("defaults-diff", {}, "diff"),
            ("defaults-full", {}, "full"),
            ("gqa-head-dim", dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                                  head_dim=48, intermediate_size=256, vocab_size=2048, rms_norm_eps=1e-5,
                                  attention_bias=True, tie_word_embeddings=True, max_position_embeddings=512,
                                  rope_parameters={"rope_type": "default", "rope_theta": 500000.0}), "full"),
            ("bools-as-ints", dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, vocab_size=100,
                                   attention_bias=True, tie_word_embeddings=True), "full-ints"),
            ("llama3-rope", dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, vocab_size=100,
                                 rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
                                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                  "original_max_position_embeddings": 8192}), "diff"),
        ]),
    }
    for arch, (cls, reads, arch_cases) in cases.items():
        d = os.path.join(args.out, arch)
        os.makedirs(d, exist_ok=True)
        expected = {}
        for name, kwargs, mode in arch_cases:
            cfg = cls(**kwargs)
            text = cfg.to_json_string(use_diff=(mode == "diff"))
            if mode == "full-ints":
                text = bools_as_ints(text)
            if mode == "full-aliases":
                text = as_aliases(text)
            with open(os.path.join(d, f"{name}.json"), "w") as f:
                f.write(text)
            # What the model reads: from the class's own object (built from the kwargs; for the
            # 0/1 rewrite, the same values the booleans had).
            expected[name] = reads(cfg)
        with open(os.path.join(d, "expected.json"), "w") as f:
            json.dump({"generator": f"Tools/oracles/config_oracle.py, transformers {transformers.__version__}, "
                                    "TNL remote code (TNL-MoE 007576f), fla 0.6.0",
                       "cases": expected}, f, indent=1, sort_keys=True)
        print(arch, ", ".join(n for n, _, _ in arch_cases))


if __name__ == "__main__":
    main()
