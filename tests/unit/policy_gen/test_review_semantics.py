"""Review: evaluator and validator cases where a naive reading of the docs goes wrong.

Each test names the AWS document it follows. The first group failed before the
review fixes (NotPrincipal account-first checking, outsider accounts the policy
names, wildcards in the account component, ``:*`` look-alikes, one-line problems,
duplicate Sids, a Statement of the wrong type); the second group pins classifications
of adversarial policies that a naive validator gets wrong.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from policy_gen.evaluate import Request, evaluate, policy_problems
from policy_gen.partitions import get_partition
from policy_gen.render import ENCRYPTION_CONTEXT_KEY
from policy_gen.validate import Target, validate

ACCOUNT = "111122223333"
REGION = "us-east-1"
GROUP = "/aws/lambda/fn"
LOGS = f"logs.{REGION}.amazonaws.com"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
BOB = f"arn:aws:iam::{ACCOUNT}:user/Bob"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/Alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/cross-account-read-only-role"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/cross-account-read-only-role/audit-app"
OTHER_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/cross-account-read-only-role/other"
LOGS_ACTIONS = [
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
]


def allow_all() -> dict[str, Any]:
    return {
        "Sid": "AllowAll",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "kms:*",
        "Resource": "*",
    }


def deny_except(*names: str) -> dict[str, Any]:
    return {
        "Sid": "DenyOthers",
        "Effect": "Deny",
        "NotPrincipal": {"AWS": list(names)},
        "Action": "kms:*",
        "Resource": "*",
    }


def decide(statements: list[dict[str, Any]], principal: str, action: str = "kms:Decrypt") -> str:
    document = {"Version": "2012-10-17", "Statement": statements}
    return evaluate(document, Request(principal, action, {}, KEY)).decision


# ------------------------------------------------------------------ NotPrincipal
# IAM user guide, NotPrincipal: "you must also specify the account ARN of the
# not-denied principal ... AWS might validate the account first, then the role, and
# then the assumed-role user"; its examples deny "all principals except the user named
# Bob" with [Bob, account] and all but one session with [session, role, account].


@pytest.mark.parametrize(
    ("names", "caller", "decision"),
    [
        ((BOB, ROOT), BOB, "Allow"),
        ((BOB, ROOT), ALICE, "ExplicitDeny"),  # the account entry does not cover Alice
        ((BOB, ROOT), ROOT, "Allow"),
        ((BOB,), BOB, "ExplicitDeny"),  # account not named: checked first, denied
        ((ROOT,), ROOT, "Allow"),
        ((ACCOUNT,), ROOT, "Allow"),
        ((SESSION, ROLE, ROOT), SESSION, "Allow"),
        ((SESSION, ROLE, ROOT), OTHER_SESSION, "ExplicitDeny"),
        ((ROLE, ROOT), SESSION, "ExplicitDeny"),  # the session must be named
        ((SESSION, ROOT), SESSION, "ExplicitDeny"),  # so must its role
        ((ROLE,), SESSION, "ExplicitDeny"),
    ],
)
def test_not_principal_checks_the_account_then_the_role_then_the_session(
    names: tuple[str, ...], caller: str, decision: str
) -> None:
    assert decide([allow_all(), deny_except(*names)], caller) == decision


def test_not_principal_service_entry_excludes_the_service() -> None:
    statement = deny_except(ROOT)
    statement["NotPrincipal"]["Service"] = LOGS
    assert decide([allow_all(), statement], LOGS) == "Allow"
    assert decide([allow_all(), deny_except(ROOT)], LOGS) == "ExplicitDeny"


# --------------------------------------------------------------------- problems


@pytest.mark.parametrize(
    "statement",
    [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:a\nb": [{}]}},
        },
        {"Effect": "Allow", "Principal": {"AWS\nX": 5}, "Action": "kms:Decrypt", "Resource": "*"},
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"Null": {"aws:a\r\nb": "maybe"}},
        },
    ],
)
def test_problems_quoting_line_breaks_stay_one_line(statement: dict[str, Any]) -> None:
    problems = policy_problems({"Version": "2012-10-17", "Statement": [statement]})
    assert problems
    assert all("\n" not in p.message and "\r" not in p.message for p in problems)


def test_duplicate_sid_is_a_warning_and_both_statements_still_count() -> None:
    # IAM user guide, Sid: unique "in IAM"; the KMS key-policy guide states no such rule.
    first = {**allow_all(), "Sid": "Same", "Action": "kms:Decrypt"}
    second = {**allow_all(), "Sid": "Same", "Action": "kms:Encrypt"}
    document = {"Version": "2012-10-17", "Statement": [first, second]}
    duplicates = [p for p in policy_problems(document) if "duplicate Sid 'Same'" in p.message]
    assert [(p.code, p.severity) for p in duplicates] == [("DUPLICATE_SID", "warning")]
    assert evaluate(document, Request(ROOT, "kms:Encrypt", {}, KEY)).decision == "Allow"
    unique = {"Version": "2012-10-17", "Statement": [first, {**second, "Sid": "Other"}]}
    assert not any("duplicate" in p.message for p in policy_problems(unique))


# -------------------------------------------------------------------- validator


def target() -> Target:
    return Target.checked(get_partition("aws"), REGION, ACCOUNT, [GROUP])


def root_statement(**extra: Any) -> dict[str, Any]:
    return {
        "Sid": "Root",
        "Effect": "Allow",
        "Principal": {"AWS": ROOT},
        "Action": "kms:*",
        "Resource": "*",
        **extra,
    }


def logs_statement(condition: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Sid": "Logs",
        "Effect": "Allow",
        "Principal": {"Service": LOGS},
        "Action": LOGS_ACTIONS,
        "Resource": "*",
        "Condition": condition,
        **extra,
    }


EXACT = {"ArnEquals": {ENCRYPTION_CONTEXT_KEY: LOG_GROUP_ARN}}


def codes(*statements: dict[str, Any]) -> set[str]:
    report = validate({"Version": "2012-10-17", "Statement": list(statements)}, target())
    return {finding.code for finding in report.findings}


def test_a_grant_to_an_account_the_validator_uses_as_outsider_is_not_public() -> None:
    # The outsider stand-in must be an account the policy does not name: a grant to
    # 999988887777's root is a deliberate cross-account grant, not "any principal".
    grant = {
        "Sid": "Partner",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::999988887777:root"},
        "Action": "kms:Decrypt",
        "Resource": "*",
    }
    assert codes(root_statement(), logs_statement(EXACT), grant) == set()


def test_public_statement_excluding_only_the_stand_in_outsider_is_still_public() -> None:
    hidden = {
        "Sid": "Pub",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "kms:Decrypt",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:PrincipalAccount": "999988887777"}},
    }
    assert "PUBLIC" in codes(root_statement(), logs_statement(EXACT), hidden)


def test_arn_not_like_on_the_stand_in_outsider_still_lets_other_accounts_in() -> None:
    condition = {
        "ArnNotLike": {ENCRYPTION_CONTEXT_KEY: f"arn:aws:logs:{REGION}:999988887777:log-group:*"}
    }
    assert "CROSS_ACCOUNT" in codes(root_statement(), logs_statement(condition))


@pytest.mark.parametrize(
    ("account", "cross"),
    [
        ("11112222333?", True),
        ("11112222333*", True),
        ("1111?2223333", True),
        ("111122223333*", False),
    ],  # account ids have 12 digits: only ours fits the last
)
def test_wildcards_admitting_a_neighbour_account_are_cross_account(
    account: str, cross: bool
) -> None:
    # Condition operators, ARN: each of the six components may hold * and ?; a pattern
    # that admits our account also admits accounts that differ in a wildcard digit.
    condition = {
        "ArnLike": {ENCRYPTION_CONTEXT_KEY: f"arn:aws:logs:{REGION}:{account}:log-group:{GROUP}"}
    }
    found = codes(root_statement(), logs_statement(condition))
    assert ("CROSS_ACCOUNT" in found) == cross
    assert "LOGS_DENIED" not in found


@pytest.mark.parametrize("operator", ["ArnEquals", "ArnLike", "StringLike"])
def test_the_log_stream_suffix_denies_logs_without_a_false_overbroad(operator: str) -> None:
    # CloudWatch Logs guide: the context value is the log-group ARN without ":*";
    # no log group name can contain ":", so nothing else matches either.
    condition = {operator: {ENCRYPTION_CONTEXT_KEY: LOG_GROUP_ARN + ":*"}}
    assert codes(root_statement(), logs_statement(condition)) == {"LOGS_DENIED"}


def test_statement_of_the_wrong_type_is_malformed_not_bad_input(tmp_path: Path) -> None:
    document = {"Version": "2012-10-17", "Statement": 5}
    report = validate(document, target())
    assert "MALFORMED" in {f.code for f in report.findings} and not report.valid
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "policy_gen",
            "validate",
            "--policy",
            str(path),
            "--region",
            REGION,
            "--account",
            ACCOUNT,
            "--log-group",
            GROUP,
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["valid"] is False


# --------------------------------------------- adversarial classification table


def _deny(**fields: Any) -> dict[str, Any]:
    return {"Sid": "Deny", "Effect": "Deny", "Action": "kms:*", "Resource": "*", **fields}


def _public(**fields: Any) -> dict[str, Any]:
    return {"Sid": "Pub", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", **fields}


ADVERSARIAL: list[tuple[str, list[dict[str, Any]], set[str], set[str]]] = [
    # (name, statements, codes that must be present, codes that must be absent)
    (
        "Logs never sends aws:SourceAccount to KMS",
        [root_statement(), logs_statement({"StringEquals": {"aws:SourceAccount": ACCOUNT}})],
        {"LOGS_DENIED"},
        set(),
    ),
    (
        "StringLike on the exact ARN works like ArnEquals",
        [root_statement(), logs_statement({"StringLike": {ENCRYPTION_CONTEXT_KEY: LOG_GROUP_ARN}})],
        set(),
        {"LOGS_DENIED", "CROSS_ACCOUNT", "OVERBROAD"},
    ),
    (
        "StringLike wildcard on the name is overbroad, not cross-account",
        [
            root_statement(),
            logs_statement(
                {
                    "StringLike": {
                        ENCRYPTION_CONTEXT_KEY: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/*"
                    }
                }
            ),
        ],
        {"OVERBROAD"},
        {"CROSS_ACCOUNT", "LOGS_DENIED"},
    ),
    (
        "Deny NotPrincipal root also denies Logs",
        [root_statement(), logs_statement(EXACT), _deny(NotPrincipal={"AWS": ROOT})],
        {"LOGS_DENIED"},
        {"LOCKOUT"},
    ),
    (
        "Deny NotPrincipal naming Logs and the account keeps both working",
        [
            root_statement(),
            logs_statement(EXACT),
            _deny(NotPrincipal={"AWS": ROOT, "Service": LOGS}),
        ],
        set(),
        {"LOGS_DENIED", "LOCKOUT"},
    ),
    (
        "root statement conditioned on the encryption context never applies to PutKeyPolicy",
        [
            root_statement(Condition={"Null": {ENCRYPTION_CONTEXT_KEY: "false"}}),
            logs_statement(EXACT),
        ],
        {"LOCKOUT"},
        set(),
    ),
    (
        "Deny StringNotLikeIfExists on the context also denies PutKeyPolicy (no context)",
        [
            root_statement(),
            logs_statement(EXACT),
            _deny(
                Principal="*",
                Condition={"StringNotLikeIfExists": {ENCRYPTION_CONTEXT_KEY: LOG_GROUP_ARN}},
            ),
        ],
        {"LOCKOUT"},
        {"LOGS_DENIED"},
    ),
    (
        "public Allow hidden behind NotPrincipal",
        [root_statement(), logs_statement(EXACT), _public(NotPrincipal={"AWS": ROOT})],
        {"PUBLIC"},
        set(),
    ),
    (
        "public Allow behind a negated identity condition",
        [
            root_statement(),
            logs_statement(EXACT),
            _public(Principal="*", Condition={"StringNotEquals": {"aws:PrincipalArn": ROLE}}),
        ],
        {"PUBLIC"},
        set(),
    ),
    (
        "wildcard principal pinned with kms:CallerAccount is not public",
        [
            root_statement(),
            logs_statement(EXACT),
            _public(
                Principal={"AWS": "*"}, Condition={"StringEquals": {"kms:CallerAccount": ACCOUNT}}
            ),
        ],
        set(),
        {"PUBLIC"},
    ),
    (
        "kms:ViaService alone is public: any account can call through the service",
        [
            root_statement(),
            logs_statement(EXACT),
            _public(Principal={"AWS": ["*"]}, Condition={"StringEquals": {"kms:ViaService": LOGS}}),
        ],
        {"PUBLIC"},
        set(),
    ),
    (
        "no condition at all: other accounts' and our other groups",
        [root_statement(), logs_statement({})],
        {"CROSS_ACCOUNT", "OVERBROAD"},
        set(),
    ),
    (
        "only kms:EncryptionContextKeys pins nothing",
        [
            root_statement(),
            logs_statement(
                {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "aws:logs:arn"}}
            ),
        ],
        {"CROSS_ACCOUNT"},
        {"LOGS_DENIED"},
    ),
    (
        "the global principal works nowhere documented",
        [
            root_statement(),
            logs_statement(EXACT),
            logs_statement(EXACT, Sid="Global", Principal={"Service": "logs.amazonaws.com"}),
        ],
        {"GLOBAL_PRINCIPAL"},
        {"LOGS_DENIED"},
    ),
    (
        "another region's Logs principal",
        [
            root_statement(),
            logs_statement(EXACT),
            logs_statement(
                EXACT, Sid="Other", Principal={"Service": "logs.eu-west-1.amazonaws.com"}
            ),
        ],
        {"WRONG_REGION_PRINCIPAL"},
        set(),
    ),
    (
        "lower-case Effect is malformed and grants nothing",
        [root_statement(), logs_statement(EXACT, Effect="allow")],
        {"MALFORMED", "LOGS_DENIED"},
        set(),
    ),
    (
        "Deny NotAction leaves only the listed actions",
        [
            root_statement(),
            logs_statement(EXACT),
            _deny(Principal="*", Action=None, NotAction=["kms:PutKeyPolicy", "kms:Encrypt"]),
        ],
        {"LOGS_DENIED"},
        {"LOCKOUT"},
    ),
]


@pytest.mark.parametrize(
    ("name", "statements", "present", "absent"), ADVERSARIAL, ids=[case[0] for case in ADVERSARIAL]
)
def test_adversarial_policies_are_classified(
    name: str, statements: list[dict[str, Any]], present: set[str], absent: set[str]
) -> None:
    cleaned = [{k: v for k, v in s.items() if v is not None} for s in statements]
    found = codes(*cleaned)
    assert present <= found, (name, found)
    assert not absent & found, (name, found)


def test_one_statement_has_one_number_in_every_finding_and_simulation() -> None:
    """A non-object entry before a Sid-less statement must not shift its number in some
    findings only: the simulation, CROSS_ACCOUNT and PUBLIC all name it by its index."""
    public = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}
    document = {"Version": "2012-10-17", "Statement": [5, root_statement(), public]}
    report = validate(document, target())
    named = {
        finding.code: finding.statement
        for finding in report.findings
        if finding.code in ("PUBLIC", "CROSS_ACCOUNT")
    }
    assert named == {"PUBLIC": "2", "CROSS_ACCOUNT": "2"}
    matched = {s.result.matched for s in report.simulations if s.result.matched}
    assert matched >= {("2",)}
