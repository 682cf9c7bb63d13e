#!/usr/bin/env bash
# The README's test command: install what is missing, then run the full suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
python -m pytest -n 2 tests "$@"
