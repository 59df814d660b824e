"""A key policy document parsed into ``model`` types, with every problem recorded.

A statement whose *structure* is wrong (missing or duplicated
Principal/Action/Resource pairs, wrong JSON types, unknown elements, bad Effect) is
kept but marked invalid, and never matches: KMS would either reject the policy or,
for a missing Action or Resource, accept a statement that has no effect. A
well-typed but meaningless *value* (a principal ARN with ``*`` in it, an unknown
condition operator) is reported as a problem and simply matches nothing.

The document itself is checked too: a key written twice in one object (JSON parsers
disagree on which value wins, so the policy KMS stores may not be the one proven here)
and NaN/Infinity (not JSON numbers, RFC 8259) are problems; the parse keeps the last
value. A few things are legal but risky and are warnings with their own code: a
repeated ``Sid`` and ``ForAnyValue`` on a single-valued key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from policy_gen.evaluate.model import (
    ACCOUNT,
    DOCUMENT_ELEMENTS,
    KNOWN_VERSIONS,
    PRINCIPAL_TYPES,
    STATEMENT_ELEMENTS,
    UNIQUE_ID,
    Condition,
    Named,
    Policy,
    PolicyError,
    PrincipalSpec,
    Problem,
    Statement,
)
from policy_gen.evaluate.operators import OperatorName, operator_name
from policy_gen.evaluate.values import parse_arn, scalar_text, scalars, strings
from sam_project.documents import duplicate_keys, walk

_DIGIT_RUN = re.compile(r"[0-9]{12,}")
_STATEMENT_PATH = re.compile(r"Statement(?:\[([0-9]+)\])?(?=[.\[]|$)")
# Single-valued condition keys on which KMS refuses ForAllValues when a key policy is
# created or updated (KMS developer guide, "AWS KMS condition keys", using set
# operators: "If you create or update a policy that includes a ForAllValues set operator
# with the kms:EncryptionContext:context-key or aws:RequestTag/tag-key condition keys,
# AWS KMS returns ... OverlyPermissiveCondition"). Prefixes of lower-cased key names.
SINGLE_VALUED_SET_KEYS = ("kms:encryptioncontext:", "aws:requesttag/")
DUPLICATE_SID = "DUPLICATE_SID"
SET_OPERATOR_SINGLE_VALUED = "SET_OPERATOR_SINGLE_VALUED"


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

    def caution(self, code: str, message: str) -> None:
        """Legal, but risky: a warning with its own code; the statement is unchanged."""
        self.problems.append(Problem(self.ident, _one_line(message), "warning", code))


def _aws_entry_problem(value: str) -> str | None:
    """Why an ``AWS`` principal value can match nothing, or None if it is fine."""
    if value == "*" or ACCOUNT.fullmatch(value) or UNIQUE_ID.fullmatch(value):
        return None
    arn = parse_arn(value)
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
        names = strings(raw)
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
    values = strings(statement[present[0]])
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
    op_name: str, parsed: OperatorName, key: str, raw: object, out: _Collector
) -> Condition | None:
    """One key's values; only a wrong JSON type breaks the statement."""
    values = scalars(raw)
    if values is None:
        out.fail(f"{op_name} {key}: values must be strings, numbers, booleans or a list of them")
        return None
    if not values:
        out.warn(f"{op_name} {key}: empty list of values")
    if parsed.is_null and any(v.lower() not in ("true", "false") for v in values):
        out.warn(f'Null {key}: values must be "true" or "false"')
    if parsed.qualifier is not None and key.lower().startswith(SINGLE_VALUED_SET_KEYS):
        _set_operator_problem(op_name, parsed, key, out)
    return Condition(
        op_name, parsed.qualifier, parsed.base, parsed.is_null, parsed.if_exists, key, values
    )


def _set_operator_problem(op_name: str, parsed: OperatorName, key: str, out: _Collector) -> None:
    """A set operator on a single-valued key KMS names: refused, or a warning."""
    plain = op_name.split(":", 1)[-1]
    if parsed.qualifier == "ForAllValues":
        out.warn(
            f"{op_name} {key}: KMS refuses a key policy with ForAllValues on this "
            "single-valued key (OverlyPermissiveCondition: it matches requests without the "
            f"specified value or with an unspecified one); use {plain} without ForAllValues"
        )
    else:
        # The same guide: "Using a set operator with a single-valued condition key can
        # create a policy statement that is overly permissive (or overly restrictive)."
        out.caution(
            SET_OPERATOR_SINGLE_VALUED,
            f"{op_name} {key}: {key} has at most one value per request, and the KMS guide "
            "warns that a set operator on a single-valued key can make a statement overly "
            f"permissive or overly restrictive (ForAnyValue is false when the key is "
            f"missing, even for a negated operator); use {plain} without ForAnyValue",
        )


def _parse_conditions(block: object, out: _Collector) -> tuple[Condition, ...]:
    """The Condition element: every (operator, key) pair with its values."""
    if not isinstance(block, Mapping):
        out.fail("Condition must be an object of operators")
        return ()
    conditions: list[Condition] = []
    for op_name, keys in block.items():
        parsed = operator_name(str(op_name))
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


def parse_statement(statement: Mapping[str, object], index: int) -> Statement:
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
        named=_named(statement),
    )


def _written(value: object) -> tuple[str, ...]:
    """The strings of an element written as one value or a list of values."""
    items = [] if value is None else value if isinstance(value, list) else [value]
    return tuple(item for item in items if isinstance(item, str))


def _named(statement: Mapping[str, object]) -> Named:
    """The statement's action, service and condition-key entries, as written."""
    services: list[str] = []
    for element in ("Principal", "NotPrincipal"):
        principal = statement.get(element)
        if isinstance(principal, Mapping):
            services.extend(_written(principal.get("Service")))
    keys: list[str] = []
    conditions = statement.get("Condition")
    if isinstance(conditions, Mapping):
        for block in conditions.values():
            if isinstance(block, Mapping):
                keys.extend(key for key in block if isinstance(key, str))
    return Named(
        actions=_written(statement["Action"]) if "Action" in statement else None,
        not_actions=_written(statement.get("NotAction")),
        services=tuple(services),
        condition_keys=tuple(keys),
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
        problem = Problem(None, "the policy document is not a JSON object")
        return Policy(None, (), (problem,), _digit_runs(document))
    problems: list[Problem] = []
    version_problem = _version_problem(document)
    if version_problem:
        problems.append(version_problem)
    for element in document:
        if element not in DOCUMENT_ELEMENTS:
            problems.append(Problem(None, f"unknown policy element {element!r}"))
    listed = _statement_list(document, strict, problems)
    statements = tuple(parse_statement(s, i) for i, s in listed)
    problems.extend(_document_problems(document, dict(listed)))
    sids: dict[str, None] = {}
    for statement in statements:
        problems.extend(statement.problems)
        if statement.sid is not None and statement.sid in sids:
            problems.append(_duplicate_sid(statement.sid))
        elif statement.sid is not None:
            sids[statement.sid] = None
    version = document.get("Version")
    return Policy(
        version if isinstance(version, str) else None,
        statements,
        tuple(problems),
        _digit_runs(document),
    )


def _duplicate_sid(sid: str) -> Problem:
    """A warning, not an error: the IAM user guide (Sid element) requires unique Sids "in
    IAM" (identity policies) and calls a Sid "just a sub-ID" in services such as SQS and
    SNS; the KMS developer guide ("Creating a key policy", elements in a key policy)
    describes the Sid as "an arbitrary string" and states no uniqueness rule, and IAM
    Access Analyzer requires unique Sids only "for some policy types". Both statements
    still count; results would name them alike."""
    return Problem(
        sid,
        _one_line(
            f"duplicate Sid {sid!r}: KMS documents no rule against it, but IAM requires "
            "unique Sids in identity policies and decisions here name both statements alike"
        ),
        "warning",
        DUPLICATE_SID,
    )


def _document_problems(
    document: Mapping[str, object], statements: Mapping[int, Mapping[str, object]]
) -> list[Problem]:
    """Keys written twice and NaN/Infinity anywhere in the document, each with its place
    (and its statement, when it is inside one)."""
    problems: list[Problem] = []
    for path, value in walk(document):
        place = path or "the policy document"
        match = _STATEMENT_PATH.match(path)
        owner = (
            statement_id(statements.get(int(match.group(1) or 0), {}), int(match.group(1) or 0))
            if match
            else None
        )
        for key in duplicate_keys(value):
            problems.append(
                Problem(
                    owner,
                    _one_line(
                        f"duplicate key {key!r} in {place}: JSON parsers disagree on which "
                        "value wins, so KMS may not read the policy proven here (this check "
                        "read the last one); write each key once"
                    ),
                )
            )
        if isinstance(value, float) and not math.isfinite(value):
            spelling = "NaN" if math.isnan(value) else "-Infinity" if value < 0 else "Infinity"
            problems.append(
                Problem(
                    owner,
                    f"{_one_line(place)} is {spelling}, which is not a JSON number (RFC 8259): "
                    "expected a finite number or a string",
                )
            )
    return problems


def _digit_runs(document: object) -> frozenset[str]:
    """Runs of 12 or more digits in every name and value of a JSON document."""
    runs: set[str] = set()
    pending = [document]
    seen: set[int] = set()  # containers read, so that no structure is read twice
    while pending:  # a loop, not recursion: no document is too deep to read
        value = pending.pop()
        if isinstance(value, Mapping | list | tuple):
            if id(value) not in seen:
                seen.add(id(value))
                pending.extend(value)  # a mapping's keys
                if isinstance(value, Mapping):
                    pending.extend(value.values())
        else:
            runs.update(_DIGIT_RUN.findall(scalar_text(value) or ""))
    return frozenset(runs)


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


def as_policy(policy: Policy | Mapping[str, object] | object) -> Policy:
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
    for statement in as_policy(policy).statements:
        for condition in statement.conditions:
            if not condition.is_null and condition.key.lower() == wanted:
                seen.update(dict.fromkeys(condition.values))
    return list(seen)
