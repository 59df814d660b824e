"""The function's configuration, read once per container from its environment variables.

A module of its own because several modules need the same values (the resolver in
:mod:`app`, the body rules in :mod:`request_body`, the routes in :mod:`routes`) and
none of them should import :mod:`app`, which imports them all. The variables themselves
are documented in :mod:`app`'s docstring.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aws_lambda_powertools.shared import constants as pt_constants
from secret_config import SECRET_ARN_ENV

DEFAULT_MAX_BODY_BYTES: Final = 10_240
DEFAULT_APP_VERSION: Final = "0.1.0"
DEFAULT_METRICS_NAMESPACE: Final = "SecureServerlessApiKit"
# Powertools' own default, so logs, metrics and GET / agree when the variable is unset.
DEFAULT_SERVICE_NAME: Final = "service_undefined"

_TRUTHY: Final = frozenset({"1", "true", "t", "yes", "y", "on"})


def _env_flag(env: Mapping[str, str], name: str) -> bool:
    """Powertools-compatible truthiness (``true``, ``1``, ``yes``...), never raising."""
    return env.get(name, "").strip().lower() in _TRUTHY


@dataclass(frozen=True, slots=True)
class Settings:
    """Configuration read once per container from the environment.

    Read at init rather than per request because Lambda environment variables cannot
    change during a container's life; tests build their own with :meth:`from_env`.
    ``problems`` holds configuration mistakes that were replaced by defaults, so they can
    be logged once the logger exists instead of failing every request.
    """

    service_name: str
    metrics_namespace: str
    app_version: str
    max_body_bytes: int
    cors_allow_origins: tuple[str, ...]
    debug: bool
    problems: tuple[str, ...] = ()
    config_secret_arn: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse the environment; invalid values fall back to the documented defaults."""
        problems: list[str] = []
        raw_limit = env.get("MAX_BODY_BYTES", "").strip()
        max_body_bytes = DEFAULT_MAX_BODY_BYTES
        if raw_limit:
            try:
                max_body_bytes = int(raw_limit)
            except ValueError:
                max_body_bytes = 0
            if max_body_bytes <= 0:
                problems.append(
                    f"MAX_BODY_BYTES must be a positive integer; using {DEFAULT_MAX_BODY_BYTES}"
                )
                max_body_bytes = DEFAULT_MAX_BODY_BYTES
        origins = tuple(
            origin.strip().rstrip("/")
            for origin in env.get("CORS_ALLOW_ORIGIN", "").split(",")
            if origin.strip()
        )
        return cls(
            service_name=env.get(pt_constants.SERVICE_NAME_ENV) or DEFAULT_SERVICE_NAME,
            metrics_namespace=env.get(pt_constants.METRICS_NAMESPACE_ENV)
            or DEFAULT_METRICS_NAMESPACE,
            app_version=env.get("APP_VERSION") or DEFAULT_APP_VERSION,
            max_body_bytes=max_body_bytes,
            cors_allow_origins=origins,
            # debug makes the resolver print() every event: require an explicit opt-in to
            # event logging on top of POWERTOOLS_DEV, which on its own only means "verbose".
            debug=_env_flag(env, pt_constants.POWERTOOLS_DEV_ENV)
            and _env_flag(env, pt_constants.LOGGER_LOG_EVENT_ENV),
            problems=tuple(problems),
            config_secret_arn=env.get(SECRET_ARN_ENV, "").strip(),
        )


# The container's configuration: environment variables cannot change during its life.
settings: Final = Settings.from_env(os.environ)
