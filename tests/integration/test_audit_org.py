"""``policy_gen audit --organization`` against a real moto server.

The organization is built the way a real one would be: Organizations creates the
accounts, each member's audit role is the CloudFormation stack of
``audit-role/member-role.yaml`` (what a StackSet deploys), and each account gets its
own keys and log groups through its own credentials (good, broken, disabled, pending
deletion, and a key of one account used by the log groups of two others). One
account never got the stack (no role), one is closed, and one region is not enabled.

What moto does not model, and what stands in for it (each checked below):

* ``AssumeRole`` always succeeds in moto, whatever the role or its trust policy. A
  botocore ``before-call`` hook on the audit's STS client plays the STS decision: it
  reads the member account's role from moto's IAM and evaluates the trust policy the
  stack deployed with this repository's policy simulator (principal, aws:PrincipalArn,
  sts:ExternalId), answering AccessDenied as STS would when it does not allow the
  call; otherwise moto answers. (A trust policy has no Resource element, the role
  being the resource; the simulator needs one, so ``"*"`` is added for the check.)
* Region enablement: moto's ``DescribeRegions`` reports the opt-in regions (ap-east-1
  ...) as ``not-opted-in`` and the others as ``opt-in-not-required``, the same in
  every account, and it answers calls in any region. The audit's region lister reads
  ``OptInStatus`` from that real answer; a region enabled in one account and not in
  another cannot be set up in moto.
* A key of another account: moto keeps KMS per account, so a key ARN of account B
  asked with account A's credentials is NotFound (AWS would check B's key policy).
  The audit reads a key with its owner's role when the owner is audited, which is
  what makes the cross-account key below readable, in moto as in AWS.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from deployment.moto_server import MotoServer
from policy_gen.audit import aws as audit_aws
from policy_gen.audit import org_aws
from policy_gen.audit.aws import AuditOptions
from policy_gen.audit.org_output import audit_json
from policy_gen.audit.org_run import OrgAudit, collect_org
from policy_gen.audit.org_scope import OrgOptions
from policy_gen.audit.progress import Progress
from policy_gen.cli import main
from policy_gen.evaluate import Request, evaluate, parse_policy
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.template import load_template

ROOT = Path(__file__).resolve().parents[2]
MANAGEMENT = "123456789012"  # moto's default account: the caller's
CALLER_PRINCIPAL = f"arn:aws:iam::{MANAGEMENT}:user/moto"  # aws:PrincipalArn of moto's caller
US, EU, OPT_IN = "us-east-1", "eu-west-1", "ap-east-1"
REGIONS = (US, EU, OPT_IN)
ROLE = "PolicyGenLogsKmsAudit"
ADMIN_ROLE = "OrganizationAccountAccessRole"  # what Organizations creates, for seeding
EXTERNAL_ID = "org-audit-5d1c"
AWS = get_partition("aws")
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TEMPLATES = ROOT / "audit-role"


# --- the organization ------------------------------------------------------------------


@dataclass
class Org:
    endpoint: str
    ids: dict[str, str] = field(default_factory=dict)  # label -> account id
    keys: dict[str, str] = field(default_factory=dict)  # label -> key ARN
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def session(self, account: str | None = None, region: str = US) -> boto3.session.Session:
        """The management account, or an account's admin role (for seeding and checks)."""
        base = boto3.session.Session(region_name=region, **CREDENTIALS)
        if account is None or account == MANAGEMENT:
            return base
        arn = f"arn:aws:iam::{account}:role/{ADMIN_ROLE}"
        sts = base.client("sts", endpoint_url=self.endpoint)
        creds = sts.assume_role(RoleArn=arn, RoleSessionName="seed")["Credentials"]
        return boto3.session.Session(
            region_name=region,
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def account_client(self, account: str, service: str, region: str = US) -> Any:
        """One admin client per account, service and region (sessions are slow to make)."""
        with self._lock:
            found = self._clients.get((account, service, region))
            if found is None:
                session = self.session(account, region)
                found = session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
                self._clients[(account, service, region)] = found
        return found

    def client(self, label: str, service: str, region: str = US) -> Any:
        return self.account_client(self.ids[label], service, region)

    def label(self, account: str) -> str:
        return next(label for label, id_ in self.ids.items() if id_ == account)


def _deploy_audit_role(org: Org, label: str) -> None:
    """What the StackSet does in each account: the member-role template as a stack."""
    cfn = org.client(label, "cloudformation")
    cfn.create_stack(
        StackName="policy-gen-audit-role",
        TemplateBody=(TEMPLATES / "member-role.yaml").read_text(),
        Parameters=[
            {"ParameterKey": "RoleName", "ParameterValue": ROLE},
            {"ParameterKey": "AuditorPrincipalArn", "ParameterValue": CALLER_PRINCIPAL},
            {"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID},
        ],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    status = cfn.describe_stacks(StackName="policy-gen-audit-role")["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"


def build_org(endpoint: str) -> Org:
    org = Org(endpoint, {"management": MANAGEMENT})
    organizations = org.session().client("organizations", endpoint_url=endpoint)
    organizations.create_organization(FeatureSet="ALL")
    for label in ("dev", "prod", "shared", "no-role", "closed"):
        status = organizations.create_account(AccountName=label, Email=f"{label}@example.com")
        org.ids[label] = status["CreateAccountStatus"]["AccountId"]
    organizations.close_account(AccountId=org.ids["closed"])
    for label in ("management", "dev", "prod", "shared", "closed"):  # not "no-role"
        _deploy_audit_role(org, label)

    def key(label: str, owner: str, names: list[str], region: str = US, **extra: Any) -> str:
        """A key of ``owner`` whose policy lets Logs use it for ``names`` (log groups of
        the account given as ``account:name``, else of the owner)."""
        policy = render_policy(AWS, region, org.ids[owner], ["/placeholder"])
        arns = []
        for name in names:
            account, _, group = name.rpartition(":")
            arns.append(f"arn:aws:logs:{region}:{org.ids[account or owner]}:log-group:{group}")
        if arns:
            policy["Statement"][1]["Condition"] = {
                "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": arns}
            }
        else:
            policy["Statement"] = policy["Statement"][:1]  # no statement for Logs at all
        kms = org.client(owner, "kms", region)
        arn = str(kms.create_key(Policy=json.dumps(policy), **extra)["KeyMetadata"]["Arn"])
        org.keys[label] = arn
        return arn

    def group(owner: str, name: str, key_arn: str | None, region: str = US) -> None:
        kwargs = {"kmsKeyId": key_arn} if key_arn else {}
        org.client(owner, "logs", region).create_log_group(logGroupName=name, **kwargs)

    good = key("dev-good", "dev", ["/dev/api", "/dev/worker"])
    group("dev", "/dev/api", good)
    group("dev", "/dev/worker", good)  # the same key: looked up once
    group("dev", "/dev/denied", key("dev-root-only", "dev", []))
    disabled = key("dev-disabled", "dev", ["/dev/disabled"])
    org.client("dev", "kms").disable_key(KeyId=disabled.rsplit("/", 1)[-1])
    group("dev", "/dev/disabled", disabled)
    group("dev", "/dev/plain", None)
    group("dev", "/dev/eu", key("dev-eu", "dev", ["/dev/eu"], EU), EU)
    # A key of the shared account naming only dev's log group: OK for dev, denied for
    # prod, which uses it too (read once, with the shared account's role).
    shared = key("shared-for-dev", "shared", ["dev:/dev/uses-shared"])
    group("dev", "/dev/uses-shared", shared)
    group("prod", "/prod/api", shared)
    pending = key("prod-pending", "prod", ["/prod/pending"])
    org.client("prod", "kms").schedule_key_deletion(
        KeyId=pending.rsplit("/", 1)[-1], PendingWindowInDays=7
    )
    group("prod", "/prod/pending", pending)
    group("prod", "/prod/eu-plain", None, EU)
    group("shared", "/shared/own", key("shared-own", "shared", ["/shared/own"]))
    # Behind the missing role: never read.
    group("no-role", "/no-role/app", key("no-role", "no-role", ["/no-role/app"]))
    return org


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """A fresh moto server with the organization, bound to 127.0.0.1, stopped by its PID."""
    with MotoServer(tmp_path_factory.mktemp("moto-org") / "moto.log") as server:
        yield build_org(server.endpoint_url)


# --- STS's decision, which moto does not make ----------------------------------------------


def _trust_decision(org: Org, role_arn: str, external_id: str | None) -> str | None:
    """Why STS would refuse this AssumeRole by moto's caller, or None if it allows it."""
    account, name = role_arn.split(":")[4], role_arn.rsplit("/", 1)[-1]
    refusal = (
        f"User: arn:aws:sts::{MANAGEMENT}:user/moto is not authorized to perform: "
        f"sts:AssumeRole on resource: {role_arn}"
    )
    iam = org.account_client(account, "iam")
    try:
        trust = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    except ClientError as error:
        assert error.response["Error"]["Code"] == "NoSuchEntity"
        return refusal
    statements = (
        trust["Statement"] if isinstance(trust["Statement"], list) else [trust["Statement"]]
    )
    trust = {**trust, "Statement": [{**s, "Resource": "*"} for s in statements]}
    context = {"aws:PrincipalArn": [CALLER_PRINCIPAL]}
    if external_id is not None:
        context["sts:ExternalId"] = [external_id]
    decision = evaluate(
        parse_policy(trust), Request(CALLER_PRINCIPAL, "sts:AssumeRole", context, role_arn)
    )
    return None if decision.decision == "Allow" else refusal


def _register_sts_decision(session: boto3.session.Session, org: Org) -> None:
    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["assume_role"] = dict(params)

    def decide(context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context["assume_role"]
        refusal = _trust_decision(org, params["RoleArn"], params.get("ExternalId"))
        if refusal is None:
            return None
        response = AWSResponse("https://sts.us-east-1.amazonaws.com/", 403, {}, None)
        return response, {
            "Error": {"Code": "AccessDenied", "Message": refusal, "Type": "Sender"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }

    session.events.register("before-parameter-build.sts.AssumeRole", remember)
    session.events.register("before-call.sts.AssumeRole", decide)


# --- recording every call ---------------------------------------------------------------


@dataclass
class Call:
    account: str  # whose credentials: "caller", or the member account
    service: str
    operation: str
    params: dict[str, Any]
    region: str


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    sends: Counter[str] = field(default_factory=Counter)
    keys_used: list[tuple[str, str]] = field(default_factory=list)  # (operation, access key)
    hooks: list[Callable[[Call], None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, session: boto3.session.Session, account: str) -> None:
        def on_call(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            service = model.service_model.endpoint_prefix
            region = str(context.get("client_region"))
            call = Call(account, service, model.name, dict(params), region)
            with self.lock:
                self.calls.append(call)
            for hook in self.hooks:
                hook(call)

        def on_send(request: Any, **_: Any) -> None:
            auth = request.headers.get("Authorization", b"")
            auth = auth.decode() if isinstance(auth, bytes) else auth
            access_key = auth.split("Credential=", 1)[-1].split("/", 1)[0]
            with self.lock:
                self.keys_used.append((account, access_key))
                self.sends[account] += 1

        session.events.register("before-parameter-build", on_call)
        session.events.register("before-send", on_send)

    def ops(self, account: str | None = None) -> Counter[str]:
        return Counter(c.operation for c in self.calls if account is None or c.account == account)


@pytest.fixture
def recorder(org: Org, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The CLI's sessions go to moto, watched: the caller's (with STS's decision) and
    each member account's."""
    recorded = Recorder()

    def new_session(profile: str | None) -> boto3.session.Session:
        assert profile is None
        session = boto3.session.Session(region_name=US, **CREDENTIALS)
        recorded.watch(session, "caller")
        _register_sts_decision(session, org)
        return session

    real_member_session = org_aws.member_session

    def member_session(account: str, *args: Any) -> boto3.session.Session:
        session = real_member_session(account, *args)
        recorded.watch(session, account)
        return session

    monkeypatch.setattr(audit_aws, "new_session", new_session)
    monkeypatch.setattr(org_aws, "member_session", member_session)
    return recorded


def org_args(org: Org, *extra: str) -> list[str]:
    return [
        "audit", "--endpoint-url", org.endpoint, "--organization", "--role-name", ROLE,
        "--external-id", EXTERNAL_ID, "--region", *REGIONS, *extra,
    ]  # fmt: skip


def run_org(capsys: pytest.CaptureFixture[str], org: Org, *extra: str) -> tuple[int, str, str]:
    code = main(org_args(org, *extra))
    out, err = capsys.readouterr()
    return code, out, err


def org_json(capsys: pytest.CaptureFixture[str], org: Org, *extra: str) -> dict[str, Any]:
    code, out, err = run_org(capsys, org, "--format", "json", *extra)
    assert code == 1, err
    data: dict[str, Any] = json.loads(out)
    return data


def _shape(org: Org, data: dict[str, Any]) -> dict[str, Any]:
    """The report with account ids replaced by labels: what the tests compare."""
    accounts = {
        org.label(a["account_id"]): (
            a["status"],
            a["state"],
            {r["region"]: (r["status"], r["log_groups"], r["broken"], r["unencrypted_skipped"])
             for r in a["regions"]},
        )
        for a in data["accounts"]
    }  # fmt: skip
    groups = {
        (org.label(g["account_id"]), g["region"], g["name"]): g["status"]
        for g in data["log_groups"]
    }
    return {"accounts": accounts, "log_groups": groups}


NOT_ENABLED = ("REGION_NOT_ENABLED", 0, 0, 0)
EXPECTED_ACCOUNTS = {
    "management": ("AUDITED", "ACTIVE", {US: ("AUDITED", 0, 0, 0), EU: ("AUDITED", 0, 0, 0), OPT_IN: NOT_ENABLED}),
    "dev": ("AUDITED", "ACTIVE", {US: ("AUDITED", 5, 2, 1), EU: ("AUDITED", 1, 0, 0), OPT_IN: NOT_ENABLED}),
    "prod": ("AUDITED", "ACTIVE", {US: ("AUDITED", 2, 2, 0), EU: ("AUDITED", 0, 0, 1), OPT_IN: NOT_ENABLED}),
    "shared": ("AUDITED", "ACTIVE", {US: ("AUDITED", 1, 0, 0), EU: ("AUDITED", 0, 0, 0), OPT_IN: NOT_ENABLED}),
    "no-role": ("ROLE_NOT_ASSUMABLE", "ACTIVE", {}),
    "closed": ("ACCOUNT_NOT_ACTIVE", "SUSPENDED", {}),
}  # fmt: skip
EXPECTED_GROUPS = {
    ("dev", US, "/dev/api"): "OK",
    ("dev", US, "/dev/worker"): "OK",
    ("dev", US, "/dev/denied"): "LOGS_DENIED",
    ("dev", US, "/dev/disabled"): "KEY_DISABLED",
    ("dev", US, "/dev/uses-shared"): "OK",
    ("dev", EU, "/dev/eu"): "OK",
    ("prod", US, "/prod/api"): "LOGS_DENIED",
    ("prod", US, "/prod/pending"): "KEY_PENDING_DELETION",
    ("shared", US, "/shared/own"): "OK",
}
# Distinct keys behind those log groups: the shared key serves dev and prod.
DISTINCT_KEYS = 7


# --- the report ---------------------------------------------------------------------------


def test_org_report_is_exact(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    data = org_json(capsys, org)
    assert _shape(org, data) == {"accounts": EXPECTED_ACCOUNTS, "log_groups": EXPECTED_GROUPS}
    by_label = {org.label(a["account_id"]): a for a in data["accounts"]}
    assert "sts:AssumeRole" in by_label["no-role"]["message"]
    assert "AccessDenied" in by_label["no-role"]["message"]
    assert by_label["closed"]["message"] == "its state is SUSPENDED: not audited"
    not_enabled = next(r for r in by_label["dev"]["regions"] if r["region"] == OPT_IN)
    assert not_enabled["message"] == (
        "not enabled in this account (DescribeRegions: OptInStatus not-opted-in)"
    )
    assert data["summary"]["accounts"] == {
        "AUDITED": 4, "ROLE_NOT_ASSUMABLE": 1, "REGIONS_UNREADABLE": 0, "ACCOUNT_NOT_ACTIVE": 1,
    }  # fmt: skip
    assert data["summary"]["account_regions"] == {
        "AUDITED": 8,
        "REGION_FAILED": 0,
        "REGION_NOT_ENABLED": 4,
    }
    assert data["summary"]["broken"] == 4 and data["summary"]["incomplete"] is True
    assert data["summary"]["keys"] == DISTINCT_KEYS
    assert data["summary"]["unencrypted_skipped"] == 2
    # Each distinct key read once, the cross-account one with its owner's role.
    assert recorder.ops()["GetKeyPolicy"] == DISTINCT_KEYS
    assert recorder.ops()["DescribeKey"] == DISTINCT_KEYS
    shared_reads = [
        c for c in recorder.calls if c.params.get("KeyId") == org.keys["shared-for-dev"]
    ]
    assert {c.account for c in shared_reads} == {org.ids["shared"]}
    assert len(shared_reads) == 2  # DescribeKey + GetKeyPolicy
    # One role session per audited account, named after the auditor.
    assumed = [c for c in recorder.calls if c.operation == "AssumeRole"]
    assert sorted(c.params["RoleArn"].split(":")[4] for c in assumed) == sorted(
        org.ids[label] for label in ("management", "dev", "prod", "shared", "no-role")
    )
    assert {c.params["RoleSessionName"] for c in assumed} == {"policy-gen-audit.moto"}
    assert {c.params["ExternalId"] for c in assumed} == {EXTERNAL_ID}
    assert data["summary"]["api_calls"] == dict(sorted(recorder.ops().items()))
    assert recorder.ops() == {
        "GetCallerIdentity": 1, "DescribeOrganization": 1, "ListAccounts": 1, "AssumeRole": 5,
        "DescribeRegions": 4, "DescribeLogGroups": 8, "DescribeKey": 7, "GetKeyPolicy": 7,
    }  # fmt: skip


def test_read_only_and_exactly_what_the_templates_grant(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    """Only Describe/Get/List calls and sts:AssumeRole; every call allowed by the IAM
    templates, and every action they grant used (least privilege)."""
    org_json(capsys, org, "--suggest-fix")
    assert recorder.calls
    for call in recorder.calls:
        assert call.operation.startswith(audit_aws.READ_ONLY_PREFIXES) or (
            call.operation == "AssumeRole"
        ), call
    member_actions, member_keys = _granted(TEMPLATES / "member-role.yaml", "AuditRole")
    caller_actions, _ = _granted(TEMPLATES / "caller-policy.yaml", "AuditCallerPolicy")
    used_by_members = {
        f"{c.service}:{c.operation}" for c in recorder.calls if c.account != "caller"
    }
    used_by_caller = {f"{c.service}:{c.operation}" for c in recorder.calls if c.account == "caller"}
    assert used_by_members == member_actions
    # GetCallerIdentity needs no permission (STS API reference).
    assert used_by_caller - {"sts:GetCallerIdentity"} == caller_actions
    for call in recorder.calls:
        if call.service == "kms":  # the member role reads its own account's keys only
            pattern = member_keys.replace("${AWS::Partition}", "aws").replace(
                "${AWS::AccountId}", call.account
            )
            assert fnmatchcase(call.params["KeyId"], pattern), call
    # And the deployed role is that template (moto returns the inline policy as text).
    iam = org.client("dev", "iam")
    deployed = iam.get_role_policy(RoleName=ROLE, PolicyName="ReadLogGroupsAndTheirKeys")
    document = deployed["PolicyDocument"]
    if isinstance(document, str):
        document = ast.literal_eval(document)
    assert {a for s in document["Statement"] for a in s["Action"]} == member_actions


def _granted(path: Path, logical_id: str) -> tuple[set[str], str]:
    """The actions a template's policy allows, and the KMS resource pattern if any."""
    resource = load_template(path)["Resources"][logical_id]["Properties"]
    documents = [p["PolicyDocument"] for p in resource.get("Policies", [])] or [
        resource["PolicyDocument"]
    ]
    actions: set[str] = set()
    kms_resource = ""
    for document in documents:
        for statement in document["Statement"]:
            listed = statement["Action"]
            actions.update([listed] if isinstance(listed, str) else listed)
            target = statement["Resource"]
            if isinstance(target, dict) and "Fn::Sub" in target and ":kms:" in target["Fn::Sub"]:
                kms_resource = target["Fn::Sub"]
    return actions, kms_resource


def test_each_account_lets_go_of_its_clients_when_done(org: Org, recorder: Recorder) -> None:
    """A botocore client holds up to a megabyte: a thousand accounts' worth would be
    gigabytes, so an account's clients go once its regions are done."""
    options = AuditOptions(regions=REGIONS, endpoint_url=org.endpoint)
    audit = OrgAudit(
        options,
        OrgOptions(role_name=ROLE, external_id=EXTERNAL_ID),
        audit_aws.new_session(None),
        Progress(io.StringIO(), "off"),
    )
    held: list[int] = []

    def sample(call: Call) -> None:
        if call.operation == "DescribeLogGroups":  # while accounts are being audited
            held.append(audit.members.clients_held())

    recorder.hooks.append(sample)
    report = audit.run()
    assert _shape(org, audit_json(report))["log_groups"] == EXPECTED_GROUPS
    assert max(held) > 0
    assert audit.members.clients_held() == 0


def test_text_report_by_account_and_region(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    code, out, err = run_org(capsys, org, "--suggest-fix")
    assert code == 1
    ids = org.ids
    lines = out.splitlines()
    assert lines[0].startswith("CloudWatch Logs KMS audit of organization o-")
    assert (
        f"Account {ids['no-role']} (no-role): ROLE_NOT_ASSUMABLE: AssumeRole: AccessDenied" in out
    )
    assert f"Account {ids['closed']} (closed): ACCOUNT_NOT_ACTIVE: its state is SUSPENDED" in out
    dev = lines.index(f"Account {ids['dev']} (dev): AUDITED")
    assert lines[dev + 1] == (
        "  ap-east-1: REGION_NOT_ENABLED: not enabled in this account (DescribeRegions: "
        "OptInStatus not-opted-in)"
    )
    assert lines[dev + 2] == "  eu-west-1: 1 encrypted log group(s) (1 OK), 0 without a KMS key"
    assert lines[dev + 3] == (
        "  us-east-1: 5 encrypted log group(s) (3 OK, 1 KEY_DISABLED, 1 LOGS_DENIED), "
        "1 without a KMS key"
    )
    assert lines[dev + 4].startswith("    LOGS_DENIED           us-east-1  /dev/denied  key ")
    assert lines[dev + 5].startswith("        LOGS_DENIED: logs.us-east-1.amazonaws.com cannot")
    assert lines[dev + 6].startswith("    KEY_DISABLED          us-east-1  /dev/disabled  key ")
    assert f"  account {ids['prod']}:" in lines
    summary = next(line for line in lines if line.startswith("Summary:"))
    assert summary.startswith(
        "Summary: 6 account(s): 4 AUDITED, 1 ROLE_NOT_ASSUMABLE, 1 ACCOUNT_NOT_ACTIVE; "
        "12 account-region(s): 8 AUDITED, 4 REGION_NOT_ENABLED; log groups: 5 OK, "
        "1 KEY_PENDING_DELETION, 1 KEY_DISABLED, 2 LOGS_DENIED; 4 broken"
    )
    assert "audit: accounts 6/6, account-regions 12/12 done" in err  # off a terminal: lines


def test_csv_has_account_id_and_the_gaps(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    code, out, err = run_org(capsys, org, "--format", "csv")
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == [
        "account_id", "region", "log_group", "status", "broken", "kms_key_id", "key_state",
        "issues", "findings", "detail",
    ]  # fmt: skip
    groups = {
        (org.label(r["account_id"]), r["region"], r["log_group"]): r["status"]
        for r in rows
        if r["log_group"]
    }
    assert groups == EXPECTED_GROUPS
    gaps = {
        (org.label(r["account_id"]), r["region"]): (r["status"], r["broken"])
        for r in rows
        if not r["log_group"]
    }
    assert gaps == {
        ("no-role", ""): ("ROLE_NOT_ASSUMABLE", "yes"),
        ("closed", ""): ("ACCOUNT_NOT_ACTIVE", "no"),
        **{(label, OPT_IN): ("REGION_NOT_ENABLED", "no") for label in ("management", "dev", "prod", "shared")},
    }  # fmt: skip
    assert "Summary:" in err


def test_suggested_fixes_are_per_account(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    data = org_json(capsys, org, "--suggest-fix")
    fixes = {(org.label(f["account_id"]), tuple(f["log_groups"])): f for f in data["fixes"]}
    assert set(fixes) == {
        ("dev", ("/dev/denied",)),
        ("dev", ("/dev/disabled",)),
        ("prod", ("/prod/api",)),
        ("prod", ("/prod/pending",)),
    }
    # The shared key: add Logs for prod's log group to the *shared* account's key.
    prod_api = fixes[("prod", ("/prod/api",))]
    assert prod_api["key"] == org.keys["shared-for-dev"]
    condition = prod_api["statement"]["Condition"]["ArnEquals"]
    assert condition["kms:EncryptionContext:aws:logs:arn"] == (
        f"arn:aws:logs:{US}:{org.ids['prod']}:log-group:/prod/api"
    )
    assert "enable-key" in fixes[("dev", ("/dev/disabled",))]["advice"][0]


def test_without_the_external_id_no_role_can_be_assumed(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    args = org_args(org, "--format", "json")
    args.remove("--external-id")
    args.remove(EXTERNAL_ID)
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    statuses = {org.label(a["account_id"]): a["status"] for a in data["accounts"]}
    assert statuses == {
        **{label: "ROLE_NOT_ASSUMABLE" for label in ("management", "dev", "prod", "shared", "no-role")},
        "closed": "ACCOUNT_NOT_ACTIVE",
    }  # fmt: skip
    assert data["log_groups"] == []
    assert not {"DescribeLogGroups", "DescribeKey"} & set(recorder.ops())


def test_accounts_and_exclude_accounts_narrow_it(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    data = org_json(capsys, org, "--accounts", org.ids["prod"], org.ids["dev"], org.ids["no-role"])
    assert [org.label(a["account_id"]) for a in data["accounts"]] == sorted(
        ["dev", "prod", "no-role"], key=lambda label: org.ids[label]
    )
    assert {(org.label(c.params["RoleArn"].split(":")[4])) for c in recorder.calls if c.operation == "AssumeRole"} == {"dev", "prod", "no-role"}  # fmt: skip
    # The shared key's owner is not audited this time: it is read with prod's or dev's
    # role, and moto keeps KMS per account, so it is not found there (see the top).
    data = org_json(capsys, org, "--exclude-accounts", MANAGEMENT, org.ids["closed"])
    assert {org.label(a["account_id"]) for a in data["accounts"]} == {
        "dev", "prod", "shared", "no-role",
    }  # fmt: skip


def test_region_all_is_what_each_account_has_enabled(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder
) -> None:
    args = org_args(org, "--format", "json", "--accounts", org.ids["dev"])
    args[args.index("--region") + 1 : args.index("--region") + 4] = ["all"]
    assert main(args) == 1
    data = json.loads(capsys.readouterr().out)
    ec2 = org.client("dev", "ec2")
    enabled = sorted(
        r["RegionName"]
        for r in ec2.describe_regions(AllRegions=True)["Regions"]
        if r["OptInStatus"] in ("opt-in-not-required", "opted-in")
        and AWS.region_pattern.fullmatch(r["RegionName"])  # moto adds aws-cn, aws-us-gov
    )
    regions = [r["region"] for r in data["accounts"][0]["regions"]]
    assert regions == enabled and OPT_IN not in regions and US in regions
    assert {r["status"] for r in data["accounts"][0]["regions"]} == {"AUDITED"}
    assert data["regions"] == ["all"]
    assert recorder.ops()["DescribeLogGroups"] == len(enabled)


def test_throttled_member_calls_are_retried(
    capsys: pytest.CaptureFixture[str],
    org: Org,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two DescribeLogGroups attempts are throttled: botocore's adaptive retry mode
    retries, and the report is the same as without throttling."""
    throttled: Counter[str] = Counter()
    lock = threading.Lock()
    real_member_session = org_aws.member_session

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        with lock:
            if throttled["n"] >= 2:
                return None
            throttled["n"] += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "throttled"}, _Raw(body))

    def member_session(account: str, *args: Any) -> boto3.session.Session:
        session = real_member_session(account, *args)
        session.events.register("before-send.cloudwatch-logs.DescribeLogGroups", throttle)
        return session

    monkeypatch.setattr(org_aws, "member_session", member_session)
    data = org_json(capsys, org, "--concurrency", "1")
    assert throttled["n"] == 2
    assert _shape(org, data)["log_groups"] == EXPECTED_GROUPS
    assert recorder.ops()["DescribeLogGroups"] == 8  # the retries are attempts, not calls


class _Raw:
    """Just enough of urllib3's response for botocore to read an error body."""

    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._body


# --- long runs: credentials, interrupts ------------------------------------------------


def test_credentials_are_refreshed_before_they_expire(org: Org, recorder: Recorder) -> None:
    """The clock jumps 55 minutes into the 1-hour role sessions at the first
    DescribeLogGroups: botocore renews the credentials of the accounts opened before
    (a second AssumeRole each) and no call after the jump is signed with credentials
    issued before it."""
    offset = [timedelta(0)]
    used: list[tuple[bool, str]] = []  # (after the jump, access key) per member request

    def jump(call: Call) -> None:
        if call.operation == "DescribeLogGroups":
            offset[0] = timedelta(minutes=55)

    issued: list[tuple[str, bool, str]] = []  # (account, before the jump, access key)

    def issue(parsed: dict[str, Any], **_: Any) -> None:
        # STS issues credentials for an hour from *its* now: the test's clock.
        if "Credentials" in parsed:
            parsed["Credentials"]["Expiration"] += offset[0]
            account = parsed["AssumedRoleUser"]["Arn"].split(":")[4]
            issued.append((account, not offset[0], parsed["Credentials"]["AccessKeyId"]))

    def sent(request: Any, **_: Any) -> None:
        auth = request.headers["Authorization"]
        auth = auth.decode() if isinstance(auth, bytes) else auth
        used.append((bool(offset[0]), auth.split("Credential=", 1)[1].split("/", 1)[0]))

    recorder.hooks.append(jump)
    real_member_session = org_aws.member_session

    def member_session(account: str, *args: Any) -> boto3.session.Session:
        session = real_member_session(account, *args)
        session.events.register("before-send", sent)
        return session

    session = audit_aws.new_session(None)
    session.events.register("after-call.sts.AssumeRole", issue)
    options = AuditOptions(regions=(US, EU), endpoint_url=org.endpoint, concurrency=1)
    accounts = tuple(org.ids[label] for label in ("dev", "prod", "shared"))
    org_options = OrgOptions(role_name=ROLE, external_id=EXTERNAL_ID, accounts=accounts)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(org_aws, "member_session", member_session)
        report = collect_org(
            options, org_options, session, clock=lambda: datetime.now(UTC) + offset[0]
        )
    assert {(r.group.account, r.group.name): r.status for r in report.results()} == {
        (org.ids[label], name): status
        for (label, _, name), status in EXPECTED_GROUPS.items()
        if label in ("dev", "prod", "shared")
    }
    # Opened before the jump: assumed again after it. Opened after: once is enough.
    early = {account for account, before, _ in issued if before}
    assert early, "no account was opened before the jump"
    assumed = Counter(account for account, _, _ in issued)
    assert assumed == {account: 2 if account in early else 1 for account in accounts}
    old_keys = {key for _, before, key in issued if before}
    assert {key for after, key in used if not after} <= old_keys
    signed_after = {key for after, key in used if after}
    assert signed_after and not signed_after & old_keys


def test_interrupt_then_resume_audits_each_account_region_once(
    capsys: pytest.CaptureFixture[str], org: Org, recorder: Recorder, tmp_path: Path
) -> None:
    """Ctrl-C halfway (a real SIGINT to this process, at the third DescribeLogGroups):
    the run finishes what it started, records it, exits 130; the second run audits
    only the rest and prints the same report as an uninterrupted run."""
    state = tmp_path / "audit.state"
    lock = threading.Lock()
    started: list[tuple[str, str]] = []

    def interrupt(call: Call) -> None:
        if call.operation == "DescribeLogGroups":
            with lock:
                started.append((call.account, call.region))
                if len(started) == 3:
                    os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C sends

    recorder.hooks.append(interrupt)
    code, out, err = run_org(
        capsys, org, "--format", "json", "--state", str(state), "--concurrency", "2"
    )
    assert code == 130 and out == ""
    assert "interrupted: finishing the account-regions already started" in err
    first = _listed(recorder)
    records = [json.loads(line) for line in state.read_text().splitlines()[1:]]
    kept = {
        (r["unit"]["account"], r["unit"]["region"])
        for r in records
        if "unit" in r and r["unit"]["status"] == "AUDITED"
    }
    assert 3 <= len(first) < 8
    assert kept == set(first)  # every account-region started was finished and kept

    recorder.calls.clear()
    recorder.hooks.clear()
    code, out, err = run_org(capsys, org, "--format", "json", "--state", str(state))
    assert code == 1, err
    resumed = json.loads(out)
    second = _listed(recorder)
    assert not set(first) & set(second)  # none audited twice
    assert len(set(first) | set(second)) == len(first) + len(second) == 8  # none missed
    # Taken from the state: those, and the regions found not enabled before the stop.
    assert resumed["summary"]["from_state"] == sum(1 for r in records if "unit" in r)
    assert _shape(org, resumed) == {"accounts": EXPECTED_ACCOUNTS, "log_groups": EXPECTED_GROUPS}

    recorder.calls.clear()
    code, out, _ = run_org(capsys, org, "--format", "json", "--state", str(state))
    assert code == 1
    assert not {"DescribeLogGroups", "DescribeRegions", "DescribeKey"} & set(recorder.ops())
    assert _shape(org, json.loads(out))["log_groups"] == EXPECTED_GROUPS


def _listed(recorder: Recorder) -> list[tuple[str, str]]:
    """The account-regions whose log groups were listed."""
    return [(c.account, c.region) for c in recorder.calls if c.operation == "DescribeLogGroups"]
