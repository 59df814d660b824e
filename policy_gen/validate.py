"""Prove a key policy right for CloudWatch Logs by simulating the requests that matter.

Every finding comes from a simulated KMS decision (``policy_gen.evaluate``), not
from pattern-matching the policy text: a check like "does the policy mention the
Logs principal?" passes policies that KMS would still refuse, and fails correct
ones written in an unusual shape. The requests are:

* Logs (the regional principal) encrypting for each named log group — must be
  allowed (``LOGS_DENIED``);
* Logs for a log group of the same name in another account, and for any other
  account the policy's own conditions mention — must be denied (``CROSS_ACCOUNT``);
* Logs for look-alike log groups in our account — warned about (``OVERBROAD``);
* the account root calling ``kms:PutKeyPolicy`` — must be allowed (``LOCKOUT``);
* an outsider (another account's role, an anonymous caller, and an AWS service
  principal) with whatever request context it can choose itself — must be denied
  (``PUBLIC``);
* each publisher of an encrypted SNS topic (CloudWatch alarms) encrypting for that
  topic — must be allowed (``TOPIC_PUBLISHER_DENIED``); for another account's topic of
  the same name, or any other account's topic the policy's topic conditions admit —
  warned about (``TOPIC_PUBLISHER_UNSCOPED``).

Logs' requests are modelled with the encryption context Logs documents
(``aws:logs:arn``) and nothing else: Logs does not document sending
``aws:SourceAccount``/``aws:SourceArn`` to KMS, so a policy relying on them is
reported as denying Logs.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from policy_gen.actions import expand_action_pattern
from policy_gen.arn_wildcards import fill_wildcards, foreign_account_like, glob_match, has_wildcard
from policy_gen.evaluate import (
    Policy,
    Request,
    Result,
    Statement,
    condition_candidate_values,
    evaluate,
    parse_policy,
    statement_principal_matches,
)
from policy_gen.partitions import (
    ANY_REGION_PATTERN,
    LOG_GROUP_PATTERN,
    PARTITIONS,
    Partition,
    check_account,
    check_log_group_name,
    check_region,
    log_group_arn,
    logs_principal,
    root_arn,
)
from policy_gen.publishers import SNS_CONTEXT_KEY, publisher_named, sns_context, topic_arn
from policy_gen.render import ENCRYPTION_CONTEXT_KEY

# "note": what a check could not decide or see, and why; never fails a run.
Severity = Literal["error", "warning", "note"]

# The actions Logs must be able to call for a log group it encrypts.
REQUIRED_LOGS_ACTIONS = ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
# Account ids we use for "someone else": reserved-looking, never ours (checked).
OUTSIDER_ACCOUNTS = ("999988887777", "444455556666")
# More stand-ins, used when the policy itself names the first ones: an outsider must be
# an account the policy does not mention, or a legitimate grant to it looks public.
SPARE_OUTSIDER_ACCOUNTS = ("210987654321", "135792468024", "864209753186")
LOOKALIKE_SUFFIX = "-lookalike"
# A log group none of ours: another account's, for a key serving no log group of ours.
STAND_IN_LOG_GROUP = "/some/other/log-group"
# A service principal no policy names (before the partition's suffix): stands for "any
# AWS service" when PUBLIC tries the callers a Principal "*" admits.
OUTSIDER_SERVICE = "outsider-service"
# Condition keys an outsider cannot choose: they describe who is calling or
# from where. Every other key (encryption context, grant constraints, ViaService
# ...) is part of the request the caller writes, so an outsider can satisfy it.
IDENTITY_KEYS = frozenset(
    key.lower()
    for key in (
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalType",
        "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName",
        "aws:PrincipalServiceNamesList",
        "aws:userid",
        "aws:username",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SourceOrgID",
        "aws:SourceOrgPaths",
        "aws:SourceIp",
        "aws:SourceVpc",
        "aws:SourceVpce",
        "aws:VpcSourceIp",
        "aws:SourceIdentity",
        "aws:FederatedProvider",
        "kms:CallerAccount",
        "aws:CalledVia",
        "aws:CalledViaFirst",
        "aws:CalledViaLast",
    )
)
IDENTITY_PREFIXES = ("aws:principaltag/", "aws:resourcetag/")
# Keep the outsider search bounded: values tried per key, keys combined.
MAX_VALUES_PER_KEY = 4
MAX_COMBINATIONS = 256


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    statement: str | None = None

    def as_error(self) -> Finding:
        """The same finding as an error (``--strict``)."""
        return Finding(self.code, "error", self.message, self.statement)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "statement": self.statement,
        }


@dataclass(frozen=True)
class Simulation:
    """One simulated request, what we expected, and what KMS would decide."""

    purpose: str
    request: Request
    result: Result
    expected: Literal["Allow", "Deny", "Either"]

    @property
    def as_expected(self) -> bool:
        allowed = self.result.decision == "Allow"
        return self.expected == "Either" or allowed == (self.expected == "Allow")

    def as_json(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "principal": self.request.principal,
            "action": self.request.action,
            "context": {key: list(values) for key, values in self.request.context.items()},
            "decision": self.result.decision,
            "matched": list(self.result.matched),
            "expected": self.expected,
        }


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    simulations: list[Simulation] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not any(finding.severity == "error" for finding in self.findings)

    def strict(self) -> Report:
        """The same report with every warning promoted to an error (notes stay notes)."""
        return Report(
            [f if f.severity == "note" else f.as_error() for f in self.findings],
            list(self.simulations),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "findings": [finding.as_json() for finding in self.findings],
            "simulations": [simulation.as_json() for simulation in self.simulations],
        }


@dataclass(frozen=True)
class Target:
    """Where the key lives and which log groups it must serve."""

    partition: Partition
    region: str
    account: str
    log_groups: tuple[str, ...]
    outsiders: tuple[str, ...] = OUTSIDER_ACCOUNTS
    # (topic name, publishing service) for each SNS topic the key encrypts.
    topics: tuple[tuple[str, str], ...] = ()

    @classmethod
    def checked(
        cls, partition: Partition, region: str, account: str, log_groups: Iterable[str]
    ) -> Target:
        names = tuple(dict.fromkeys(check_log_group_name(name) for name in log_groups))
        if not names:
            raise ValueError("validation needs at least one log group")
        return cls(partition, check_region(partition, region), check_account(account), names)

    @classmethod
    def for_key(cls, partition: Partition, region: str, account: str) -> Target:
        """A key that serves none of the log groups at hand: checked for what makes any
        key unsafe (see :func:`validate`)."""
        return cls(partition, check_region(partition, region), check_account(account), ())

    @property
    def logs_principal(self) -> str:
        return logs_principal(self.partition, self.region)

    @property
    def key_arn(self) -> str:
        # A stand-in for the key's ARN: Resource "*" in a key policy means this key.
        return (
            f"arn:{self.partition.name}:kms:{self.region}:{self.account}:"
            "key/00000000-0000-4000-8000-000000000000"
        )

    def log_group_arn(self, name: str, account: str | None = None) -> str:
        return log_group_arn(self.partition, self.region, account or self.account, name)

    def outsider_account(self) -> str:
        return next(a for a in (*self.outsiders, *OUTSIDER_ACCOUNTS) if a != self.account)


def logs_context(arn: str) -> dict[str, tuple[str, ...]]:
    """The request context of a Logs call for one log group."""
    return {
        ENCRYPTION_CONTEXT_KEY: (arn,),
        "kms:EncryptionContextKeys": ("aws:logs:arn",),
    }


def validate(document: object, target: Target) -> Report:
    """Run every check against ``document``: a parsed JSON value, or a ``Policy``
    already parsed from one (the audit parses each key policy once for many checks).

    Every check works on the parsed policy. A target without log groups
    (:meth:`Target.for_key`) gets the checks that make any key unsafe: MALFORMED,
    CROSS_ACCOUNT, LOCKOUT and PUBLIC (and the topic publishers it names).
    """
    # Lenient: a JSON object without a usable statement list is MALFORMED (exit 1),
    # not bad input; its problems are reported below and it allows nothing.
    policy = document if isinstance(document, Policy) else parse_policy(document, strict=False)
    target = dataclasses.replace(target, outsiders=_unmentioned_accounts(policy, target))
    report = Report()
    for problem in policy.problems:
        report.findings.append(
            Finding(problem.code, problem.severity, problem.message, problem.statement)
        )
    for check, any_key in _CHECKS:
        if target.log_groups or any_key:
            check(policy, target, report)
    return report


def _simulate(
    report: Report,
    policy: Policy,
    target: Target,
    purpose: str,
    principal: str,
    action: str,
    context: Mapping[str, Sequence[str]],
    expected: Literal["Allow", "Deny", "Either"],
) -> Simulation:
    request = Request(principal, action, dict(context), target.key_arn)
    simulation = Simulation(purpose, request, evaluate(policy, request), expected)
    report.simulations.append(simulation)
    return simulation


def _first(matched: Sequence[str]) -> str | None:
    return matched[0] if matched else None


def _check_logs_access(policy: Policy, target: Target, report: Report) -> None:
    for name in target.log_groups:
        arn = target.log_group_arn(name)
        denied: list[Simulation] = []
        for action in REQUIRED_LOGS_ACTIONS:
            simulation = _simulate(
                report,
                policy,
                target,
                f"Logs encrypts {name}",
                target.logs_principal,
                action,
                logs_context(arn),
                "Allow",
            )
            if simulation.result.decision != "Allow":
                denied.append(simulation)
        if denied:
            actions = ", ".join(s.request.action for s in denied)
            explicit = [s for s in denied if s.result.decision == "ExplicitDeny"]
            how = (
                f"explicitly denied by statement {explicit[0].result.matched[0]}"
                if explicit and explicit[0].result.matched
                else "no statement allows it"
            )
            report.findings.append(
                Finding(
                    "LOGS_DENIED",
                    "error",
                    f"{target.logs_principal} cannot call {actions} for log group {name} "
                    f"({arn}): {how}; CloudWatch Logs could not deliver logs to this key "
                    f"({_logs_model(policy, target)})",
                    _first(explicit[0].result.matched) if explicit else None,
                )
            )


def _global_logs_principals(policy: Policy) -> list[str]:
    """The global ``logs.<suffix>`` principals the policy names."""
    found = [
        principal
        for statement in policy.statements
        for principal in statement.named.services
        if _logs_principal_region(principal) == ""
    ]
    return list(dict.fromkeys(found))


def _logs_model(policy: Policy, target: Target) -> str:
    """Which principal LOGS_DENIED simulates, and why a global grant does not count."""
    model = (
        f"simulated as {target.logs_principal}, the regional principal the CloudWatch Logs "
        "guide documents for KMS keys"
    )
    named = _global_logs_principals(policy)
    if named:
        model += (
            f"; the grant to the global {', '.join(named)} is not counted for log delivery, "
            "since the guide does not document it for log-group encryption; see "
            "GLOBAL_PRINCIPAL"
        )
    return model


def _logs_principals_in(policy: Policy, target: Target) -> list[str]:
    """The regional Logs principal plus every Logs principal the policy names."""
    principals = [target.logs_principal]
    for statement in policy.statements:
        for principal in statement.named.services:
            if _logs_principal_region(principal) is not None and principal not in principals:
                principals.append(principal)
    return principals


def _context_arn_candidates(policy: Policy) -> list[str]:
    return condition_candidate_values(policy, ENCRYPTION_CONTEXT_KEY)


def _check_topic_publishers(policy: Policy, target: Target, report: Report) -> None:
    """Each publisher may use the key for its topic, and not for another account's."""
    for name, service in target.topics:
        publisher = publisher_named(service)
        principal = publisher.principal(target.partition)
        arn = topic_arn(target.partition, target.region, target.account, name)
        purpose = f"{service} publishes to {name}"
        simulations = [
            _simulate(report, policy, target, purpose, principal, a, sns_context(arn), "Allow")
            for a in publisher.required
        ]
        denied = [s for s in simulations if s.result.decision != "Allow"]
        if denied:
            report.findings.append(
                Finding(
                    "TOPIC_PUBLISHER_DENIED",
                    "error",
                    f"{principal} cannot call {', '.join(s.request.action for s in denied)} "
                    f"for SNS topic {arn}: the topic is encrypted with this key, so {service} "
                    f"cannot publish to it ({publisher.source}); render the policy again",
                    _first(denied[0].result.matched),
                )
            )
            continue
        purpose = f"{service} for another account's topic"
        action = publisher.required[0]
        for foreign in _foreign_topic_arns(policy, target, name):
            simulation = _simulate(
                report, policy, target, purpose, principal, action, sns_context(foreign), "Either"
            )
            if simulation.result.decision == "Allow":
                report.findings.append(
                    Finding(
                        "TOPIC_PUBLISHER_UNSCOPED",
                        "warning",
                        f"{principal} may use the key for {foreign}, a topic of another "
                        "account: limit it to our topics with "
                        "kms:EncryptionContext:aws:sns:topicArn",
                        _first(simulation.result.matched),
                    )
                )
                break


def _foreign_topic_arns(policy: Policy, target: Target, name: str) -> list[str]:
    """Other accounts' topics to try: ``name`` in an outsider account, then every topic
    ARN the policy's own topic conditions admit outside our account (a listed or
    wildcarded foreign ARN beside ours is as unscoped as no condition at all)."""
    arns = [topic_arn(target.partition, target.region, target.outsider_account(), name)]
    for pattern in condition_candidate_values(policy, SNS_CONTEXT_KEY):
        for arn in instantiate_arn(pattern, target, prefer_foreign=True):
            if _arn_account(arn) != target.account and arn not in arns:
                arns.append(arn)
    return arns


def _check_cross_account(policy: Policy, target: Target, report: Report) -> None:
    outsider = target.outsider_account()
    names = target.log_groups or (STAND_IN_LOG_GROUP,)
    arns = [target.log_group_arn(name, outsider) for name in names]
    for pattern in _context_arn_candidates(policy):
        for arn in instantiate_arn(pattern, target, prefer_foreign=True):
            if _arn_account(arn) != target.account and arn not in arns and _is_log_group_arn(arn):
                arns.append(arn)
    reported: set[str] = set()
    for principal, arn in itertools.product(_logs_principals_in(policy, target), arns):
        for action in REQUIRED_LOGS_ACTIONS:
            simulation = _simulate(
                report,
                policy,
                target,
                "Logs for another account's log group",
                principal,
                action,
                logs_context(arn),
                "Deny",
            )
            if simulation.result.decision == "Allow" and arn not in reported:
                reported.add(arn)
                model = (
                    "modelled as a global principal, which some CloudWatch Logs features "
                    "use, able to act for any account's log group"
                    if _logs_principal_region(principal) == ""
                    else "Logs' regional principal serves every account in the region: only "
                    "the encryption context tells our log groups from theirs"
                )
                report.findings.append(
                    Finding(
                        "CROSS_ACCOUNT",
                        "error",
                        f"{principal} may use the key ({action}) for {arn}, a log group in "
                        f"account {_arn_account(arn)} ({model}): pin the account in "
                        f"{ENCRYPTION_CONTEXT_KEY}",
                        _first(simulation.result.matched),
                    )
                )


def _check_overbroad(policy: Policy, target: Target, report: Report) -> None:
    named = {target.log_group_arn(name) for name in target.log_groups}
    arns = [target.log_group_arn(name + LOOKALIKE_SUFFIX) for name in target.log_groups]
    arns.append(target.log_group_arn(STAND_IN_LOG_GROUP))
    for pattern in _context_arn_candidates(policy):
        for arn in instantiate_arn(pattern, target, prefer_foreign=False):
            if (
                _arn_account(arn) == target.account
                and arn not in named
                and arn not in arns
                and _is_log_group_arn(arn)
            ):
                arns.append(arn)
    for arn in arns:
        simulation = _simulate(
            report,
            policy,
            target,
            "Logs for a log group that is not ours to name",
            target.logs_principal,
            "kms:GenerateDataKey",
            logs_context(arn),
            "Either",
        )
        if simulation.result.decision == "Allow":
            report.findings.append(
                Finding(
                    "OVERBROAD",
                    "warning",
                    f"{target.logs_principal} may use the key for {arn}, a log group of this "
                    "account that is not one of the named log groups",
                    _first(simulation.result.matched),
                )
            )
            return


def _check_lockout(policy: Policy, target: Target, report: Report) -> None:
    # KMS API reference, PutKeyPolicy (Policy) and CreateKey: "The key policy must allow
    # the calling principal to make a subsequent PutKeyPolicy request on the KMS key"
    # unless BypassPolicyLockoutSafetyCheck is set. We require the account root instead
    # of the (unknown) caller: that statement delegates to IAM, so the key outlives any
    # one deploying role.
    root = root_arn(target.partition, target.account)
    simulation = _simulate(
        report, policy, target, "The account keeps control", root, "kms:PutKeyPolicy", {}, "Allow"
    )
    if simulation.result.decision != "Allow":
        report.findings.append(
            Finding(
                "LOCKOUT",
                "error",
                f"{root} cannot call kms:PutKeyPolicy ({simulation.result.decision}). KMS's "
                "own lockout safety check (CreateKey/PutKeyPolicy without "
                "BypassPolicyLockoutSafetyCheck) only requires that the principal making the "
                "request can change the policy later; this check is stricter on purpose: the "
                "account itself must keep that right, so IAM policies, not one role or user, "
                "keep the key manageable",
                _first(simulation.result.matched),
            )
        )


def _is_identity_key(key: str) -> bool:
    lowered = key.lower()
    return lowered in IDENTITY_KEYS or lowered.startswith(IDENTITY_PREFIXES)


def _outsider_callers(target: Target) -> tuple[tuple[str, str], ...]:
    """(principal, how a finding names it) for each kind of caller that is not us.

    A Principal ``"*"`` admits all three: another account's role, an anonymous caller,
    and AWS service principals (which carry no ``aws:PrincipalAccount`` or
    ``kms:CallerAccount``, so a condition that only pins those "IfExists" lets every
    service in, acting for any customer). The service is a stand-in no policy names.
    """
    role = f"arn:{target.partition.name}:iam::{target.outsider_account()}:role/outsider"
    service = f"{OUTSIDER_SERVICE}.{target.partition.principal_suffix}"
    return (
        (role, f"{role} (another account)"),
        ("*", "an anonymous caller"),
        (service, f"any AWS service principal (tried as {service})"),
    )


def _check_public(policy: Policy, target: Target, report: Report) -> None:
    callers = _outsider_callers(target)
    for statement in policy.statements:
        if statement.effect != "Allow":
            continue
        sid = statement.id
        for caller, who in callers:
            if not statement_principal_matches(statement, caller):
                continue
            found = _outsider_allowed(policy, statement, caller, target, report)
            if found is not None:
                report.findings.append(
                    Finding(
                        "PUBLIC",
                        "error",
                        f"statement {sid} allows {who} to call {found.request.action}: any "
                        "such principal can satisfy it; name principals, or pin "
                        "aws:PrincipalAccount/kms:CallerAccount (not ...IfExists)",
                        sid,
                    )
                )
                break


def _outsider_allowed(
    policy: Policy, statement: Statement, caller: str, target: Target, report: Report
) -> Simulation | None:
    """Search the requests an outsider can make for one this statement allows."""
    for action in _statement_actions(statement):
        for context in _attacker_contexts(policy, statement):
            request = Request(caller, action, context, target.key_arn)
            result = evaluate(policy, request)
            if result.decision == "Allow":
                simulation = Simulation("An outsider uses the key", request, result, "Deny")
                report.simulations.append(simulation)
                return simulation
    # Record one representative denied attempt so the report shows what was tried.
    _simulate(report, policy, target, "An outsider uses the key", caller, "kms:Decrypt", {}, "Deny")
    return None


def _statement_actions(statement: Statement) -> list[str]:
    """Concrete KMS actions a statement's Action/NotAction can cover."""
    if statement.named.actions is None:
        return expand_action_pattern("kms:*")  # NotAction: evaluate() decides which remain
    actions: list[str] = []
    for pattern in statement.named.actions:
        actions.extend(a for a in expand_action_pattern(pattern) if a not in actions)
    return actions


def _attacker_contexts(
    policy: Policy, statement: Statement
) -> Iterable[dict[str, tuple[str, ...]]]:
    """Request contexts an outsider could send: every non-identity key the
    statement conditions on, set to each value the policy mentions (or absent)."""
    keys: list[str] = []
    for key in statement.named.condition_keys:
        if not _is_identity_key(key) and key not in keys:
            keys.append(key)
    choices: list[list[tuple[str, ...] | None]] = []
    for key in keys:
        values: list[tuple[str, ...] | None] = [None]
        for value in condition_candidate_values(policy, key)[:MAX_VALUES_PER_KEY]:
            values.append((fill_wildcards(value),))
        choices.append(values)
    for combination in itertools.islice(itertools.product(*choices), MAX_COMBINATIONS):
        yield {
            key: value for key, value in zip(keys, combination, strict=True) if value is not None
        }


def _check_principals(policy: Policy, target: Target, report: Report) -> None:
    for statement in policy.statements:
        sid = statement.id
        for principal in statement.named.services:
            region = _logs_principal_region(principal)
            if region is None:
                continue
            if region == "":
                report.findings.append(
                    Finding(
                        "GLOBAL_PRINCIPAL",
                        "warning",
                        f"statement {sid} names the global principal {principal}: CloudWatch Logs "
                        f"documents the regional {target.logs_principal} for KMS keys",
                        sid,
                    )
                )
            elif region != target.region:
                simulation = _simulate(
                    report,
                    policy,
                    target,
                    "Logs of another region",
                    principal,
                    "kms:GenerateDataKey",
                    logs_context(target.log_group_arn(target.log_groups[0])),
                    "Either",
                )
                report.findings.append(
                    Finding(
                        "WRONG_REGION_PRINCIPAL",
                        "error",
                        f"statement {sid} names {principal}, the Logs principal of region "
                        f"{region}; this key lives in {target.region} (simulated: "
                        f"{simulation.result.decision}); KMS rejects other regions' principals "
                        "in some regions",
                        sid,
                    )
                )


def _check_actions(policy: Policy, _target: Target, report: Report) -> None:
    for statement in policy.statements:
        sid = statement.id
        named = statement.named
        for field_name, actions in (
            ("Action", named.actions or ()),
            ("NotAction", named.not_actions),
        ):
            for action in actions:
                if not _names_a_kms_action(action):
                    report.findings.append(
                        Finding(
                            "UNKNOWN_ACTION",
                            "warning",
                            f"statement {sid} {field_name} {action!r} matches no KMS action",
                            sid,
                        )
                    )


# --- small helpers ------------------------------------------------------------------


def _logs_principal_region(principal: str) -> str | None:
    """The region a CloudWatch Logs principal names: "" for the global
    ``logs.<suffix>``, None when ``principal`` is not a Logs principal at all."""
    suffixes = sorted({p.principal_suffix for p in PARTITIONS.values()}, key=len, reverse=True)
    for suffix in suffixes:
        if principal == f"logs.{suffix}":
            return ""
        middle = principal.removeprefix("logs.").removesuffix(f".{suffix}")
        if (
            principal.startswith("logs.")
            and principal.endswith(f".{suffix}")
            and ANY_REGION_PATTERN.fullmatch(middle)
        ):
            return middle
    return None


def _unmentioned_accounts(policy: Policy, target: Target) -> tuple[str, ...]:
    """Stand-in outsider accounts that appear nowhere in the policy."""
    candidates = (*OUTSIDER_ACCOUNTS, *SPARE_OUTSIDER_ACCOUNTS)
    free = tuple(a for a in candidates if not policy.mentions(a) and a != target.account)
    return free or OUTSIDER_ACCOUNTS


def _is_log_group_arn(arn: str) -> bool:
    """Whether ``arn`` names a log group Logs could really send (a valid name)."""
    resource = arn.split(":", 5)[-1]
    name = resource.removeprefix("log-group:")
    return resource.startswith("log-group:") and LOG_GROUP_PATTERN.fullmatch(name) is not None


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) == 6 else ""


def instantiate_arn(pattern: str, target: Target, *, prefer_foreign: bool) -> list[str]:
    """Concrete log-group ARNs that an ARN pattern from a condition matches.

    Wildcards inside the account component are filled with a real 12-digit
    account (an outsider's, or ours) when the pattern admits one; wildcards in
    the resource part become a look-alike name. Non-ARN values yield nothing.
    """
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return []
    account_pattern = parts[4]
    foreign = (
        foreign_account_like(account_pattern, target.account, [target.outsider_account()])
        if has_wildcard(account_pattern)
        else None
    )
    accounts = [foreign or target.outsider_account(), target.account]
    if not prefer_foreign:
        accounts.reverse()
    filled: list[str] = []
    for account in accounts:
        if glob_match(account_pattern, account):
            region = parts[3] if not has_wildcard(parts[3]) else target.region
            partition = parts[1] if not has_wildcard(parts[1]) else target.partition.name
            resource = parts[5].replace("*", "lookalike").replace("?", "x")
            arn = ":".join(["arn", partition, fill_wildcards(parts[2]), region, account, resource])
            if arn not in filled:
                filled.append(arn)
    if not has_wildcard(account_pattern) and not filled:
        filled.append(":".join([*parts[:5], parts[5].replace("*", "lookalike")]))
    return filled


def _names_a_kms_action(pattern: str) -> bool:
    """True when an Action entry (exact or wildcard) covers at least one KMS action."""
    return bool(expand_action_pattern(pattern))


# Every check in report order, and whether it applies to a key that serves no log
# group at hand: those that make any key unsafe (check-template checks every key).
_CHECKS: tuple[tuple[Callable[[Policy, Target, Report], None], bool], ...] = (
    (_check_logs_access, False),
    (_check_topic_publishers, True),
    (_check_cross_account, True),
    (_check_overbroad, False),
    (_check_lockout, True),
    (_check_public, True),
    (_check_principals, False),
    (_check_actions, False),
)
