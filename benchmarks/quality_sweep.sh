#!/usr/bin/env bash
# A sweep of digits recipes at equal kimg, many runs in parallel (one GPU or many cores):
# which choices learn fastest per image. Results: OUT/sweep.jsonl (one line per evaluation).
#   bash benchmarks/quality_sweep.sh OUT_DIR [KIMG] [DEVICE] [SET]
# SET: "first" (loss, optimiser, augmentation, G/D hybrids) or "d" (the transformer D with R1).
# RUN_TIMEOUT (seconds, env) ends each run; its evaluations so far are kept.
set -u
OUT=${1:?out dir}; KIMG=${2:-80}; DEVICE=${3:-cuda}; SET=${4:-first}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
COMMON="--data digits --batch 64 --g-batch 64 --n-critic 1 --lr-g 2e-4 --lr-d 2e-4 --tick 10
  --snap 100000 --metrics dfid2k,dcov2k --metrics-every 10 --precision fp32 --workers 0
  --device $DEVICE --grid-size 64"
AT="--augment translation --translation 0.125"
DC="--loss logistic --r1-gamma 0 --beta1 0.5 --beta2 0.999 --augment none"
# the v1 digits G inside the v2 preset, so that the multi-scale D can be varied
V1G="--model transgan2_tiny --set g_latent_dim=64 --set g_dim=128 --set g_depths=(2,1,1)
  --set g_upsample=('pixel','pixel') --set g_windows=(0,0,0) --set g_rel_bias=False
  --set g_noise=False"
MSD="--set d_scale_dims=(48,16) --set d_depths=(2,2) --set d_windows=(0,0) --set d_noise=False"
run() {  # name seed kimg args...
  local name=$1 seed=$2 kimg=$3; shift 3
  TORCH_HOME="$OUT/home-$name-$seed" timeout -s INT "${RUN_TIMEOUT:-0}" \
    $PY -m transgan train $COMMON --seed "$seed" \
    --kimg "$kimg" --run-dir "$OUT/$name-s$seed" "$@" > "$OUT/$name-s$seed.log" 2>&1
  echo "$name $seed rc=$?"
}
D=transgan_digits
R1="--loss logistic --r1-gamma 0.1 --penalty-every 4"
first() {
run demo 0 $KIMG --model $D --loss hinge &
run demo 1 $KIMG --model $D --loss hinge &
run hinge-t 0 $KIMG --model $D --loss hinge $AT &
run hinge-none 0 $KIMG --model $D --loss hinge --augment none &
run hinge-t-tanh 0 $KIMG --model $D --loss hinge $AT --set g_output=tanh &
run ns-t 0 $KIMG --model $D --loss logistic --r1-gamma 0 $AT &
run r1-0.1-t 0 $KIMG --model $D --loss logistic --r1-gamma 0.1 --penalty-every 4 $AT &
run r1-1-t 0 $KIMG --model $D --loss logistic --r1-gamma 1 --penalty-every 4 $AT &
run wgan-t 0 $KIMG --model $D --loss wgangp-eps $AT &
run hinge-t-b05 0 $KIMG --model $D --loss hinge $AT --beta1 0.5 --beta2 0.999 &
run hinge-t-lr1 0 $KIMG --model $D --loss hinge $AT --lr-g 1e-4 --lr-d 1e-4 &
run hinge-t-dlr 0 $KIMG --model $D --loss hinge $AT --lr-d 1e-4 &
run hinge-t-b32 0 $KIMG --model $D --loss hinge $AT --batch 32 --g-batch 32 &
run hinge-t-p4 0 $KIMG --model $D --loss hinge $AT --set d_patch_size=4 &
run hinge-t-d128 0 $KIMG --model $D --loss hinge $AT --set d_dim=128 &
run hinge-t-bicubic 0 $KIMG --model $D --loss hinge $AT "--set=g_upsample=('bicubic','pixel')" &
run hinge-t-ema-short 0 $KIMG --model $D --loss hinge $AT --ema-kimg 1 --ema-rampup 0 &
run dcgan 0 $((2 * KIMG)) --recipe digits-dcgan &
run dcgan 1 $((2 * KIMG)) --recipe digits-dcgan &
run tg-cd 0 $KIMG --model $D --set d_arch=dcgan $DC &
run cg-td 0 $KIMG --model $D --set g_arch=dcgan $DC &
run tg-td-dc 0 $KIMG --model $D $DC &
run ms-hinge-t 0 $KIMG $V1G $MSD --loss hinge $AT &
run ms-rel-hinge-t 0 $KIMG $V1G $MSD --set d_rel_bias=True --loss hinge $AT &
run ms-ov-hinge-t 0 $KIMG $V1G $MSD --set d_overlap_first=True --loss hinge $AT &
run ms-r1-t 0 $KIMG $V1G $MSD --loss logistic --r1-gamma 0.1 --penalty-every 4 $AT &
run ms-ov-r1-t 0 $KIMG $V1G $MSD --set d_overlap_first=True --loss logistic --r1-gamma 0.1 --penalty-every 4 $AT &
run cg-msd-dc 0 $KIMG --model transgan2_tiny $MSD --set g_arch=dcgan $DC &
}
d() {
run r1 0 $KIMG --model $D $R1 $AT &
run r1 1 $KIMG --model $D $R1 $AT &
run r1-g0.03 0 $KIMG --model $D --loss logistic --r1-gamma 0.03 --penalty-every 4 $AT &
run r1-dlr1 0 $KIMG --model $D $R1 $AT --lr-d 1e-4 &
run r1-b05 0 $KIMG --model $D $R1 $AT --beta1 0.5 &
run r1-none 0 $KIMG --model $D $R1 --augment none &
run r1-tc 0 $KIMG --model $D $R1 --augment translation,cutout --translation 0.125 &
run r1-p4 0 $KIMG --model $D $R1 $AT --set d_patch_size=4 &
run r1-tanh 0 $KIMG --model $D $R1 $AT --set g_output=tanh &
run r1-nc2 0 $KIMG --model $D $R1 $AT --n-critic 2 &
run r1-lr4 0 $KIMG --model $D $R1 $AT --lr-g 4e-4 --lr-d 4e-4 &
run ms-r1 0 $KIMG $V1G $MSD $R1 $AT &
run ms-r1 1 $KIMG $V1G $MSD $R1 $AT &
run ms11-r1 0 $KIMG $V1G $MSD "--set=d_depths=(1,1)" $R1 $AT &
run ms96-r1 0 $KIMG $V1G $MSD "--set=d_scale_dims=(96,32)" "--set=d_depths=(1,1)" $R1 $AT &
run wgan-t 1 $KIMG --model $D --loss wgangp-eps $AT &
run tg-cd 1 $KIMG --model $D --set d_arch=dcgan $DC &
}
$SET
wait
$PY - "$OUT" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
rows = []
for run in sorted(glob.glob(os.path.join(out, "*-s[0-9]"))):
    name = os.path.basename(run)
    res = {}
    for path in glob.glob(os.path.join(run, "metric-*.jsonl")):
        for line in open(path):
            r = json.loads(line)
            res.setdefault(r["kimg"], {}).update(r["results"])
    stats = [json.loads(l) for l in open(os.path.join(run, "stats.jsonl"))] if os.path.exists(os.path.join(run, "stats.jsonl")) else []
    for kimg, vals in sorted(res.items()):
        rows.append({"run": name, "kimg": kimg, **vals})
    if stats:
        rows.append({"run": name, "final_stats": stats[-1]})
with open(os.path.join(out, "sweep.jsonl"), "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
for r in rows:
    if "dfid2k" in r:
        print(f"{r['run']:<22}{r['kimg']:>7.1f}  dfid {r['dfid2k']:8.1f}  cov {r.get('dcov2k', 0):.1f} conf {r.get('dcov2k_confident', 0):.2f}")
PY
