"""``policy_gen audit`` against a real moto server: every status, read-only, retries.

The account is seeded through boto3 against moto's HTTP server (not CloudFormation),
one log group per way a key can block CloudWatch Logs. What moto does and does not
emulate was checked first and is pinned by the ``test_moto_*`` tests below, so a
moto upgrade that changes it fails loudly instead of silently weakening these tests:

* ``CreateLogGroup`` with ``kmsKeyId`` stores the value and ``DescribeLogGroups``
  returns it, without checking that the key exists (or is even an ARN).
* moto enforces a key policy only for ``DescribeKey``, and only ``Deny`` statements
  (principal ignored): a ``Deny kms:DescribeKey`` gives a real server-side
  ``AccessDeniedException``. ``GetKeyPolicy`` is never denied by moto, so for the key
  whose *policy* is unreadable the nearest honest thing is a botocore ``before-call``
  hook that answers that one GetKeyPolicy with an AccessDeniedException error
  response: botocore raises exactly the ClientError it would raise for AWS's answer.
* ``GetKeyPolicy`` without ``PolicyName`` answers NotFound in moto (AWS defaults the
  name to "default"); the audit always passes ``PolicyName="default"``.
* moto omits ``KeyUsage`` unless it was given to CreateKey.
* moto's ``DisableKey`` and ``ScheduleKeyDeletion`` accept only a key id: a key ARN
  is an HTTP 500 (KeyError inside moto), so the seeding passes ids.
* KMS in moto is per region: another region's key ARN sent to a us-east-1 client is
  NotFound, so the audit must ask the key's own region.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from deployment.moto_server import MotoServer, free_port
from policy_gen.audit import aws as audit_aws
from policy_gen.cli import main
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.validate import Target, validate

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
OTHER_REGION = "eu-west-1"
AWS = get_partition("aws")
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
MISSING_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b0b0b0b-1111-4222-8333-444455556666"


# --- the moto server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh moto server for this module, bound to 127.0.0.1, stopped by its PID."""
    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server.endpoint_url


def _session() -> boto3.session.Session:
    return boto3.session.Session(region_name=REGION, **CREDENTIALS)


# --- the seeded account ------------------------------------------------------------


@dataclass
class Seeded:
    endpoint: str
    keys: dict[str, str] = field(default_factory=dict)  # label -> key ARN
    expected: dict[str, str] = field(default_factory=dict)  # log group -> status
    findings: dict[str, set[str]] = field(default_factory=dict)  # log group -> codes
    regions: dict[str, str] = field(default_factory=dict)  # log group -> region


def _key_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def _good_policy(names: list[str], region: str = REGION) -> dict[str, Any]:
    return render_policy(AWS, region, ACCOUNT, names)


@pytest.fixture(scope="module")
def seeded(moto_endpoint: str) -> Seeded:
    return seed(moto_endpoint)


def seed(moto_endpoint: str) -> Seeded:
    """One log group per way a key can fail, plus good ones and one without a key."""
    session = _session()
    kms = session.client("kms", endpoint_url=moto_endpoint)
    kms_eu = session.client("kms", region_name=OTHER_REGION, endpoint_url=moto_endpoint)
    logs = session.client("logs", endpoint_url=moto_endpoint)
    logs_eu = session.client("logs", region_name=OTHER_REGION, endpoint_url=moto_endpoint)
    seeded = Seeded(moto_endpoint)

    def key(label: str, policy: dict[str, Any], client: Any = kms, **kwargs: Any) -> str:
        arn = str(client.create_key(Policy=json.dumps(policy), **kwargs)["KeyMetadata"]["Arn"])
        seeded.keys[label] = arn
        return arn

    def group(
        name: str, key_arn: str | None, status: str, *codes: str, region: str = REGION
    ) -> None:
        client = logs if region == REGION else logs_eu
        kwargs = {"kmsKeyId": key_arn} if key_arn else {}
        client.create_log_group(logGroupName=name, **kwargs)
        if key_arn:
            seeded.expected[name] = status
            seeded.findings[name] = set(codes)
            seeded.regions[name] = region

    good = key("good", _good_policy(["/audit/good", "/audit/good-2"]))
    group("/audit/good", good, "OK")
    group("/audit/good-2", good, "OK")

    root_only = _good_policy(["/audit/missing-principal"])
    root_only["Statement"] = root_only["Statement"][:1]
    group("/audit/missing-principal", key("missing-principal", root_only), "LOGS_DENIED")

    wrong_region = _good_policy(["/audit/wrong-region"])
    wrong_region["Statement"][1]["Principal"] = {"Service": "logs.us-west-2.amazonaws.com"}
    group(
        "/audit/wrong-region",
        key("wrong-region", wrong_region),
        "LOGS_DENIED",
        "WRONG_REGION_PRINCIPAL",
    )

    wrong_account = _good_policy(["/audit/wrong-account"])
    wrong_account["Statement"][1]["Condition"]["ArnEquals"][
        "kms:EncryptionContext:aws:logs:arn"
    ] = f"arn:aws:logs:{REGION}:111122223333:log-group:/audit/wrong-account"
    # The condition names another account's log group: Logs is denied for ours, and
    # that other account's log group may use our key.
    group(
        "/audit/wrong-account", key("wrong-account", wrong_account), "LOGS_DENIED", "CROSS_ACCOUNT"
    )

    disabled = key("disabled", _good_policy(["/audit/disabled"]))
    kms.disable_key(KeyId=_key_id(disabled))  # moto: an ARN here is a 500 (KeyError)
    group("/audit/disabled", disabled, "KEY_DISABLED")

    pending = key("pending", _good_policy(["/audit/pending-deletion"]))
    kms.schedule_key_deletion(KeyId=_key_id(pending), PendingWindowInDays=7)
    group("/audit/pending-deletion", pending, "KEY_PENDING_DELETION")

    # moto enforces this Deny for DescribeKey: a real AccessDeniedException.
    deny_describe = _good_policy(["/audit/unreadable-describe"])
    deny_describe["Statement"].append(
        {
            "Sid": "NoDescribe",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:DescribeKey"],
            "Resource": "*",
        }
    )
    group("/audit/unreadable-describe", key("unreadable-describe", deny_describe), "KEY_UNREADABLE")
    # GetKeyPolicy on this one is answered AccessDenied by a before-call hook (see top).
    group(
        "/audit/unreadable-policy",
        key("unreadable-policy", _good_policy(["/audit/unreadable-policy"])),
        "KEY_UNREADABLE",
    )

    group("/audit/not-found", MISSING_KEY_ARN, "KEY_NOT_FOUND")
    seeded.keys["not-found"] = MISSING_KEY_ARN

    asymmetric = key(
        "asymmetric",
        _good_policy(["/audit/asymmetric"]),
        KeySpec="RSA_2048",
        KeyUsage="ENCRYPT_DECRYPT",
    )
    group("/audit/asymmetric", asymmetric, "KEY_NOT_SYMMETRIC")

    # A good policy, but for a key in another region than the log group.
    other = key("other-region", _good_policy(["/audit/other-region"], OTHER_REGION), kms_eu)
    group("/audit/other-region", other, "KEY_OTHER_REGION")

    family = _good_policy(["/audit/overbroad"])
    family["Statement"][1]["Condition"] = {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/audit/*"
        }
    }
    group("/audit/overbroad", key("overbroad", family), "OK", "OVERBROAD")

    any_account = _good_policy(["/audit/cross-account"])
    any_account["Statement"][1]["Condition"] = {
        "ArnLike": {
            "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{REGION}:*:log-group:/audit/cross-account"
        }
    }
    group("/audit/cross-account", key("cross-account", any_account), "OK", "CROSS_ACCOUNT")

    group("/audit/plain", None, "")  # no key: skipped, counted
    # The good key again, for a log group its policy does not name (outside /audit/).
    group("/other/shared-key", good, "LOGS_DENIED")

    eu_good = key("eu-good", _good_policy(["/audit/eu-good"], OTHER_REGION), kms_eu)
    group("/audit/eu-good", eu_good, "OK", region=OTHER_REGION)
    return seeded


# --- running the command -----------------------------------------------------------


@dataclass
class Recorder:
    """Every operation the audit's clients made, and every HTTP attempt sent."""

    calls: Counter[str] = field(default_factory=Counter)
    sends: Counter[str] = field(default_factory=Counter)

    def on_call(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def on_send(self, request: Any, **_: Any) -> None:
        target = request.headers.get("X-Amz-Target", b"")
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        self.sends[operation or "?"] += 1


def _deny_get_key_policy(key_arn: str) -> Callable[..., Any]:
    """A before-call hook answering GetKeyPolicy for one key as AWS would when the
    caller may not read its policy (moto cannot: it never denies GetKeyPolicy)."""

    def handler(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        body = json.loads(params.get("body") or b"{}")
        if body.get("KeyId") != key_arn:
            return None
        message = (
            f"User: arn:aws:iam::{ACCOUNT}:user/auditor is not authorized to perform: "
            f"kms:GetKeyPolicy on resource: {key_arn} because no resource-based policy "
            "allows the kms:GetKeyPolicy action"
        )
        response = AWSResponse("https://kms.us-east-1.amazonaws.com/", 400, {}, None)
        return response, {
            "Error": {"Code": "AccessDeniedException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    return handler


@pytest.fixture
def recorder(seeded: Seeded, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Route the CLI's boto3 session to moto, with the recording and denial hooks."""
    recorded = Recorder()

    def new_session(profile: str | None) -> boto3.session.Session:
        assert profile is None
        session = _session()
        # before-parameter-build fires once per API call, before any before-call hook
        # can answer the call itself (as the GetKeyPolicy denial below does).
        session.events.register("before-parameter-build", recorded.on_call)
        session.events.register("before-send", recorded.on_send)
        session.events.register(
            "before-call.kms.GetKeyPolicy",
            _deny_get_key_policy(seeded.keys["unreadable-policy"]),
        )
        return session

    monkeypatch.setattr(audit_aws, "new_session", new_session)
    return recorded


def run_audit(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, *args: str
) -> tuple[int, str, str]:
    code = main(["audit", "--endpoint-url", seeded.endpoint, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _audit_json(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, *args: str, exit_code: int = 1
) -> dict[str, Any]:
    code, out, err = run_audit(capsys, seeded, "--format", "json", *args)
    assert code == exit_code, err
    assert err == ""  # no progress output with --format json off a terminal
    data: dict[str, Any] = json.loads(out)
    return data


# --- what moto does (verified, pinned) ---------------------------------------------


def test_moto_stores_kms_key_id_from_create_log_group(seeded: Seeded) -> None:
    logs = _session().client("logs", endpoint_url=seeded.endpoint)
    groups = logs.describe_log_groups(logGroupNamePrefix="/audit/")["logGroups"]
    by_name = {g["logGroupName"]: g for g in groups}
    assert by_name["/audit/good"]["kmsKeyId"] == seeded.keys["good"]
    assert by_name["/audit/not-found"]["kmsKeyId"] == MISSING_KEY_ARN  # not checked by moto
    assert "kmsKeyId" not in by_name["/audit/plain"]
    assert (
        by_name["/audit/good"]["logGroupArn"]
        == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/audit/good"
    )


def test_moto_denies_describe_key_but_never_get_key_policy(seeded: Seeded) -> None:
    kms = _session().client("kms", endpoint_url=seeded.endpoint)
    key = seeded.keys["unreadable-describe"]
    with pytest.raises(ClientError) as raised:
        kms.describe_key(KeyId=key)
    assert raised.value.response["Error"]["Code"] == "AccessDeniedException"
    assert kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
    with pytest.raises(ClientError) as missing:
        kms.describe_key(KeyId=seeded.keys["other-region"])  # asked in the wrong region
    assert missing.value.response["Error"]["Code"] == "NotFoundException"


# --- the audit ---------------------------------------------------------------------


def test_report_per_log_group(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder
) -> None:
    data = _audit_json(
        capsys, seeded, "--region", REGION, OTHER_REGION, "--log-group-prefix", "/audit/"
    )
    results = {g["name"]: g for g in data["log_groups"]}
    expected = {name: s for name, s in seeded.expected.items() if name.startswith("/audit/")}
    assert {name: g["status"] for name, g in results.items()} == expected
    for name, codes in seeded.findings.items():
        if name in results:
            assert {f["code"] for f in results[name]["findings"]} == codes, name
    assert results["/audit/eu-good"]["region"] == OTHER_REGION

    denied = results["/audit/missing-principal"]
    assert denied["denied_actions"] == ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"]
    assert "logs are being lost" in denied["issues"][0]["message"]
    assert "no statement allows it" in denied["issues"][0]["message"]
    assert "AccessDeniedException" in results["/audit/unreadable-policy"]["issues"][0]["message"]
    assert "GetKeyPolicy" in results["/audit/unreadable-policy"]["issues"][0]["message"]
    assert "DescribeKey" in results["/audit/unreadable-describe"]["issues"][0]["message"]
    # Disabled and good policy: only the key state is wrong.
    assert [i["code"] for i in results["/audit/disabled"]["issues"]] == ["KEY_DISABLED"]
    assert results["/audit/overbroad"]["broken"] is False  # a warning only
    assert results["/audit/cross-account"]["broken"] is True  # a policy error

    summary = data["summary"]
    assert summary["unencrypted_skipped"] == 1
    assert summary["statuses"]["OK"] == 5
    assert summary["statuses"]["LOGS_DENIED"] == 3
    assert summary["broken"] == 11
    # Each distinct key looked up once; the missing key needs no GetKeyPolicy.
    keys = {g["kms_key_id"] for g in data["log_groups"]}
    assert recorder.calls["DescribeKey"] == len(keys)
    assert recorder.calls["GetKeyPolicy"] == len(keys) - 1
    assert summary["api_calls"] == dict(sorted(recorder.calls.items()))


def test_read_only_even_with_suggest_fix(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder
) -> None:
    _audit_json(capsys, seeded, "--region", REGION, OTHER_REGION, "--suggest-fix")
    assert recorder.calls, "no API call recorded: the hooks are not wired"
    assert set(recorder.calls) <= {
        "GetCallerIdentity",
        "DescribeLogGroups",
        "DescribeKey",
        "GetKeyPolicy",
    }
    assert all(op.startswith(audit_aws.READ_ONLY_PREFIXES) for op in recorder.calls)


def test_suggested_statement_fixes_the_key(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder
) -> None:
    data = _audit_json(capsys, seeded, "--suggest-fix", "--log-group-prefix", "/audit/")
    fixes = {tuple(fix["log_groups"]): fix for fix in data["fixes"]}
    kms = _session().client("kms", endpoint_url=seeded.endpoint)
    for name in ("/audit/missing-principal", "/audit/wrong-region", "/audit/wrong-account"):
        fix = fixes[(name,)]
        rendered = render_policy(AWS, REGION, ACCOUNT, [name])["Statement"][1]
        # Same statement; renamed when the policy already uses render's Sid.
        assert {**fix["statement"], "Sid": rendered["Sid"]} == rendered
        label = name.removeprefix("/audit/")
        policy = json.loads(
            kms.get_key_policy(KeyId=seeded.keys[label], PolicyName="default")["Policy"]
        )
        policy["Statement"].append(fix["statement"])  # applied locally, never to the account
        report = validate(policy, Target.checked(AWS, REGION, ACCOUNT, [name]))
        assert "LOGS_DENIED" not in {f.code for f in report.findings}, name
    assert fixes[("/audit/missing-principal",)]["statement"]["Sid"] == rendered_sid()
    assert fixes[("/audit/wrong-region",)]["statement"]["Sid"] == rendered_sid() + "2"
    assert "WRONG_REGION_PRINCIPAL" in " ".join(fixes[("/audit/wrong-region",)]["advice"])
    assert fixes[("/audit/disabled",)]["statement"] is None
    assert "enable-key" in fixes[("/audit/disabled",)]["advice"][0]
    assert "cancel-key-deletion" in fixes[("/audit/pending-deletion",)]["advice"][0]
    assert fixes[("/audit/cross-account",)]["statement"] is not None
    assert ("/audit/good",) not in fixes and ("/audit/overbroad",) not in fixes


def rendered_sid() -> str:
    return str(render_policy(AWS, REGION, ACCOUNT, ["/x"])["Statement"][1]["Sid"])


def test_text_output_and_summary(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder
) -> None:
    code, out, err = run_audit(capsys, seeded, "--region", REGION, "--suggest-fix")
    assert code == 1
    assert "(read-only)" in out
    assert "logs.us-east-1.amazonaws.com (documented" in out
    assert any(
        line.startswith("LOGS_DENIED") and "/audit/missing-principal" in line
        for line in out.splitlines()
    )
    assert "Suggested fixes (nothing was changed in the account):" in out
    assert '"Sid": "AllowCloudWatchLogsForTheseLogGroupsOnly"' in out
    summary = next(line for line in out.splitlines() if line.startswith("Summary:"))
    assert "4 OK" in summary and "4 LOGS_DENIED" in summary and "1 KEY_NOT_FOUND" in summary
    # stderr is not a terminal here: plain progress lines, no bar.
    assert "audit: us-east-1: listed" in err and "\r" not in err


def test_csv_output(capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder) -> None:
    code, out, err = run_audit(capsys, seeded, "--format", "csv", "--region", REGION)
    assert code == 1
    rows = list(csv.DictReader(io.StringIO(out)))
    statuses = {row["log_group"]: row["status"] for row in rows}
    assert statuses["/audit/pending-deletion"] == "KEY_PENDING_DELETION"
    assert statuses["/other/shared-key"] == "LOGS_DENIED"
    assert statuses["/audit/good"] == "OK"
    assert "Summary:" in err  # the summary goes to stderr: stdout stays pure CSV


def test_only_warnings_exit_zero(
    capsys: pytest.CaptureFixture[str], seeded: Seeded, recorder: Recorder
) -> None:
    code, out, _ = run_audit(capsys, seeded, "--log-group-prefix", "/audit/overbroad")
    assert code == 0
    assert "WARNING OVERBROAD" in out
    code, _, _ = run_audit(capsys, seeded, "--log-group-prefix", "/audit/good")
    assert code == 0


def test_throttling_is_retried(
    capsys: pytest.CaptureFixture[str],
    seeded: Seeded,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first two DescribeKey attempts are throttled: botocore retries with backoff
    and the report is the same as without throttling."""
    throttled = Counter[str]()
    original = audit_aws.new_session

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if throttled["n"] >= 2:
            return None
        throttled["n"] += 1
        body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "throttled"}, _Raw(body))

    def new_session(profile: str | None) -> boto3.session.Session:
        session = original(profile)
        session.events.register("before-send.kms.DescribeKey", throttle)
        return session

    monkeypatch.setattr(audit_aws, "new_session", new_session)
    data = _audit_json(
        capsys, seeded, "--log-group-prefix", "/audit/good", "--concurrency", "1", exit_code=0
    )
    assert throttled["n"] == 2
    assert {g["status"] for g in data["log_groups"]} == {"OK"}
    assert recorder.calls["DescribeKey"] == 1
    assert recorder.sends["DescribeKey"] == 3  # two throttled attempts, then the real one


class _Raw:
    """Just enough of urllib3's response for botocore to read an error body."""

    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._body


# --- bad input: one line, exit 2 -----------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policy_gen", "audit", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**env, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """No credentials, no config files, no instance metadata lookups."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def test_aws_endpoint_url_is_honoured_in_a_real_process(
    seeded: Seeded, clean_env: dict[str, str]
) -> None:
    env = {
        **clean_env,
        "AWS_ENDPOINT_URL": seeded.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
    }
    result = _cli(env, "--format", "json", "--log-group-prefix", "/audit/good")
    assert result.returncode == 0, result.stderr
    assert {g["status"] for g in json.loads(result.stdout)["log_groups"]} == {"OK"}


@pytest.mark.parametrize(
    ("args", "env_extra", "message"),
    [
        (
            ["--region", "moon-1"],
            {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
            "invalid region 'moon-1'",
        ),
        (["--profile", "nope", "--region", REGION], {}, "unknown AWS profile 'nope'"),
        (["--region", REGION], {}, "no AWS credentials found"),
        ([], {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}, "no region"),
        (
            ["--region", REGION, "--concurrency", "0"],
            {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
            "invalid --concurrency 0",
        ),
        (["--region", REGION, "--concurrency", "many"], {}, "invalid int value"),
        (
            ["--region", REGION, "--log-group-prefix", "bad prefix!"],
            {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
            "invalid --log-group-prefix",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(
    clean_env: dict[str, str], args: list[str], env_extra: dict[str, str], message: str
) -> None:
    result = _cli({**clean_env, **env_extra}, *args)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_endpoint_is_exit_2(clean_env: dict[str, str]) -> None:
    """An endpoint nobody listens on is reported in one line too (never a traceback)."""
    env = {**clean_env, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"}
    closed = f"http://localhost:{free_port()}"
    result = _cli(env, "--region", REGION, "--endpoint-url", closed)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "cannot reach AWS STS" in result.stderr
