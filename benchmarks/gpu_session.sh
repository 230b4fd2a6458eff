#!/usr/bin/env bash
# One prepared GPU session (a lent machine with PyTorch but without this package's pins):
# the digits quality sweep, bench.py at S and XL (with and without --compile), and the v2
# scaling table. Results land in $OUT. Run from the repository root:
#   OUT=/tmp/gpu bash benchmarks/gpu_session.sh
set -u
OUT=${OUT:?set OUT}
if ls .whl/*.whl >/dev/null 2>&1; then  # torch-fidelity travels as a wheel
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=/tmp/site:$PWD/src PYTHONUNBUFFERED=1 TRANSGAN_CACHE=/tmp/tgc
nvidia-smi -L | tee "$OUT/device.txt"
python3 -c "import torch; print(torch.__version__)" | tee -a "$OUT/device.txt"
python3 -c "from transgan.evaluation import digits as d; d.classifier_path(); print('digits classifier', d.test_accuracy())" | tee -a "$OUT/device.txt"
timeout 170 bash benchmarks/quality_sweep.sh /tmp/sweep 80 cuda > "$OUT/sweep.txt" 2>&1
cp /tmp/sweep/sweep.jsonl "$OUT/" 2>/dev/null
(cd /tmp/sweep && tar czf "$OUT/grids.tgz" */fakes000080.png */fakes000160.png 2>/dev/null)
timeout 170 python3 benchmarks/bench.py --preset transgan_s --preset transgan_xl --batch 64 \
  --repeats 3 --json "$OUT/bench.json" > "$OUT/bench.txt" 2>&1
timeout 140 python3 benchmarks/bench.py --preset transgan_s --preset transgan_xl --batch 64 \
  --repeats 3 --compile --configs sdpa+bf16 >> "$OUT/bench.txt" 2>&1
timeout 90 python3 benchmarks/scaling.py --device cuda --batch 16 --sizes 32,64,128,256 \
  --grids 32,64,128,256 --max-global-grid 128 --stage-batch 4 --bf16 \
  --json "$OUT/scaling.json" > "$OUT/scaling.txt" 2>&1
tail -n 40 "$OUT/sweep.txt"; cat "$OUT/bench.txt" "$OUT/scaling.txt"
