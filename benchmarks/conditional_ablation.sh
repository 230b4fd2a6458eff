#!/usr/bin/env bash
# The conditioning ablation of docs/conditional.md: `digits-demo --cond` with the class
# entering G by adaptive norms in every block (adanorm), through z (latent) or both, and the
# unconditional recipe, 3 seeds each, at the kimg that `make demo` reaches (82 kimg in its
# 400 s on 2 CPU cores). Many runs in parallel (one GPU, or many cores):
#   [SEEDS="0 1 2"] [MODES="adanorm latent both uncond"] \
#   bash benchmarks/conditional_ablation.sh OUT_DIR [KIMG] [DEVICE] [EXTRA TRAIN ARGS...]
# Results: OUT_DIR/*/metric-*.jsonl (dacc2k: conditional accuracy; dfid2k, dcov2k).
set -u
OUT=${1:?out dir}; KIMG=${2:-82}; DEVICE=${3:-cuda}
shift $(($# < 3 ? $# : 3)); EXTRA=("$@")
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
COMMON="--recipe digits-demo --tick 10 --snap 100000 --metrics-every 20 --workers 0
  --device $DEVICE --precision fp32"
run() {  # name seed args...
  local name=$1 seed=$2; shift 2
  TORCH_HOME="$OUT/home-$name-$seed" timeout -s INT "${RUN_TIMEOUT:-0}" \
    $PY -m transgan train $COMMON --seed "$seed" --kimg "$KIMG" \
    --run-dir "$OUT/$name-s$seed" "$@" "${EXTRA[@]}" > "$OUT/$name-s$seed.log" 2>&1
  echo "$name $seed rc=$?"
}
SEEDS=${SEEDS:-0 1 2}; MODES=${MODES:-adanorm latent both uncond}
for seed in $SEEDS; do
  for mode in $MODES; do
    if [ "$mode" = uncond ]; then
      run uncond "$seed" --metrics dfid2k,dcov2k &
    else
      run "$mode" "$seed" --cond --set "g_cond=$mode" --metrics dacc2k,dfid2k,dcov2k &
    fi
  done
done
wait
