#!/usr/bin/env bash
# The GPU checks of one lent session, in one call (about 8 minutes):
#  1. the sync check: train iterations under torch.cuda.set_sync_debug_mode("error"),
#     TransGAN S and XL and the ViTGAN CIFAR-10 pair;
#  2. bench.py at batch 64 (math+fp32 baseline and auto) for S, XL and vitgan_cifar10, and
#     at batch 256 for XL and vitgan_cifar10, lazy R1 (--penalty-every 4), n_critic 1;
#  3. a short ViTGAN training run on CUDA (the digits: no download).
# Results land in $OUT (gpu.txt, bench-*.json). From the repository root:
#   OUT=/tmp/gpu bash benchmarks/gpu_round.sh
set -u
OUT=${OUT:?set OUT}
export PYTHONPATH=$PWD/src PYTHONUNBUFFERED=1 TRANSGAN_CACHE=/tmp/tgc
B="python3 benchmarks/bench.py --repeats 3 --n-critic 1 --penalty-every 4 --configs auto"
{
  nvidia-smi -L
  python3 -c "import torch; print('torch', torch.__version__)"
  timeout 100 python3 benchmarks/bench.py --sync-check --preset transgan_s --preset transgan_xl \
    --preset vitgan_cifar10 --batch 64 --n-critic 1 --penalty-every 4
  timeout 170 $B --preset transgan_s --preset transgan_xl --preset vitgan_cifar10 --batch 64 \
    --json "$OUT/bench-64.json"
  timeout 130 $B --preset transgan_xl --preset vitgan_cifar10 --batch 256 \
    --json "$OUT/bench-256.json"
  timeout 80 python3 -m transgan train --model vitgan_digits --data digits --kimg 4 --tick 2 \
    --device cuda --workers 0 --out /tmp/vitgan-cuda
} 2>&1 | tee "$OUT/gpu.txt"
