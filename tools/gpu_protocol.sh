#!/usr/bin/env bash
# The GPU protocol of docs/results.md in one command, for a lent GPU window:
#   bash tools/gpu_protocol.sh [--data DIR|TAR.gz] [--out DIR] [--smoke]
#       [other tools/gpu_protocol.py arguments]
# 1. mmengine, mmcv-lite and mmpretrain come from the environment or, where
#    it lacks them (the device image), from the wheels in .whl/ (build them
#    with the command in tools/device_requirements.txt and carry .whl/),
#    installed into /tmp/dm_plugin_site;
# 2. the CIFAR-10 JPEG copy (train/<class>/, test/<class>/): --data DIR or
#    TAR.gz (unpacked beside it), by default data/cifar10-jpeg or
#    data/cifar10-jpeg.tar.gz;
# 3. tools/gpu_protocol.py: decode into the dataset cache, probe, train all
#    methods at once, report into --out (default $OUT) within --budget
#    seconds (default 540) of this script's start.
# Env: PYTHON (python3).
set -euo pipefail
START=$(date +%s.%N)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
DATA=""
ARGS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --data) DATA=$2; shift 2 ;;
        *) ARGS+=("$1"); shift ;;
    esac
done
cd "$ROOT"
if ! "$PYTHON" -c 'import mmengine, mmcv, mmpretrain' 2>/dev/null; then
    if ! ls .whl/*.whl > /dev/null 2>&1; then
        echo "mmengine, mmcv or mmpretrain is missing and .whl/ holds no" \
            "wheels: build them with the command in" \
            "tools/device_requirements.txt" >&2
        exit 1
    fi
    SITE=/tmp/dm_plugin_site
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile \
        --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "$DATA" ]; then
    if [ -d data/cifar10-jpeg/train ]; then
        DATA=data/cifar10-jpeg
    elif [ -f data/cifar10-jpeg.tar.gz ]; then
        DATA=data/cifar10-jpeg.tar.gz
    else
        echo "no data: pass --data DIR or TAR.gz (the CIFAR-10 JPEG copy," \
            "train/<class>/ and test/<class>/)" >&2
        exit 1
    fi
fi
if [ -f "$DATA" ]; then
    DIR=${DATA%.tar.gz}
    if [ ! -d "$DIR/train" ]; then
        mkdir -p "$DIR"
        tar xzf "$DATA" -C "$DIR"
    fi
    DATA=$DIR
fi
exec "$PYTHON" tools/gpu_protocol.py --data "$DATA" --start "$START" \
    ${ARGS[@]+"${ARGS[@]}"}
