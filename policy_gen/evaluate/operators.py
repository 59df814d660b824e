"""The condition operators: how one request value compares with one policy value.

* Operator and qualifier names are matched case-insensitively; an unknown one, or
  ``NullIfExists``, is a problem and never true. A set qualifier on ``Null`` is ignored.
* Dates are W3C ISO 8601 (a missing zone is UTC) or epoch seconds; an all-digit value
  is epoch seconds. ``BinaryEquals`` compares the decoded bytes of both sides (the
  docs' example gives the request value in base64 too). A value an operator cannot
  parse matches nothing.

How a whole condition combines these per-value tests (several request values,
``ForAllValues``/``ForAnyValue``, ``IfExists``) is the engine's job.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from policy_gen.actions import wildcard_match
from policy_gen.evaluate.model import Components, Operator
from policy_gen.evaluate.values import arn_matches, pattern_text

_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_EPOCH = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_W3C_PARTIAL = re.compile(r"([0-9]{4})-([0-9]{2})(-([0-9]{2}))?")
_EPOCH_ZERO = datetime(1970, 1, 1, tzinfo=UTC)


def _number(text: str) -> Decimal | None:
    """An integer or decimal; anything else (including NaN, exponents) is no number."""
    if not _NUMBER.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _date(text: str) -> Decimal | None:
    """Seconds since the epoch of a W3C ISO 8601 date or an epoch value."""
    if _EPOCH.fullmatch(text):
        return Decimal(text)
    partial = _W3C_PARTIAL.fullmatch(text)
    try:
        if partial:  # YYYY-MM or YYYY-MM-DD, which fromisoformat reads only in part
            moment = datetime(int(partial[1]), int(partial[2]), int(partial[4] or 1))
        else:
            moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        delta = moment - _EPOCH_ZERO
    except (ValueError, OverflowError):
        return None
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6


def _binary(text: str) -> bytes | None:
    """Base64 text decoded, or None."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


Compare = Callable[[Components, str], bool]


def _ordered(
    parse: Callable[[str], Decimal | None], relation: Callable[[Decimal, Decimal], bool]
) -> Compare:
    """Numeric/Date comparison ``request <relation> policy`` after parsing both."""

    def compare(policy: Components, request: str) -> bool:
        wanted, actual = parse(pattern_text(policy[0])), parse(request)
        return wanted is not None and actual is not None and relation(actual, wanted)

    return compare


def _string_equals(policy: Components, request: str) -> bool:
    return pattern_text(policy[0]) == request


def _string_equals_ignore_case(policy: Components, request: str) -> bool:
    return pattern_text(policy[0]).casefold() == request.casefold()


def _string_like(policy: Components, request: str) -> bool:
    return wildcard_match(policy[0], request)


def _bool(policy: Components, request: str) -> bool:
    wanted = pattern_text(policy[0]).lower()
    return wanted in ("true", "false") and wanted == request.lower()


def _binary_equals(policy: Components, request: str) -> bool:
    wanted, actual = _binary(pattern_text(policy[0])), _binary(request)
    return wanted is not None and wanted == actual


def _ip_address(policy: Components, request: str) -> bool:
    try:
        network = ipaddress.ip_network(pattern_text(policy[0]).strip(), strict=False)
        address = ipaddress.ip_address(request.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_like(policy: Components, request: str) -> bool:
    return arn_matches(policy, request)


def _operators() -> dict[str, Operator]:
    """The base operators by lower-cased name; negated ones reuse the positive test."""
    relations = {
        "Equals": operator.eq,
        "LessThan": operator.lt,
        "LessThanEquals": operator.le,
        "GreaterThan": operator.gt,
        "GreaterThanEquals": operator.ge,
    }
    table = [
        Operator("StringEquals", _string_equals, variables=True),
        Operator("StringNotEquals", _string_equals, negated=True, variables=True),
        Operator("StringEqualsIgnoreCase", _string_equals_ignore_case, variables=True),
        Operator(
            "StringNotEqualsIgnoreCase", _string_equals_ignore_case, negated=True, variables=True
        ),
        Operator("StringLike", _string_like, variables=True),
        Operator("StringNotLike", _string_like, negated=True, variables=True),
        Operator("NumericNotEquals", _ordered(_number, operator.eq), negated=True),
        Operator("DateNotEquals", _ordered(_date, operator.eq), negated=True),
        Operator("Bool", _bool, variables=True),
        Operator("BinaryEquals", _binary_equals),
        Operator("IpAddress", _ip_address),
        Operator("NotIpAddress", _ip_address, negated=True),
        Operator("ArnEquals", _arn_like, variables=True, arn=True),
        Operator("ArnLike", _arn_like, variables=True, arn=True),
        Operator("ArnNotEquals", _arn_like, negated=True, variables=True, arn=True),
        Operator("ArnNotLike", _arn_like, negated=True, variables=True, arn=True),
    ]
    for suffix, relation in relations.items():
        table.append(Operator(f"Numeric{suffix}", _ordered(_number, relation)))
        table.append(Operator(f"Date{suffix}", _ordered(_date, relation)))
    return {op.name.lower(): op for op in table}


OPERATORS: dict[str, Operator] = _operators()
QUALIFIERS: dict[str, Literal["ForAnyValue", "ForAllValues"]] = {
    "foranyvalue": "ForAnyValue",
    "forallvalues": "ForAllValues",
}
IF_EXISTS = "ifexists"
NULL = "null"


@dataclass(frozen=True)
class OperatorName:
    qualifier: Literal["ForAnyValue", "ForAllValues"] | None
    base: Operator | None
    is_null: bool
    if_exists: bool

    @property
    def known(self) -> bool:
        return self.is_null or self.base is not None


def operator_name(name: str) -> OperatorName:
    """Split ``ForAllValues:StringNotEqualsIfExists`` into its three parts."""
    qualifier = None
    lowered = name.lower()
    prefix, colon, rest = lowered.partition(":")
    if colon:
        qualifier = QUALIFIERS.get(prefix)
        if qualifier is None:
            return OperatorName(None, None, False, False)
        lowered = rest
    if lowered == NULL:
        return OperatorName(qualifier, None, True, False)
    if_exists = lowered.endswith(IF_EXISTS) and lowered != IF_EXISTS
    base = OPERATORS.get(lowered.removesuffix(IF_EXISTS) if if_exists else lowered)
    return OperatorName(qualifier, base, False, if_exists)
