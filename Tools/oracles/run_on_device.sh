#!/usr/bin/env bash
# Runs on the GPU machine through the `run` tool, from the repo root, with carry [".whl", ".vendor"].
#   bash Tools/oracles/run_on_device.sh check SECONDS
#        selftest + recompute the shared mamba-tiny / transnormer-tiny goldens and diff them
#        + a samba-tiny smoke training of SECONDS with its golden
#   bash Tools/oracles/run_on_device.sh samba SECONDS [continue]
#        train samba-tiny (no golden) -> $OUT/samba-ckpt/; with "continue", start from the carried
#        .vendor/samba-ckpt (copy a previous $OUT/samba-ckpt there first)
#   bash Tools/oracles/run_on_device.sh final SEC_MAMBA_TNL SEC_SAMBA
#        in parallel: samba-tiny golden from .vendor/samba-ckpt, and the three hold-outs
#        -> $OUT/samba-tiny.tar, $OUT/holdout_{mamba,transnormer,samba}.tar + logs
#   bash Tools/oracles/run_on_device.sh repro
#        recompute every fixture's golden from its committed folder ("golden only") and diff it
#        against the committed golden.safetensors -> $OUT/repro_*.log
#   bash Tools/oracles/run_on_device.sh subllm SEC_SUBLLM SEC_LLAMA      (carry [".vendor"] suffices)
#        in parallel: subllm-tiny (XiaoMi's reference, .vendor/subllm_ref) trained SEC_SUBLLM s with
#        its golden, and llama-tiny (transformers LlamaForCausalLM) trained SEC_LLAMA s; then the
#        llama golden on subllm-tiny's prompts -> $OUT/subllm-tiny.tar, $OUT/llama-tiny.tar + logs
#   bash Tools/oracles/run_on_device.sh subllm-repro
#        recompute both goldens from the committed folders and diff them -> $OUT/repro_*.log
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
stage=${1:?stage}
case "$stage" in
  subllm|subllm-repro) ;;  # transformers + torch only, no fla wheels needed
  *) python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
       && export PYTHONPATH=/tmp/site || exit 1 ;;
esac
M="python3 Tools/oracles/make_oracles.py"
S="python3 Tools/oracles/make_subllm.py"
fixture_files="config.json model.safetensors tokenizer.json tokenizer_config.json golden.safetensors golden.json"
pack() { # pack DIR NAME: the fixture file set of DIR into $OUT/NAME.tar (one file back per model)
  (cd "$1" && tar cf "$OUT/$2.tar" $fixture_files $( [ -f generation_config.json ] && echo generation_config.json ))
}
case "$stage" in
  check)
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    $M selftest 2>&1 | tee "$OUT/selftest.log"
    $M golden --ckpt Tests/Fixtures/mamba-tiny --out /tmp/g/mamba --compare Tests/Fixtures/mamba-tiny 2>&1 | tee "$OUT/repro_mamba.log"
    $M golden --ckpt Tests/Fixtures/transnormer-tiny --out /tmp/g/tnl --compare Tests/Fixtures/transnormer-tiny 2>&1 | tee "$OUT/repro_transnormer.log"
    $M train --preset samba-tiny --seconds "${2:-60}" --out /tmp/smoke 2>&1 | tee "$OUT/samba_smoke.log"
    cp /tmp/smoke/golden.json "$OUT/samba_smoke_golden.json"
    ;;
  samba)
    init=(); [ "${3:-}" = continue ] && init=(--init-from .vendor/samba-ckpt)
    $M train --preset samba-tiny --seconds "${2:?seconds}" --out /tmp/samba-ckpt --no-golden "${init[@]}" 2>&1 | tee "$OUT/samba_train.log"
    mkdir -p "$OUT/samba-ckpt"
    for f in config.json model.safetensors tokenizer.json tokenizer_config.json train_info.json; do
      cp /tmp/samba-ckpt/$f "$OUT/samba-ckpt/"; done
    ;;
  final)
    ( $M golden --ckpt .vendor/samba-ckpt --out /tmp/samba-tiny > "$OUT/samba_golden.log" 2>&1 \
        && pack /tmp/samba-tiny samba-tiny ) &
    for a in mamba transnormer samba; do
      secs=${2:?seconds}; [ $a = samba ] && secs=${3:?seconds}
      ( $M train --preset holdout-$a --seconds "$secs" --out /tmp/holdout/$a > "$OUT/holdout_$a.log" 2>&1 \
          && pack /tmp/holdout/$a holdout_$a ) &
    done
    wait
    grep -h "done\|trained\|compare\|Error\|error" "$OUT"/*.log
    ;;
  repro)
    for d in mamba-tiny transnormer-tiny samba-tiny holdout/mamba holdout/transnormer holdout/samba; do
      n=${d//\//_}
      $M golden --ckpt Tests/Fixtures/$d --out /tmp/repro/$n --compare Tests/Fixtures/$d > "$OUT/repro_$n.log" 2>&1 &
    done
    wait
    grep -h "compare with" "$OUT"/repro_*.log
    ;;
  subllm)
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
    ( $S train --seconds "${2:?seconds}" --out /tmp/subllm-tiny > "$OUT/subllm_train.log" 2>&1
      cp /tmp/subllm-tiny/train_info.json "$OUT/subllm_train_info.json"
      (cd /tmp/subllm-tiny && tar cf "$OUT/subllm-ckpt.tar" config.json model.safetensors tokenizer.json \
         tokenizer_config.json train_info.json)
      pack /tmp/subllm-tiny subllm-tiny ) &
    $M train --preset llama-tiny --seconds "${3:?seconds}" --out /tmp/llama --no-golden > "$OUT/llama_train.log" 2>&1
    wait
    $M golden --ckpt /tmp/llama --out /tmp/llama-tiny --prompts /tmp/subllm-tiny/golden.json > "$OUT/llama_golden.log" 2>&1 \
      && pack /tmp/llama-tiny llama-tiny
    grep -h "golden p\|done\|trained\|held-out\|Error\|error" "$OUT"/*.log
    ;;
  subllm-repro)
    $S golden --ckpt Tests/Fixtures/subllm-tiny --out /tmp/repro/subllm --compare Tests/Fixtures/subllm-tiny > "$OUT/repro_subllm.log" 2>&1 &
    $M golden --ckpt Tests/Fixtures/llama-tiny --out /tmp/repro/llama --compare Tests/Fixtures/llama-tiny > "$OUT/repro_llama.log" 2>&1 &
    wait
    grep -h "compare with\|golden p" "$OUT"/repro_*.log
    ;;
esac
ls -la "$OUT"
