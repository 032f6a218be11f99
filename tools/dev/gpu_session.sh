#!/usr/bin/env bash
# One GPU session's measurements in one command (developer use; CI has no GPU).
#
#   bash tools/dev/gpu_session.sh [SECONDS]        # on the device machine, from the repo root
#
# Prepare here first (the device image has torch 2.11+cu130 + torchvision but no mmcv /
# mmengine / mmdet, and Python 3.12):  bash tools/dev/gpu_session.sh --download-wheels
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
# mmcv 2.1.0 with its CUDA ops is installed there the documented way (tools/install/build_mmcv.py).
# Environment knobs (defaults are the GPU session's): PYTHON, DEVICE, SKIP_WHEELS,
# SKIP_CHECKS, NO_TIME_LIMITS, BENCH_ARGS, TRAIN_STEP_ARGS, COMPILE_MODE, COMPILE_BACKEND, TOY_EPOCHS, TOY_JOBS, TOY_DATA, TOY_WORK,
# TOY_ARGS. tests/test_gpu_session.py dry-runs it on the CPU with small sizes.
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ "${1:-}" = "--download-wheels" ]; then
    # what the documented existing-environment install (docs/install.md) needs there and the
    # device image lacks (it has no package index): mmengine, mmdet and their small missing
    # dependencies, the mmcv 2.1.0 sdist and build tools (setuptools < 70, wheel, ninja), and
    # mmcv's CUDA wheel for the image's stack where this machine has built it
    # (make test-compat ROWS=py3.12-torch2.11.0), as a wheel cache build_mmcv.py reads
    P="--no-deps --only-binary=:all: --python-version 3.12 --implementation cp -d .whl"
    for n in 28 27 24 17; do P="$P --platform manylinux_2_${n}_x86_64"; done
    for pkg in mmengine==0.10.7 mmdet==3.3.0 pycocotools==2.0.11 terminaltables==3.1.10 \
               addict==2.4.0 yapf==0.43.0 termcolor==3.3.0 shapely==2.2.0 platformdirs \
               "setuptools<70" wheel ninja; do
        python3 -m pip download -q $P --platform manylinux2014_x86_64 "$pkg" || exit 1
    done
    # the sdist's metadata step imports pkg_resources: setuptools < 70 (+ wheel) beside it
    python3 -m pip install -q --target /tmp/rbonn_st "setuptools<70" wheel || exit 1
    PYTHONPATH=/tmp/rbonn_st python3 -m pip download -q --no-deps --no-binary :all: \
        --no-build-isolation mmcv==2.1.0 -d .whl || exit 1
    KEY=py3.12-torch2.11.0+cu130-cu130-sm90
    CACHE="${RBONN_WHEEL_CACHE:-$HOME/.cache/rbonn_det/wheels}/mmcv-2.1.0/$KEY"
    if ls "$CACHE"/*.whl >/dev/null 2>&1; then
        mkdir -p ".whl/wheel-cache/mmcv-2.1.0/$KEY" && cp "$CACHE"/*.whl ".whl/wheel-cache/mmcv-2.1.0/$KEY/"
    fi
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo /.whl/ >> .git/info/exclude
    du -sh .whl
    exit 0
fi
BUDGET=${1:-540}
START=$(date +%s)
OUT=${OUT:-/tmp/gpu_session}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
exec > >(tee -a "$OUT/session.log") 2>&1
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
# NO_TIME_LIMITS=1 (the CPU dry run): no step timeouts, the toy step runs whatever the
# budget left, so the dry run checks the plumbing and not the machine's speed
limit() { if [ -n "${NO_TIME_LIMITS:-}" ]; then shift; "$@"; else timeout "$@"; fi; }
if [ -d .whl ] && [ -z "${SKIP_WHEELS:-}" ]; then
    # docs/install.md, "An existing OpenMMLab environment", offline: the image's torch stays
    # the build tools (setuptools < 70, wheel, ninja) are build_mmcv.py's own (--find-links)
    $PY -m pip install -q --no-index --no-deps \
        $(ls .whl/*.whl | grep -v -e '/setuptools-' -e '/wheel-' -e '/ninja-') || exit 1
    RBONN_WHEEL_CACHE="$PWD/.whl/wheel-cache" $PY tools/install/build_mmcv.py --device cuda \
        --sdist .whl/mmcv-2.1.0.tar.gz --find-links .whl || exit 1
    $PY -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 1
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
BENCH=${BENCH_ARGS:---batch 32 --size 224 --steps 20 --warmup 5}
echo "== 1. gpu_checks + benchmark_rbo ($(left) s left)"
[ -z "${SKIP_CHECKS:-}" ] && limit 200 $PY tools/dev/gpu_checks.py ${DEVICE:+--device $DEVICE} \
    --bench "$BENCH" --bench "$BENCH --weight-side" --bench "$BENCH --amp"
echo "== 2. benchmark_train_step ($(left) s left)"
STEP=${TRAIN_STEP_ARGS:---steps 10 --warmup 3}
limit 120 $PY tools/analysis/benchmark_train_step.py $STEP
limit 120 $PY tools/analysis/benchmark_train_step.py $STEP --amp
limit 150 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --compile-weight-math
limit 120 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --weight-side --compile-weight-math
limit 180 $PY tools/analysis/benchmark_rbo.py ${DEVICE:+--device $DEVICE} $BENCH \
    --compile "${COMPILE_MODE:-reduce-overhead}" ${COMPILE_BACKEND:+--compile-backend $COMPILE_BACKEND}
TOY_TIME=$(( $(left) - 30 ))
[ -n "${NO_TIME_LIMITS:-}" ] && TOY_TIME=86400
TOY_WORK=${TOY_WORK:-work_dirs/toy_benchmark_gpu}
echo "== 3. toy protocol, ${TOY_EPOCHS:-8} epochs, every method x 3 seeds at once (${TOY_TIME} s)"
if [ "$TOY_TIME" -gt 60 ]; then
    limit "$TOY_TIME" $PY tools/analysis/toy_benchmark.py --epochs "${TOY_EPOCHS:-8}" \
        --jobs "${TOY_JOBS:-21}" --data-root "${TOY_DATA:-data/toy_hard}" \
        --work-dir "$TOY_WORK" ${TOY_ARGS:-}
    echo "toy protocol exit status $?"
    pkill -f tools/train.py
    sleep 2
    tar czf "$OUT/toy_gpu.tgz" --exclude='*.pth' -C "$(dirname "$TOY_WORK")" "$(basename "$TOY_WORK")"
fi
echo "== done in $(( $(date +%s) - START )) s"
