"""How policy values are read: JSON scalars as text, policy variables, ARNs by part.

* Values: JSON ``true`` is ``"true"``, numbers are their JSON text.
* Policy variables are substituted only with ``"Version": "2012-10-17"`` and only in
  Resource/NotResource and in values of String, ARN and Bool operators (the operators
  page marks those "Policy variables - Supported"; Numeric, Date, Binary, IP and Null
  are not). ``${*}``, ``${?}``, ``${$}`` are literal characters; ``${key, 'default'}``
  uses the default when the key is missing or multivalued ("You can't use a
  multivalued condition key as a variable"). A variable that cannot be resolved makes
  that one value match nothing, so ``StringNotEquals`` still matches ("Inverted
  condition operators ... do match against a null value"). ARN values are split into
  their six parts before substitution, so a substituted colon never moves a boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from policy_gen.actions import Atom, Wild, pattern_atoms, wildcard_match
from policy_gen.evaluate.model import Components, Context, Pattern


def scalar_text(value: object) -> str | None:
    """A JSON scalar as IAM reads it: ``true`` -> ``"true"``, ``10`` -> ``"10"``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        try:
            return str(value)
        except ValueError:  # an int too long for str(): no policy means that
            return None
    return None


def scalars(value: object) -> tuple[str, ...] | None:
    """A condition value (scalar or list of scalars) as strings; None if malformed."""
    if isinstance(value, list):
        texts = [scalar_text(item) for item in value]
        if any(text is None for text in texts):
            return None
        return tuple(text for text in texts if text is not None)
    text = scalar_text(value)
    return None if text is None else (text,)


def strings(value: object) -> tuple[str, ...] | None:
    """An Action/Resource/principal value: a string or a list of strings; else None."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def pattern_text(pattern: Pattern) -> str:
    """A pattern read as plain text (wildcards are ordinary characters)."""
    return "".join(a.value if isinstance(a, Wild) else a for a in pattern)


# ------------------------------------------------------------------ policy variables


def _read_quoted(raw: str, start: int) -> tuple[str, int] | None:
    """A single-quoted default value starting at ``raw[start] == "'"``; '' is a quote."""
    out: list[str] = []
    i = start + 1
    while i < len(raw):
        if raw[i] == "'":
            if raw.startswith("''", i):
                out.append("'")
                i += 2
                continue
            return "".join(out), i + 1
        out.append(raw[i])
        i += 1
    return None


def _read_variable(raw: str, start: int) -> tuple[str, str | None, bool, int] | None:
    """Parse ``name[, 'default']}`` after a ``${``: (name, default, well_formed, end).

    Returns None when there is no closing brace: the text is then literal.
    """
    close = raw.find("}", start)
    comma = raw.find(",", start)
    if close < 0:
        return None
    if comma < 0 or comma > close:
        return raw[start:close].strip(), None, True, close + 1
    i = comma + 1
    while i < len(raw) and raw[i] == " ":
        i += 1
    quoted = _read_quoted(raw, i) if raw.startswith("'", i) else None
    if quoted is None:
        # "Missing quote in variable": IAM rejects it; resolve to nothing.
        return raw[start:comma].strip(), None, False, close + 1
    default, i = quoted
    while i < len(raw) and raw[i] == " ":
        i += 1
    if not raw.startswith("}", i):
        return raw[start:comma].strip(), None, False, close + 1
    return raw[start:comma].strip(), default, True, i + 1


def _variable_value(name: str, default: str | None, context: Context) -> str | None:
    """A variable's text: ``${*}``-style escapes, a single-valued key, or the default."""
    if name in ("*", "?", "$"):
        return name
    values = context.get(name.lower(), ())
    if len(values) == 1:
        return values[0]
    return default


def _substitute(raw: str, context: Context) -> Pattern | None:
    """``raw`` with its variables replaced by literal text; None if one is unresolvable."""
    atoms: list[Atom] = []
    i = 0
    while i < len(raw):
        parsed = _read_variable(raw, i + 2) if raw.startswith("${", i) else None
        if parsed is None:
            ch = raw[i]
            atoms.append(Wild(ch) if ch in "*?" else ch)
            i += 1
            continue
        name, default, well_formed, i = parsed
        value = _variable_value(name, default, context) if well_formed else None
        if value is None:
            return None
        atoms.extend(value)  # substituted text is literal, wildcards included
    return tuple(atoms)


Resolver = Callable[[str], Pattern | None]


def resolver(variables: bool, context: Context) -> Resolver:
    """How this evaluation turns a policy string into a pattern."""
    if not variables:
        return pattern_atoms
    return lambda raw: _substitute(raw, context)


def _split_arn(raw: str, variables: bool) -> tuple[str, ...]:
    """Split on the first five colons that are not inside a ``${...}`` variable."""
    parts: list[str] = []
    start = depth = 0
    i = 0
    while i < len(raw) and len(parts) < 5:
        if variables and raw.startswith("${", i):
            depth += 1
            i += 2
            continue
        if raw[i] == "}" and depth:
            depth -= 1
        elif raw[i] == ":" and not depth:
            parts.append(raw[start:i])
            start = i + 1
        i += 1
    parts.append(raw[start:])
    return tuple(parts)


def resolve_arn(raw: str, resolve: Resolver, variables: bool) -> Components | None:
    """An ARN pattern resolved part by part; None if any variable is unresolvable."""
    parts = [resolve(part) for part in _split_arn(raw, variables)]
    if any(part is None for part in parts):
        return None
    return tuple(part for part in parts if part is not None)


def arn_matches(components: Components, arn: str) -> bool:
    """ArnLike: six parts, each matched on its own; the sixth is the whole remainder."""
    parts = arn.split(":", 5)
    return (
        len(components) == 6
        and len(parts) == 6
        and all(wildcard_match(c, p) for c, p in zip(components, parts, strict=True))
    )


# ---------------------------------------------------------------------------- ARNs


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    """Six colon-separated parts, the last one everything after the fifth colon."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return Arn(parts[1], parts[2], parts[3], parts[4], parts[5])
