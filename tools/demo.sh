#!/usr/bin/env bash
# The README's demo: install what is missing, then train TDFusion (fusion net,
# learnable loss, in-loop segmenter) on the MSRS pairs bundled in
# data/msrs_demo. Writes checkpoints, fused images and the metrics (fusion
# metrics and the task's mIoU) to work_dirs/demo (override with WORK_DIR=...;
# CONFIG=... runs another demo config, e.g.
# configs/seafusion/seafusion_content_demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
CONFIG=${CONFIG:-configs/tdfusion/tdfusion_demo.py}
WORK_DIR=${WORK_DIR:-work_dirs/demo}
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
echo "[demo] checkpoints: $(ls "$WORK_DIR"/*.pth | tr '\n' ' ')"
echo "[demo] fused images: $WORK_DIR/fused/val/"
echo "[demo] metrics: $(ls -t "$WORK_DIR"/*/vis_data/scalars.json | head -n1)"
grep -h '"fusion/EN"' "$(ls -td "$WORK_DIR"/2*/ | head -n1)"vis_data/scalars.json | tail -n1
