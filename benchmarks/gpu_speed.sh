#!/usr/bin/env bash
# The GPU measurements of the speed issue (23), prepared for a session with a lent GPU:
#  1. the sync check: train iterations under torch.cuda.set_sync_debug_mode("error");
#  2. S and XL with lazy regularisation (--penalty-every 4), eager and compiled, at batch 64
#     and at the largest batch that fits (tried upwards until CUDA runs out of memory);
#  3. images/s of M, L and the v2 presets at their resolutions.
# Results land in $OUT (bench-*.json, speed.txt). From the repository root:
#   OUT=/tmp/gpu bash benchmarks/gpu_speed.sh
set -u
OUT=${OUT:?set OUT}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1
B="python3 benchmarks/bench.py --repeats 3 --n-critic 1 --penalty-every 4"
{
  nvidia-smi -L
  timeout 120 python3 benchmarks/bench.py --sync-check --preset transgan_s --preset transgan_xl \
    --batch 64 --n-critic 1 --penalty-every 4
  for preset in transgan_s transgan_xl; do
    for batch in 64 256 1024; do
      timeout 150 $B --preset $preset --batch $batch --configs auto \
        --json "$OUT/bench-$preset-$batch.json" || echo "$preset batch $batch: did not fit or timed out"
    done
    timeout 200 $B --preset $preset --batch 256 --configs auto --compile \
      --json "$OUT/bench-$preset-256-compile.json"
  done
  for preset in transgan_m transgan_l transgan2_cifar10 transgan2_stl10; do
    timeout 120 $B --preset $preset --batch 128 --configs auto --json "$OUT/bench-$preset.json"
  done
} 2>&1 | tee "$OUT/speed.txt"
