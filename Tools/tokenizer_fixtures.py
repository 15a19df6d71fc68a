#!/usr/bin/env python3
"""Builds the tokenizer fixtures under Tests/Fixtures/tokenizers/ (see the README written there).

Trains small tokenizers of every kind Rill reads on public-domain text (the World English
Bible books in Tests/Fixtures/heldout-web.txt), then records, for a few hundred strings, the
ids the Python libraries produce and the text they decode back to. Run from the repository root:

    python3 Tools/tokenizer_fixtures.py

Needs `tokenizers`, `sentencepiece`, and `transformers` + `protobuf` (only to convert the
SentencePiece BPE model into LLaMA-style tokenizer.json files). Deterministic: single-threaded
training, a seeded generator for the strings, sorted JSON keys.
"""
import json
import os
import random
import shutil
import sys
import tempfile

import sentencepiece as spm
import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Relative, and training happens in a fixed folder: SentencePiece records its input paths in
# the model's trainer_spec, which would otherwise differ from run to run.
CORPUS = "Tests/Fixtures/heldout-web.txt"
BUILD = os.path.join(tempfile.gettempdir(), "rill-tokenizer-fixtures")
OUT = os.path.join(ROOT, "Tests/Fixtures/tokenizers")
VOCAB = 700


# MARK: - Strings

def case_strings(corpus_lines):
    """A few hundred strings: hand-picked edge cases, corpus lines, and seeded random mixes."""
    fixed = [
        "", " ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "a", "A", " a", "  a", "a ", "a  ",
        "Hello world", " Hello world", "Hello  world", "Hello   world  ", "Hello\tworld", "Hello\nworld",
        "line one\nline two\n\nline four", "\ttabbed\t\tline", "trailing spaces   ", "   leading spaces",
        "In the beginning God created the heavens and the earth.",
        "Naomi said, \u201cCall me not Naomi, call me Mara.\u201d",
        "caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u00c5ngstr\u00f6m", "Cafe\u0301 (decomposed)", "\u00fc\u00f6\u00e4\u00df \u00dc\u00d6\u00c4",
        "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", "\u4e2d\u6587 \u6d4b\u8bd5", "\ud55c\uad6d\uc5b4",
        "\u0417\u0434\u0440\u0430\u0432\u0441\u0442\u0432\u0443\u0439 \u043c\u0438\u0440", "\u0645\u0631\u062d\u0628\u0627",
        "\u05e9\u05dc\u05d5\u05dd", "\u0928\u092e\u0938\u094d\u0924\u0947",
        "\U0001F600", "emoji \U0001F600\U0001F601 end", "\U0001F468\u200d\U0001F469\u200d\U0001F467 family",
        "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "flags \U0001F1EB\U0001F1F7\U0001F1EF\U0001F1F5",
        "math \u2211 \u221e \u2248 \u03c0", "\u00a0non-breaking\u00a0space", "ideographic\u3000space",
        "zero\u200bwidth", "\ufeffBOM", "control \x01\x02\x7f chars", "nul \x00 byte",
        "\u2581already escaped\u2581", "\u2581", "\u2581\u2581x", "<0x41>", "<unk>", "<s>", "</s>",
        "<s>Hello</s>", "Hello <s> world </s>", " <s> ", "<s><s>", "text<|im_start|>user\nhi",
        "<|im_start|>", " <|im_start|> ", "<|endoftext|>", "a<|endoftext|>b", " <|endoftext|> x",
        "numbers 0 1 12 123 1234 12345 3.14159 -42 1e10", "2024-01-01T12:00:00Z",
        "punctuation!!! ??? ... ,,, ;;; ::", "quotes 'single' \"double\" `back`", "don't can't I'm we're",
        "URL https://example.com/path?q=1&r=2#frag", "email someone@example.org",
        "code: def f(x):\n    return x * 2\n", "{\"json\": [1, 2, 3]}", "C:\\\\path\\\\to\\\\file",
        "ALL CAPS SHOUTING", "MiXeD cAsE", "x" * 40, "ab" * 30, " " * 17 + "deep indent",
        "\u00e9" * 10, "\U0001F600" * 5, "\u65e5" * 12,
        "\u1100\u1161\u11a8", "\u0915\u094d\u0937", "fullwidth \uff21\uff22\uff23 \uff11\uff12\uff13",
        "ligature \ufb01ne \ufb02y", "superscript x\u00b2 \u2075", "roman \u2166 \u216b",
        "combining a\u0300\u0301\u0302 o\u0308", "Angstrom \u212b vs \u00c5",
    ]
    lines = [line.strip() for line in corpus_lines if line.strip()]
    picked = lines[::max(1, len(lines) // 80)][:80]
    rng = random.Random(20240611)
    words = " ".join(lines).split()
    alphabet = (list("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()")
                + list("\u00e9\u00e8\u00ea\u00e0\u00e7\u00f1\u00fc\u00f6\u00df\u00c5\u00f8\u0153")
                + list("\u65e5\u672c\u8a9e\u4e2d\u6587\u3042\u30a2\ud55c\u0416\u03a9\u05d0\u0627")
                + ["\U0001F600", "\U0001F680", "\U0001F44D", "\u2764", "\u2581", "\t", "\n", "  ", "   "])
    mixes = []
    for _ in range(100):
        parts = []
        for _ in range(rng.randint(1, 8)):
            kind = rng.random()
            if kind < 0.5:
                parts.append(rng.choice(words))
            elif kind < 0.85:
                parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))))
            else:
                parts.append(rng.choice(["<s>", "</s>", "<unk>", "<|im_start|>", "<|endoftext|>", "\n", " "]))
        sep = rng.choice([" ", " ", " ", "", "  ", "\n", "\t"])
        mixes.append(sep.join(parts))
    seen, out = set(), []
    for s in fixed + picked + mixes:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


# MARK: - Training

def train_byte_level(path, text_file):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([text_file], trainer)
    tok.add_tokens([tokenizers.AddedToken("<|im_start|>", special=False, normalized=False)])
    tok.save(path)
    return Tokenizer.from_file(path)


def train_sentencepiece(prefix, text_file, model_type, **options):
    spm.SentencePieceTrainer.train(
        input=text_file, model_prefix=prefix, model_type=model_type, vocab_size=VOCAB,
        num_threads=1, minloglevel=2, shuffle_input_sentence=False, **options)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def llama_json(model_dir, legacy):
    """LLaMA-style tokenizer.json converted from the SentencePiece BPE model by transformers."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(model_dir, legacy=legacy)
    j = json.loads(tok.backend_tokenizer.to_str())
    j["post_processor"] = None
    if legacy:
        # The layout of the Llama-2 / Mistral-7B-v0.1 files on the Hub: normalizer
        # Prepend("▁") + Replace(" ", "▁"), no pre-tokenizer, unk_token "<unk>".
        j["normalizer"] = {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}
        j["pre_tokenizer"] = None
        j["model"]["unk_token"] = "<unk>"
    return Tokenizer.from_str(json.dumps(j))


def metaspace_split_json(text_file):
    """A BPE trained by `tokenizers` itself with a splitting Metaspace pre-tokenizer, the
    Metaspace decoder, and byte fallback (the 256 `<0xXX>` tokens appended to the vocabulary)."""
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([decoders.Metaspace(replacement="\u2581", prepend_scheme="first"),
                                     decoders.ByteFallback(), decoders.Fuse()])
    trainer = trainers.BpeTrainer(vocab_size=VOCAB - 256, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train([text_file], trainer)
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    next_id = max(vocab.values()) + 1
    for b in range(256):
        piece = "<0x%02X>" % b
        if piece not in vocab:
            vocab[piece] = next_id
            next_id += 1
    tok = Tokenizer.from_str(json.dumps(j))
    tok.add_tokens([tokenizers.AddedToken("<|im_start|>", special=False, normalized=True)])
    return tok


# Small custom normalisation for the unigram model: a precompiled charsmap Rill must read, but
# far smaller than nmt_nfkc's 240 KB. Each line: source code points, tab, target code points.
NORMALIZATION_TSV = """FF21\t41
FF22\t42
FF23\t43
FF11\t31
FF12\t32
FF13\t33
FB01\t66 69
FB02\t66 6C
3000\t20
9\t20
A0\t20
212B\tC5
41 30A\tC5
65 301\tE9
2166\t56 49 49
"""


# MARK: - Cases

def hf_cases(tok, strings):
    cases = []
    for s in strings:
        enc = tok.encode(s, add_special_tokens=False)
        cases.append({"text": s, "ids": enc.ids, "tokens": enc.tokens,
                      "decoded": tok.decode(enc.ids, skip_special_tokens=False),
                      "decoded_skipping_special": tok.decode(enc.ids, skip_special_tokens=True)})
    return cases


def sp_cases(sp, strings):
    cases = []
    for s in strings:
        ids = sp.encode(s)
        cases.append({"text": s, "ids": ids, "tokens": [sp.id_to_piece(i) for i in ids], "decoded": sp.decode(ids)})
    return cases


def byte_decode_cases(tok):
    """Ids of single byte tokens for byte strings that are not valid UTF-8, with the library's decode.
    (Text with such bytes cannot be encoded: neither Python's nor Swift's strings hold it.)"""
    inverse = {c: b for b, c in enumerate_byte_map().items()}
    rng = random.Random(7)
    samples = [b"\xff", b"\xc3", b"\xe2\x82", b"a\xffb", b"\xf0\x9f\x98", b"\xed\xa0\x80", b"\xc0\xaf",
               b"\xe2\x82\xac\xff", b"\x80\x80", b"\xf4\x90\x80\x80", "\u00e9".encode()[:1] + b"x"]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randint(1, 8))) for _ in range(40)]
    vocab = tok.get_vocab()
    cases = []
    for raw in samples:
        ids = [vocab[enumerate_byte_map()[b]] for b in raw]
        cases.append({"bytes_hex": raw.hex(), "ids": ids, "decoded": tok.decode(ids)})
    return cases


def enumerate_byte_map():
    """GPT-2's byte → printable character map."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def byte_fallback_decode_cases(decode, byte_id):
    """Id sequences of byte-fallback tokens, split and mixed, with the library's decode."""
    samples = ["\u00e9", "\U0001F600", "\u65e5\u672c", "a\u00e9b"]
    cases = []
    for s in samples:
        ids = [byte_id(b) for b in s.encode()]
        cases.append({"ids": ids, "decoded": decode(ids)})
    return cases


def write(kind, files, cases, meta):
    folder = os.path.join(OUT, kind)
    os.makedirs(folder, exist_ok=True)
    for name, src in files.items():
        shutil.copyfile(src, os.path.join(folder, name))
    # One case per line: small files, readable diffs.
    def dumps(value):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    with open(os.path.join(folder, "cases.json"), "w", encoding="utf-8") as f:
        f.write("{\n")
        for key in sorted(meta):
            if isinstance(meta[key], list):
                f.write(" %s: [\n%s\n ],\n" % (dumps(key), ",\n".join("  " + dumps(c) for c in meta[key])))
            else:
                f.write(" %s: %s,\n" % (dumps(key), dumps(meta[key])))
        f.write(' "cases": [\n%s\n ]\n}\n' % ",\n".join("  " + dumps(c) for c in cases))


def main():
    corpus_lines = open(CORPUS, encoding="utf-8").read().splitlines()
    strings = case_strings(corpus_lines)
    versions = {"tokenizers": tokenizers.__version__, "sentencepiece": spm.__version__}
    try:
        import transformers
        versions["transformers"] = transformers.__version__
    except ImportError:
        sys.exit("needs transformers (pip install transformers protobuf)")
    if os.path.isdir(OUT):
        for entry in os.listdir(OUT):
            if entry != "README.md":
                shutil.rmtree(os.path.join(OUT, entry))
    os.makedirs(OUT, exist_ok=True)
    os.chdir(ROOT)
    shutil.rmtree(BUILD, ignore_errors=True)
    os.makedirs(BUILD)
    if True:
        tmp = BUILD
        # (a) Byte-level BPE.
        path = os.path.join(tmp, "tokenizer.json")
        tok = train_byte_level(path, CORPUS)
        write("byte-level-bpe", {"tokenizer.json": path}, hf_cases(tok, strings),
              {"library": "tokenizers", "versions": versions, "format": "hf-tokenizer-json",
               "add_special_tokens": False, "byte_decode_cases": byte_decode_cases(tok)})

        # (c) SentencePiece: BPE, LLaMA-like options; unigram with a custom normalisation.
        bpe = train_sentencepiece(os.path.join(tmp, "bpe"), CORPUS, "bpe", byte_fallback=True,
                                  normalization_rule_name="identity", remove_extra_whitespaces=False,
                                  split_digits=True, character_coverage=1.0, user_defined_symbols=["<|im_start|>"])
        fallback = lambda ids: bpe.decode(ids)
        write("sentencepiece-bpe", {"tokenizer.model": os.path.join(tmp, "bpe.model")}, sp_cases(bpe, strings),
              {"library": "sentencepiece", "versions": versions, "format": "sentencepiece-model",
               "bos_id": bpe.bos_id(), "eos_id": bpe.eos_id(), "unk_id": bpe.unk_id(),
               "byte_fallback_decode_cases": byte_fallback_decode_cases(fallback, lambda b: bpe.piece_to_id("<0x%02X>" % b))})
        tsv = os.path.join(tmp, "rule.tsv")
        with open(tsv, "w") as f:
            f.write(NORMALIZATION_TSV)
        uni = train_sentencepiece(os.path.join(tmp, "uni"), CORPUS, "unigram", normalization_rule_tsv=tsv,
                                  character_coverage=0.9995, user_defined_symbols=["<|im_start|>"])
        write("sentencepiece-unigram", {"tokenizer.model": os.path.join(tmp, "uni.model")}, sp_cases(uni, strings),
              {"library": "sentencepiece", "versions": versions, "format": "sentencepiece-model",
               "bos_id": uni.bos_id(), "eos_id": uni.eos_id(), "unk_id": uni.unk_id()})

        # (b) Metaspace / byte-fallback BPE tokenizer.json, three layouts.
        model_dir = os.path.join(tmp, "llama")
        os.makedirs(model_dir)
        shutil.copyfile(os.path.join(tmp, "bpe.model"), os.path.join(model_dir, "tokenizer.model"))
        with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
            json.dump({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>",
                       "unk_token": "<unk>"}, f)
        for kind, legacy in (("llama-legacy-bpe", True), ("llama-metaspace-bpe", False)):
            tok = llama_json(model_dir, legacy)
            path = os.path.join(tmp, kind + ".json")
            tok.save(path)
            tok = Tokenizer.from_file(path)
            vocab = tok.get_vocab()
            write(kind, {"tokenizer.json": path}, hf_cases(tok, strings),
                  {"library": "tokenizers", "versions": versions, "format": "hf-tokenizer-json",
                   "add_special_tokens": False, "converted_by": "transformers AutoTokenizer (LlamaTokenizer), legacy=%s" % legacy,
                   "byte_fallback_decode_cases": byte_fallback_decode_cases(
                       lambda ids: tok.decode(ids), lambda b: vocab["<0x%02X>" % b])})
        tok = metaspace_split_json(CORPUS)
        path = os.path.join(tmp, "split.json")
        tok.save(path)
        tok = Tokenizer.from_file(path)
        vocab = tok.get_vocab()
        write("metaspace-split-bpe", {"tokenizer.json": path}, hf_cases(tok, strings),
              {"library": "tokenizers", "versions": versions, "format": "hf-tokenizer-json", "add_special_tokens": False,
               "byte_fallback_decode_cases": byte_fallback_decode_cases(lambda ids: tok.decode(ids), lambda b: vocab["<0x%02X>" % b])})
    for kind in sorted(os.listdir(OUT)):
        folder = os.path.join(OUT, kind)
        if os.path.isdir(folder):
            sizes = {name: os.path.getsize(os.path.join(folder, name)) for name in sorted(os.listdir(folder))}
            print(kind, sizes)
    shutil.rmtree(BUILD, ignore_errors=True)


if __name__ == "__main__":
    main()
