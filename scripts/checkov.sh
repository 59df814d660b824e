#!/usr/bin/env bash
# checkov on template.yaml, on its SAM-translated form, on the pipeline's bootstrap
# template and on the organization audit's IAM templates (audit-role/): zero failed checks.
# checkov pins an older boto3 than aws-sam-cli, so it lives in its own venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=3.3.30
if ! .venv-checkov/bin/checkov --version 2>/dev/null | grep -qx "$VERSION"; then
  echo "==> installing checkov $VERSION into .venv-checkov"
  "${PYTHON:-python3}" -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install --quiet --progress-bar off "checkov==$VERSION"
fi
.venv/bin/python scripts/transform_template.py template.yaml build/transformed.json
# --skip-download: no network here; the check catalogue ships with the package.
.venv-checkov/bin/checkov -f template.yaml -f build/transformed.json -f pipeline/bootstrap.yaml \
  -f audit-role/member-role.yaml -f audit-role/caller-policy.yaml \
  --framework cloudformation --compact --quiet --skip-download
