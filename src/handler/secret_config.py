"""Secret configuration: read from Secrets Manager on first use, cached, never from env.

Only the secret's ARN is in the environment (``CONFIG_SECRET_ARN``, set by the
template's ``SecretArn`` parameter); its value is fetched with Powertools'
parameters utility and cached for ``CACHE_SECONDS`` so a warm container does not
call Secrets Manager per request, yet picks up a rotation within minutes. The
import of the utility (and of boto3 behind it) happens only when a secret is
configured, so the default deployment pays nothing at cold start.
"""

from __future__ import annotations

import json
from typing import Any

SECRET_ARN_ENV = "CONFIG_SECRET_ARN"  # noqa: S105 - a variable name, not a secret
CACHE_SECONDS = 300


class SecretConfigError(Exception):
    """The secret exists but is not a JSON object of settings (message has no value)."""


def load_secret_config(arn: str) -> dict[str, Any]:
    """The secret's JSON object; ``{}`` when no secret is configured."""
    if not arn:
        return {}
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - only when used

    raw = parameters.get_secret(arn, max_age=CACHE_SECONDS)
    try:
        value = json.loads(raw) if isinstance(raw, str | bytes) else raw
    except json.JSONDecodeError:
        raise SecretConfigError("the configuration secret is not JSON") from None
    if not isinstance(value, dict):
        raise SecretConfigError("the configuration secret is not a JSON object")
    return value
