#!/usr/bin/env bash
# One home for the embedded default environment (`make setup`; so `make test`, `make demo`):
# .venv (Python 3.11) with the exact versions of requirements/embedded.txt — torch 2.13.0,
# mmengine 0.10.7, mmcv 2.1.0 with compiled ops (tools/install/build_mmcv.py: built once,
# cached as a wheel), mmdet 3.3.0 — then this project the way every environment gets it
# (`pip install -v -e .`), then its small C++ kernel. Idempotent: a second run only verifies.
#
#   RBONN_DEVICE=auto|cpu|cuda   auto (default): cuda when nvidia-smi lists a GPU. cuda:
#                                torch's CUDA build and mmcv's CUDA ops (nvcc needed; see
#                                docs/install.md, "A GPU machine").
#   RBONN_VENV, PYTHON, RBONN_WHEEL_CACHE, TORCH_CUDA_ARCH_LIST, CUDA_HOME, MAX_JOBS
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RBONN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
CONSTRAINTS="$ROOT/requirements/embedded.txt"
STAMP="$VENV/.rbonn_setup_done"

step() { echo "[setup] $*"; }
fail() {
    echo "[setup] FAILED at step: $1" >&2
    echo "[setup] fix: $2" >&2
    exit 1
}

DEVICE="${RBONN_DEVICE:-auto}"
if [ "$DEVICE" = auto ]; then
    DEVICE=cpu
    if command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
        DEVICE=cuda
    fi
fi
case "$DEVICE" in cpu|cuda) ;; *) fail "RBONN_DEVICE=$DEVICE" "use auto, cpu or cuda";; esac

verify() {
    RBONN_DEVICE="$DEVICE" "$VENV/bin/python" -W "ignore:pkg_resources is deprecated" - <<'PY'
import os, sys
import torch, mmengine, mmcv, mmdet
from mmcv.ops import RoIAlign, batched_nms, get_compiling_cuda_version  # compiled ops
import rbonn_det, rbonn_det.registry
import pkg_resources  # mmengine resolves `mmdet::` configs with it (setuptools<70)
cuda_ops = get_compiling_cuda_version()
if os.environ['RBONN_DEVICE'] == 'cuda' and (torch.version.cuda is None or cuda_ops == 'not available'):
    sys.exit(f'[setup] torch {torch.__version__} (CUDA {torch.version.cuda}) / mmcv CUDA ops '
             f'{cuda_ops}: not a CUDA environment')
print(f"[setup] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, "
      f"mmcv {mmcv.__version__} (ops; CUDA: {cuda_ops}), mmdet {mmdet.__version__}, "
      f"rbonn_det {rbonn_det.__version__}")
PY
}

fingerprint() {
    { echo "$DEVICE"; cat "$ROOT/setup.py" "$ROOT"/requirements/*.txt "$0" \
        "$ROOT/tools/install/build_mmcv.py"; } | sha1sum
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(fingerprint)" ]; then
    verify && exit 0
    step "existing venv failed verification; reinstalling"
fi

command -v "$PYTHON" >/dev/null || fail "find $PYTHON" "install Python 3.11 or set PYTHON=/path/to/python3.11"
if [ ! -x "$VENV/bin/python" ]; then
    step "creating virtual environment $VENV ($DEVICE)"
    "$PYTHON" -m venv "$VENV" || fail "python -m venv" "install the venv module (apt-get install python3.11-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "installing torch (requirements/embedded.txt: $(grep '^torch' "$CONSTRAINTS"))"
"${PIP[@]}" install -q -c "$CONSTRAINTS" torch || fail "pip install torch" \
    "the torch wheel must be reachable (a local wheel folder or the package index)"
is_cpu_torch() { "$VENV/bin/python" -c "import sys, torch; sys.exit(torch.version.cuda is not None)" 2>/dev/null; }
if [ "$DEVICE" = cuda ] && is_cpu_torch; then
    # a local CPU wheel (this kind of machine's pip configuration) was taken: PyPI's wheel
    # of the same version is the CUDA build (pip --isolated skips the local wheel folder)
    step "torch is a CPU build; installing PyPI's CUDA build of the same version (several GB)"
    "${PIP[@]}" --isolated install -q --force-reinstall -c "$CONSTRAINTS" torch \
        || fail "pip install torch (CUDA build)" "check network access to the package index"
    if is_cpu_torch; then
        fail "torch with CUDA" "pip still gives a CPU build of torch; install a CUDA build into $VENV by hand, or set RBONN_DEVICE=cpu"
    fi
fi

step "installing build tools and pure-Python dependencies"
# onnx, onnxruntime: the optional [deploy] extra, installed here so the suite tests export.
"${PIP[@]}" install -q -c "$CONSTRAINTS" setuptools wheel ninja numpy mmengine pycocotools \
    opencv-python-headless pytest onnx onnxruntime \
    || fail "pip install dependencies" "check network access to the package index"

if "$VENV/bin/python" -c "import mmcv, sys; from mmcv.ops import RoIAlign, get_compiling_cuda_version as v; \
sys.exit(mmcv.__version__ != '2.1.0' or ('$DEVICE' == 'cuda' and v() == 'not available'))" 2>/dev/null; then
    step "mmcv 2.1.0 with ops already installed"
else
    step "mmcv 2.1.0 with $DEVICE ops (tools/install/build_mmcv.py: cached wheel, or built once)"
    "$VENV/bin/python" "$ROOT/tools/install/build_mmcv.py" --device "$DEVICE" \
        || fail "mmcv 2.1.0 with compiled ops" "the line above names the cause; docs/install.md"
fi

step "installing mmdet and rbonn_det (pip install -v -e ., editable)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" mmdet || fail "pip install mmdet" "check network access"
# --no-build-isolation: the venv's setuptools<70 builds it (an isolated build would fetch
# setuptools from the index on every run); the constraints keep the venv as it is
"${PIP[@]}" install -q -c "$CONSTRAINTS" --no-build-isolation -e "$ROOT" \
    || fail "pip install -e ." "see the error above"

step "mmdeploy 1.3.1: the [mmdeploy] extra's dependencies, then mmdeploy --no-deps (docs/deploy.md)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r "$ROOT/requirements/mmdeploy.txt" \
    && "${PIP[@]}" install -q -c "$CONSTRAINTS" --no-deps mmdeploy \
    || fail "pip install mmdeploy" "check network access to the package index"

step "the [analysis] extra: seaborn, tensorboard (docs/ecosystem.md)"
"${PIP[@]}" install -q -c "$CONSTRAINTS" -r "$ROOT/requirements/analysis.txt" \
    || fail "pip install seaborn tensorboard" "check network access to the package index"

step "verifying imports"
verify || fail "import check" "run 'rm -rf $VENV' and 'make setup' again; if mmcv.ops fails, delete the cached wheel build_mmcv.py names"

step "XNOR-popcount CPU kernel (rbonn_det/deploy/bitconv.py; built once per checkout, ~40 s)"
"$VENV/bin/python" -c "from rbonn_det.deploy.bitconv import load_extension; load_extension()" \
    || fail "build the bit-packed conv extension" "needs g++ and ninja; see the compiler error above (tools that do not use --bit-kernels work without it)"
fingerprint > "$STAMP"
