#!/usr/bin/env bash
# Distributed evaluation with torchrun + MMEngine's launcher=pytorch.
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]
# Same environment variables as tools/dist_train.sh (docs/distributed.md).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" test.py "$GPUS" "$CONFIG" "$CHECKPOINT" "$@"
