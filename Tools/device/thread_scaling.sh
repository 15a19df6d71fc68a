#!/usr/bin/env bash
# Decode and prefill of Rill and llama.cpp side by side at 1, 2, 4 and 8 threads on one machine
# (the device machine's CPU cores), on the very same Mamba-130M-shaped weights. Runs from the
# repository root with the pack made by Tools/device/pack.sh unpacked from .build-device/:
#
#   bash Tools/device/thread_scaling.sh            (writes $OUT/scaling.json and $OUT/*.log)
#
# Rill: `rill bench --prompt 512 --gen 128 --json` (with its bandwidth probe) for the 4-bit file
# as `rill convert --quant int4` writes it now (int4k, format 2.4) and as it wrote it before
# (symmetric int4 everywhere: `--override '*_proj.weight=int4'`). llama.cpp: its own converter
# (the fixture tokenizer's pre-tokenizer told as "gpt-2"), llama-quantize Q4_K_M and Q4_0, then
# `llama-bench -p 512 -n 128 -r 2`.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
W=/tmp/scaling; mkdir -p "$W"
tar xJf .build-device/pack.tar.xz -C "$W" || exit 1
export LD_LIBRARY_PATH="$W/lib:$W/llama/bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
RILL="$W/rill"
{ lscpu; nproc; ldd "$RILL"; "$RILL" --version; } > "$OUT/machine.log" 2>&1 || { cat "$OUT/machine.log"; exit 1; }
CK="$W/mamba-130m-shape"
python3 Tools/device/make_mamba_130m_shape.py "$CK" > "$OUT/make.log" 2>&1 || { tail "$OUT/make.log"; exit 1; }
"$RILL" convert "$CK" -o "$W/int4k.rill" --quant int4 --quiet || exit 1
"$RILL" convert "$CK" -o "$W/int4-sym.rill" --quant int4 --override '*_proj.weight=int4' --quiet || exit 1
PYTHONPATH="$W/llama/gguf-py" python3 "$W/llama/convert_gpt2pre.py" "$CK" --outtype f32 --outfile "$W/f32.gguf" > "$OUT/gguf.log" 2>&1 || { tail "$OUT/gguf.log"; exit 1; }
for q in Q4_K_M Q4_0; do "$W/llama/bin/llama-quantize" "$W/f32.gguf" "$W/$q.gguf" $q > "$OUT/quantize-$q.log" 2>&1 || exit 1; done
ls -l "$W"/*.rill "$W"/*.gguf > "$OUT/files.log"
for t in 1 2 4 8; do
  for f in int4k int4-sym; do
    "$RILL" bench "$W/$f.rill" --prompt 512 --gen 128 --threads $t --json > "$OUT/rill-$f-t$t.json" 2> "$OUT/rill-$f-t$t.err"
  done
  for q in Q4_K_M Q4_0; do
    "$W/llama/bin/llama-bench" -m "$W/$q.gguf" -p 512 -n 128 -t $t -r 2 -o json > "$OUT/llama-$q-t$t.json" 2> "$OUT/llama-$q-t$t.err"
  done
  echo "threads $t done $(date +%T)"
done
# One file back (the run tool returns a limited number of files).
(cd "$OUT" && tar czf /tmp/scaling.tgz --exclude scaling.tgz . && rm -f ./*.json ./*.err ./*.log && mv /tmp/scaling.tgz .)
