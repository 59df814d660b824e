"""Read what policy_gen needs from samconfig.toml, the file SAM CLI itself reads.

Reading the same file keeps one source of truth for stack name, region and
parameter values per environment; re-typing them on our command line is how a
policy gets rendered for one stack and deployed to another.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from policy_gen.errors import InputError

_PAIR = re.compile(r"([A-Za-z0-9]+)=(\"[^\"]*\"|'[^']*'|\S*)")


@dataclass(frozen=True)
class Environment:
    """One ``[ENV.*.parameters]`` family of samconfig.toml, merged the way SAM does."""

    name: str
    stack_name: str | None = None
    region: str | None = None
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    parameter_files: tuple[str, ...] = ()


def parse_overrides(items: list[str] | tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Split ``K=V`` strings (several per string allowed) from ``file://`` entries."""
    values: dict[str, str] = {}
    files: list[str] = []
    for item in items:
        text = item.strip()
        if text.startswith("file://"):
            files.append(text[len("file://") :])
            continue
        position = 0
        for match in _PAIR.finditer(text):
            if text[position : match.start()].strip():
                break
            value = match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            values[match.group(1)] = value
            position = match.end()
        if text[position:].strip() or position == 0:
            raise InputError(
                f"invalid parameter override {item!r}: expected Name=Value (or file://PATH)"
            )
    return values, tuple(files)


def load_environment(path: Path, env: str) -> Environment:
    """The settings of environment ``env`` (global, then build/deploy overlay)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"cannot read SAM config {str(path)!r}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read SAM config {str(path)!r}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"SAM config {str(path)!r} is not valid TOML: {error}") from None
    section = data.get(env)
    if not isinstance(section, dict):
        known = ", ".join(sorted(k for k, v in data.items() if isinstance(v, dict))) or "none"
        raise InputError(f"unknown config env {env!r} in {path}: expected one of {known}")
    merged: dict[str, Any] = {}
    for command in ("global", "build", "deploy"):
        parameters = section.get(command, {}).get("parameters", {})
        if isinstance(parameters, dict):
            merged.update(parameters)
    raw = merged.get("parameter_overrides", [])
    items = [raw] if isinstance(raw, str) else list(raw)
    overrides, files = parse_overrides([str(item) for item in items])
    return Environment(
        name=env,
        stack_name=merged.get("stack_name"),
        region=merged.get("region"),
        parameter_overrides=overrides,
        parameter_files=files,
    )
