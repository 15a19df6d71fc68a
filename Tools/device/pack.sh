#!/usr/bin/env bash
# Packs what Tools/device/thread_scaling.sh needs on the device machine into
# .build-device/pack.tar.xz (git-ignored; carry it with the `run` tool): the static `rill`
# (strip'ped), the shared libraries it still needs (OpenBLAS and its libgfortran/libquadmath,
# liblz4), and a llama.cpp build (llama-bench, llama-quantize, their libraries, the GGUF
# converter with gguf-py).
#   Tools/device/pack.sh RILL_BINARY LLAMA_CPP_DIR
# Build RILL_BINARY for a CPU the device has, e.g.
#   RILL_TARGET_CPU=haswell swift build -c release --static-swift-stdlib --product rill --scratch-path .build-static
# and llama.cpp with -DGGML_NATIVE=OFF -DGGML_AVX2=ON (or a build for this machine's CPU, if the
# device's is a superset).
set -euo pipefail
rill=${1:?rill binary}; lc=${2:?llama.cpp source dir with build/bin}
stage=$(mktemp -d); trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/llama/bin" .build-device
cp "$rill" "$stage/rill"; strip "$stage/rill"
# Every library outside glibc that rill, llama.cpp and their libraries load (OpenBLAS, its
# libgfortran and libquadmath, liblz4, libstdc++, libgomp): the device's may be missing or older.
deps() { ldd "$@" 2>/dev/null | awk '/=> \// {print $3}' | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' | sort -u; }
cp -L "$lc"/build/bin/llama-bench "$lc"/build/bin/llama-quantize "$stage/llama/bin/"
cp -P "$lc"/build/bin/lib*.so* "$stage/llama/bin/"  # symlinks kept: one copy of each library
rm -f "$stage"/llama/bin/lib*-impl.so "$stage"/llama/bin/libmtmd*
cp "$lc"/build/bin/libllama-bench-impl.so "$lc"/build/bin/libllama-quantize-impl.so "$stage/llama/bin/" 2>/dev/null || true
for l in $(deps "$rill" "$stage"/llama/bin/*); do case "$l" in "$lc"/*) ;; *) cp -L "$l" "$stage/lib/" ;; esac; done
cp -r "$lc/gguf-py" "$lc/conversion" "$lc/convert_hf_to_gguf.py" "$stage/llama/"
cat > "$stage/llama/convert_gpt2pre.py" <<'PY'
# llama.cpp's unmodified converter, told that the fixture tokenizer's BPE pre-tokenizer is GPT-2's
# (its hash is not in the converter's table).
import os, runpy, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import conversion.base as base
for name in dir(base):
    cls = getattr(base, name)
    if isinstance(cls, type) and hasattr(cls, "get_vocab_base_pre"):
        cls.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
sys.argv[0] = os.path.join(here, "convert_hf_to_gguf.py")
runpy.run_path(sys.argv[0], run_name="__main__")
PY
tar cJf .build-device/pack.tar.xz -C "$stage" .
ls -l .build-device/pack.tar.xz
