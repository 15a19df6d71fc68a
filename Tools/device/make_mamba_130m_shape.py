#!/usr/bin/env python3
"""A randomly initialised MambaForCausalLM of Mamba-130M's shape (d 768, 24 layers, state 16,
expand 2) with the mamba-tiny fixture's 2048-token byte-level BPE, so that both Rill and
llama.cpp (whose converter needs a tokenizer) read the very same weights.

Usage (torch and transformers): python3 Tools/device/make_mamba_130m_shape.py OUT_DIR [--seed 1234]
"""
import argparse
import json
import os
import shutil

import torch
from transformers import MambaConfig, MambaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "mamba-tiny")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output checkpoint folder")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    vocab = len(json.load(open(os.path.join(FIXTURE, "tokenizer.json")))["model"]["vocab"])
    torch.manual_seed(args.seed)
    cfg = MambaConfig(vocab_size=vocab, hidden_size=768, state_size=16, num_hidden_layers=24, expand=2,
                      conv_kernel=4, time_step_rank="auto", use_bias=False, use_conv_bias=True,
                      layer_norm_epsilon=1e-5, residual_in_fp32=True, tie_word_embeddings=True,
                      bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = MambaForCausalLM(cfg).to(torch.float32).eval()
    model.save_pretrained(args.out, safe_serialization=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(FIXTURE, f), os.path.join(args.out, f))
    print("params", sum(p.numel() for p in model.parameters()))


if __name__ == "__main__":
    main()
