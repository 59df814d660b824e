"""Property tests for policy_gen.evaluate: fuzzed documents never crash it, and
decisions move the way the evaluation logic says they must when statements are added,
reordered or negated.

Two document strategies: arbitrary JSON (crash-freedom only) and policy-shaped JSON
built from realistic and broken pieces, which reaches the matching code far more often.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_gen.evaluate import (
    OPERATORS,
    PolicyError,
    Problem,
    Request,
    evaluate,
    parse_policy,
    policy_problems,
)

ACCOUNT = "111122223333"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
EC_KEY = "kms:EncryptionContext:aws:logs:arn"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/api"

# About 2,500 examples in all: enough to reach every parser branch, and under ~20 s on
# the project's 2-core machine.
FUZZ = settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
FAST = settings(FUZZ, max_examples=150)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)

PRINCIPALS = [
    "*",
    ACCOUNT,
    f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    f"arn:aws:iam::{ACCOUNT}:role/Admin",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/bob",
    "arn:aws:iam::444455556666:user/mallory",
    "logs.us-east-1.amazonaws.com",
    "arn:aws:iam::*:root",
    "AROAEXAMPLEEXAMPLE12",
    "",
    "arn:",
    "arn:aws-cn:iam::111122223333:root",
]
ACTIONS = [
    "*",
    "kms:*",
    "kms:Decrypt",
    "kms:Encrypt*",
    "kms:?ecrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKey*",
    "logs:*",
    "Decrypt",
    "",
    "KMS:PUTKEYPOLICY",
]
RESOURCES = [
    "*",
    KEY,
    KEY.replace("1234abcd", "ffffffff"),
    "arn:aws:kms:*:*:key/*",
    "arn:aws:kms:*",
    "arn:*:kms:*:*:key/*",
    f"arn:aws:kms:us-east-1:{ACCOUNT}:key/${{aws:PrincipalTag/k}}",
    "${*}",
    "arn:${",
]
BASE_OPERATORS = [op.name for op in OPERATORS.values()] + ["Null", "StringEqualz"]
KEYS = [
    "k",
    "K",
    EC_KEY,
    "aws:PrincipalAccount",
    "kms:CallerAccount",
    "aws:username",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:PrincipalTag/k",
    "kms:EncryptionContextKeys",
]
VALUES = [
    "*",
    "a",
    "A",
    "",
    "true",
    "false",
    "10",
    "1.5",
    "2020-01-01T00:00:00Z",
    "1577836800",
    "10.0.0.0/8",
    "10.1.2.3",
    "::1",
    LOG_GROUP,
    f"arn:aws:logs:*:{ACCOUNT}:log-group:*",
    "${aws:username}",
    "${aws:PrincipalTag/k, 'd'}",
    "${*}",
    "${",
    "${a, b}",
    ACCOUNT,
    "QUJD",
    "arn:aws:logs:us-east-1:${aws:PrincipalAccount}:*:*",
]


def one_or_many(options: list[str]) -> st.SearchStrategy[Any]:
    element = st.sampled_from(options) | st.text(max_size=8)
    return element | st.lists(element, max_size=3) | json_values


operators = st.builds(
    lambda qualifier, base, if_exists: f"{qualifier}{base}{'IfExists' if if_exists else ''}",
    st.sampled_from(["", "", "ForAnyValue:", "ForAllValues:", "forallvalues:", "Bogus:"]),
    st.sampled_from(BASE_OPERATORS),
    st.booleans(),
)
condition_values = st.one_of(
    st.sampled_from(VALUES),
    st.lists(st.sampled_from(VALUES) | st.integers(0, 20) | st.booleans(), max_size=3),
    json_values,
)
conditions = (
    st.dictionaries(
        operators, st.dictionaries(st.sampled_from(KEYS), condition_values, max_size=2), max_size=3
    )
    | json_values
)
principal_elements = st.one_of(
    st.just("*"),
    st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Bogus"]),
        one_or_many(PRINCIPALS),
        max_size=2,
    ),
    json_values,
)
statements = st.fixed_dictionaries(
    {},
    optional={
        "Sid": st.text(max_size=6) | json_values,
        "Effect": st.sampled_from(["Allow", "Deny", "allow"]) | json_values,
        "Principal": principal_elements,
        "NotPrincipal": principal_elements,
        "Action": one_or_many(ACTIONS),
        "NotAction": one_or_many(ACTIONS),
        "Resource": one_or_many(RESOURCES),
        "NotResource": one_or_many(RESOURCES),
        "Condition": conditions,
    },
)
policies = st.fixed_dictionaries(
    {"Statement": st.one_of(statements, st.lists(statements, max_size=4))},
    optional={"Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012-10-18"])},
)
arbitrary_documents = st.dictionaries(
    st.sampled_from(["Version", "Statement", "Id"]) | st.text(max_size=8), json_values, max_size=4
)
contexts = st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=8),
    st.lists(st.sampled_from(VALUES) | st.text(max_size=8), max_size=3),
    max_size=4,
)
requests = st.builds(
    Request,
    principal=st.sampled_from(PRINCIPALS) | st.text(max_size=12),
    action=st.sampled_from(
        [
            "kms:Decrypt",
            "kms:Encrypt",
            "kms:DescribeKey",
            "kms:PutKeyPolicy",
            "kms:GenerateDataKey",
            "logs:PutLogEvents",
        ]
    )
    | st.text(max_size=10),
    context=contexts,
    resource=st.sampled_from([KEY, None, "arn:aws-cn:kms:cn-north-1:1:key/x"])
    | st.text(max_size=8),
)


def statement_list(document: dict[str, Any]) -> list[Any]:
    raw = document["Statement"]
    return list(raw) if isinstance(raw, list) else [raw]


# ------------------------------------------------------------------ never crashes


@FUZZ
@given(document=arbitrary_documents | policies, request=requests)
def test_evaluate_never_raises(document: dict[str, Any], request: Request) -> None:
    result = evaluate(document, request)
    assert result.decision in ("Allow", "ExplicitDeny", "ImplicitDeny")
    assert (result.decision == "ImplicitDeny") == (result.matched == ())


@FUZZ
@given(document=json_values | arbitrary_documents | policies)
def test_policy_problems_never_raises_and_reports_one_liners(document: Any) -> None:
    problems = policy_problems(document)
    assert all(isinstance(p, Problem) and "\n" not in p.message for p in problems)


@FUZZ
@given(document=json_values | arbitrary_documents | policies)
def test_parse_policy_raises_only_policy_error(document: Any) -> None:
    try:
        parsed = parse_policy(document)
    except PolicyError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(document, dict)
        assert len(parsed.statements) == len(statement_list(document))


# ------------------------------------------------------------------ consistency


@FAST
@given(document=policies, request=requests)
def test_matched_statements_have_the_deciding_effect(
    document: dict[str, Any], request: Request
) -> None:
    parsed = parse_policy(document)
    result = evaluate(parsed, request)
    effects = {s.id: s.effect for s in parsed.statements}
    wanted = {"Allow": "Allow", "ExplicitDeny": "Deny", "ImplicitDeny": None}[result.decision]
    assert all(effects[sid] == wanted for sid in result.matched)
    assert evaluate(document, request) == result


@FAST
@given(document=policies, request=requests)
def test_statement_order_does_not_change_the_decision(
    document: dict[str, Any], request: Request
) -> None:
    items = statement_list(document)
    named = [{**s, "Sid": f"s{i}"} if isinstance(s, dict) else s for i, s in enumerate(items)]
    forward = evaluate({**document, "Statement": named}, request)
    backward = evaluate({**document, "Statement": named[::-1]}, request)
    assert forward.decision == backward.decision
    assert sorted(forward.matched) == sorted(backward.matched)


# ------------------------------------------------------------------- metamorphic

DENY_EVERYTHING = {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}


@FAST
@given(document=policies, request=requests)
def test_adding_deny_everything_always_denies(document: dict[str, Any], request: Request) -> None:
    extended = {**document, "Statement": [*statement_list(document), DENY_EVERYTHING]}
    assert evaluate(extended, request).decision == "ExplicitDeny"


@FAST
@given(document=policies, extra=statements, request=requests)
def test_adding_an_allow_never_turns_allow_into_deny(
    document: dict[str, Any], extra: dict[str, Any], request: Request
) -> None:
    before = evaluate(document, request).decision
    extra = {**extra, "Effect": "Allow"}
    after = evaluate({**document, "Statement": [*statement_list(document), extra]}, request)
    if before == "Allow":
        assert after.decision == "Allow"
    if before == "ExplicitDeny":
        assert after.decision == "ExplicitDeny"  # an allow never lifts a deny


@FAST
@given(document=policies, extra=statements, request=requests)
def test_adding_a_deny_for_another_action_changes_nothing(
    document: dict[str, Any], extra: dict[str, Any], request: Request
) -> None:
    other = "kms:ScheduleKeyDeletion" if request.action != "kms:ScheduleKeyDeletion" else "kms:Sign"
    unrelated = {k: v for k, v in extra.items() if k not in ("Action", "NotAction")}
    unrelated.update(Effect="Deny", Action=other)
    before = evaluate(document, request)
    after = evaluate({**document, "Statement": [*statement_list(document), unrelated]}, request)
    assert after.decision == before.decision


@FAST
@given(document=policies, request=requests)
def test_removing_every_deny_never_turns_allow_into_deny(
    document: dict[str, Any], request: Request
) -> None:
    allows = [
        s
        for s in statement_list(document)
        if not (isinstance(s, dict) and s.get("Effect") == "Deny")
    ]
    if evaluate(document, request).decision == "Allow":
        assert evaluate({**document, "Statement": allows}, request).decision == "Allow"


# ------------------------------------------------------------- operator algebra

NEGATIONS = [
    ("StringEquals", "StringNotEquals"),
    ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"),
    ("StringLike", "StringNotLike"),
    ("NumericEquals", "NumericNotEquals"),
    ("DateEquals", "DateNotEquals"),
    ("IpAddress", "NotIpAddress"),
    ("ArnLike", "ArnNotLike"),
    ("ArnEquals", "ArnNotEquals"),
]
value_text = st.sampled_from(VALUES) | st.text(max_size=10)


def applies(operator: str, values: list[str], context: dict[str, list[str]]) -> bool:
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {operator: {"k": values}},
            }
        ],
    }
    request = Request(f"arn:aws:iam::{ACCOUNT}:user/alice", "kms:Decrypt", context, KEY)
    return evaluate(document, request).decision == "Allow"


@FAST
@given(
    pair=st.sampled_from(NEGATIONS),
    values=st.lists(value_text, max_size=3),
    request_values=st.lists(value_text, max_size=3),
)
def test_negated_operator_is_the_complement_of_its_base(
    pair: tuple[str, str], values: list[str], request_values: list[str]
) -> None:
    base, negated = pair
    context = {"k": request_values}
    assert applies(negated, values, context) is (not applies(base, values, context))


@FAST
@given(
    base=st.sampled_from([n for pair in NEGATIONS for n in pair] + ["Bool", "BinaryEquals"]),
    values=st.lists(value_text, max_size=3),
)
def test_set_qualifiers_on_a_missing_key(base: str, values: list[str]) -> None:
    assert applies(f"ForAllValues:{base}", values, {})
    assert not applies(f"ForAnyValue:{base}", values, {})
    assert applies(f"ForAnyValue:{base}IfExists", values, {})


@FAST
@given(
    base=st.sampled_from([n for pair in NEGATIONS for n in pair]),
    values=st.lists(value_text, max_size=3),
    request_value=value_text,
)
def test_set_qualifiers_agree_with_the_plain_operator_on_one_value(
    base: str, values: list[str], request_value: str
) -> None:
    context = {"k": [request_value]}
    plain = applies(base, values, context)
    if request_value != "":  # an empty string is an empty set for the qualifiers
        assert applies(f"ForAnyValue:{base}", values, context) is plain
        assert applies(f"ForAllValues:{base}", values, context) is plain
