"""audit: the pure decisions (log groups + key facts -> statuses, findings, fixes, output).

No AWS and no server here: key facts are built by hand, and the one test of the AWS
edge (``AwsFacts``) uses botocore's Stubber, which checks the exact parameters sent.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from hypothesis import given
from hypothesis import strategies as st

from policy_gen import audit as A
from policy_gen.partitions import get_partition
from policy_gen.render import LOGS_SID, render_policy
from sam_project.errors import UserError

ACCOUNT = "111122223333"
REGION = "eu-west-1"
AWS = get_partition("aws")
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def group(
    name: str, key: str = KEY_ARN, region: str = REGION, account: str = ACCOUNT
) -> A.LogGroup:
    return A.LogGroup(
        name, region, account, f"arn:aws:logs:{region}:{account}:log-group:{name}", key
    )


def good_policy(*names: str, region: str = REGION) -> dict[str, Any]:
    return render_policy(AWS, region, ACCOUNT, list(names))


def facts(policy: object = None, key: str = KEY_ARN, **kwargs: Any) -> A.KeyFacts:
    values: dict[str, Any] = {
        "arn": key,
        "region": REGION,
        "state": "Enabled",
        "spec": "SYMMETRIC_DEFAULT",
        "usage": "ENCRYPT_DECRYPT",
        "policy": policy,
    }
    values.update(kwargs)
    return A.KeyFacts(key, **values)


def one(result_groups: list[A.LogGroup], key_facts: A.KeyFacts) -> A.GroupResult:
    results = A.audit(result_groups, {key_facts.ref: key_facts})
    assert len(results) == len(result_groups)
    return results[0]


def codes(result: A.GroupResult) -> list[str]:
    return [issue.code for issue in result.issues]


# --- reading DescribeLogGroups ------------------------------------------------------


def test_log_group_from_api_takes_account_from_the_arn_and_skips_unencrypted() -> None:
    item = {
        "logGroupName": "/a",
        "arn": "arn:aws:logs:eu-west-1:444455556666:log-group:/a:*",
        "kmsKeyId": KEY_ARN,
    }
    parsed = A.log_group_from_api(item, REGION, ACCOUNT)
    assert parsed == A.LogGroup(
        "/a", REGION, "444455556666", "arn:aws:logs:eu-west-1:444455556666:log-group:/a", KEY_ARN
    )
    assert A.log_group_from_api({"logGroupName": "/b", "arn": "x"}, REGION, ACCOUNT) is None
    bare = A.log_group_from_api({"logGroupName": "/c", "kmsKeyId": "k"}, "cn-north-1", ACCOUNT)
    assert bare is not None and bare.arn == f"arn:aws-cn:logs:cn-north-1:{ACCOUNT}:log-group:/c"


def test_key_region_prefers_describe_key_arn() -> None:
    assert A.key_region(A.KeyFacts("alias/x", arn=KEY_ARN)) == REGION
    assert A.key_region(A.KeyFacts("arn:aws:kms:us-east-2:1:key/x")) == "us-east-2"
    assert A.key_region(A.KeyFacts("bare-id", region="ap-south-1")) == "ap-south-1"
    assert A.kms_arn_parts("arn:aws:logs:r:a:log-group:x") is None


# --- statuses -------------------------------------------------------------------------


def test_good_key_is_ok_and_not_broken() -> None:
    result = one([group("/a")], facts(good_policy("/a")))
    assert result.status == A.OK and not result.broken
    assert result.findings == () and result.denied_actions == ()


def test_missing_statement_is_logs_denied_with_actions_and_consequences() -> None:
    policy = good_policy("/a")
    policy["Statement"] = policy["Statement"][:1]
    result = one([group("/a")], facts(policy))
    assert result.status == A.LOGS_DENIED
    assert result.denied_actions == ("kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt")
    message = result.issues[0].message
    assert "logs.eu-west-1.amazonaws.com cannot call kms:Encrypt" in message
    assert "no statement allows it" in message
    assert "logs are being lost" in message and "cannot be read" in message


def test_only_decrypt_denied_says_reads_fail_not_that_logs_are_lost() -> None:
    policy = good_policy("/a")
    policy["Statement"][1]["Action"] = ["kms:Encrypt*", "kms:GenerateDataKey*"]
    result = one([group("/a")], facts(policy))
    assert result.denied_actions == ("kms:Decrypt",)
    assert "cannot be read" in result.issues[0].message
    assert "being lost" not in result.issues[0].message


def test_explicit_deny_names_the_statement() -> None:
    policy = good_policy("/a")
    policy["Statement"].append(
        {
            "Sid": "NoLogs",
            "Effect": "Deny",
            "Principal": {"Service": "logs.eu-west-1.amazonaws.com"},
            "Action": "kms:GenerateDataKey*",
            "Resource": "*",
        }
    )
    result = one([group("/a")], facts(policy))
    assert result.denied_actions == ("kms:GenerateDataKey",)
    assert "explicitly denied by statement NoLogs" in result.issues[0].message


def test_the_real_key_arn_is_the_resource() -> None:
    """A policy naming the key's own ARN as Resource works: no false LOGS_DENIED and no
    false LOCKOUT from validate()'s stand-in key ARN."""
    policy = good_policy("/a")
    for statement in policy["Statement"]:
        statement["Resource"] = KEY_ARN
    result = one([group("/a")], facts(policy))
    assert result.status == A.OK
    assert result.findings == ()


def test_key_used_by_a_log_group_its_policy_does_not_name() -> None:
    key = facts(good_policy("/a"))
    results = {r.group.name: r for r in A.audit([group("/a"), group("/b")], {KEY_ARN: key})}
    assert results["/a"].status == A.OK
    assert results["/b"].status == A.LOGS_DENIED


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("Disabled", A.KEY_DISABLED),
        ("PendingImport", A.KEY_DISABLED),
        ("Unavailable", A.KEY_DISABLED),
        ("PendingDeletion", A.KEY_PENDING_DELETION),
        ("PendingReplicaDeletion", A.KEY_PENDING_DELETION),
        ("Updating", A.KEY_UNREADABLE),  # not classified: said, not guessed
    ],
)
def test_key_states(state: str, status: str) -> None:
    result = one([group("/a")], facts(good_policy("/a"), state=state))
    assert codes(result) == [status]
    assert state in result.issues[0].message


def test_pending_deletion_gives_the_date() -> None:
    key = facts(good_policy("/a"), state="PendingDeletion", deletion_date="2026-12-01T00:00:00")
    assert "on 2026-12-01T00:00:00" in one([group("/a")], key).issues[0].message


@pytest.mark.parametrize(
    ("spec", "usage", "ok"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", True),
        ("SYMMETRIC_DEFAULT", None, True),  # KMS allows no other usage for this spec
        ("RSA_2048", "ENCRYPT_DECRYPT", False),
        ("HMAC_256", "GENERATE_VERIFY_MAC", False),
        ("ECC_NIST_P256", None, False),
    ],
)
def test_key_spec_and_usage(spec: str, usage: str | None, ok: bool) -> None:
    result = one([group("/a")], facts(good_policy("/a"), spec=spec, usage=usage))
    assert (result.status == A.OK) is ok
    if not ok:
        assert codes(result) == [A.KEY_NOT_SYMMETRIC]


def test_other_region_key_is_not_evaluated() -> None:
    key_arn = KEY_ARN.replace(REGION, "us-east-1")
    key = facts(good_policy("/a", region="us-east-1"), key=key_arn, region="us-east-1")
    result = one([group("/a", key=key_arn)], key)
    assert codes(result) == [A.KEY_OTHER_REGION]
    assert "us-east-1" in result.issues[0].message and result.findings == ()


def test_not_found_is_only_not_found() -> None:
    key = A.KeyFacts(KEY_ARN, region=REGION, not_found="DescribeKey: NotFoundException: gone")
    result = one([group("/a")], key)
    assert codes(result) == [A.KEY_NOT_FOUND]
    assert "NotFoundException" in result.issues[0].message


def test_unreadable_policy_is_said_not_guessed() -> None:
    key = facts(None, errors=("GetKeyPolicy: AccessDeniedException: no",))
    result = one([group("/a")], key)
    assert codes(result) == [A.KEY_UNREADABLE]
    assert "AccessDeniedException" in result.issues[0].message
    assert "unknown" in result.issues[0].message


def test_definite_problems_outrank_unknowns() -> None:
    """DescribeKey failed but the policy was read and denies Logs: LOGS_DENIED first,
    and the unknown state is still listed."""
    policy = good_policy("/other")
    key = A.KeyFacts(
        KEY_ARN, region=REGION, policy=policy, errors=("DescribeKey: AccessDeniedException",)
    )
    assert codes(one([group("/a")], key)) == [A.LOGS_DENIED, A.KEY_UNREADABLE]
    disabled = facts(policy, state="Disabled")
    assert codes(one([group("/a")], disabled)) == [A.KEY_DISABLED, A.LOGS_DENIED]


def test_key_never_looked_up_is_unreadable() -> None:
    (result,) = A.audit([group("/a")], {})
    assert result.status == A.KEY_UNREADABLE
    assert "not looked up" in result.issues[0].message


def test_policy_without_statements_denies_logs() -> None:
    result = one([group("/a")], facts({"Version": "2012-10-17"}))
    assert result.status == A.LOGS_DENIED
    assert "cannot be evaluated" in result.issues[0].message


# --- findings from validate -------------------------------------------------------


def test_overbroad_is_a_warning_and_not_broken() -> None:
    policy = good_policy("/app/a")
    policy["Statement"][1]["Condition"] = {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/app/*"
        }
    }
    result = one([group("/app/a")], facts(policy))
    assert result.status == A.OK
    assert [(f.code, f.severity) for f in result.findings] == [("OVERBROAD", "warning")]
    assert not result.broken


def test_public_statement_makes_an_ok_log_group_broken() -> None:
    policy = good_policy("/a")
    policy["Statement"].append(
        {
            "Sid": "Anyone",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    result = one([group("/a")], facts(policy))
    assert result.status == A.OK
    assert "PUBLIC" in {f.code for f in result.findings}
    assert result.broken


def test_lockout_is_attached_to_every_log_group_of_the_key() -> None:
    policy = good_policy("/a", "/b")
    policy["Statement"] = policy["Statement"][1:]
    results = A.audit([group("/a"), group("/b")], {KEY_ARN: facts(policy)})
    assert all("LOCKOUT" in {f.code for f in r.findings} for r in results)
    assert all(r.status == A.OK and r.broken for r in results)


def test_key_of_another_account_skips_account_checks() -> None:
    key_arn = KEY_ARN.replace(ACCOUNT, "999999999999")
    policy = good_policy("/a")
    policy["Statement"] = policy["Statement"][1:]  # no root of *our* account: not our business
    result = one([group("/a", key=key_arn)], facts(policy, key=key_arn))
    assert result.status == A.OK
    assert result.findings == ()


# --- fixes ----------------------------------------------------------------------------


def test_fix_is_the_rendered_statement_for_exactly_the_denied_groups() -> None:
    key = facts(good_policy("/a"))
    results = A.audit([group("/a"), group("/b"), group("/c")], {KEY_ARN: key})
    (fix,) = A.suggest_fixes(results)
    assert fix.log_groups == ("/b", "/c")
    expected = render_policy(AWS, REGION, ACCOUNT, ["/b", "/c"])["Statement"][1]
    # The key already has render's Sid: the added statement gets a fresh one.
    assert fix.statement == {**expected, "Sid": LOGS_SID + "2"}
    assert "add this statement" in fix.advice[-1]
    # Applying it fixes every log group and breaks none.
    fixed = copy.deepcopy(key.policy)
    assert isinstance(fixed, dict)
    fixed["Statement"].append(fix.statement)
    after = A.audit([group("/a"), group("/b"), group("/c")], {KEY_ARN: facts(fixed)})
    assert {r.status for r in after} == {A.OK}


def test_fix_for_key_state_is_advice_only() -> None:
    results = A.audit([group("/a")], {KEY_ARN: facts(good_policy("/a"), state="Disabled")})
    (fix,) = A.suggest_fixes(results)
    assert fix.statement is None
    assert fix.advice == (
        f"enable the key (state Disabled): aws kms enable-key --key-id {KEY_ARN}",
    )


def test_fix_for_cross_account_replaces_the_named_statement() -> None:
    policy = good_policy("/a")
    policy["Statement"][1]["Condition"] = {
        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:*:log-group:/a"}
    }
    (fix,) = A.suggest_fixes(A.audit([group("/a")], {KEY_ARN: facts(policy)}))
    assert fix.statement == render_policy(AWS, REGION, ACCOUNT, ["/a"])["Statement"][1]
    assert "CROSS_ACCOUNT" in fix.advice[0] and LOGS_SID in fix.advice[0]


def test_no_fix_for_working_keys() -> None:
    assert A.suggest_fixes(A.audit([group("/a")], {KEY_ARN: facts(good_policy("/a"))})) == []


# --- status order (property) ------------------------------------------------------


@given(
    state=st.sampled_from(["Enabled", "Disabled", "PendingDeletion", "Updating"]),
    spec=st.sampled_from(["SYMMETRIC_DEFAULT", "RSA_2048"]),
    other_region=st.booleans(),
    policy_allows=st.booleans(),
    policy_error=st.booleans(),
)
def test_status_is_the_first_issue_in_status_order(
    state: str, spec: str, other_region: bool, policy_allows: bool, policy_error: bool
) -> None:
    region = "us-east-1" if other_region else REGION
    key_arn = KEY_ARN.replace(REGION, region)
    policy = good_policy("/a" if policy_allows else "/z")
    errors = ("GetKeyPolicy: ThrottlingException: slow",) if policy_error else ()
    key = facts(
        None if policy_error else policy,
        key=key_arn,
        region=region,
        state=state,
        spec=spec,
        errors=errors,
    )
    result = one([group("/a", key=key_arn)], key)
    found = codes(result)
    assert found == sorted(found, key=A.STATUS_ORDER.index)
    assert result.status == (found[0] if found else A.OK)
    assert (state != "Enabled") <= bool(found)
    assert result.broken == (bool(found) or any(f.severity == "error" for f in result.findings))


# --- report and output ------------------------------------------------------------


def sample_report(with_fixes: bool = False) -> A.AuditReport:
    keys = {
        KEY_ARN: facts(good_policy("/a")),
        "arn:aws:kms:eu-west-1:111122223333:key/gone": A.KeyFacts(
            "arn:aws:kms:eu-west-1:111122223333:key/gone",
            not_found="DescribeKey: NotFoundException",
        ),
    }
    groups = [
        group("/a"),
        group("/b"),
        group("/c", key="arn:aws:kms:eu-west-1:111122223333:key/gone"),
    ]
    results = A.audit(groups, keys)
    report = A.AuditReport(ACCOUNT, (REGION,), results, keys, unencrypted=2)
    report.calls.update({"DescribeKey": 2, "GetKeyPolicy": 1})
    if with_fixes:
        report.fixes = A.suggest_fixes(results)
    return report


def test_counts_summary_and_exit_code() -> None:
    report = sample_report()
    counts = report.counts()
    assert list(counts) == list(A.ALL_STATUSES)
    assert counts[A.OK] == 1 and counts[A.LOGS_DENIED] == 1 and counts[A.KEY_NOT_FOUND] == 1
    assert report.exit_code == 1
    line = A.summary_line(report)
    assert line.startswith("Summary: 1 OK, 1 KEY_NOT_FOUND, 1 LOGS_DENIED; 2 broken")
    assert "2 log group(s) without a KMS key skipped" in line
    only_ok = A.AuditReport(ACCOUNT, (REGION,), report.results[:1], report.keys)
    assert only_ok.exit_code == 0


def test_json_output() -> None:
    data = A.audit_json(sample_report(with_fixes=True))
    json.dumps(data)  # serialisable
    assert [g["status"] for g in data["log_groups"]] == ["OK", "LOGS_DENIED", "KEY_NOT_FOUND"]
    assert data["summary"]["broken"] == 2
    assert data["summary"]["api_calls"] == {"DescribeKey": 2, "GetKeyPolicy": 1}
    assert {tuple(f["log_groups"]) for f in data["fixes"]} == {("/b",), ("/c",)}


def test_csv_output() -> None:
    out = io.StringIO()
    A.write_csv(sample_report(with_fixes=True), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["status"] for r in rows] == ["OK", "LOGS_DENIED", "KEY_NOT_FOUND"]
    assert rows[0]["fix_statement"] == ""
    assert json.loads(rows[1]["fix_statement"])["Condition"]["ArnEquals"]
    assert rows[1]["broken"] == "yes"


def test_text_output() -> None:
    out = io.StringIO()
    A.write_text(sample_report(with_fixes=True), out)
    text = out.getvalue()
    assert "logs.eu-west-1.amazonaws.com (documented" in text
    assert "LOGS_DENIED           eu-west-1  /b  key" in text
    assert "Suggested fixes (nothing was changed in the account):" in text
    assert text.rstrip().endswith("API calls: DescribeKey 2, GetKeyPolicy 1")


# --- progress -------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_modes() -> None:
    assert A.Progress.for_output(Tty(), "json").mode == "bar"
    assert A.Progress.for_output(io.StringIO(), "json").mode == "off"
    assert A.Progress.for_output(io.StringIO(), "text").mode == "lines"
    bar = A.Progress(Tty(), "bar")
    bar.keys(5, 10)
    bar.finish()
    assert isinstance(bar.stream, Tty)
    assert "\r" in bar.stream.getvalue() and "5/10" in bar.stream.getvalue()
    lines = A.Progress(io.StringIO(), "lines")
    for done in range(1, 101):
        lines.keys(done, 100)
    assert isinstance(lines.stream, io.StringIO)
    assert lines.stream.getvalue().splitlines() == ["audit: looked up 100/100 key(s)"]
    off = A.Progress(io.StringIO(), "off")
    off.keys(1, 1)
    off.listed(REGION, 3, done=True)
    assert isinstance(off.stream, io.StringIO) and off.stream.getvalue() == ""


# --- options --------------------------------------------------------------------------


class FakeSession:
    def __init__(self, region: str | None = REGION, credentials: object = object()) -> None:
        self.region_name = region
        self._credentials = credentials

    def get_credentials(self) -> object:
        return self._credentials


def check(options: A.AuditOptions, session: FakeSession | None = None) -> A.AuditOptions:
    return A.check_options(options, session or FakeSession())  # type: ignore[arg-type]


def test_options_defaults_and_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert check(A.AuditOptions()).regions == (REGION,)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert check(A.AuditOptions()).regions == ("us-west-2",)
    assert check(A.AuditOptions(regions=("us-east-1", "us-east-1"))).regions == ("us-east-1",)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")
    assert check(A.AuditOptions()).endpoint_url == "http://localhost:5000"


@pytest.mark.parametrize(
    ("options", "session", "message"),
    [
        (A.AuditOptions(concurrency=0), None, "invalid --concurrency 0"),
        (A.AuditOptions(concurrency=65), None, "invalid --concurrency 65"),
        (A.AuditOptions(prefix="has space"), None, "invalid --log-group-prefix"),
        (A.AuditOptions(regions=("mars-1",)), None, "invalid region 'mars-1'"),
        (A.AuditOptions(endpoint_url="localhost:4566"), None, "invalid --endpoint-url"),
        (A.AuditOptions(), FakeSession(region=None), "no region"),
        (A.AuditOptions(), FakeSession(credentials=None), "no AWS credentials found"),
    ],
)
def test_bad_options(
    monkeypatch: pytest.MonkeyPatch,
    options: A.AuditOptions,
    session: FakeSession | None,
    message: str,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with pytest.raises(UserError, match=message):
        check(options, session)


# --- the AWS edge, stubbed ------------------------------------------------------------


def stubbed_facts() -> tuple[A.AwsFacts, Stubber]:
    session = boto3.session.Session(
        aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION
    )
    aws = A.AwsFacts(session)
    client = aws.client("kms", REGION)  # the client key_facts will use
    return aws, Stubber(client)


def test_key_facts_reads_state_and_policy_by_arn_with_policy_name_default() -> None:
    aws, stub = stubbed_facts()
    deletion = datetime(2026, 12, 1, tzinfo=UTC)
    stub.add_response(
        "describe_key",
        {
            "KeyMetadata": {
                "KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab",
                "Arn": KEY_ARN,
                "KeyState": "PendingDeletion",
                "KeySpec": "SYMMETRIC_DEFAULT",
                "DeletionDate": deletion,
            }
        },
        {"KeyId": KEY_ARN},
    )
    stub.add_response(
        "get_key_policy",
        {"Policy": json.dumps(good_policy("/a"))},
        {"KeyId": KEY_ARN, "PolicyName": "default"},
    )
    with stub:
        got = aws.key_facts(KEY_ARN, "us-east-1")
    stub.assert_no_pending_responses()
    assert got.state == "PendingDeletion" and got.usage is None
    assert got.deletion_date == deletion.isoformat()
    assert got.policy == good_policy("/a") and got.readable
    assert aws.calls == {"DescribeKey": 1, "GetKeyPolicy": 1}


def test_key_facts_not_found_skips_get_key_policy() -> None:
    aws, stub = stubbed_facts()
    stub.add_client_error("describe_key", "NotFoundException", "Key does not exist")
    with stub:
        got = aws.key_facts(KEY_ARN, REGION)
    assert got.not_found == "DescribeKey: NotFoundException: Key does not exist"
    assert aws.calls == {"DescribeKey": 1}


def test_key_facts_records_errors_one_line_each() -> None:
    aws, stub = stubbed_facts()
    stub.add_client_error("describe_key", "AccessDeniedException", "not\nallowed")
    stub.add_client_error("get_key_policy", "ThrottlingException", "Rate exceeded")
    with stub:
        got = aws.key_facts(KEY_ARN, REGION)
    assert got.errors == (
        "DescribeKey: AccessDeniedException: not allowed",
        "GetKeyPolicy: ThrottlingException: Rate exceeded",
    )
    assert not got.readable


def test_fix_for_an_unclassified_state_is_not_about_credentials() -> None:
    results = A.audit([group("/a")], {KEY_ARN: facts(good_policy("/a"), state="Updating")})
    (fix,) = A.suggest_fixes(results)
    assert fix.statement is None
    assert "state Updating" in fix.advice[0] and "credentials" not in fix.advice[0]
