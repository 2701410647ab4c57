#!/usr/bin/env bash
# Distributed training with torchrun, one process per GPU (or CPU process).
#   bash tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
# PYTHON (python).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG NUM_PROCS [train.py args...]" >&2
    exit 2
fi
CONFIG=$1
NPROCS=$2
shift 2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHONPATH="$ROOT:${PYTHONPATH:-}" exec "${PYTHON:-python}" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROCS" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
