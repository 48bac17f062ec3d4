#!/usr/bin/env bash
# Creates .venv with the pinned dependencies. Safe to rerun.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: subtext needs Python 3.11; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=python3.11." >&2
  exit 2
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip>=24"
echo "installing pinned dependencies (first run builds llama-cpp-python: ~6 min on 2 cores)"
"$VENV/bin/python" -m pip install -q -r requirements.lock
"$VENV/bin/python" -m pip install -q --no-deps -e .

VENV="$VENV" bash scripts/setup_wordnet.sh
echo "setup done: $VENV"
