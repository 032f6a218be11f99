#!/usr/bin/env bash
# The support matrix of docs/install.md, row by row (`make test-compat`; developer use).
#
#   bash tools/install/test_compat.sh [ROW ...]     # default: every row of compat_matrix.txt
#
# For each row: an environment as a user has it before installing us (a venv under
# $RBONN_COMPAT_ENVS, default ~/.cache/rbonn_det/envs/ROW: the row's Python and torch from the
# package index, mmcv 2.1.0 with ops from tools/install/build_mmcv.py, mmengine, mmdet 3.3.0),
# then this project the documented way (`pip install -v -e .`), checking that torch, mmcv,
# mmengine, mmdet and numpy are unchanged by it; then the compat tests of the row
# (COMPAT_TESTS below: the numeric tests of RBO / the baselines / packing / safe loading /
# ONNX, and the shipped COCO Faster R-CNN's journey: train 1 epoch with validation, then
# tools/test.py, on real-layout data). Each row ends with one result line (also appended to
# $RBONN_COMPAT_ENVS/results.tsv), the source of the matrix in docs/install.md.
# Environments and mmcv wheels are cached: only the first run of a row pays the downloads
# (0.5-3 GB of torch + nvidia wheels) and the mmcv build (~11 min CPU ops on 2 cores).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MATRIX="$ROOT/tools/install/compat_matrix.txt"
ENVS="${RBONN_COMPAT_ENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/rbonn_det/envs}"
COMPAT_TESTS=(tests/test_binary_ops.py tests/test_rbo_optim.py tests/test_pack.py
              tests/test_checkpoint.py tests/test_torch_compat.py tests/test_onnx_export.py
              "tests/test_user_journeys.py::test_shipped_config_trains_validates_and_tests[configs/rbonn_faster_rcnn_coco.py]")
mkdir -p "$ENVS"

rows() { grep -v '^\s*#' "$MATRIX" | grep -v '^\s*$'; }
names=("$@")
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(rows | awk '{print $1}')

find_python() {  # python3.X on PATH (one that runs: a pyenv shim of an unselected version
    # does not), else pyenv's newest 3.X
    if "python$1" -c '' >/dev/null 2>&1; then command -v "python$1"; return; fi
    local v; v=$(pyenv versions --bare 2>/dev/null | grep "^$1\." | sort -V | tail -n1)
    [ -n "$v" ] && echo "$(pyenv root)/versions/$v/bin/python$1"
}

versions() {  # the packages `pip install -e .` must leave alone
    "$1" -c "import importlib.metadata as m
print(' '.join(f'{p}=={m.version(p)}' for p in ('torch', 'mmcv', 'mmengine', 'mmdet', 'numpy')))"
}

status=0
for name in "${names[@]}"; do
    line=$(rows | awk -v n="$name" '$1 == n') || true
    [ -n "$line" ] || { echo "[compat] no row $name in $MATRIX"; status=1; continue; }
    read -r _ pyver torchver device pins build_env <<<"$line"
    start=$(date +%s)
    env="$ENVS/$name"
    PY="$env/bin/python"
    echo "[compat] == $name: Python $pyver, torch $torchver, mmcv ops: $device, pins: $pins ${build_env:-}"
    (
        set -e
        if [ ! -x "$PY" ]; then
            base=$(find_python "$pyver") || true
            [ -n "$base" ] || { echo "[compat] no python$pyver (install it, or pyenv install $pyver)"; exit 1; }
            "$base" -m venv "$env"
        fi
        PIP=("$PY" -m pip -q --disable-pip-version-check)
        pin_args=()
        [ "$pins" = "-" ] || IFS=, read -ra pin_args <<<"$pins"
        for assignment in ${build_env:-}; do export "${assignment?}"; done
        echo "[compat] torch==$torchver ${pin_args[*]} (the user's environment)"
        "${PIP[@]}" install "torch==$torchver" "${pin_args[@]}"
        # the user's mmcv: built for this torch (the matrix row's device), then mmengine + mmdet
        "$PY" "$ROOT/tools/install/build_mmcv.py" --device "$device"
        "${PIP[@]}" install "mmengine>=0.10,<1" "mmdet==3.3.0" pytest "onnx>=1.16" \
            "onnxruntime>=1.18" "${pin_args[@]}"
        before=$(versions "$PY")
        echo "[compat] before: $before"
        echo "[compat] pip install -v -e . (the documented command)"
        (cd "$ROOT" && "$PY" -m pip install -v -e . > "$env/pip_install_e.log" 2>&1) \
            || { tail -n 30 "$env/pip_install_e.log"; exit 1; }
        after=$(versions "$PY")
        if [ "$before" != "$after" ]; then
            echo "[compat] pip install -e . changed the environment: $before -> $after"; exit 1
        fi
        echo "[compat] unchanged by it: $after"
        cd "$ROOT"
        "$PY" -m pytest "${COMPAT_TESTS[@]}" 2>&1 | tee "$env/pytest.log"
        exit "${PIPESTATUS[0]}"
    )
    rc=$?
    summary=$(grep -E '^=* *[0-9]+ (passed|failed|error)[^=]* in [0-9.]+s' "$env/pytest.log" 2>/dev/null \
              | tail -n1 | tr -d '=' | xargs)
    [ $rc -eq 0 ] || status=1
    cuda=$("$PY" -c "from mmcv.ops import get_compiling_cuda_version as v; print(v())" 2>/dev/null)
    result="$(date +%F)	$name	$(versions "$PY" 2>/dev/null)	mmcv-CUDA-ops=${cuda:-?}	$([ $rc -eq 0 ] && echo PASS || echo FAIL)	${summary:-no tests ran}	$(( $(date +%s) - start )) s"
    echo "[compat] $result"
    echo "$result" >> "$ENVS/results.tsv"
done
exit $status
