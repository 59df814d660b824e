"""The one reader of check-template's settings: ``--severity`` and the project's config file.

Why a config file: a repository that accepts a finding (say, Lambda's own log groups
until every function has one) wants that decision written down next to the code, not
repeated on every command line of every CI job and pre-commit hook. Like ruff and
cfn-lint, the file is found from the current directory upward, stopping at the
repository root (the directory holding ``.git``): in each directory ``.policy-gen.toml``
first, then a ``pyproject.toml`` that has a ``[tool.policy-gen]`` table (a
``pyproject.toml`` without one is not ours and the search goes on). ``--config PATH``
names the file instead; ``--no-config`` ignores any.

The format, either file::

    [severity]                        # .policy-gen.toml
    LAMBDA_AUTO_LOGGROUP = "warning"
    LOGGROUP_UNENCRYPTED = "off"

    [tool.policy-gen.severity]        # pyproject.toml
    LAMBDA_AUTO_LOGGROUP = "warning"

Every mistake is a one-line :class:`~sam_project.errors.UserError` naming the file,
the key or value and what was expected. An unknown code is refused, never ignored: a
typo in a code would otherwise silently change nothing while its author believes a
finding was accepted.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, get_args

from sam_project.errors import UserError
from sam_project.files import read_text_file

Level = Literal["error", "warning", "note", "off"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)
CONFIG_FILE: Final = ".policy-gen.toml"
PYPROJECT: Final = "pyproject.toml"
TOOL_TABLE: Final = "policy-gen"
# A config file is a few hundred bytes; a wrong --config (a log, a device) is refused.
MAX_CONFIG_BYTES: Final = 1 << 20
# The keys a config table may hold, and what each one is.
CONFIG_KEYS: Final = {"severity": "a table of CODE = LEVEL"}


@dataclass(frozen=True)
class Override:
    """A finding code's level as the user set it, and where they set it."""

    level: Level
    source: str  # "--severity", or the config file's path


@dataclass(frozen=True)
class Settings:
    """Effective per-code levels (command line over config file) and the file read."""

    overrides: dict[str, Override] = field(default_factory=dict)
    config_file: Path | None = None


def _level(value: object, where: str) -> Level:
    expected = f"expected one of {', '.join(LEVELS)}"
    if not isinstance(value, str):
        raise UserError(f"{where}: severity {value!r} is a {type(value).__name__}: {expected}")
    level = value.strip().lower()
    if level not in LEVELS:
        raise UserError(f"{where}: unknown severity {value!r}: {expected}")
    return level  # type: ignore[return-value]  # checked against LEVELS just above


def _code(name: str, known: Iterable[str], where: str) -> str:
    code = name.strip().upper()
    known = list(known)
    if code in known:
        return code
    close = difflib.get_close_matches(code, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UserError(
        f"{where}: unknown finding code {name!r}{hint}: expected one of {', '.join(sorted(known))}"
    )


def parse_severity_options(items: Sequence[str], known: Iterable[str]) -> dict[str, Override]:
    """``--severity CODE=LEVEL`` items (repeatable; the last one for a code wins)."""
    known = list(known)
    found: dict[str, Override] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UserError(
                f"invalid --severity {item!r}: expected CODE=LEVEL, e.g. "
                "LAMBDA_AUTO_LOGGROUP=warning"
            )
        where = f"--severity {item!r}"
        found[_code(name, known, where)] = Override(_level(value, where), "--severity")
    return found


def parse_config_text(text: str, path: Path, known: Iterable[str]) -> dict[str, Override]:
    """The overrides in the text of a ``.policy-gen.toml`` or ``pyproject.toml``."""
    label = str(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{label} is not valid TOML ({error}): expected a TOML file") from None
    if path.name == PYPROJECT:
        tool = document.get("tool")
        table: object = tool.get(TOOL_TABLE) if isinstance(tool, Mapping) else None
        prefix = f"tool.{TOOL_TABLE}."
        if table is None:
            raise UserError(f"{label} has no [tool.{TOOL_TABLE}] table: expected one")
    else:
        table, prefix = document, ""
    if not isinstance(table, Mapping):
        raise UserError(f"{label}: [{prefix.rstrip('.')}] is not a table: expected a table")
    for key in table:
        if key not in CONFIG_KEYS:
            allowed = ", ".join(f"{prefix}{name} ({what})" for name, what in CONFIG_KEYS.items())
            raise UserError(f"{label}: unknown key {prefix}{key!r}: expected {allowed}")
    severity = table.get("severity", {})
    if not isinstance(severity, Mapping):
        raise UserError(
            f"{label}: {prefix}severity is a {type(severity).__name__}: expected a table of "
            'CODE = LEVEL, e.g. LAMBDA_AUTO_LOGGROUP = "warning"'
        )
    known = list(known)
    found: dict[str, Override] = {}
    for name, value in severity.items():
        where = f"{label}: {prefix}severity.{name}"
        code = _code(name, known, where)
        if code in found:
            raise UserError(f"{where}: {code} is set twice (as {name!r}): expected it once")
        found[code] = Override(_level(value, where), label)
    return found


def _has_tool_table(path: Path) -> bool:
    """Whether a ``pyproject.toml`` configures us (one that does not is not ours, and a
    broken one that is not ours is not our error either)."""
    text = _read(path)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return f"[tool.{TOOL_TABLE}" in text  # ours and broken: read it to report why
    tool = document.get("tool")
    return isinstance(tool, Mapping) and TOOL_TABLE in tool


def _read(path: Path) -> str:
    return read_text_file(
        path,
        limit=MAX_CONFIG_BYTES,
        what=f"config file {str(path)!r}",
        expected=f"a {CONFIG_FILE} or a {PYPROJECT} with [tool.{TOOL_TABLE}]",
    )


def find_config(start: Path) -> Path | None:
    """The nearest config file from ``start`` upward to the repository root, if any."""
    directory = start.resolve()
    while True:
        own = directory / CONFIG_FILE
        # Anything of that name, not only a regular file: a directory, FIFO or dangling
        # link called .policy-gen.toml is refused when read (one line), never skipped.
        if own.exists() or own.is_symlink():
            return own
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


def load_settings(
    *,
    severity_options: Sequence[str],
    config: str | None,
    no_config: bool,
    known: Iterable[str],
    start: Path | None = None,
) -> Settings:
    """What check-template's command line and config file say, the command line winning."""
    known = list(known)
    if config is not None and no_config:
        raise UserError("--config and --no-config exclude each other: expected one of them")
    path: Path | None
    if no_config:
        path = None
    elif config is not None:
        path = Path(config)
    else:
        path = find_config(start or Path.cwd())
    overrides = parse_config_text(_read(path), path, known) if path is not None else {}
    overrides.update(parse_severity_options(severity_options, known))
    return Settings(overrides, path)
