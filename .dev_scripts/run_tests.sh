#!/usr/bin/env bash
# The README's test command: install what is missing, then run the full suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
# worksteal: a worker that runs out of tests takes queued ones from the other
# (plain load scheduling queues a quarter of the suite up front, so tests can
# wait behind the longest one while the other worker idles)
python -m pytest -n 2 --dist worksteal tests "$@"
