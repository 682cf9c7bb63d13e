#!/usr/bin/env bash
# Task-driven evaluation on GPUS processes of this node (torchrun):
#   bash tools/dist_task_eval.sh CONFIG GPUS [tools/task_eval.py options]
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname $0)/..":$PYTHONPATH \
torchrun \
    --nnodes=$NNODES \
    --node_rank=$NODE_RANK \
    --master_addr=$MASTER_ADDR \
    --nproc_per_node=$GPUS \
    --master_port=$PORT \
    $(dirname "$0")/task_eval.py \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
