"""Findings as SARIF 2.1.0, the format code scanning reads (GitHub's among others).

One rule per finding code, each with the help text a reviewer needs on the pull request,
in one table; each result names its rule, its level (``error``/``warning``/``note``, the
finding's effective severity) and the file and line it concerns (the resource, rule or policy
statement, from :mod:`policy_gen.locations`). The result's logical location names the
resource; ``partialFingerprints`` keep a finding the same result across commits even
when lines move.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote_from_bytes

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
        "A log group names its key by id or alias",
        "AWS::Logs::LogGroup KmsKeyId needs the key ARN (CloudFormation template reference, "
        "AWS::Logs::LogGroup): use !GetAtt Key.Arn, not !Ref Key, a key id or an alias.",
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
        "A log group's name is known only at deploy",
        "A note: the key policy was simulated with a stand-in for the unknown part, the same "
        "in the name and in the policy's ARNs. Pass the parameters it names "
        "(--parameter-overrides) to check the real name.",
    ),
    "LOGGROUP_NAME_INVALID": (
        "A log group's name is one CloudWatch Logs refuses",
        "CreateLogGroup accepts 1-512 characters of a-z A-Z 0-9 _ - / . # and no 'aws/' "
        "prefix: the deploy fails. Rename the group.",
    ),
    "LOGGROUP_ENCRYPTION_CONDITIONAL": (
        "A log group is unencrypted in some configuration",
        "KmsKeyId depends on a condition that cannot be decided before deploy; where it is "
        "false the group has no customer-managed key. Pass the parameters it reads.",
    ),
    "LAMBDA_LOGGROUP_NOT_CREATED": (
        "A function logs to a group the template does not create",
        "Lambda creates a missing LoggingConfig.LogGroup itself, without a customer-managed "
        "key. Create it in the template with KmsKeyId, or pass --external-log-group NAME.",
    ),
    "EXTERNAL_LOGGROUP": (
        "A function logs to a group created elsewhere (not checked)",
        "A note: --external-log-group says another stack creates it; check that stack.",
    ),
    "KEY_DEFAULT_POLICY": (
        "A key without KeyPolicy encrypts log groups",
        "KMS applies its default key policy (account and IAM only): CloudWatch Logs is "
        "denied. Give the key a policy that allows the region's Logs principal.",
    ),
    "KEY_POLICY_UNKNOWN": (
        "A key policy is not known before deploy (not checked)",
        "The KeyPolicy comes from a parameter without value or a deploy-time value. Pass it "
        "with --parameter-overrides to have it proven.",
    ),
    "STAND_IN_UNDECIDED": (
        "A Deny or negated condition may apply to a name known only at deploy",
        "A stand-in proves an Allow for every real value, but a Deny (or ArnNotLike, "
        "StringNotEquals...) on the log-group ARN may match the deployed name while missing "
        "the stand-in. Pass the values the name is built from with --parameter-overrides.",
    ),
    "KEY_OUTSIDE_TEMPLATE": (
        "A log group uses a key defined outside the template (not checked)",
        "A note: the key's policy is not in this template. Check it with policy_gen validate "
        "or audit the account.",
    ),
    "DYNAMIC_REFERENCE": (
        "A value is a dynamic reference resolved at deploy (not checked)",
        "A note: {{resolve:...}} is fetched by CloudFormation at deploy; it was simulated "
        "with a stand-in that equals only itself.",
    ),
    "NESTED_STACK_NOT_CHECKED": (
        "A nested stack is not checked",
        "A note: AWS::CloudFormation::Stack and AWS::Serverless::Application deploy a "
        "template of their own. Run check-template on it.",
    ),
    "TRANSFORM_NOT_CHECKED": (
        "A transform's output is not checked",
        "A note: AWS::Include snippets and macros are applied by CloudFormation; the "
        "template is checked as written.",
    ),
    "FOREACH_EXPANDED": (
        "Fn::ForEach was expanded",
        "A note: loops of the AWS::LanguageExtensions transform are expanded as the "
        "CloudFormation template reference (Fn::ForEach) documents, then checked.",
    ),
    "CONDITION_UNDECIDED": (
        "A resource's condition cannot be decided before deploy",
        "A note: the resource is checked as if created. Pass the parameters the condition "
        "reads to decide it.",
    ),
    "DUPLICATE_SID": (
        "Two statements share a Sid",
        "IAM requires unique Sids in identity policies; IAM Access Analyzer warns about "
        "duplicates in resource policies. Give each statement its own Sid.",
    ),
    "SET_OPERATOR_SINGLE_VALUED": (
        "A set operator on a single-valued condition key",
        "ForAnyValue on kms:EncryptionContext:<key> or aws:RequestTag/<key>: the KMS "
        "developer guide warns against set operators on single-valued keys. Drop it.",
    ),
    "SUPPRESSION_INVALID": (
        "A suppression in Metadata is malformed",
        "Metadata.policy-gen.suppress takes entries {code: KNOWN_CODE, reason: text}; a "
        "malformed entry suppresses nothing. Fix the entry named.",
    ),
    "SUPPRESSION_UNUSED": (
        "A suppression in Metadata matched no finding",
        "The resource has no finding with that code in this run: the suppression is stale "
        "or on the wrong resource. Remove or move it.",
    ),
    "TOPIC_PUBLISHER_DENIED": (
        "A publisher cannot use the key of its encrypted SNS topic",
        "The topic is encrypted with this key and the key policy does not let its publisher "
        "(cloudwatch.amazonaws.com for alarms) call kms:GenerateDataKey*/kms:Decrypt for it: "
        "notifications are dropped. Render the policy again (python -m policy_gen render).",
    ),
    "TOPIC_PUBLISHER_UNSCOPED": (
        "A topic publisher may use the key for other accounts' topics",
        "Condition the publisher's statement on kms:EncryptionContext:aws:sns:topicArn with "
        "the ARNs of this account's topics.",
    ),
    "TOPIC_NAME_UNKNOWN": (
        "An encrypted SNS topic's name is not known before deploy",
        "The key policy must name the topic's ARN for its publishers. Give the topic a "
        "TopicName or pass the parameters it uses (--parameter-overrides).",
    ),
    "EXECUTION_LOGS_UNENCRYPTED": (
        "API Gateway execution logs go to its own unencrypted group",
        "A stage logs execution at ERROR/INFO with no CloudWatch Logs delivery of its "
        "EXECUTION_LOGS, so API Gateway writes to API-Gateway-Execution-Logs_{id}/{stage}, "
        "which your key does not encrypt. Add a DeliverySource (EXECUTION_LOGS), a "
        "DeliveryDestination on an encrypted log group and a Delivery.",
    ),
    "DELIVERY_DESTINATION_UNCHECKED": (
        "A log delivery writes to a log group the template does not declare",
        "No key policy in this template can be proven to cover it. Deliver to a log group "
        "the template encrypts.",
    ),
    "RULE_REFUSED": (
        "CloudFormation would refuse the deploy",
        "An assertion of the template's Rules is false for these parameters, account and "
        "region; CloudFormation stops before creating anything. Render the parameter file "
        "for this account and region.",
    ),
}

# The code-scanning severity of errors and warnings (GitHub reads 'security-severity');
# notes say what was not checked and carry none.
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
        "defaultConfiguration": {"level": _default_level(code)},
        "properties": {"tags": ["security", "kms", "cloudwatch-logs"]},
    }


_WARNINGS: Final = frozenset(
    {
        "OVERBROAD",
        "GLOBAL_PRINCIPAL",
        "UNKNOWN_ACTION",
        "DUPLICATE_SID",
        "SET_OPERATOR_SINGLE_VALUED",
        "TOPIC_PUBLISHER_UNSCOPED",
        "DELIVERY_DESTINATION_UNCHECKED",
        "LOGGROUP_ENCRYPTION_CONDITIONAL",
        "KEY_POLICY_UNKNOWN",
        "STAND_IN_UNDECIDED",
    }
)
_NOTES: Final = frozenset(
    {
        "SUPPRESSION_UNUSED",
        "LOGGROUP_NAME_UNKNOWN",
        "EXTERNAL_LOGGROUP",
        "KEY_OUTSIDE_TEMPLATE",
        "DYNAMIC_REFERENCE",
        "NESTED_STACK_NOT_CHECKED",
        "TRANSFORM_NOT_CHECKED",
        "FOREACH_EXPANDED",
        "CONDITION_UNDECIDED",
    }
)


def _default_level(code: str) -> str:
    return "note" if code in _NOTES else "warning" if code in _WARNINGS else "error"


def artifact_uri(path: str) -> str:
    """A relative path stays relative (code scanning resolves it against the checkout);
    an absolute one under the working directory is made relative, else a file URI.

    ``artifactLocation.uri`` is a URI reference (SARIF 2.1.0, section 3.10.2, RFC 3986):
    a space, ``#``, ``%`` or ``?`` in a file name is percent-encoded, and so is every byte
    of a name that is not UTF-8 (kept by the file system as it is), so the reference
    names the file that was checked and the log stays valid UTF-8.
    """
    file = Path(path)
    if file.is_absolute():
        try:
            file = file.relative_to(Path.cwd())
        except ValueError:
            return file.as_uri()
    return quote_from_bytes(os.fsencode(file.as_posix()), safe="/")


def sarif_result(
    resource: str | None,
    finding: Finding,
    artifact: str | None,
    line: int | None,
    *,
    level: str | None = None,
    suppression: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One result: ``level`` is the effective one (default: the finding's severity);
    ``suppression`` (kind, justification) marks a result the user accepted (SARIF
    ``suppressions``: ``inSource`` for a template's Metadata, ``external`` for the
    config file), which viewers that honour it show as closed, not open."""
    level = level or finding.severity
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": level,
        "message": {"text": finding.message},
    }
    if level in _SECURITY_SEVERITY:
        result["properties"] = {"security-severity": _SECURITY_SEVERITY[level]}
    location: dict[str, Any] = {}
    if artifact is not None:
        physical: dict[str, Any] = {"artifactLocation": {"uri": artifact_uri(artifact)}}
        if line is not None:
            physical["region"] = {"startLine": line}
        location["physicalLocation"] = physical
    if resource is not None:
        location["logicalLocations"] = [{"name": resource, "kind": "resource"}]
    if location:
        result["locations"] = [location]
    key = "|".join([finding.code, resource or "", finding.statement or "", finding.message])
    result["partialFingerprints"] = {
        "policyGenFinding/v1": hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    }
    if suppression is not None:
        kind, justification = suppression
        result["suppressions"] = [
            {"kind": kind, "status": "accepted", "justification": justification}
        ]
    return result


def sarif_document(
    results: Sequence[dict[str, Any]],
    *,
    overrides: Sequence[tuple[str, str]] = (),
    notifications: Sequence[tuple[str, str, str | None]] = (),
    successful: bool = True,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run: every known rule, the given results.

    ``overrides`` (code, level or "off") are the user's severities, recorded as the
    invocation's ``ruleConfigurationOverrides``; ``notifications`` (level, text, file)
    are what the run could not look at (files skipped, unreadable); ``successful`` is
    false when a file named as a template could not be read (exit code 2).
    """
    codes = list(dict.fromkeys([*RULES, *(result["ruleId"] for result in results)]))
    index = {code: position for position, code in enumerate(codes)}
    indexed = [{**result, "ruleIndex": index[result["ruleId"]]} for result in results]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(code) for code in codes],
            }
        },
        "results": indexed,
        "columnKind": "unicodeCodePoints",
    }
    if overrides or notifications or not successful:
        invocation: dict[str, Any] = {"executionSuccessful": successful}
        if overrides:
            invocation["ruleConfigurationOverrides"] = [
                {
                    "descriptor": {"id": code, "index": index[code]},
                    # SARIF has no "off" level: a rule turned off still ran, and its
                    # results are reported as suppressed (kind "external").
                    "configuration": {"properties": {"policyGenSeverity": level}}
                    if level == "off"
                    else {"level": level},
                }
                for code, level in overrides
                if code in index
            ]
        if notifications:
            invocation["toolExecutionNotifications"] = [
                {
                    "level": level,
                    "message": {"text": text},
                    **(
                        {"locations": [{"physicalLocation": {
                            "artifactLocation": {"uri": artifact_uri(file)}}}]}
                        if file is not None
                        else {}
                    ),
                }
                for level, text, file in notifications
            ]  # fmt: skip
        run["invocations"] = [invocation]
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


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
    return sarif_document(
        [
            sarif_result(resource, finding, artifact, line_of(resource, finding))
            for resource, finding in findings
        ]
    )
