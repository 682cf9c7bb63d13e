#!/usr/bin/env bash
# The linters CI runs (settings in setup.cfg): flake8, isort and yapf must
# report nothing. `bash .dev_scripts/lint.sh --fix` rewrites the files instead.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m flake8 --version >/dev/null 2>&1 && python -m isort --version \
  >/dev/null 2>&1 && python -m yapf --version >/dev/null 2>&1 \
  || python -m pip install -q -r requirements/lint.txt
paths=(mmfusion tools .dev_scripts tests configs setup.py)
if [[ "${1:-}" == "--fix" ]]; then
  python -m isort -q "${paths[@]}"
  python -m yapf -r -i -p "${paths[@]}"
fi
python -m flake8 "${paths[@]}"
python -m isort -q --check-only --diff "${paths[@]}"
diff=$(python -m yapf -r --diff "${paths[@]}")
if [[ -n "$diff" ]]; then
  echo "$diff"
  echo "yapf: the files above are not formatted (bash .dev_scripts/lint.sh --fix)" >&2
  exit 1
fi
echo "lint: flake8, isort and yapf clean"
