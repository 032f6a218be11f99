#!/usr/bin/env bash
# torchrun around a tool with MMEngine's launcher=pytorch; dist_train.sh and
# dist_test.sh are the entry points.  bash tools/dist_run.sh TOOL NPROC [tool args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (see docs/distributed.md).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash tools/dist_run.sh TOOL NPROC [tool args...]" >&2
    exit 2
fi
TOOL=$1
NPROC=$2
shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
exec "$PY" -m torch.distributed.run --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${MASTER_PORT:-29500}" \
    --nproc_per_node="$NPROC" "$ROOT/tools/$TOOL" "$@" --launcher pytorch
