#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv with Coffer installed in it.
# Usage: scripts/bootstrap.sh [extras]   e.g. scripts/bootstrap.sh test
# An environment installed with the `test` extra also satisfies `clients` and the plain install (test includes both).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Coffer needs Python 3.11 or newer")'
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
extras=${1:-}
fresh() { [ -f ".venv/.installed-$1" ] && [ ! pyproject.toml -nt ".venv/.installed-$1" ]; }
if fresh "${extras:-base}" || { [ "$extras" != test ] && fresh test; }; then
  exit 0
fi
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install --quiet -e ".[$extras]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
touch ".venv/.installed-${extras:-base}"
