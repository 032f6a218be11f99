#!/usr/bin/env bash
# One GPU session's measurements in one command (developer use; CI has no GPU).
#
#   bash tools/dev/gpu_session.sh [SECONDS]        # on the device machine, from the repo root
#
# Prepare here first (the device image has torch + torchvision but no mmcv / mmengine /
# mmdet, and Python 3.12):  bash tools/dev/gpu_session.sh --download-wheels
# then run it there with the wheels and the toy set carried (`.whl`, `data/toy_hard`).
# Within SECONDS (default 540) it runs, logging to $OUT/session.log:
#   1. tools/dev/gpu_checks.py: CUDA == CPU for every 1-bit conv, RBO wrapper steps, AMP,
#      then benchmark_rbo.py fp32 and AMP at 32x3x224x224 (RBO / ReAct step ratios)
#      and --weight-side (the binary convs' weight work alone, fp32);
#   2. benchmark_train_step.py fp32 and AMP: full 1-bit Faster R-CNN at 1000x600,
#      batch 2 (RBONN, ReActNet, real twin; s/iter and peak memory); then
#      benchmark_rbo.py --compile-weight-math (eager step, RBONN's weight math compiled;
#      the step and the weight side alone)
#      and --compile reduce-overhead (COMPILE_MODE): the captured step's ratio;
#   3. with the time left, the toy accuracy protocol with every method and 3 seeds
#      trained at once on the GPU (TOY_EPOCHS, default 8), packed into $OUT/toy_gpu.tgz
#      (curves of unfinished runs included: their scalars.json holds every epoch done).
# RoIAlign / NMS run on torchvision there (tools/dev/device_site/sitecustomize.py).
# Environment knobs (defaults are the GPU session's): PYTHON, DEVICE, SKIP_WHEELS,
# SKIP_CHECKS, BENCH_ARGS, TRAIN_STEP_ARGS, COMPILE_MODE, COMPILE_BACKEND, TOY_EPOCHS, TOY_JOBS, TOY_DATA, TOY_WORK,
# TOY_ARGS. tests/test_gpu_session.py dry-runs it on the CPU with small sizes.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--download-wheels" ]; then
    P="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp -d .whl"
    for n in 28 27 24 17; do P="$P --platform manylinux_2_${n}_x86_64"; done
    for pkg in mmengine==0.10.7 mmdet==3.3.0 mmcv-lite==2.1.0 pycocotools==2.0.11 \
               terminaltables==3.1.10 addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 \
               shapely==2.2.0 platformdirs; do
        python3 -m pip download -q $P --platform manylinux2014_x86_64 "$pkg" || exit 1
    done
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    exit 0
fi
BUDGET=${1:-540}
START=$(date +%s)
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
exec > >(tee -a "$OUT/session.log") 2>&1
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/tools/dev/device_site:$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
BENCH=${BENCH_ARGS:---batch 32 --size 224 --steps 20 --warmup 5}
echo "== 1. gpu_checks + benchmark_rbo ($(left) s left)"
[ -z "${SKIP_CHECKS:-}" ] && timeout 200 $PY tools/dev/gpu_checks.py ${DEVICE:+--device $DEVICE} \
    --bench "$BENCH" --bench "$BENCH --weight-side" --bench "$BENCH --amp"
echo "== 2. benchmark_train_step ($(left) s left)"
STEP=${TRAIN_STEP_ARGS:---steps 10 --warmup 3}
timeout 120 $PY tools/analysis/benchmark_train_step.py $STEP
timeout 120 $PY tools/analysis/benchmark_train_step.py $STEP --amp
timeout 150 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --compile-weight-math
timeout 120 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --weight-side --compile-weight-math
timeout 180 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --compile "${COMPILE_MODE:-reduce-overhead}" ${COMPILE_BACKEND:+--compile-backend $COMPILE_BACKEND}
TOY_TIME=$(( $(left) - 30 ))
TOY_WORK=${TOY_WORK:-work_dirs/toy_benchmark_gpu}
echo "== 3. toy protocol, ${TOY_EPOCHS:-8} epochs, every method x 3 seeds at once (${TOY_TIME} s)"
if [ "$TOY_TIME" -gt 60 ]; then
    timeout "$TOY_TIME" $PY tools/analysis/toy_benchmark.py --epochs "${TOY_EPOCHS:-8}" \
        --jobs "${TOY_JOBS:-21}" --data-root "${TOY_DATA:-data/toy_hard}" \
        --work-dir "$TOY_WORK" ${TOY_ARGS:-}
    echo "toy protocol exit status $?"
    pkill -f tools/train.py
    sleep 2
    tar czf "$OUT/toy_gpu.tgz" --exclude='*.pth' -C "$(dirname "$TOY_WORK")" "$(basename "$TOY_WORK")"
fi
echo "== done in $(( $(date +%s) - START )) s"
