#!/usr/bin/env bash
# The README's demo: install what is missing, then train the demo config on the
# MSRS pairs bundled in data/msrs_demo. Writes checkpoints, fused images and
# the metrics to work_dirs/demo (override with WORK_DIR=...).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
CONFIG=${CONFIG:-configs/seafusion/seafusion_content_demo.py}
WORK_DIR=${WORK_DIR:-work_dirs/demo}
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
echo "[demo] checkpoints: $(ls "$WORK_DIR"/*.pth | tr '\n' ' ')"
echo "[demo] fused images: $WORK_DIR/fused/val/"
echo "[demo] metrics: $(ls -t "$WORK_DIR"/*/vis_data/scalars.json | head -n1)"
grep -h '"fusion/EN"' "$(ls -td "$WORK_DIR"/2*/ | head -n1)"vis_data/scalars.json | tail -n1
