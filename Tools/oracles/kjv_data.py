"""KJV text and byte-level BPE tokenizers for the oracle fixtures.

The corpus is the King James Bible from Debian's `bible-kjv-text` package.  That package stores
the text compressed for its own reader, `bible` (package `bible-kjv`), so `prepare_vendor.sh`
unpacks both packages into the git-ignored `.vendor/` folder and dumps the text once with
`bible -f -p <data dir> Gen1:1-Rev22:21`, one verse a line, each line starting with its reference
("Ge1:1 In the beginning ...").  The corpus is the verse texts without the references, joined by
"\n" (4,137,849 characters); the shared fixtures' prompts p1 and p2 are substrings of it.

Usage from the command line (runs where `tokenizers` is installed, no torch needed):

    python3 Tools/oracles/kjv_data.py corpus  [--kjv PATH]            # print size and a sample
    python3 Tools/oracles/kjv_data.py train-tokenizer --vocab 1536 --out .vendor/tok1536
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
VENDOR = os.path.join(REPO, ".vendor")
DEFAULT_DUMP = os.path.join(VENDOR, "kjv_dump.txt")
EOT = "<|endoftext|>"


# MARK: - corpus

def _dump_with_bible_program() -> str:
    """Run Debian's `bible` reader (unpacked under .vendor/kjvprog) over the packaged data."""
    prog = os.path.join(VENDOR, "kjvprog", "usr", "bin", "bible")
    data = os.path.join(VENDOR, "kjv", "usr", "lib")
    if not (os.path.exists(prog) and os.path.exists(os.path.join(data, "bible.data"))):
        raise FileNotFoundError(
            "KJV text not found: run Tools/oracles/prepare_vendor.sh first "
            f"(looked for {DEFAULT_DUMP}, {prog}, {data}/bible.data)")
    out = subprocess.run([prog, "-f", "-p", data, "Gen1:1-Rev22:21"], check=True,
                         capture_output=True, text=True).stdout
    with open(DEFAULT_DUMP, "w") as f:
        f.write(out)
    return out


def load_corpus(path: str | None = None) -> str:
    """The KJV verse texts joined by newlines (references stripped)."""
    path = path or DEFAULT_DUMP
    if os.path.exists(path):
        raw = open(path, encoding="utf-8").read()
    else:
        raw = _dump_with_bible_program()
    verses = []
    for line in raw.split("\n"):
        if not line.strip():
            continue
        ref, _, text = line.partition(" ")
        verses.append(text)
    corpus = "\n".join(verses)
    assert len(corpus) > 4_000_000, f"KJV corpus unexpectedly short: {len(corpus)} chars"
    return corpus


# MARK: - tokenizer

def train_tokenizer(corpus: str, vocab_size: int):
    """A GPT-2 style byte-level BPE like the shared fixtures' (special <|endoftext|> = id 0)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus.split("\n"), trainer=trainer)
    assert tok.token_to_id(EOT) == 0
    assert tok.get_vocab_size() == vocab_size, tok.get_vocab_size()
    return tok


def save_tokenizer(tok, out_dir: str) -> None:
    """Write tokenizer.json + tokenizer_config.json the way the shared fixtures have them.

    With transformers available this goes through PreTrainedTokenizerFast.save_pretrained (as the
    shared fixtures did); without it, the same two files are written by hand.
    """
    os.makedirs(out_dir, exist_ok=True)
    try:
        from transformers import PreTrainedTokenizerFast
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOT, eos_token=EOT,
                                       pad_token=None, unk_token=None)
        fast.save_pretrained(out_dir)
        cfg_path = os.path.join(out_dir, "tokenizer_config.json")
        cfg = json.load(open(cfg_path))
        if cfg.get("pad_token", "x") is None:
            del cfg["pad_token"]   # as in the shared fixtures' tokenizer_config.json
        with open(cfg_path, "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        for extra in ("special_tokens_map.json", "chat_template.jinja"):
            p = os.path.join(out_dir, extra)
            if os.path.exists(p):
                os.remove(p)
    except ImportError:
        tok.save(os.path.join(out_dir, "tokenizer.json"))
        cfg = {"backend": "tokenizers", "bos_token": EOT, "eos_token": EOT,
               "model_max_length": 1000000000000000019884624838656,
               "tokenizer_class": "TokenizersBackend", "unk_token": None}
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=2)


def copy_tokenizer(src_dir: str, out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(src_dir, name), os.path.join(out_dir, name))


def load_tokenizer(tok_dir: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))


def encode(tok, text: str) -> list[int]:
    """Ids exactly as the Hugging Face tokenizer gives them (no BOS is prepended)."""
    return tok.encode(text, add_special_tokens=False).ids


def corpus_slice_prompt(tok, corpus_ids: list[int], start_frac: float, n: int) -> str:
    """Text of n tokens of the tokenised corpus from the given fraction on (as the shared p1/p2)."""
    s = int(len(corpus_ids) * start_frac)
    return tok.decode(corpus_ids[s:s + n])


# MARK: - CLI

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("corpus")
    c.add_argument("--kjv", default=None)
    t = sub.add_parser("train-tokenizer")
    t.add_argument("--kjv", default=None)
    t.add_argument("--vocab", type=int, required=True)
    t.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    corpus = load_corpus(a.kjv)
    if a.cmd == "corpus":
        print(len(corpus), "characters;", corpus.count("\n") + 1, "verses")
        print(corpus[:200])
        return 0
    tok = train_tokenizer(corpus, a.vocab)
    save_tokenizer(tok, a.out)
    ids = encode(tok, corpus)
    print(f"vocab {tok.get_vocab_size()}: corpus = {len(ids)} tokens -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
