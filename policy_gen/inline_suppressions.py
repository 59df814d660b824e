"""Suppressions written in a resource's ``Metadata``, next to the resource they excuse.

::

    FunctionLogs:
      Type: AWS::Logs::LogGroup
      Metadata:
        policy-gen:
          suppress:
            - code: LOGGROUP_UNENCRYPTED
              reason: holds only request ids; encrypted by CloudWatch Logs' own key

CloudFormation accepts any JSON under a resource's ``Metadata`` (CloudFormation user
guide, "Metadata attribute"), so the template still deploys unchanged, and a CDK app
writes the same thing with ``cfn_resource.add_metadata("policy-gen", {...})``.

A reason is required: an excuse nobody can read later is a silent change. A malformed
entry (no reason, an unknown code, a key we do not know) is not a bad-input exit, because
the template is one CloudFormation accepts; it is a ``SUPPRESSION_INVALID`` finding (an
error by default) on that resource, and the entry suppresses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from policy_gen.severity import SUPPRESSION_UNUSED, Suppression
from policy_gen.validate import Finding

METADATA_KEY: Final = "policy-gen"
SUPPRESSION_INVALID: Final = "SUPPRESSION_INVALID"
ENTRY_KEYS: Final = ("code", "reason")
# Findings about suppressions themselves: excusing them in the same place would hide the
# mistake they report; the config file can still change their level.
NOT_SUPPRESSIBLE: Final = frozenset({SUPPRESSION_INVALID, SUPPRESSION_UNUSED})
EXAMPLE: Final = "suppress: [{code: LAMBDA_AUTO_LOGGROUP, reason: why it is acceptable}]"


def _invalid(logical_id: str, problem: str) -> tuple[str, Finding]:
    return (
        logical_id,
        Finding(
            SUPPRESSION_INVALID,
            "error",
            f"Metadata.{METADATA_KEY} of {logical_id}: {problem}; this entry suppresses "
            f"nothing (expected {EXAMPLE})",
        ),
    )


def _entry(
    logical_id: str, index: int, entry: object, known: frozenset[str]
) -> Suppression | tuple[str, Finding]:
    where = f"suppress[{index}]"
    if not isinstance(entry, Mapping):
        return _invalid(logical_id, f"{where} is a {type(entry).__name__}, not a mapping")
    extra = [str(key) for key in entry if key not in ENTRY_KEYS]
    if extra:
        return _invalid(logical_id, f"{where} has unknown key(s) {', '.join(extra)}")
    code, reason = entry.get("code"), entry.get("reason")
    if not isinstance(code, str) or code.strip().upper() not in known:
        return _invalid(logical_id, f"{where} names unknown finding code {code!r}")
    code = code.strip().upper()
    if code in NOT_SUPPRESSIBLE:
        return _invalid(
            logical_id, f"{where} suppresses {code}, which only the config file can turn off"
        )
    if not isinstance(reason, str) or not reason.strip():
        return _invalid(logical_id, f"{where} suppresses {code} without a reason")
    return Suppression(code, " ".join(reason.split()))


def read_suppressions(
    template: Mapping[str, Any], known: Iterable[str]
) -> tuple[dict[str, list[Suppression]], list[tuple[str, Finding]]]:
    """Each resource's valid suppressions, and a finding for each malformed one."""
    known_codes = frozenset(known)
    found: dict[str, list[Suppression]] = {}
    problems: list[tuple[str, Finding]] = []
    resources = template.get("Resources")
    for logical_id, resource in resources.items() if isinstance(resources, Mapping) else ():
        metadata = resource.get("Metadata") if isinstance(resource, Mapping) else None
        ours = metadata.get(METADATA_KEY) if isinstance(metadata, Mapping) else None
        if ours is None:
            continue
        if not isinstance(ours, Mapping) or set(ours) != {"suppress"}:
            problems.append(_invalid(logical_id, "expected a mapping with one key, suppress"))
            continue
        entries = ours["suppress"]
        if not isinstance(entries, list):
            problems.append(_invalid(logical_id, "suppress is not a list"))
            continue
        for index, entry in enumerate(entries):
            outcome = _entry(logical_id, index, entry, known_codes)
            if isinstance(outcome, Suppression):
                found.setdefault(logical_id, []).append(outcome)
            else:
                problems.append(outcome)
    return found, problems
