"""Where a stand-in cannot stand in: conditions on the log-group ARN that deny or negate.

Why: check-template simulates a name known only at deploy (``/aws/lambda/${Fn}``) with a
stand-in token that equals only itself (policy_gen.symbols). For an ``Allow`` that is the
safe direction: the policy passes only if it would allow *every* real value. For a
``Deny``, and for a negated operator (``ArnNotLike``, ``StringNotEquals``...), the safe
direction is the opposite: the statement may apply to the real value although it does
not apply to the token, so the simulation can say "allowed" where KMS would deny (IAM user
guide, policy evaluation logic: an explicit deny wins; negated operators match what the
pattern does not). Such a key is not proven for that group; the finding says so and
names the override that makes the name, and the proof, real.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from policy_gen.evaluate import PolicyError, parse_policy
from policy_gen.render import ENCRYPTION_CONTEXT_KEY
from policy_gen.validate import Finding

CODE = "STAND_IN_UNDECIDED"


def stand_in_findings(
    policy: object,
    names: Sequence[str],
    has_stand_in: Callable[[str], bool],
    show: Callable[[str], str],
) -> list[Finding]:
    """One warning per statement whose outcome for a stand-in name is not decided: a
    ``Deny`` with any condition on the Logs encryption context, or an ``Allow`` with a
    negated operator on it."""
    symbolic = [name for name in names if has_stand_in(name)]
    if not symbolic:
        return []
    try:
        parsed = parse_policy(policy, strict=False)
    except PolicyError:
        return []  # validate reports the document itself
    key = ENCRYPTION_CONTEXT_KEY.lower()
    findings = []
    for statement in parsed.statements:
        on_context = [c for c in statement.conditions if c.key.lower() == key]
        if statement.effect == "Deny":
            undecided = on_context
        elif statement.effect == "Allow":
            undecided = [c for c in on_context if c.base is not None and c.base.negated]
        else:
            undecided = []
        if not undecided:
            continue
        operators = ", ".join(dict.fromkeys(c.operator for c in undecided))
        groups = ", ".join(show(name) for name in symbolic)
        findings.append(
            Finding(
                CODE,
                "warning",
                f"statement {statement.id} ({statement.effect}, {operators} on "
                f"{ENCRYPTION_CONTEXT_KEY}) may apply to the deployed name of {groups} "
                "although it does not apply to the stand-in checked here: the key is not "
                "proven for that name; pass the values it is built from "
                "(--parameter-overrides) to check the real name",
                statement.id,
            )
        )
    return findings
