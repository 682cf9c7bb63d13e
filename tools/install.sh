#!/usr/bin/env bash
# Install mmfusion and its pinned stack into the current Python environment.
# Idempotent: every step checks first, so a second run takes seconds.
#
#   torch 2.13.0         (pip decides the build; on a CPU machine without a
#                         local CPU wheel, set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu)
#   mmcv 2.1.0           built from source WITH compiled ops (CUDA ops when nvcc
#                         and a GPU are present); ~10 min on 2 cores, then cached by pip
#   mmengine 0.10.7, mmsegmentation 1.2.2, mmdet 3.3.0, runtime + test requirements
#   ONNX Runtime         onnx, onnxruntime, onnxscript (requirements/inference.txt):
#                        the default inference backend of tools/fuse.py
#   mmfusion             editable (pip install -e .)
#
# Options:
#   --zoo   also the optional packages some task-zoo families import
#           (requirements/zoo.txt: scikit-learn, scikit-image; docs/install.md)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PY=${PYTHON:-python}
PIP="$PY -m pip"
ZOO=0
for arg in "$@"; do
  case "$arg" in
    --zoo) ZOO=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "[install] unknown option: $arg (see --help)" >&2; exit 2 ;;
  esac
done

say() { echo "[install] $*"; }

have() {  # have "python code that raises if missing"; run outside the repo
  (cd / && $PY - <<PYEOF >/dev/null 2>&1
$1
PYEOF
  )
}

have_reqs() {  # have_reqs FILE...: every requirement in them (and the files
  # they include with -r) is installed at a version it allows
  have "
import importlib.metadata as m, os
from packaging.requirements import Requirement
def reqs(path):
    for line in open(path):
        line = line.split('#')[0].strip()
        if line.startswith('-r '):
            yield from reqs(os.path.join(os.path.dirname(path), line[3:].strip()))
        elif line:
            yield Requirement(line)
for f in '$*'.split():
    for r in reqs(os.path.join('$REPO', f)):
        if r.marker is None or r.marker.evaluate():
            assert r.specifier.contains(m.version(r.name), prereleases=True), r"
}

# 1. torch
if have "import torch; assert torch.__version__.split('+')[0] == '2.13.0'"; then
  say "torch 2.13.0 present"
else
  say "installing torch==2.13.0"
  $PIP install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} torch==2.13.0
fi

# 2. what mmcv's source build needs before it starts
if have "
import importlib.metadata as m
from packaging.version import Version
assert Version(m.version('setuptools')) < Version('81')
import wheel, ninja"; then
  say "build requirements present"
else
  say "installing build requirements (setuptools<81, wheel, ninja)"
  $PIP install "setuptools<81" wheel ninja packaging
fi

# 3. mmcv 2.1.0 with compiled ops
if have "
import mmcv; assert mmcv.__version__ == '2.1.0'
from mmcv.ops import nms  # needs the compiled mmcv._ext"; then
  say "mmcv 2.1.0 (with ops) present"
else
  export MMCV_WITH_OPS=1
  export MAX_JOBS=${MAX_JOBS:-$(nproc)}
  if command -v nvcc >/dev/null 2>&1 && have "import torch; assert torch.cuda.is_available()"; then
    export FORCE_CUDA=1
    say "building mmcv 2.1.0 with CUDA ops (nvcc + GPU found)"
  else
    say "building mmcv 2.1.0 with CPU ops (no CUDA toolkit/GPU); ~10 min on 2 cores"
  fi
  $PIP install --no-build-isolation mmcv==2.1.0
fi

# 4. OpenMMLab packages and the runtime/test requirements
if have "
import importlib.metadata as m
want = {'mmengine': '0.10.7', 'mmsegmentation': '1.2.2', 'mmdet': '3.3.0'}
for k, v in want.items(): assert m.version(k) == v, k
for k in ('ftfy', 'regex', 'scipy', 'matplotlib', 'pytest', 'xdist', 'pycocotools', 'cv2'):
    __import__(k)"; then
  say "mmengine / mmseg / mmdet / requirements present"
else
  say "installing mmengine, mmsegmentation, mmdet and requirements"
  $PIP install mmengine==0.10.7 mmsegmentation==1.2.2 mmdet==3.3.0 \
    -r requirements/runtime.txt -r requirements/tests.txt
fi

# 5. ONNX Runtime: the default inference backend (tools/fuse.py --backend auto)
if have_reqs requirements/inference.txt; then
  say "ONNX Runtime (onnx, onnxruntime, onnxscript) present"
else
  say "installing ONNX Runtime, the default inference backend (requirements/inference.txt)"
  $PIP install -r requirements/inference.txt
fi

# 6. mmfusion itself, editable, from this checkout
if have "
import os, mmfusion
assert os.path.realpath(os.path.dirname(mmfusion.__file__)) == os.path.realpath('$REPO/mmfusion')"; then
  say "mmfusion (editable, $REPO) present"
else
  say "installing mmfusion in editable mode from $REPO"
  $PIP install --no-deps --no-build-isolation -e "$REPO"
fi

# 7. (--zoo) what some task-zoo families import (docs/install.md)
if [ "$ZOO" = 1 ]; then
  if have_reqs requirements/zoo.txt; then
    say "task-zoo extras (requirements/zoo.txt) present"
  else
    say "installing the task-zoo extras (requirements/zoo.txt)"
    $PIP install -r requirements/zoo.txt
  fi
fi
say "done"
