#!/usr/bin/env bash
# Distributed training with torchrun + MMEngine's launcher=pytorch.
#   bash tools/dist_train.sh CONFIG GPUS [train.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT (see docs/distributed.md).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash tools/dist_train.sh CONFIG GPUS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" train.py "$GPUS" "$CONFIG" "$@"
