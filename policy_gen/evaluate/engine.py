"""The decision: which statements apply to a request, and what they decide.

* Statements: any matching ``Deny`` wins, else any matching ``Allow``, else an
  implicit deny. A statement applies when its principal, action, resource and every
  condition match; an invalid one (see ``parse``) never applies.
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
  while two others say true: we follow the two. ``IfExists`` makes a missing key true
  for every operator and qualifier.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from policy_gen.actions import action_matches, pattern_atoms
from policy_gen.evaluate.context import request_context
from policy_gen.evaluate.model import (
    Components,
    Condition,
    Context,
    Operator,
    Policy,
    Request,
    Result,
    Statement,
)
from policy_gen.evaluate.parse import as_policy
from policy_gen.evaluate.principals import Caller, caller_of, principal_matches
from policy_gen.evaluate.values import Resolver, arn_matches, parse_arn, resolve_arn, resolver

# Stands for every unknown part of an unknown key ARN: JSON policy text never holds it
# in practice, so only wildcards can match it.
UNKNOWN_PART = "\x00"
UNKNOWN_KEY_ARN = f"arn:{UNKNOWN_PART}:kms:{UNKNOWN_PART}:{UNKNOWN_PART}:key/{UNKNOWN_PART}"


@dataclass(frozen=True)
class _Run:
    """Everything one evaluation compares statements with."""

    caller: Caller
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
        return resolve_arn(raw, pattern_atoms, False)
    return (pattern_atoms(raw),)


def _resolve_value(base: Operator, raw: str, run: _Run) -> Components | None:
    """A policy value as the operator reads it; None when a variable is unresolvable."""
    variables = base.variables and run.variables
    if not variables or "${" not in raw:
        return _static_value(raw, base.arn)
    resolve = run.resolve
    if base.arn:
        return resolve_arn(raw, resolve, variables)
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
        components = resolve_arn(raw, run.resolve, run.variables)
        if components is not None and arn_matches(components, run.key_arn):
            return True
    return False


def _statement_applies(statement: Statement, run: _Run) -> bool:
    """Principal, action, resource and every condition must all match."""
    if not statement.valid or statement.principal is None:
        return False
    return (
        principal_matches(statement.principal, run.caller, run.key_partition)
        and any(action_matches(a, run.action) for a in statement.actions) != statement.not_action
        and _resource_matches(statement.resources, run) != statement.not_resource
        and all(_condition_holds(c, run) for c in statement.conditions)
    )


def _prepare(policy: Policy, request: Request) -> _Run:
    """Normalise the request once so statements compare with the same data."""
    key_arn = request.resource if isinstance(request.resource, str) else None
    parsed_key = parse_arn(key_arn) if key_arn else None
    partition = parsed_key.partition if parsed_key else None
    caller = caller_of(str(request.principal), partition)
    context = request_context(request, caller)
    return _Run(
        caller=caller,
        action=str(request.action),
        key_arn=key_arn or UNKNOWN_KEY_ARN,
        key_partition=partition,
        context=context,
        variables=policy.variables_enabled,
        resolve=resolver(policy.variables_enabled, context),
    )


def evaluate(policy: Policy | Mapping[str, object], request: Request) -> Result:
    """KMS's decision for ``request`` under this key policy alone.

    Explicit deny beats allow beats the implicit deny. Malformed statements never
    match, and no JSON object (however malformed) makes this raise.
    """
    parsed = as_policy(policy)
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
