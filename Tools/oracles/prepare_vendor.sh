#!/usr/bin/env bash
# Fill the git-IGNORED folders that the oracle runs carry to the GPU machine:
#   .whl/     fla-core 0.6.0 + flash-linear-attention 0.6.0 (pure-Python wheels)
#   .vendor/  kjv/ + kjvprog/ (Debian bible-kjv-text + bible-kjv, unpacked), kjv_dump.txt (the
#             text dumped by `bible`), tok1536/ (hold-out tokenizer), tnl_ref/ (TransNormerLLM code),
#             subllm_ref/ (XiaoMi's SUBLLM module)
# Run from anywhere on the developer machine (Debian, PyPI reachable).  Nothing here is committed.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
grep -qx '/.vendor/' .git/info/exclude || echo '/.vendor/' >> .git/info/exclude
grep -qx '/.whl/' .git/info/exclude || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl .vendor

# 1. wheels (no deps: einops and transformers 5.17 are already on the GPU machine)
ls .whl/fla_core-0.6.0-*.whl >/dev/null 2>&1 || python3 -m pip download --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
  -d .whl fla-core==0.6.0 flash-linear-attention==0.6.0

# 2. KJV text: the data package is compressed for Debian's own reader, so unpack both and dump.
if [ ! -s .vendor/kjv_dump.txt ]; then
  (cd .vendor && apt-get download bible-kjv-text bible-kjv)
  dpkg -x .vendor/bible-kjv-text_*_all.deb .vendor/kjv
  dpkg -x .vendor/bible-kjv_*.deb .vendor/kjvprog
  .vendor/kjvprog/usr/bin/bible -f -p "$PWD/.vendor/kjv/usr/lib" Gen1:1-Rev22:21 > .vendor/kjv_dump.txt
  rm -f .vendor/*.deb
fi
wc -lc .vendor/kjv_dump.txt   # expect 31102 lines, 4404412 bytes

# 3. hold-out tokenizer (byte-level BPE, vocab 1536, <|endoftext|> = 0)
[ -s .vendor/tok1536/tokenizer.json ] || python3 Tools/oracles/kjv_data.py train-tokenizer --vocab 1536 --out .vendor/tok1536

# 4. TransNormerLLM reference code: copy smoe/models/tnl/ of github weigao266/TNL-MoE (commit
#    007576f) into .vendor/tnl_ref/ -- e.g. from a mirror made with the search tool's `fetch`:
#    for f in __init__.py configuration_transnormer.py modeling_transnormer.py norm.py utils.py \
#             srmsnorm_triton.py lightning_attention2.py lightning_attention.py; do
#      git --git-dir=/work/.mirror/weigao266+TNL-MoE/repo show HEAD:smoe/models/tnl/$f > .vendor/tnl_ref/$f; done
[ -s .vendor/tnl_ref/modeling_transnormer.py ] || echo "WARNING: .vendor/tnl_ref missing (see step 4)"

# 5. SUBLLM reference module (github XiaoMi/subllm, commit ce6e335): copy it into .vendor/subllm_ref/,
#    e.g. from a mirror made with the search tool's `fetch`:
#    mkdir -p .vendor/subllm_ref && git --git-dir=/work/.mirror/XiaoMi+subllm/repo show \
#      HEAD:modeling/modeling_subllm_inference.py > .vendor/subllm_ref/modeling_subllm_inference.py
[ -s .vendor/subllm_ref/modeling_subllm_inference.py ] || echo "WARNING: .vendor/subllm_ref missing (see step 5)"
du -sh .whl .vendor
