#!/usr/bin/env python3
"""Side-by-side 4-bit / 8-bit quality of llama.cpp and Rill on the same Mamba weights and text.

Not run in CI.  From one Hugging Face Mamba checkpoint folder in the fixtures' layout
(config.json, model.safetensors, tokenizer.json, tokenizer_config.json) this script

  1. writes an f32 GGUF with llama.cpp's own, unmodified convert_hf_to_gguf.py;
  2. quantises it with llama-quantize to Q8_0, Q4_0, Q4_K_M, and Q4_K_M with an importance
     matrix that llama-imatrix computes from a CALIBRATION text (never the held-out text;
     by default KJV verses sampled evenly from the corpus the fixtures were trained on);
  3. converts the same folder with `rill convert` to f32, int8 and int4;
  4. scores every file on the held-out text (Tests/Fixtures/heldout-web.txt) on exactly the
     token ids and positions that `rill perplexity --ctx N` scores, and prints/writes a table:
     bits per weight, file bytes, KL(f32 || q) mean and 99th percentile, top-token agreement
     with the f32 file of the same engine, and perplexity.

How the two engines are scored the same way
-------------------------------------------
`rill perplexity --ctx N` encodes the text with the file's tokenizer, cuts the ids into
floor(T/N) chunks of N tokens, runs each chunk from an empty state, and scores the rows whose
next token lies in the second half of the chunk (targets N/2 .. N-1: N/2 rows a chunk).  Rill's
rows here come from `rill perplexity --kl-base F32.rill --json` itself.

llama.cpp's rows do NOT come from llama-perplexity's own scoring, which differs on three points:
it replaces the first token of every chunk with BOS when the vocabulary says add_bos, it scores
targets N/2+1 .. N-1 (one row fewer a chunk), and its KL base file stores the f32 model's
log-probabilities rounded to 16 bits.  Instead the script loads libllama (the library that
llama-perplexity links, from the same build folder) through llama-cpp-python's ctypes bindings,
which must match the build (a llama-cpp-python sdist: its llama_cpp/ lies two folders above the
vendored llama.cpp, as in /work/peers/NOTES.md's setup), feeds it the ids that `rill tokenize` gives for the held-out text (checked against libllama's own
tokenizer: the count of differing ids is reported), decodes each N-token chunk as one batch
after clearing the recurrent state, keeps all logits in float32, and computes the metrics with
the formulas of Sources/RillRuntime/Perplexity.swift (float64 log-sum-exp; p99 as the upper edge
of the same 2 %-wide log-spaced histogram bin).  KL(f32 || q) compares each llama.cpp type
with llama.cpp's own f32 GGUF, and each Rill type with Rill's own f32 file.  The f32 rows of the
two engines are also compared with each other by perplexity (they should agree to ~1e-5).
With --llama-perplexity, llama-perplexity's own --kl-divergence numbers (its chunking) are added
as a cross-check.

Bits per weight (bpw) = 8 x (bytes of tensor data) / (number of weights), over all tensors of the
file (norms, conv, A, D, dt bias and the tied embedding included, counted once); file bytes are
the whole file (tokenizer and metadata too, which dominate on tiny models).

Requirements
------------
  * a llama.cpp build made as /work/peers/NOTES.md describes (cmake Release build with
    llama-quantize, llama-imatrix [cmake --build build --target llama-imatrix] and libllama.so in
    build/bin); the script builds nothing.  Give the build folder with --llama-cpp-build or
    LLAMA_CPP_BUILD; the source tree (convert_hf_to_gguf.py, gguf-py) is its parent unless
    --llama-cpp-src says otherwise.
  * a Python for the converter (--convert-python or LLAMA_CPP_PYTHON) with torch, numpy,
    safetensors, sentencepiece, transformers 4.x and the tree's gguf-py installed.
  * this script's own Python needs numpy only.
  * a rill binary (--rill or RILL; default .build/release/rill).

The fixtures' tokenizer is a byte-level BPE whose hash llama.cpp's converter does not know;
with --pre gpt-2 (the default) the converter is told its pre-tokenizer is GPT-2's (the fixture's
ByteLevel regex is GPT-2's), by patching get_vocab_base_pre in memory, and the converter sees a
staged copy of the folder whose tokenizer_config.json names PreTrainedTokenizerFast (transformers
4.x does not know the TokenizersBackend class that transformers 5 writes).  Nothing of llama.cpp
is edited.

Example
-------
  export LLAMA_CPP_BUILD=/work/peers/llama_cpp_python-0.3.36/vendor/llama.cpp/build
  export LLAMA_CPP_PYTHON=/tmp/venv-llamacpp/bin/python
  python3 Tools/llamacpp_quality.py Tests/Fixtures/mamba-tiny --work /tmp/q-tiny \\
      --rill /tmp/rill --json /tmp/q-tiny.json
  python3 Tools/llamacpp_quality.py /work/ck/mamba-wide --work /tmp/q-wide --json /tmp/q-wide.json

Files in --work: f32.gguf, q8_0.gguf, q4_0.gguf, q4_k_m.gguf, q4_k_m-imat.gguf, imatrix.gguf,
calib.txt, f32.rill, int8.rill, int4.rill, ids.txt, *.log (quantize logs list each tensor's
chosen type).  Existing files are reused unless --force.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

try:
    import numpy as np
except ImportError:
    sys.exit("needs numpy: pip install numpy")

LLAMA_TYPES = [  # (row name, llama-quantize type, needs imatrix)
    ("Q8_0", "Q8_0", False),
    ("Q4_0", "Q4_0", False),
    ("Q4_K_M", "Q4_K_M", False),
    ("Q4_K_M+imatrix", "Q4_K_M", True),
]
RILL_TYPES = ["int8", "int4"]


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def run(cmd, logfile=None, env=None, cwd=None):
    log("$", " ".join(str(c) for c in cmd))
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd)
    if logfile:
        with open(logfile, "w") as f:
            f.write(r.stdout)
            f.write(r.stderr)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        sys.exit(f"failed ({r.returncode}): {' '.join(str(c) for c in cmd)}")
    return r.stdout


# MARK: - llama.cpp side: convert, quantise

CONVERT_SHIM = r"""
import sys, runpy
src, pre = sys.argv[1], sys.argv[2]
sys.path.insert(0, src)
sys.path.insert(0, src + "/gguf-py")
if pre != "auto":
    import conversion.base as base
    for name in dir(base):
        cls = getattr(base, name)
        if isinstance(cls, type) and hasattr(cls, "get_vocab_base_pre"):
            cls.get_vocab_base_pre = lambda self, tokenizer, _p=pre: _p
sys.argv = [src + "/convert_hf_to_gguf.py"] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def stage_checkpoint(ckpt, dest):
    """A copy of the folder the converter can read: symlinks, and a tokenizer_config.json that
    transformers 4.x understands."""
    os.makedirs(dest, exist_ok=True)
    for name in os.listdir(ckpt):
        p = os.path.join(ckpt, name)
        if name == "tokenizer_config.json" or not os.path.isfile(p):
            continue
        d = os.path.join(dest, name)
        if os.path.lexists(d):
            os.remove(d)
        os.symlink(os.path.abspath(p), d)
    tc = {}
    p = os.path.join(ckpt, "tokenizer_config.json")
    if os.path.exists(p):
        tc = json.load(open(p))
    if tc.get("tokenizer_class") in (None, "TokenizersBackend"):
        tc["tokenizer_class"] = "PreTrainedTokenizerFast"
    tc.pop("backend", None)
    with open(os.path.join(dest, "tokenizer_config.json"), "w") as f:
        json.dump(tc, f, indent=2)


def convert_gguf(a, out):
    if os.path.exists(out) and not a.force:
        return
    stage = os.path.join(a.work, "hf-staged")
    stage_checkpoint(a.checkpoint, stage)
    shim = os.path.join(a.work, "convert_shim.py")
    with open(shim, "w") as f:
        f.write(CONVERT_SHIM)
    run([a.convert_python, shim, a.llama_cpp_src, a.pre, stage, "--outtype", "f32", "--outfile", out + ".part"],
        logfile=os.path.join(a.work, "convert.log"))
    os.replace(out + ".part", out)  # a broken-off run leaves no file that a later run would reuse


def make_calibration(a, path):
    if a.calib:
        shutil.copyfile(a.calib, path)
        return f"{a.calib} (given)"
    sys.path.insert(0, os.path.join(REPO, "Tools", "oracles"))
    import kjv_data
    lines = kjv_data.load_corpus().split("\n")
    # evenly spread blocks of consecutive verses, a.calib_chars characters in all
    block = 40
    nblocks = max(1, a.calib_chars // (block * 130))
    stride = max(block, len(lines) // nblocks)
    parts = []
    for s in range(0, len(lines), stride):
        parts.append("\n".join(lines[s:s + block]))
    text = "\n".join(parts)[: a.calib_chars]
    with open(path, "w") as f:
        f.write(text)
    return (f"KJV (the fixtures' training corpus, Tools/oracles/kjv_data.py): blocks of {block} verses "
            f"every {stride} verses, {len(text)} characters")


def quantize_all(a, f32):
    bin_ = a.llama_cpp_bin
    outs = {}
    imat = os.path.join(a.work, "imatrix.gguf")
    need_imat = any(im for _, _, im in LLAMA_TYPES)
    calib_desc = None
    if need_imat:
        calib = os.path.join(a.work, "calib.txt")
        calib_desc = make_calibration(a, calib)
        if not os.path.exists(imat) or a.force:
            run([os.path.join(bin_, "llama-imatrix"), "-m", f32, "-f", calib, "-c", str(a.ctx),
                 "--chunks", str(a.calib_chunks), "-t", str(a.threads), "-o", imat + ".part.gguf"],
                logfile=os.path.join(a.work, "imatrix.log"))
            os.replace(imat + ".part.gguf", imat)
    for row, qtype, im in LLAMA_TYPES:
        name = qtype.lower() + ("-imat" if im else "")
        out = os.path.join(a.work, name + ".gguf")
        if not os.path.exists(out) or a.force:
            cmd = [os.path.join(bin_, "llama-quantize")]
            if im:
                cmd += ["--imatrix", imat]
            cmd += [f32, out + ".part", qtype, str(a.threads)]
            run(cmd, logfile=os.path.join(a.work, f"quantize-{name}.log"))
            os.replace(out + ".part", out)
        outs[row] = out
    return outs, calib_desc


def gguf_tensors(path, src):
    """[(name, type name, n_elements, n_bytes, shape)] of a GGUF (via the tree's gguf-py)."""
    sys.path.insert(0, os.path.join(src, "gguf-py"))
    from gguf import GGUFReader
    r = GGUFReader(path)
    return [(t.name, t.tensor_type.name, int(t.n_elements), int(t.n_bytes), [int(x) for x in t.shape])
            for t in r.tensors]


def type_mix(tensors, pattern, repl):
    """Per-role type mix: {role: {"types": {type: count}, "shape": [...], "bpw": x}}; a role is a
    tensor name with the block number replaced."""
    mix = {}
    for name, ty, n, nb, shape in tensors:
        role = re.sub(pattern, repl, name)
        m = mix.setdefault(role, {"types": {}, "shape": shape, "weights": 0, "bytes": 0})
        m["types"][ty] = m["types"].get(ty, 0) + 1
        m["weights"] += n
        m["bytes"] += nb
    for m in mix.values():
        m["bpw"] = 8.0 * m["bytes"] / m["weights"]
    return mix


def gguf_mix(tensors):
    return type_mix(tensors, r"^blk\.\d+\.", "blk.N.")


def mix_table(title, mix):
    lines = [f"{title}:", "| tensor | shape (one) | type(s) | bpw | share of weights |", "|---|---|---|---|---|"]
    total = sum(m["weights"] for m in mix.values())
    for role, m in sorted(mix.items(), key=lambda kv: -kv[1]["weights"]):
        if m["weights"] < 0.001 * total and all(t.lower() == "f32" for t in m["types"]):
            continue
        types = ", ".join(f"{t}×{c}" for t, c in m["types"].items())
        lines.append(f"| {role} | {m['shape']} | {types} | {m['bpw']:.2f} | {100 * m['weights'] / total:.1f} % |")
    lines.append("(f32 vectors under 0.1 % of the weights left out)")
    return "\n".join(lines)


# MARK: - libllama through ctypes

class Llama:
    """The few libllama calls needed: load, tokenize, decode one chunk with all logits."""

    def __init__(self, bin_dir, src_dir, threads):
        self.threads = threads
        os.environ["LLAMA_CPP_LIB_PATH"] = bin_dir
        pkg = os.path.join(os.path.dirname(os.path.dirname(src_dir)), "llama_cpp")
        if os.path.exists(os.path.join(pkg, "llama_cpp.py")):
            # llama-cpp-python's bindings, from the same sdist as the vendored llama.cpp; imported
            # without its package __init__ (which pulls in the high-level API and its deps).
            import types
            import importlib
            mod = types.ModuleType("llama_cpp")
            mod.__path__ = [pkg]
            sys.modules["llama_cpp"] = mod
            self.L = importlib.import_module("llama_cpp.llama_cpp")
            self.bindings = "llama-cpp-python's ctypes bindings (" + pkg + ")"
        else:
            sys.exit(f"llama-cpp-python's llama_cpp/llama_cpp.py not found at {pkg}: the ctypes "
                     "bindings must match the llama.cpp build; point --llama-cpp-src at the "
                     "vendor/llama.cpp of a llama-cpp-python source tree")
        L = self.L

        def quiet(level, text, user):
            pass
        self._quiet = L.llama_log_callback(quiet)  # kept alive: libllama holds the pointer
        quiet = self._quiet
        L.llama_log_set(quiet, None)
        L.llama_backend_init()

    def load(self, path, ctx):
        L = self.L
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = 0
        model = L.llama_model_load_from_file(path.encode(), mp)
        if not model:
            sys.exit(f"libllama could not load {path}")
        cp = L.llama_context_default_params()
        cp.n_ctx = ctx
        cp.n_batch = ctx
        cp.n_ubatch = ctx
        cp.n_seq_max = 1
        cp.n_threads = self.threads
        cp.n_threads_batch = self.threads
        c = L.llama_init_from_model(model, cp)
        if not c:
            sys.exit(f"libllama could not make a context for {path}")
        vocab = L.llama_model_get_vocab(model)
        return model, c, vocab

    def free(self, model, c):
        self.L.llama_free(c)
        self.L.llama_model_free(model)

    def tokenize(self, vocab, text):
        L = self.L
        b = text.encode("utf-8")
        n = len(b) + 16
        buf = (L.llama_token * n)()
        k = L.llama_tokenize(vocab, b, len(b), buf, n, False, False)
        if k < 0:
            sys.exit("llama_tokenize failed")
        return [buf[i] for i in range(k)], bool(L.llama_vocab_get_add_bos(vocab))

    def chunk_logits(self, c, vocab, ids):
        """Logits [len(ids), n_vocab] float32 of one chunk decoded from an empty state."""
        L = self.L
        nv = L.llama_vocab_n_tokens(vocab)
        L.llama_memory_clear(L.llama_get_memory(c), True)
        n = len(ids)
        batch = L.llama_batch_init(n, 0, 1)
        try:
            for i, t in enumerate(ids):
                batch.token[i] = t
                batch.pos[i] = i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = True
            batch.n_tokens = n
            rc = L.llama_decode(c, batch)
            if rc != 0:
                sys.exit(f"llama_decode returned {rc}")
            ptr = L.llama_get_logits(c)
            return np.ctypeslib.as_array(ptr, shape=(n, nv)).copy()
        finally:
            L.llama_batch_free(batch)


# MARK: - metrics, as Sources/RillRuntime/Perplexity.swift computes them

class LogHistogram:
    low, high, ratio = 1e-10, 1e3, 1.02

    def __init__(self):
        self.bins = int(math.ceil(math.log(self.high / self.low) / math.log(self.ratio))) + 2
        self.counts = np.zeros(self.bins, dtype=np.int64)

    def add(self, xs):
        xs = np.asarray(xs, dtype=np.float64)
        i = np.where(xs <= self.low, 0,
                     np.where(xs >= self.high, self.bins - 1,
                              1 + np.floor(np.log(np.maximum(xs, self.low) / self.low) / math.log(self.ratio))))
        i = np.minimum(i.astype(np.int64), self.bins - 1)
        np.add.at(self.counts, i, 1)

    def quantile(self, q):
        target = int(math.ceil(q * self.counts.sum()))
        acc = np.cumsum(self.counts)
        i = int(np.searchsorted(acc, target))
        return self.low if i == 0 else self.low * self.ratio ** i


def scored_rows(ctx):
    """Rows of a chunk that `rill perplexity` scores: row p predicts token p+1, ctx/2 <= p+1 < ctx."""
    return np.arange(ctx // 2 - 1, ctx - 1)


def log_softmax64(rows):
    r = rows.astype(np.float64)
    m = r.max(axis=1, keepdims=True)
    return r - (m + np.log(np.exp(r - m).sum(axis=1, keepdims=True)))


def score_llama(llama, paths, ids, ctx):
    """{row name: metrics}; paths[0] is the f32 base.  Holds the base's scored log-probs in memory."""
    chunks = len(ids) // ctx
    rows = scored_rows(ctx)
    base_lp = []
    results = {}
    for name, path in paths:
        t0 = time.time()
        model, c, vocab = llama.load(path, ctx)
        nll, n, kl_sum, agree = 0.0, 0, 0.0, 0
        hist = LogHistogram()
        for k in range(chunks):
            chunk = ids[k * ctx:(k + 1) * ctx]
            lp = log_softmax64(llama.chunk_logits(c, vocab, chunk)[rows])
            tgt = np.array(chunk)[rows + 1]
            nll += -lp[np.arange(len(rows)), tgt].sum()
            n += len(rows)
            if name == paths[0][0]:
                base_lp.append(lp)
            else:
                b = base_lp[k]
                kl = np.maximum(0.0, (np.exp(b) * (b - lp)).sum(axis=1))
                kl_sum += kl.sum()
                hist.add(kl)
                agree += int((b.argmax(axis=1) == lp.argmax(axis=1)).sum())
        llama.free(model, c)
        r = {"perplexity": math.exp(nll / n), "scored_tokens": n, "chunks": chunks}
        if name != paths[0][0]:
            r.update(kl_mean=kl_sum / n, kl_p99=hist.quantile(0.99), argmax_agreement=agree / n)
        results[name] = r
        log(f"llama.cpp {name}: " + ", ".join(f"{k} {v:.6g}" for k, v in r.items()) + f" ({time.time() - t0:.1f}s)")
    return results


def llama_perplexity_crosscheck(a, paths):
    """llama-perplexity's own --kl-divergence numbers (its chunking: BOS if add_bos, targets
    ctx/2+1..ctx-1, 16-bit base log-probs)."""
    exe = os.path.join(a.llama_cpp_bin, "llama-perplexity")
    base = os.path.join(a.work, "f32.kld")
    run([exe, "-m", paths[0][1], "-f", a.text, "-c", str(a.ctx), "-b", str(a.ctx), "-t", str(a.threads),
         "--kl-divergence-base", base], logfile=os.path.join(a.work, "llama-perplexity-f32.log"))
    out = {}
    for name, path in paths[1:]:
        lf = os.path.join(a.work, f"llama-perplexity-{name}.log")
        for attempt in range(2):
            with open(lf, "w") as f:
                rc = subprocess.run([exe, "-m", path, "-f", a.text, "-c", str(a.ctx), "-b", str(a.ctx), "-t",
                                     str(a.threads), "--kl-divergence-base", base, "--kl-divergence"],
                                    stdout=f, stderr=subprocess.STDOUT).returncode
            txt = open(lf).read()
            if rc == 0 and "Mean    KLD" in txt:
                break
            log(f"llama-perplexity {name}: rc {rc}, no summary in {lf}; " + ("retrying" if attempt == 0 else "giving up"))

        def grab(pat):
            m = re.search(pat, txt)
            return float(m.group(1)) if m else None
        out[name] = {"kl_mean": grab(r"Mean\s+KLD:\s+([-\d.e+]+)"),
                     "kl_p99": grab(r"99\.0%\s+KLD:\s+([-\d.e+]+)"),
                     "same_top_pct": grab(r"Same top p:\s+([-\d.e+]+)"),
                     "ppl_q": grab(r"Mean PPL\(Q\)\s+:\s+([-\d.e+]+)")}
    return out


# MARK: - Rill side

def rill_side(a):
    files = {}
    for q in ["f32"] + RILL_TYPES:
        out = os.path.join(a.work, f"{q}.rill")
        if not os.path.exists(out) or a.force:
            run([a.rill, "convert", a.checkpoint, "-o", out, "--quant", q],  # rill renames into place itself
                logfile=os.path.join(a.work, f"rill-convert-{q}.log"))
        files[q] = out
    raw = run([a.rill, "tokenize", files["f32"], "--file", a.text])
    ids = [int(x) for x in re.findall(r"-?\d+", raw)]
    with open(os.path.join(a.work, "ids.txt"), "w") as f:
        f.write(",".join(map(str, ids)) + "\n")
    res = {}
    for q in RILL_TYPES:
        o = run([a.rill, "perplexity", files[q], "--file", a.text, "--ctx", str(a.ctx), "--kl-base", files["f32"],
                 "--json", "-t", str(a.threads)])
        res[q] = json.loads(o.strip().splitlines()[-1])
        log(f"rill {q}: {res[q]}")
    o = run([a.rill, "perplexity", files["f32"], "--file", a.text, "--ctx", str(a.ctx), "--json", "-t", str(a.threads)])
    res["f32"] = json.loads(o.strip().splitlines()[-1])
    return files, ids, res


def rill_tensors(a, path):
    d = json.loads(run([a.rill, "inspect", path, "--json"]))
    return [(t["name"], t["type"], int(np.prod(t["shape"])), int(t["length"]), t["shape"]) for t in d["tensors"]]


def bpw(tensors):
    n = sum(t[2] for t in tensors)
    b = sum(t[3] for t in tensors)
    return 8.0 * b / n, n


# MARK: - main

def fmt_row(engine, typ, bpw_, size, m):
    def f(x, s):
        return "—" if x is None else s.format(x)
    return (f"| {engine} | {typ} | {bpw_:.2f} | {size:,} | {f(m.get('kl_mean'), '{:.3e}')} | "
            f"{f(m.get('kl_p99'), '{:.3e}')} | {f(None if m.get('argmax_agreement') is None else 100 * m['argmax_agreement'], '{:.2f}')} | "
            f"{m['perplexity']:.4f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", help="HF Mamba folder (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("--work", required=True, help="folder for the GGUF / .rill files and logs (reused)")
    ap.add_argument("--llama-cpp-build", default=os.environ.get("LLAMA_CPP_BUILD"),
                    help="llama.cpp cmake build folder holding bin/llama-quantize, bin/llama-imatrix, "
                         "bin/libllama.so (env LLAMA_CPP_BUILD)")
    ap.add_argument("--llama-cpp-src", default=os.environ.get("LLAMA_CPP_SRC"),
                    help="llama.cpp source tree (convert_hf_to_gguf.py, gguf-py); default: the build folder's parent")
    ap.add_argument("--convert-python", default=os.environ.get("LLAMA_CPP_PYTHON", sys.executable),
                    help="Python with torch, transformers 4.x and gguf-py for convert_hf_to_gguf.py (env LLAMA_CPP_PYTHON)")
    ap.add_argument("--pre", default="gpt-2",
                    help="BPE pre-tokenizer name to tell the converter ('auto': let it hash the tokenizer); "
                         "default gpt-2, right for the fixtures' ByteLevel tokenizer")
    ap.add_argument("--rill", default=os.environ.get("RILL", os.path.join(REPO, ".build", "release", "rill")),
                    help="rill binary (env RILL)")
    ap.add_argument("--text", default=os.path.join(REPO, "Tests", "Fixtures", "heldout-web.txt"),
                    help="held-out text to score (default Tests/Fixtures/heldout-web.txt)")
    ap.add_argument("--ctx", type=int, default=256, help="tokens per chunk, as rill perplexity --ctx (default 256)")
    ap.add_argument("--calib", default=None,
                    help="calibration text for llama-imatrix (default: KJV verses sampled across the corpus, "
                         "via Tools/oracles/kjv_data.py; must not be the held-out text)")
    ap.add_argument("--calib-chars", type=int, default=None,
                    help="size of the default calibration text (default: 4 x ctx x calib-chunks characters, "
                         "about calib-chunks chunks of this tokenizer's KJV tokens, spread over the whole Bible)")
    ap.add_argument("--calib-chunks", type=int, default=200, help="llama-imatrix --chunks (of --ctx tokens)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--llama-perplexity", action="store_true",
                    help="also run llama-perplexity --kl-divergence (its own chunking) as a cross-check")
    ap.add_argument("--force", action="store_true", help="redo conversions and quantisations")
    ap.add_argument("--json", default=None, help="write all results to this JSON file")
    a = ap.parse_args(argv)

    if not a.llama_cpp_build:
        ap.error("give --llama-cpp-build or LLAMA_CPP_BUILD (a llama.cpp build folder with bin/)")
    a.llama_cpp_build = os.path.abspath(a.llama_cpp_build)
    a.llama_cpp_bin = os.path.join(a.llama_cpp_build, "bin")
    a.llama_cpp_src = os.path.abspath(a.llama_cpp_src or os.path.dirname(a.llama_cpp_build))
    for exe in ("llama-quantize", "llama-imatrix", "libllama.so"):
        if not os.path.exists(os.path.join(a.llama_cpp_bin, exe)):
            sys.exit(f"{exe} not in {a.llama_cpp_bin}: build it (cmake --build build --target {exe.replace('lib', '').replace('.so', '')})")
    if not os.path.exists(os.path.join(a.llama_cpp_src, "convert_hf_to_gguf.py")):
        sys.exit(f"convert_hf_to_gguf.py not in {a.llama_cpp_src}")
    a.checkpoint = os.path.abspath(a.checkpoint)
    if a.calib_chars is None:
        a.calib_chars = 4 * a.ctx * a.calib_chunks
    a.text = os.path.abspath(a.text)
    if a.calib and os.path.abspath(a.calib) == a.text:
        ap.error("the calibration text must not be the held-out text")
    os.makedirs(a.work, exist_ok=True)
    a.work = os.path.abspath(a.work)
    t_start = time.time()

    # llama.cpp files
    f32 = os.path.join(a.work, "f32.gguf")
    convert_gguf(a, f32)
    qfiles, calib_desc = quantize_all(a, f32)

    # Rill files and scores (also the token ids)
    rfiles, ids, rres = rill_side(a)

    # llama.cpp scores on the same ids
    llama = Llama(a.llama_cpp_bin, a.llama_cpp_src, a.threads)
    model, c, vocab = llama.load(f32, a.ctx)
    text = open(a.text, encoding="utf-8").read()
    lids, add_bos = llama.tokenize(vocab, text)
    llama.free(model, c)
    n_same = sum(1 for x, y in zip(ids, lids) if x == y)
    tok_check = {"rill_ids": len(ids), "llama_ids": len(lids), "equal_positions": n_same,
                 "differing": max(len(ids), len(lids)) - n_same, "llama_add_bos": add_bos}
    log(f"tokenization: {tok_check}")
    paths = [("f32", f32)] + [(row, qfiles[row]) for row, _, _ in LLAMA_TYPES]
    lres = score_llama(llama, paths, ids, a.ctx)
    cross = llama_perplexity_crosscheck(a, paths) if a.llama_perplexity else None

    # sizes and mixes
    rows = []
    table = ["| engine | type | bpw | file bytes | KL mean | KL p99 | top-1 % | ppl |",
             "|---|---|---|---|---|---|---|---|"]
    info = {}
    for name, path in paths:
        ts = gguf_tensors(path, a.llama_cpp_src)
        b, n = bpw(ts)
        size = os.path.getsize(path)
        info[name] = {"engine": "llama.cpp", "file": path, "bpw": b, "weights": n, "file_bytes": size,
                      "mix": gguf_mix(ts), **lres[name]}
        if cross and name in cross:
            info[name]["llama_perplexity_own"] = cross[name]
        table.append(fmt_row("llama.cpp", name, b, size, lres[name]))
    for q in ["f32"] + RILL_TYPES:
        ts = rill_tensors(a, rfiles[q])
        b, n = bpw(ts)
        size = os.path.getsize(rfiles[q])
        mix = type_mix(ts, r"layers\.\d+\.", "layers.N.")
        info["rill " + q] = {"engine": "rill", "file": rfiles[q], "bpw": b, "weights": n, "file_bytes": size,
                             "mix": mix, **rres[q]}
        table.append(fmt_row("Rill", q, b, size, rres[q]))

    cfg = json.load(open(os.path.join(a.checkpoint, "config.json")))
    rill_version = run([a.rill, "--version"]).strip()
    rill_sha = hashlib.sha256(open(a.rill, "rb").read()).hexdigest()[:16]
    header = (f"checkpoint {a.checkpoint}: hidden {cfg.get('hidden_size')}, {cfg.get('num_hidden_layers')} layers, "
              f"vocab {cfg.get('vocab_size')}; text {a.text}: {len(ids)} ids, "
              f"{len(ids) // a.ctx} chunks x {a.ctx}, {lres['f32']['scored_tokens']} scored positions "
              f"(rill {rres['f32'].get('scored_tokens')}); f32 ppl llama.cpp {lres['f32']['perplexity']:.5f} vs "
              f"Rill {rres['f32']['perplexity']:.5f}")
    print(header)
    print("\n".join(table))
    if cross:
        print("\nllama-perplexity's own scoring (BOS handling, targets ctx/2+1..ctx-1, 16-bit base):")
        print("| type | KL mean | KL p99 | same top % | ppl |\n|---|---|---|---|---|")
        for k, v in cross.items():
            print(f"| {k} | {v['kl_mean']} | {v['kl_p99']} | {v['same_top_pct']} | {v['ppl_q']} |")
    mixes = [mix_table(f"llama.cpp {k}", info[k]["mix"]) for k in ("Q4_K_M", "Q4_K_M+imatrix", "Q4_0", "Q8_0")]
    mixes.append(mix_table("Rill int4", info["rill int4"]["mix"]))
    mixes.append(mix_table("Rill int8", info["rill int8"]["mix"]))
    print("\nPer-tensor types (bpw = 8 x bytes / weights of that tensor role):\n")
    print("\n\n".join(mixes))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"checkpoint": a.checkpoint, "config": cfg, "text": a.text, "ctx": a.ctx,
                       "tokenization_check": tok_check, "calibration": calib_desc,
                       "calib_chunks": a.calib_chunks, "llama_cpp_build": a.llama_cpp_build,
                       "llama_bindings": llama.bindings, "rill": a.rill, "rill_version": rill_version,
                       "rill_sha256_16": rill_sha, "header": header, "table": table, "results": info,
                       "seconds": round(time.time() - t_start, 1)}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
