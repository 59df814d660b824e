"""The one reader of ``samconfig.toml``, the file SAM CLI itself reads.

Reading the same file keeps one source of truth for stack name, region and parameter
values per environment; re-typing them on our command lines is how a policy gets rendered
for one stack and deployed to another.

SAM CLI merges a command's settings from ``[ENV.global.parameters]`` and the command's own
table (``[ENV.deploy.parameters]``, ``[ENV.local_start_api.parameters]``...), the command's
winning (SAM CLI developer guide, "SAM CLI configuration file"). :func:`command_settings`
does that for one command; :func:`load_environment` does it for what ``build`` and
``deploy`` together will see, which is what the key policy must match.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from sam_project.errors import UserError
from sam_project.files import read_text_file
from sam_project.overrides import split_overrides

DEFAULT_CONFIG_FILE: Final = "samconfig.toml"
# A samconfig.toml is a few kilobytes; bound what a wrong path (a log) can make us read.
MAX_CONFIG_BYTES: Final = 1 << 20
# What `sam build` then `sam deploy` read, in the order SAM applies them.
BUILD_AND_DEPLOY: Final = ("global", "build", "deploy")


@dataclass(frozen=True)
class Environment:
    """One environment of samconfig.toml as ``sam build`` + ``sam deploy`` see it."""

    name: str
    stack_name: str | None = None
    region: str | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    parameter_files: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


def read_config(path: Path) -> dict[str, Any]:
    """The whole file as TOML; one-line errors for a missing, unreadable or bad file."""
    label = f"SAM config {str(path)!r}"
    text = read_text_file(path, limit=MAX_CONFIG_BYTES, what=label, expected="a samconfig.toml")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{label} is not valid TOML: {error}") from None


def _section(data: dict[str, Any], path: Path, env: str) -> dict[str, Any]:
    section = data.get(env)
    if not isinstance(section, dict):
        known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise UserError(f"unknown config env {env!r} in {path}: expected one of {known}")
    return section


def _merge(section: dict[str, Any], commands: Sequence[str]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for command in commands:
        table = section.get(command)
        parameters = table.get("parameters") if isinstance(table, dict) else None
        if isinstance(parameters, dict):
            merged.update(parameters)
    return merged


def command_settings(path: Path, env: str, command: str) -> dict[str, Any]:
    """One command's settings (``global`` overlaid by ``[ENV.COMMAND.parameters]``).

    ``command`` is spelled as in the file: ``local_start_api`` for ``sam local start-api``.
    A file without environment ``env`` gives no settings, as in SAM CLI.
    """
    data = read_config(path)
    section = data.get(env)
    if not isinstance(section, dict):
        return {}
    return _merge(section, ("global", command))


def load_environment(
    path: Path, env: str, commands: Sequence[str] = BUILD_AND_DEPLOY
) -> Environment:
    """The settings of environment ``env``, merged over ``commands`` in order.

    ``file://`` overrides are listed in ``parameter_files``, not read: the one samconfig
    names is usually the parameter file ``policy_gen render`` is about to write.
    """
    data = read_config(path)
    merged = _merge(_section(data, path, env), commands)
    raw = merged.get("parameter_overrides", [])
    items = [raw] if isinstance(raw, str) else [str(item) for item in raw]
    overrides = split_overrides(items)
    stack_name = merged.get("stack_name")
    region = merged.get("region")
    return Environment(
        name=env,
        stack_name=str(stack_name) if stack_name else None,
        region=str(region) if region else None,
        parameter_overrides=overrides.values,
        parameter_files=overrides.files,
        settings=merged,
    )
