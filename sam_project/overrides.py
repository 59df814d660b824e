"""The one parser of ``--parameter-overrides``, with SAM CLI's syntax.

``policy_gen render``, the local API and the deploy rehearsal must read the same values
from the same overrides as ``sam build``/``sam deploy`` will, or a policy is rendered for
one configuration and deployed with another. SAM CLI's own parser cannot be that one
parser: ``policy_gen`` is installed without SAM CLI. So this module implements SAM CLI's
documented forms (``sam deploy --help``, "--parameter-overrides"), and a contract test
compares it with SAM CLI's ``CfnParameterOverridesType`` on every form:

* ``Name=Value`` pairs, several per string, separated by white space;
* ``ParameterKey=Name,ParameterValue=Value`` pairs (CloudFormation's long form);
* values quoted with ``"`` or ``'`` (to hold spaces), with ``\\ ``, ``\\"`` and ``\\'``
  escapes;
* ``file://PATH`` of a YAML (``.yaml``/``.yml``) or TOML (``.toml``) file holding a
  mapping of names to values, a list, or further ``file://`` entries; relative paths
  inside a file are relative to that file; ``$include`` pulls in more files; a list value
  becomes a comma-separated string and a null value an empty one.

Where SAM CLI silently skips text it cannot parse (``"A=1 junk"`` gives ``A=1``), this
parser does not guess: an item that is one ``Name=...`` whose value SAM's forms cannot
hold unquoted (a JSON policy pasted on a command line, ``A=1 junk``) is taken whole, as
the shell split it, and anything else (``novalue``, ``=1``) is refused with one line.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sam_project.documents import load_yaml
from sam_project.errors import UserError
from sam_project.files import read_text_file

FILE_PREFIX: Final = "file://"
# A parameter file is a few hundred bytes; this bounds what a wrong path (a log) can
# make us read (a device or a FIFO is refused before any read).
MAX_PARAMETER_FILE_BYTES: Final = 1 << 20
PARAMETER_FILE_SUFFIXES: Final = (".yaml", ".yml", ".toml")
EXPECTED_FORMS: Final = "expected Name=Value, ParameterKey=Name,ParameterValue=Value or file://PATH"

_KEY = r"[A-Za-z0-9\"']+"
_VALUE = r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'|(?:\\.|[^\s\\])*"
_LONG_FORM = re.compile(rf"\s*ParameterKey=({_KEY}),ParameterValue=({_VALUE})(?=\s|$)")
_VERBATIM_NAME = re.compile(r"[A-Za-z0-9]+")
_SHORT_FORM = re.compile(rf"\s*({_KEY})=({_VALUE})(?=\s|$)")


@dataclass(frozen=True)
class Overrides:
    """Overrides split into literal values and the ``file://`` entries not yet read.

    ``samconfig.toml`` names ``file://params/ENV.yaml``, the file ``policy_gen render``
    writes: render must read the literal values without requiring its own output.
    """

    values: dict[str, str]
    files: tuple[str, ...]


def unquote(text: str) -> str:
    """Drop one pair of wrapping quotes and undo SAM's three escapes."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text.replace("\\ ", " ").replace('\\"', '"').replace("\\'", "'")


def _pairs(item: str) -> list[tuple[str, str]]:
    """The pairs of one string, in one of the two forms for the whole string."""
    for form in (_LONG_FORM, _SHORT_FORM):
        found: list[tuple[str, str]] = []
        position = 0
        while position < len(item) and item[position:].strip():
            match = form.match(item, position)
            if match is None:
                break
            found.append((unquote(match.group(1)), unquote(match.group(2))))
            position = match.end()
        else:
            if found:
                return found
    name, separator, value = item.partition("=")
    if separator and _VERBATIM_NAME.fullmatch(name.strip()):
        # One Name=Value whose value SAM's forms cannot express unquoted (a JSON policy
        # pasted on a command line): the shell already split the arguments, take it whole.
        return [(name.strip(), value)]
    raise UserError(f"invalid parameter override {item!r}: not a valid format, {EXPECTED_FORMS}")


def split_overrides(items: str | Sequence[str]) -> Overrides:
    """Literal ``Name=Value`` pairs and the ``file://`` entries, without reading files."""
    values: dict[str, str] = {}
    files: list[str] = []
    for item in [items] if isinstance(items, str) else items:
        text = str(item).strip()
        if not text:
            continue
        if text.startswith(FILE_PREFIX):
            files.append(text[len(FILE_PREFIX) :])
        else:
            values.update(_pairs(text))
    return Overrides(values, tuple(files))


def _parameter_file(reference: str, path: Path) -> Path:
    """The file a ``file://`` entry names, if its extension is one SAM CLI reads."""
    if path.suffix.lower() not in PARAMETER_FILE_SUFFIXES:
        raise UserError(
            f"parameter file {FILE_PREFIX}{reference} uses an unsupported extension: "
            f"expected one of {', '.join(PARAMETER_FILE_SUFFIXES)}"
        )
    return path.resolve()


def _read_parameter_file(path: Path, reference: str) -> object:
    label = f"parameter file {FILE_PREFIX}{reference}"
    expected = "a small YAML or TOML file"
    if path.parent.name == "params" and not path.exists():
        # samconfig names params/ENV.yaml before anything wrote it: say what writes it.
        expected += (
            f"; run `python -m policy_gen render --config-env {path.stem}` first, it writes "
            "the key policy there"
        )
    text = read_text_file(path, limit=MAX_PARAMETER_FILE_BYTES, what=label, expected=expected)
    if path.suffix.lower() != ".toml":
        return load_yaml(text, label)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise UserError(f"{label} is not valid TOML") from None


def _flatten(value: object) -> list[object]:
    if isinstance(value, list | tuple):
        return [leaf for item in value for leaf in _flatten(item)]
    return [value]


class _Reader:
    """One parse: remembers the files on the current include chain to refuse loops."""

    def __init__(self) -> None:
        self.chain: list[Path] = []

    def read(self, value: object, current: Path | None) -> dict[str, str]:
        result: dict[str, str] = {}
        for item in _flatten(value):
            if item is None:
                continue
            if isinstance(item, str):
                text = item.strip()
                if text.startswith(FILE_PREFIX):
                    result.update(self.include(text[len(FILE_PREFIX) :], current))
                elif text:
                    result.update(_pairs(text))
            elif isinstance(item, Mapping):
                result.update(self.mapping(item, current))
            else:
                raise UserError(
                    f"invalid parameter override {item!r}: {EXPECTED_FORMS}, or a mapping "
                    "in a parameter file"
                )
        return result

    def mapping(self, data: Mapping[Any, Any], current: Path | None) -> dict[str, str]:
        result: dict[str, str] = {}
        for key, value in data.items():
            if key == "$include":
                if not isinstance(value, str | list):
                    raise UserError(
                        f"$include must be a string or a list of strings, got {type(value).__name__}"
                    )
                result.update(self.read(value, current))
            elif value is None:
                result[unquote(str(key))] = ""
            elif isinstance(value, list):
                joined = ",".join(str(x).strip() for x in value if x not in (None, ""))
                result[unquote(str(key))] = unquote(joined)
            else:
                result[unquote(str(key))] = unquote(str(value))
        return result

    def include(self, reference: str, current: Path | None) -> dict[str, str]:
        path = Path(reference)
        if not path.is_absolute() and current is not None:
            path = current.parent / path
        path = _parameter_file(reference, path)
        if path in self.chain:
            raise UserError(f"parameter file {FILE_PREFIX}{reference} includes itself")
        self.chain.append(path)
        try:
            return self.read(_read_parameter_file(path, reference), path)
        finally:
            self.chain.pop()


def parse_parameter_overrides(items: str | Sequence[object] | Mapping[str, Any]) -> dict[str, str]:
    """The parameter values ``items`` give, ``file://`` files read, later values winning.

    Accepts what ``sam --parameter-overrides`` and samconfig's ``parameter_overrides``
    accept: a string, a list of strings, or (from a file) a mapping. Raises
    :class:`~sam_project.errors.UserError` with one line naming the bad item.
    """
    return _Reader().read(items, None)
