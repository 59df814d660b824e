"""``policy_gen audit --organization`` as a real process against a real moto server:
Ctrl-C and a kill halfway then a resume, ListAccounts over several pages, and bad
input (one line on stderr, exit 2, nothing on stdout).

moto never refuses AssumeRole (see test_audit_org.py), so every account here has its
role, created by Organizations' CreateAccount (RoleName) the way moto models it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from deployment.moto_server import MotoServer
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy

ROOT = Path(__file__).resolve().parents[2]
ROLE = "PolicyGenLogsKmsAudit"
REGION = "us-east-1"
MEMBERS = 4
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An organization of MEMBERS accounts plus the management one, one encrypted log
    group per account in us-east-1, on a moto server of its own (stopped by PID)."""
    with MotoServer(tmp_path_factory.mktemp("moto-org-cli") / "moto.log") as server:
        endpoint = server.endpoint_url
        session = boto3.session.Session(
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        organizations = session.client("organizations", endpoint_url=endpoint)
        organizations.create_organization(FeatureSet="ALL")
        ids = []
        for n in range(MEMBERS):
            status = organizations.create_account(
                AccountName=f"m{n}", Email=f"m{n}@example.com", RoleName=ROLE
            )
            ids.append(status["CreateAccountStatus"]["AccountId"])
        sts = session.client("sts", endpoint_url=endpoint)
        for account in ids:
            creds = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed"
            )["Credentials"]
            member = boto3.session.Session(
                region_name=REGION,
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            policy = json.dumps(render_policy(get_partition("aws"), REGION, account, ["/app"]))
            kms = member.client("kms", endpoint_url=endpoint)
            key = kms.create_key(Policy=policy)["KeyMetadata"]["Arn"]
            member.client("logs", endpoint_url=endpoint).create_log_group(
                logGroupName="/app", kmsKeyId=key
            )
        yield {"endpoint": endpoint, "members": ids}


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        CREDENTIALS,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PYTHONPATH=str(ROOT),
    )
    return env


def _command(org: dict[str, Any], *args: str) -> list[str]:
    return [
        sys.executable, "-m", "policy_gen", "audit", "--endpoint-url", org["endpoint"],
        "--organization", "--role-name", ROLE, *args,
    ]  # fmt: skip


def _run(org: dict[str, Any], tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(org, *args),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env=_env(tmp_path),
        check=False,
    )


def _units(state: Path) -> list[dict[str, Any]]:
    """The finished account-regions recorded (complete lines only)."""
    text = state.read_text() if state.exists() else ""
    lines = text.split("\n")[1:-1]  # the header; the last piece is "" or a torn line
    return [json.loads(line)["unit"] for line in lines if '"unit"' in line]


def _stop_halfway(
    org: dict[str, Any], tmp_path: Path, state: Path, sig: signal.Signals
) -> subprocess.Popen[str]:
    """Start the audit of every enabled region and send ``sig`` once a few
    account-regions are recorded (one at a time: --concurrency 1)."""
    proc = subprocess.Popen(
        _command(org, "--region", "all", "--format", "json", "--state", str(state), "--concurrency", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=_env(tmp_path),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while len([u for u in _units(state) if u["status"] == "AUDITED"]) < 5:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no progress recorded"
        time.sleep(0.01)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    return proc


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name
)
def test_stopped_halfway_then_resumed(
    org: dict[str, Any], tmp_path: Path, sig: signal.Signals
) -> None:
    """Ctrl-C and SIGTERM: what is started is finished and recorded, exit 130. A kill:
    whatever was recorded stays. The second run audits exactly the rest."""
    state = tmp_path / "audit.state"
    proc = _stop_halfway(org, tmp_path, state, sig)
    _, err = proc.communicate()
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 130, err
        assert "audit: interrupted: finishing the account-regions already started" in err
        assert err.rstrip().endswith("interrupted")
    done = {(u["account"], u["region"]) for u in _units(state) if u["status"] == "AUDITED"}

    resumed = _run(org, tmp_path, "--region", "all", "--format", "json", "--state", str(state))
    assert resumed.returncode == 0, resumed.stderr  # every key here is fine
    report = json.loads(resumed.stdout)
    audited = {
        (a["account_id"], r["region"])
        for a in report["accounts"]
        for r in a["regions"]
        if r["status"] == "AUDITED"
    }
    assert done < audited  # none lost
    # The second run listed exactly the account-regions the first did not finish.
    assert report["summary"]["api_calls"]["DescribeLogGroups"] == len(audited) - len(done)
    assert report["summary"]["from_state"] == len(done)
    assert len(report["log_groups"]) == MEMBERS  # one per member account, none twice


def test_list_accounts_is_paginated(tmp_path: Path) -> None:
    """More accounts than ListAccounts returns in one page (moto pages by 100, like
    AWS's default for this call): every page is read."""
    with MotoServer(tmp_path / "moto.log") as server:
        org = {"endpoint": server.endpoint_url}
        session = boto3.session.Session(
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        organizations = session.client("organizations", endpoint_url=server.endpoint_url)
        organizations.create_organization(FeatureSet="ALL")
        last = ""
        for n in range(101):
            status = organizations.create_account(AccountName=f"a{n}", Email=f"a{n}@example.com")
            last = status["CreateAccountStatus"]["AccountId"]
        first_page = organizations.list_accounts()
        assert "NextToken" in first_page
        assert last not in {a["Id"] for a in first_page["Accounts"]}
        result = _run(org, tmp_path, "--region", REGION, "--format", "json", "--accounts", last)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [a["account_id"] for a in report["accounts"]] == [last]
    assert report["summary"]["api_calls"]["ListAccounts"] == 2


def test_a_caller_outside_any_organization_is_told_so(org: dict[str, Any], tmp_path: Path) -> None:
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    creds = session.client("sts", endpoint_url=org["endpoint"]).assume_role(
        RoleArn="arn:aws:iam::999999999999:role/Anyone", RoleSessionName="outsider"
    )["Credentials"]
    env = _env(tmp_path)
    env.update(
        AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
        AWS_SESSION_TOKEN=creds["SessionToken"],
    )
    result = subprocess.run(
        _command(org, "--region", REGION),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "policy_gen audit: error: the caller's account is not in an AWS Organization "
        "(DescribeOrganization: AWSOrganizationsNotInUseException: Your account is not a "
        "member of an organization.)"
    ]


BAD_INPUT = [
    (["--region", REGION, "--role-name", ROLE], "--role-name needs --organization", False),
    (["--region", REGION, "--state", "s.json"], "--state needs --organization", False),
    (["--organization", "--region", REGION], "--organization needs --role-name ROLE", False),
    (["--role-name", "bad name"], "invalid --role-name 'bad name'", True),
    (["--role-name", ROLE, "--accounts", "123"], "invalid --accounts '123'", True),
    (["--role-name", ROLE, "--external-id", "x"], "invalid --external-id (1 characters)", True),
    (["--role-name", ROLE, "--region", "all", REGION], "'all' means every enabled region", True),
    (["--role-name", ROLE, "--region", REGION, "cn-north-1"], "invalid --region cn-north-1: not in partition aws", True),
    (["--role-name", ROLE, "--accounts", "999999999999"], "invalid --accounts 999999999999: not an account of the organization", True),
    (["--role-name", ROLE, "--state", "."], "invalid --state .: it is a directory", True),
    (["--role-name", ROLE, "--state", "pyproject.toml"], "not a policy_gen audit state file", True),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message", "organization"), BAD_INPUT)
def test_bad_input_is_one_line_exit_2(
    org: dict[str, Any], tmp_path: Path, args: list[str], message: str, organization: bool
) -> None:
    command = [
        sys.executable, "-m", "policy_gen", "audit", "--endpoint-url", org["endpoint"],
        *(["--organization"] if organization else []), *args,
    ]  # fmt: skip
    before = (ROOT / "pyproject.toml").read_bytes()
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=ROOT, timeout=120, env=_env(tmp_path), check=False
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert (ROOT / "pyproject.toml").read_bytes() == before  # a refused --state is untouched
