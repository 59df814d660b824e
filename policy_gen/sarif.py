"""Findings as SARIF 2.1.0, the format code scanning reads (GitHub's among others).

One rule per finding code, each with the help text a reviewer needs on the pull request,
in one table; each result names its rule, its level (``error``/``warning``, as the
finding's severity) and the file and line it concerns (the resource, rule or policy
statement, from :mod:`policy_gen.locations`). The result's logical location names the
resource; ``partialFingerprints`` keep a finding the same result across commits even
when lines move.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from policy_gen import __version__
from policy_gen.validate import Finding

SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME: Final = "policy-gen"

# code -> (title, help: what it means and what to do)
RULES: Final[dict[str, tuple[str, str]]] = {
    "LOGS_DENIED": (
        "CloudWatch Logs cannot use the key for a log group",
        "The region's Logs principal cannot Encrypt/GenerateDataKey/Decrypt with the log "
        "group's encryption context: logs stop with 'could not deliver logs to KMS key'. "
        "Render the policy for these log groups (python -m policy_gen render).",
    ),
    "CROSS_ACCOUNT": (
        "Another account's log groups may use the key",
        "Logs is allowed for a same-named log group in another account (confused deputy). "
        "Pin the account in kms:EncryptionContext:aws:logs:arn.",
    ),
    "LOCKOUT": (
        "The account cannot manage the key",
        "The account root cannot call kms:PutKeyPolicy: KMS refuses the policy or the key "
        "becomes unmanageable. Keep an account-root statement allowing kms:*.",
    ),
    "PUBLIC": (
        "An outsider may use the key",
        "Another account's role or an anonymous caller, choosing the request context "
        "itself, is allowed. Remove wildcard principals and unanchored conditions.",
    ),
    "WRONG_REGION_PRINCIPAL": (
        "A Logs principal of another region is named",
        "The key serves log groups of its own region only; name logs.REGION.amazonaws.com "
        "for the key's region (render again for this region).",
    ),
    "MALFORMED": (
        "The policy is malformed",
        "Unknown Version, missing Effect/Action/Resource/Principal, unknown operator or "
        "wrong types: KMS would refuse or ignore it. Fix the statement named.",
    ),
    "OVERBROAD": (
        "Logs may use the key for look-alike log groups",
        "The condition also matches other log groups of the account. Name the exact "
        "log-group ARNs (ArnEquals) or a stack-scoped prefix.",
    ),
    "GLOBAL_PRINCIPAL": (
        "The global logs.amazonaws.com principal is named",
        "The regional principal logs.REGION.amazonaws.com is the documented one for KMS "
        "keys; use it.",
    ),
    "UNKNOWN_ACTION": (
        "An action matches no KMS action",
        "A typo or another service's action: it grants nothing. Use KMS action names.",
    ),
    "KMSKEYID_NOT_ARN": (
        "A log group names its key by id",
        "AWS::Logs::LogGroup KmsKeyId needs the key ARN: use !GetAtt Key.Arn, not !Ref Key.",
    ),
    "LOGGROUP_UNENCRYPTED": (
        "A log group is not encrypted with a customer-managed key",
        "Set KmsKeyId to a key of the template whose policy lets CloudWatch Logs use it.",
    ),
    "LAMBDA_AUTO_LOGGROUP": (
        "Lambda will create an unencrypted log group",
        "A function without LoggingConfig.LogGroup (or an explicit /aws/lambda/NAME group) "
        "logs to a group Lambda creates unencrypted and never expiring. Point "
        "LoggingConfig.LogGroup at an encrypted log group.",
    ),
    "KEY_DELETION_MISMATCH": (
        "A retained log group outlives its key",
        "After stack deletion the retained logs can never be read. Give the key and the "
        "log group the same DeletionPolicy/UpdateReplacePolicy.",
    ),
    "LOGGROUP_NAME_UNKNOWN": (
        "A log group's name is not known before deploy",
        "The key policy must name the log group. Pass the parameters its name uses "
        "(--parameter-overrides) or give it a LogGroupName.",
    ),
    "RULE_REFUSED": (
        "CloudFormation would refuse the deploy",
        "An assertion of the template's Rules is false for these parameters, account and "
        "region; CloudFormation stops before creating anything. Render the parameter file "
        "for this account and region.",
    ),
}

# The code-scanning severity of errors and warnings (GitHub reads 'security-severity').
_SECURITY_SEVERITY: Final = {"error": "8.0", "warning": "4.0"}


def _rule(code: str) -> dict[str, Any]:
    title, help_text = RULES.get(code, (code, "See `python -m policy_gen --help`."))
    name = "".join(part.capitalize() for part in code.split("_"))
    return {
        "id": code,
        "name": name,
        "shortDescription": {"text": title},
        "fullDescription": {"text": help_text},
        "help": {"text": help_text, "markdown": f"**{code}**: {help_text}"},
        "defaultConfiguration": {"level": "warning" if code in _WARNINGS else "error"},
        "properties": {"tags": ["security", "kms", "cloudwatch-logs"]},
    }


_WARNINGS: Final = frozenset({"OVERBROAD", "GLOBAL_PRINCIPAL", "UNKNOWN_ACTION"})


def artifact_uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it against the checkout);
    an absolute one under the working directory is made relative, else a file URI."""
    file = Path(path)
    if not file.is_absolute():
        return file.as_posix()
    try:
        return file.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return file.as_uri()


def sarif_log(
    findings: Sequence[tuple[str | None, Finding]],
    artifact: str | None,
    line_of: Callable[[str | None, Finding], int | None],
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every known rule, one result per finding.

    ``findings`` pairs each finding with the resource it concerns (None for a bare
    policy); ``artifact`` is the file they are in (None: stdin, no location);
    ``line_of`` gives the line of a finding in that file, when known.
    """
    codes = list(dict.fromkeys([*RULES, *(finding.code for _, finding in findings)]))
    index = {code: position for position, code in enumerate(codes)}
    results = []
    for resource, finding in findings:
        result: dict[str, Any] = {
            "ruleId": finding.code,
            "ruleIndex": index[finding.code],
            "level": "error" if finding.severity == "error" else "warning",
            "message": {"text": finding.message},
            "properties": {"security-severity": _SECURITY_SEVERITY[finding.severity]},
        }
        location: dict[str, Any] = {}
        if artifact is not None:
            physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(artifact)}}
            line = line_of(resource, finding)
            if line is not None:
                physical["region"] = {"startLine": line}
            location["physicalLocation"] = physical
        if resource is not None:
            location["logicalLocations"] = [{"name": resource, "kind": "resource"}]
        if location:
            result["locations"] = [location]
        key = "|".join([finding.code, resource or "", finding.statement or "", finding.message])
        result["partialFingerprints"] = {
            "policyGenFinding/v1": hashlib.sha256(key.encode("utf-8")).hexdigest()
        }
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": TOOL_NAME,
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(code) for code in codes],
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
