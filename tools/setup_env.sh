#!/usr/bin/env bash
# One home for the environment: creates .venv (Python 3.11) with torch 2.13.0 CPU,
# mmengine 0.10.7, mmcv 2.1.0 (compiled ops, built once and cached as a wheel),
# mmdet 3.3.0, pycocotools, this project in editable mode, and its small C++ kernel. Idempotent: a second
# run only verifies. Called by `make setup` (and so by `make test` / `make demo`).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RBONN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"
TORCH_VERSION="2.13.0"
MMCV_VERSION="2.1.0"
# The mmcv wheel is ABI-bound to the torch it was compiled against: key the cache on both.
WHEEL_CACHE="${RBONN_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rbonn_det/wheels}/torch-$TORCH_VERSION"
STAMP="$VENV/.rbonn_setup_done"

step() { echo "[setup] $*"; }
fail() {
    echo "[setup] FAILED at step: $1" >&2
    echo "[setup] fix: $2" >&2
    exit 1
}

verify() {
    "$VENV/bin/python" -W ignore::DeprecationWarning - <<'PY'
import torch, mmengine, mmcv, mmdet
from mmcv.ops import RoIAlign, batched_nms  # compiled ops must be present
import rbonn_det, rbonn_det.registry
import pkg_resources  # mmengine resolves `mmdet::` configs with it (setuptools<70)
print(f"[setup] ok: torch {torch.__version__}, mmengine {mmengine.__version__}, "
      f"mmcv {mmcv.__version__} (ops), mmdet {mmdet.__version__}, rbonn_det {rbonn_det.__version__}")
PY
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(sha1sum "$ROOT/setup.py" "$0" | sha1sum)" ]; then
    verify && exit 0
    step "existing venv failed verification; reinstalling"
fi

command -v "$PYTHON" >/dev/null || fail "find $PYTHON" "install Python 3.11 or set PYTHON=/path/to/python3.11"
if [ ! -x "$VENV/bin/python" ]; then
    step "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV" || fail "python -m venv" "install the venv module (apt-get install python3.11-venv)"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

step "installing torch==$TORCH_VERSION (CPU build; pinned so pip never resolves a CUDA build)"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" || fail "pip install torch==$TORCH_VERSION" \
    "the CPU wheel must be reachable (local /opt/wheels or PyPI); never install unpinned torch"

step "installing build tools and pure-Python dependencies"
# setuptools<70: mmcv 2.1.0's setup.py imports pkg_resources, gone from newer setuptools.
# onnx, onnxruntime: the optional [deploy] extra, installed here so the suite tests export.
"${PIP[@]}" install -q "setuptools<70" wheel ninja "numpy<2.3" "mmengine==0.10.7" \
    "pycocotools>=2.0.8" "opencv-python-headless>=4.8" pytest \
    "onnx>=1.16" "onnxruntime>=1.18" \
    || fail "pip install dependencies" "check network access to the package index"

if "$VENV/bin/python" -c "import mmcv, sys; from mmcv.ops import RoIAlign; sys.exit(mmcv.__version__ != '$MMCV_VERSION')" 2>/dev/null; then
    step "mmcv $MMCV_VERSION with ops already installed"
else
    WHEEL=$(ls "$WHEEL_CACHE"/mmcv-"$MMCV_VERSION"-*.whl 2>/dev/null | head -n1 || true)
    if [ -n "$WHEEL" ]; then
        step "mmcv: using cached wheel $WHEEL (no build needed)"
    else
        step "mmcv: no cached wheel in $WHEEL_CACHE; building mmcv==$MMCV_VERSION with compiled ops"
        step "      (about 11 minutes on 2 cores; only the first run on a machine pays this)"
        mkdir -p "$WHEEL_CACHE"
        BUILD_DIR=$(mktemp -d)
        MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
            "${PIP[@]}" wheel "mmcv==$MMCV_VERSION" --no-build-isolation --no-deps --no-binary mmcv \
            -w "$BUILD_DIR" || fail "build mmcv==$MMCV_VERSION" \
            "needs gcc/g++ and Python headers; see the compiler error above"
        mv "$BUILD_DIR"/mmcv-*.whl "$WHEEL_CACHE"/
        rm -rf "$BUILD_DIR"
        WHEEL=$(ls "$WHEEL_CACHE"/mmcv-"$MMCV_VERSION"-*.whl | head -n1)
        step "mmcv: wheel cached at $WHEEL"
    fi
    "${PIP[@]}" install -q "$WHEEL" || fail "install $WHEEL" "delete $WHEEL_CACHE and rerun to rebuild"
fi

step "installing mmdet 3.3.0 and rbonn_det (editable)"
"${PIP[@]}" install -q "mmdet==3.3.0" || fail "pip install mmdet==3.3.0" "check network access"
# --no-deps: every dependency is pinned above; resolving torch again would pull
# setuptools>=77 (torch's metadata), which drops pkg_resources, which mmengine's
# config loader needs for `mmdet::` base configs.
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT" || fail "pip install -e ." "see the error above"

step "verifying imports"
verify || fail "import check" "run 'rm -rf $VENV' and 'make setup' again; if mmcv.ops fails, delete $WHEEL_CACHE"

step "XNOR-popcount CPU kernel (rbonn_det/deploy/bitconv.py; built once per checkout, ~40 s)"
"$VENV/bin/python" -c "from rbonn_det.deploy.bitconv import load_extension; load_extension()" \
    || fail "build the bit-packed conv extension" "needs g++ and ninja; see the compiler error above (tools that do not use --bit-kernels work without it)"
sha1sum "$ROOT/setup.py" "$0" | sha1sum > "$STAMP"
