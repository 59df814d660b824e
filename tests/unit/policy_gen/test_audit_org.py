"""audit --organization: the pure parts (scope, state file, report) without AWS.

The AWS side runs against moto in tests/integration/test_audit_org.py; here the
choices made from AWS's answers, the resume file against hostile contents, and the
three report formats on a hand-built organization.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from policy_gen.audit import model as M
from policy_gen.audit import org_model as O
from policy_gen.audit import org_output, org_scope, org_state
from policy_gen.audit.org_run import ACCOUNT, KEY, LIST, _Pool
from policy_gen.audit.progress import Progress
from policy_gen.partitions import get_partition
from policy_gen.validate import Finding
from sam_project.errors import UserError
from tests.unit.import_graph import imports_of, product_modules
from tests.unit.policy_gen.test_layout import AWS_MODULES

AWS = get_partition("aws")
A1, A2, A3, A4 = "111111111111", "222222222222", "333333333333", "444444444444"
KEY_ARN = f"arn:aws:kms:us-east-1:{A1}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


# --- layering -----------------------------------------------------------------------------


def test_the_pure_organization_modules_never_import_aws() -> None:
    modules = product_modules()
    known = set(modules) | {"boto3", "botocore"}
    for name in ("org_model", "org_scope", "org_state", "org_output"):
        imported = imports_of(modules[f"policy_gen.audit.{name}"], known)
        reached = {i for i in imported if i.startswith(AWS_MODULES)}
        assert not reached, f"policy_gen.audit.{name} imports {sorted(reached)}"


# --- scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "name"),
    [
        ("arn:aws:iam::111122223333:user/alice", "policy-gen-audit.alice"),
        ("arn:aws:iam::111122223333:user/team/bob", "policy-gen-audit.bob"),
        (
            "arn:aws:sts::111122223333:assumed-role/SecurityAudit/carol@example.com",
            "policy-gen-audit.carol@example.com",
        ),
        ("arn:aws:iam::111122223333:root", "policy-gen-audit.root"),
        ("arn:aws:sts::111122223333:federated-user/dave eve", "policy-gen-audit.dave-eve"),
        ("arn:aws:sts::1:assumed-role/R/" + "x" * 80, "policy-gen-audit." + "x" * 47),
    ],
)
def test_session_name_says_who_audits(arn: str, name: str) -> None:
    assert org_scope.session_name(arn) == name
    assert 2 <= len(name) <= 64


def test_account_state_is_read_before_the_deprecated_status() -> None:
    assert org_scope.account_from_api({"Id": A1, "Name": "a", "State": "SUSPENDED", "Status": "ACTIVE"}).state == "SUSPENDED"  # fmt: skip
    assert org_scope.account_from_api({"Id": A1, "Status": "ACTIVE"}) == O.Account(A1, "", "ACTIVE")
    assert not org_scope.account_from_api({"Id": A1, "State": "PENDING_CLOSURE"}).active


def accounts() -> list[O.Account]:
    return [O.Account(A3, "c", "ACTIVE"), O.Account(A1, "a", "ACTIVE"), O.Account(A2, "b", "SUSPENDED")]  # fmt: skip


def test_select_accounts() -> None:
    every = org_scope.select_accounts(accounts(), org_scope.OrgOptions("R"))
    assert [a.id for a in every] == [A1, A2, A3]  # by id; inactive ones kept for the report
    only = org_scope.select_accounts(accounts(), org_scope.OrgOptions("R", accounts=(A3, A2)))
    assert [a.id for a in only] == [A2, A3]
    rest = org_scope.select_accounts(accounts(), org_scope.OrgOptions("R", exclude_accounts=(A1,)))
    assert [a.id for a in rest] == [A2, A3]
    with pytest.raises(
        UserError, match=f"invalid --accounts {A4}: not an account of the organization"
    ):
        org_scope.select_accounts(accounts(), org_scope.OrgOptions("R", accounts=(A1, A4)))
    with pytest.raises(UserError, match=f"invalid --exclude-accounts {A4}"):
        org_scope.select_accounts(accounts(), org_scope.OrgOptions("R", exclude_accounts=(A4,)))


ANSWER = {
    "us-east-1": "opt-in-not-required",
    "eu-west-1": "opt-in-not-required",
    "ap-east-1": "not-opted-in",
    "me-south-1": "opted-in",
    "cn-north-1": "opt-in-not-required",  # another partition: never audited from aws
    "us-gov-west-1": "opt-in-not-required",
}


def test_plan_regions_from_describe_regions() -> None:
    every = org_scope.plan_regions(A1, AWS, None, ANSWER)
    assert every == O.AccountPlan(A1, O.AUDITED, regions=("eu-west-1", "me-south-1", "us-east-1"))
    named = org_scope.plan_regions(A1, AWS, ("us-east-1", "ap-east-1", "ca-west-1"), ANSWER)
    assert named.regions == ("us-east-1",)
    assert named.not_enabled == (
        ("ap-east-1", "not enabled in this account (DescribeRegions: OptInStatus not-opted-in)"),
        ("ca-west-1", "not among the regions this account reports (DescribeRegions)"),
    )


def test_plan_regions_when_the_account_cannot_say() -> None:
    every = org_scope.plan_regions(A1, AWS, None, None, "DescribeRegions: AccessDenied")
    assert every.status == O.REGIONS_UNREADABLE and not every.regions
    assert "AccessDenied" in every.message
    named = org_scope.plan_regions(A1, AWS, ("us-east-1",), None, "DescribeRegions: AccessDenied")
    assert named.status == O.AUDITED and named.regions == ("us-east-1",)
    assert "audited without knowing whether they are enabled" in named.message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (org_scope.OrgOptions("has space"), "invalid --role-name 'has space'"),
        (org_scope.OrgOptions("x" * 65), "invalid --role-name"),
        (org_scope.OrgOptions("R", external_id="a"), r"invalid --external-id \(1 characters\)"),
        (org_scope.OrgOptions("R", external_id="sécret"), "invalid --external-id"),
        (org_scope.OrgOptions("R", accounts=("12345",)), "invalid --accounts '12345'"),
        (org_scope.OrgOptions("R", exclude_accounts=("x" * 12,)), "invalid --exclude-accounts"),
        (org_scope.OrgOptions("R", accounts=(A1,), exclude_accounts=(A1,)), f"{A1} is in both"),
    ],
)
def test_bad_org_options(options: org_scope.OrgOptions, message: str) -> None:
    with pytest.raises(UserError, match=message):
        org_scope.check_org_options(options)


def test_external_id_is_never_echoed() -> None:
    with pytest.raises(UserError) as raised:
        org_scope.check_org_options(org_scope.OrgOptions("R", external_id="top secret value"))
    assert "top secret" not in str(raised.value)
    print_ = org_scope.fingerprint(org_scope.OrgOptions("R", external_id="top-secret"), ("us-east-1",), None, A1)  # fmt: skip
    assert "top-secret" not in json.dumps(print_)


def test_role_names_with_a_path_and_region_all() -> None:
    assert (
        org_scope.check_org_options(org_scope.OrgOptions("audit/Reader")).role_name
        == "audit/Reader"
    )
    assert org_scope.role_arn(AWS, A1, "audit/Reader") == f"arn:aws:iam::{A1}:role/audit/Reader"
    assert org_scope.split_regions(["all"]) == (True, ())
    assert org_scope.split_regions(["us-east-1"]) == (False, ("us-east-1",))
    with pytest.raises(UserError, match="'all' means every enabled region, give it alone"):
        org_scope.split_regions(["all", "us-east-1"])


# --- the report ---------------------------------------------------------------------------


def result(
    account: str, region: str, name: str, status: str | None = None, **kw: Any
) -> M.GroupResult:
    group = M.LogGroup(name, region, account, f"arn:aws:logs:{region}:{account}:log-group:{name}", KEY_ARN)  # fmt: skip
    facts = M.KeyFacts(KEY_ARN, arn=KEY_ARN, region="us-east-1", state="Enabled", spec="SYMMETRIC_DEFAULT")  # fmt: skip
    issues = (M.Issue(status, f"{status} because"),) if status else ()
    return M.GroupResult(group, facts, issues, **kw)


def sample(**changes: Any) -> O.OrgReport:
    fix = M.Fix(KEY_ARN, "us-east-1", ("/bad",), {"Sid": "S"}, ("add it",))
    warned = result(A1, "us-east-1", "/warned", findings=(Finding("OVERBROAD", "warning", "wide", "1"),))  # fmt: skip
    units = [
        O.UnitResult(A1, "eu-west-1", O.REGION_NOT_ENABLED, "not enabled here"),
        O.UnitResult(
            A1,
            "us-east-1",
            O.AUDITED,
            "",
            (
                result(A1, "us-east-1", "/bad", M.LOGS_DENIED),
                result(A1, "us-east-1", "/ok"),
                warned,
            ),
            2,
            (fix,),
        ),
        O.UnitResult(A3, "us-east-1", O.REGION_FAILED, "DescribeLogGroups: Throttling"),
    ]
    values: dict[str, Any] = {
        "organization": "o-abc",
        "caller": f"arn:aws:iam::{A1}:user/alice",
        "role_name": "Audit",
        "regions": ("us-east-1", "eu-west-1"),
        "accounts": [
            O.Account(A1, "one", "ACTIVE"),
            O.Account(A2, "two", "SUSPENDED"),
            O.Account(A3, "", "ACTIVE"),
            O.Account(A4, "four", "ACTIVE"),
        ],
        "plans": {
            A1: O.AccountPlan(A1, O.AUDITED),
            A3: O.AccountPlan(A3, O.AUDITED),
            A4: O.AccountPlan(A4, O.ROLE_NOT_ASSUMABLE, "AssumeRole: AccessDenied"),
        },
        "units": units,
        "suggest_fix": True,
    }
    values.update(changes)
    return O.OrgReport(**values)


def test_statuses_and_exit_code() -> None:
    report = sample()
    assert report.account_counts() == {"AUDITED": 2, "ROLE_NOT_ASSUMABLE": 1, "REGIONS_UNREADABLE": 0, "ACCOUNT_NOT_ACTIVE": 1}  # fmt: skip
    assert report.unit_counts() == {"AUDITED": 1, "REGION_FAILED": 1, "REGION_NOT_ENABLED": 1}
    assert report.exit_code == 1 and report.incomplete and len(report.broken) == 1
    # Nothing broken, but an account not audited: still 1 (the run cannot vouch for it).
    ok_units = [sample().units[0], O.UnitResult(A1, "us-east-1", O.AUDITED, "", (result(A1, "us-east-1", "/ok"),))]  # fmt: skip
    accounts = [O.Account(A1, "one", "ACTIVE"), O.Account(A2, "two", "SUSPENDED")]
    clean = sample(units=ok_units, accounts=accounts, plans={A1: O.AccountPlan(A1, O.AUDITED)})
    assert clean.exit_code == 0  # a disabled region and a suspended account are no failure
    gap = sample(units=ok_units, accounts=[*accounts, O.Account(A4, "", "ACTIVE")])
    assert gap.exit_code == 1


def test_json_report() -> None:
    data = org_output.audit_json(sample())
    json.dumps(data)
    assert [a["status"] for a in data["accounts"]] == ["AUDITED", "ACCOUNT_NOT_ACTIVE", "AUDITED", "ROLE_NOT_ASSUMABLE"]  # fmt: skip
    assert data["accounts"][1]["message"] == "its state is SUSPENDED: not audited"
    assert data["accounts"][0]["regions"][1] == {
        "region": "us-east-1", "status": "AUDITED", "message": "", "statuses": {"LOGS_DENIED": 1, "OK": 2},
        "log_groups": 3, "broken": 1, "unencrypted_skipped": 2,
    }  # fmt: skip
    assert [(g["account_id"], g["name"]) for g in data["log_groups"]] == [(A1, "/bad"), (A1, "/ok"), (A1, "/warned")]  # fmt: skip
    assert data["keys"] == [{"account_id": A1, **org_output.key_json(sample().units[1].results[0].key)}]  # fmt: skip
    assert data["fixes"][0]["account_id"] == A1 and data["fixes"][0]["statement"] == {"Sid": "S"}
    assert data["summary"]["incomplete"] is True
    assert "fixes" not in org_output.audit_json(sample(suggest_fix=False))


def test_csv_report() -> None:
    out = io.StringIO()
    org_output.write_csv(sample(), out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["account_id"], r["region"], r["log_group"], r["status"], r["broken"]) for r in rows] == [
        (A1, "eu-west-1", "", "REGION_NOT_ENABLED", "no"),
        (A1, "us-east-1", "/bad", "LOGS_DENIED", "yes"),
        (A1, "us-east-1", "/ok", "OK", "no"),
        (A1, "us-east-1", "/warned", "OK", "no"),
        (A2, "", "", "ACCOUNT_NOT_ACTIVE", "no"),
        (A3, "us-east-1", "", "REGION_FAILED", "yes"),
        (A4, "", "", "ROLE_NOT_ASSUMABLE", "yes"),
    ]  # fmt: skip
    assert rows[1]["fix_statement"] == '{"Sid":"S"}' and rows[0]["fix_statement"] == ""
    assert rows[6]["detail"] == "AssumeRole: AccessDenied"


def test_text_report() -> None:
    out = io.StringIO()
    org_output.write_text(sample(), out)
    text = out.getvalue()
    assert text.splitlines()[0] == (
        f"CloudWatch Logs KMS audit of organization o-abc by arn:aws:iam::{A1}:user/alice, role "
        "Audit in each account, region(s) us-east-1, eu-west-1 (read-only)"
    )
    assert (
        f"\nAccount {A1} (one): AUDITED\n  eu-west-1: REGION_NOT_ENABLED: not enabled here\n"
        in text
    )
    assert (
        "  us-east-1: 3 encrypted log group(s) (2 OK, 1 LOGS_DENIED), 2 without a KMS key\n" in text
    )
    assert "    LOGS_DENIED           us-east-1  /bad  key" in text
    assert "    OK                    us-east-1  /warned" in text  # warned: listed
    assert "/ok  key" not in text  # fine: counted, not listed
    assert f"Account {A2} (two): ACCOUNT_NOT_ACTIVE: its state is SUSPENDED: not audited" in text
    assert (
        f"Account {A3}: AUDITED\n  us-east-1: REGION_FAILED: DescribeLogGroups: Throttling" in text
    )
    assert f"Suggested fixes (nothing was changed in any account):\n  account {A1}:\n" in text
    assert "Summary: 4 account(s): 2 AUDITED, 1 ROLE_NOT_ASSUMABLE, 1 ACCOUNT_NOT_ACTIVE; 3 account-region(s)" in text  # fmt: skip


# --- the state file ----------------------------------------------------------------------

AUDIT = {"caller_account": A1, "role_name": "Audit", "regions": ["us-east-1"]}


def test_unit_round_trip_drops_only_the_policy() -> None:
    unit = sample().units[1]
    again = org_state.unit_from_json(json.loads(json.dumps(org_state.unit_to_json(unit))))
    assert again == unit
    with_policy = M.KeyFacts(KEY_ARN, policy={"Statement": []}, errors=("x",))
    assert org_state.without_policy(with_policy) == M.KeyFacts(KEY_ARN, errors=("x",))


def test_state_file_records_and_resumes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state"
    state = org_state.StateFile.open(path, AUDIT)
    assert json.loads(path.read_text()) == {org_state.HEADER: 1, "audit": AUDIT}
    plan = O.AccountPlan(A1, O.AUDITED, "", ("us-east-1",), (("eu-west-1", "why"),))
    state.record_plan(plan)
    for unit in sample().units:
        state.record_unit(unit)
    state.close()
    again = org_state.StateFile.open(path, AUDIT)
    assert again.plans == {A1: plan}
    assert list(again.units.values()) == sample().units
    again.close()
    assert not list(path.parent.glob("*.tmp"))


def test_a_line_cut_by_a_crash_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "state"
    state = org_state.StateFile.open(path, AUDIT)
    state.record_unit(sample().units[0])
    state.close()
    whole = path.read_text()
    path.write_text(whole + '{"unit": {"account": "1111')  # the crash
    resumed = org_state.StateFile.open(path, AUDIT)
    assert list(resumed.units.values()) == [sample().units[0]]
    assert path.read_text() == whole  # rewritten without the torn line
    resumed.record_unit(sample().units[2])
    resumed.close()
    assert len(org_state.StateFile.open(path, AUDIT).units) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "not an audit state file"),
        ("hello\n", "not a policy_gen audit state file"),
        ('{"report": 1}\n', "not a policy_gen audit state file"),
        (json.dumps({org_state.HEADER: 2, "audit": AUDIT}) + "\n", "not a policy_gen audit state file"),
        (json.dumps({org_state.HEADER: 1, "audit": {**AUDIT, "regions": "all"}}) + "\n", r"other options \(regions differ\)"),
        (json.dumps({org_state.HEADER: 1, "audit": AUDIT}) + "\n[1, 2]\n{}\n", "line 2 is not an audit record"),
        (json.dumps({org_state.HEADER: 1, "audit": AUDIT}) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n{}\n", "line 2 is not an audit record"),
        (json.dumps({org_state.HEADER: 1, "audit": AUDIT}) + '\n{"unit": {"account": 1}}\n', "line 2 is not an audit record"),
    ],
)  # fmt: skip
def test_hostile_state_files_are_refused(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "state"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        org_state.StateFile.open(path, AUDIT)
    assert path.read_text() == content  # never overwritten


def test_state_file_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="it is a directory"):
        org_state.StateFile.open(tmp_path, AUDIT)
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x89PNG\xff\xfe")
    with pytest.raises(UserError, match="cannot read --state"):
        org_state.StateFile.open(binary, AUDIT)


# --- progress and the pool ----------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_of_accounts_and_regions() -> None:
    bar = Progress(Tty(), "bar")
    bar.accounts((1, 4), (3, 12), more=True)
    assert "accounts 1/4, account-regions 3/12+" in bar.stream.getvalue()
    lines = Progress(io.StringIO(), "lines")
    for done in range(13):
        lines.accounts((4 if done == 12 else 1, 4), (done, 12))
    assert lines.stream.getvalue().splitlines() == [
        "audit: accounts 4/4, account-regions 12/12 done"
    ]
    lines.note("interrupted")
    assert lines.stream.getvalue().endswith("audit: interrupted\n")


def test_pool_runs_lower_priorities_first_and_drops_queued_work() -> None:
    pool = _Pool(1)
    gate = threading.Event()
    order: list[str] = []
    pool.submit(ACCOUNT, "blocker", gate.wait)
    time.sleep(0.05)  # the worker is now busy with the blocker
    for priority, tag in ((ACCOUNT, "account"), (LIST, "list"), (KEY, "key"), (LIST, "list2")):
        pool.submit(priority, tag, lambda tag=tag: order.append(tag))
    assert pool.drop({ACCOUNT}) == 1
    gate.set()
    finished = [item[0] for item in pool.results() if item is not None]
    pool.close()
    assert order == ["key", "list", "list2"]
    assert finished == ["blocker", "key", "list", "list2"]
    assert pool.outstanding == 0
