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
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ]; then exit 0; fi
echo "==> setting up .venv (pinned dev dependencies; first run takes a few minutes)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -e '.[dev]'
rm -f .venv/.installed-*
touch "$stamp"
echo "==> .venv ready"
