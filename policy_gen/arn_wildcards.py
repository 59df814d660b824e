"""Concrete values a condition's wildcard pattern admits: the validator's raw material.

IAM's ``*`` and ``?`` (``StringLike``, ``ArnLike``: any run of characters, one
character; IAM user guide, "Condition operators") match account ids like any other text,
so a pattern such as ``44445555666*`` admits accounts far from ours and from any fixed
stand-in outsider. The validator simulates a request from one such account, built here.
Pure string functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ACCOUNT_ID = re.compile(r"[0-9]{12}")


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def glob_match(pattern: str, text: str) -> bool:
    """IAM's case-sensitive ``*``/``?`` matching of one whole value."""
    regex = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.fullmatch(regex, text, flags=re.DOTALL) is not None


def fill_wildcards(pattern: str) -> str:
    return pattern.replace("*", "x").replace("?", "x")


def accounts_filling(pattern: str) -> list[str]:
    """12-digit accounts made from ``pattern`` itself, its wildcards filled with one digit
    (``44445555666*`` -> ``444455556660``, ``444455556661``...)."""
    fixed = len(pattern.replace("*", ""))
    filled = []
    for digit in "0123456789":
        text = pattern.replace("?", digit)
        if "*" in text:
            head, _, tail = text.partition("*")
            text = head + digit * max(0, 12 - fixed) + tail.replace("*", "")
        if ACCOUNT_ID.fullmatch(text):
            filled.append(text)
    return filled


def foreign_account_like(pattern: str, ours: str, outsiders: Iterable[str]) -> str | None:
    """A 12-digit account other than ``ours`` that an account pattern admits: a stand-in
    outsider, our account with one digit changed (``11112222333?`` admits our near
    neighbours), or the pattern filled in by itself."""
    candidates = list(outsiders)
    for i, digit in enumerate(ours):
        candidates.extend(
            ours[:i] + other + ours[i + 1 :] for other in "0123456789" if other != digit
        )
    candidates.extend(accounts_filling(pattern))
    return next((a for a in candidates if a != ours and glob_match(pattern, a)), None)
