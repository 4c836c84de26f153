#!/usr/bin/env bash
# The test command: set up, then run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/mirrors.sh
exec "${PYTHON:-python3}" -m pytest -q "$@"
