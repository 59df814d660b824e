"""The CLI contract: formats, exit codes, one-line errors, nothing written on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_gen.cli import main
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "111122223333"


def run(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The CLI as users run it: a real process."""
    return subprocess.run(
        [sys.executable, "-m", "policy_gen", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(
        json.dumps(render_policy(get_partition("aws"), "ap-southeast-1", ACCOUNT, ["/a/b"]))
    )
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_allow_and_deny_json(
    capsys: pytest.CaptureFixture[str], policy_file: Path
) -> None:
    base = ["simulate", "--policy", str(policy_file), "--format", "json"]
    code, out, _ = cli(
        capsys,
        *base,
        "--principal",
        "logs.ap-southeast-1.amazonaws.com",
        "--action",
        "kms:GenerateDataKey",
        "--context",
        f"kms:EncryptionContext:aws:logs:arn=arn:aws:logs:ap-southeast-1:{ACCOUNT}:log-group:/a/b",
    )
    assert code == 0
    assert json.loads(out) == {
        "decision": "Allow",
        "matched": ["AllowCloudWatchLogsForTheseLogGroupsOnly"],
    }
    code, out, _ = cli(
        capsys,
        *base,
        "--principal",
        "logs.ap-southeast-1.amazonaws.com",
        "--action",
        "kms:GenerateDataKey",
    )
    assert code == 1 and json.loads(out) == {"decision": "ImplicitDeny", "matched": []}


def test_simulate_explicit_deny_and_stdin(tmp_path: Path) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "A", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
            {
                "Sid": "D",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ],
    }
    result = run(
        "simulate",
        "--policy",
        "-",
        "--principal",
        "*",
        "--action",
        "KMS:decrypt",
        "--format",
        "json",
        stdin=json.dumps(policy),
    )
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"decision": "ExplicitDeny", "matched": ["D"]}


def test_multi_valued_context(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"AWS": ACCOUNT},
                        "Action": "kms:Encrypt",
                        "Resource": "*",
                        "Condition": {
                            "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["a", "b"]}
                        },
                    }
                ],
            }
        )
    )
    args = [
        "simulate",
        "--policy",
        str(path),
        "--principal",
        f"arn:aws:iam::{ACCOUNT}:role/r",
        "--action",
        "kms:Encrypt",
    ]
    assert (
        cli(
            capsys,
            *args,
            "--context",
            "kms:EncryptionContextKeys=a",
            "--context",
            "kms:EncryptionContextKeys=b",
        )[0]
        == 0
    )
    assert (
        cli(
            capsys,
            *args,
            "--context",
            "kms:EncryptionContextKeys=a",
            "--context",
            "kms:EncryptionContextKeys=c",
        )[0]
        == 1
    )


def test_validate_json_shape(capsys: pytest.CaptureFixture[str], policy_file: Path) -> None:
    code, out, _ = cli(
        capsys,
        "validate",
        "--policy",
        str(policy_file),
        "--partition",
        "aws",
        "--region",
        "ap-southeast-1",
        "--account",
        ACCOUNT,
        "--log-group",
        "/a/b",
        "--format",
        "json",
    )
    data = json.loads(out)
    assert code == 0 and data["valid"] is True and data["findings"] == []


def test_validate_text_shows_simulations_and_fails_on_errors(
    capsys: pytest.CaptureFixture[str], policy_file: Path
) -> None:
    code, out, _ = cli(
        capsys,
        "validate",
        "--policy",
        str(policy_file),
        "--region",
        "ap-southeast-1",
        "--account",
        "444455556666",
        "--log-group",
        "/a/b",
    )
    assert code == 1
    assert "LOGS_DENIED" in out and "LOCKOUT" in out and "Simulated requests:" in out


def test_strict_turns_warnings_into_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = render_policy(get_partition("aws"), "us-east-1", ACCOUNT, ["/a"])
    policy["Statement"][1]["Principal"]["Service"] = [
        "logs.us-east-1.amazonaws.com",
        "logs.amazonaws.com",
    ]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(policy))
    args = [
        "validate",
        "--policy",
        str(path),
        "--region",
        "us-east-1",
        "--account",
        ACCOUNT,
        "--log-group",
        "/a",
        "--format",
        "json",
    ]
    code, out, _ = cli(capsys, *args)
    assert code == 0 and json.loads(out)["findings"][0]["code"] == "GLOBAL_PRINCIPAL"
    code, out, _ = cli(capsys, *args, "--strict")
    assert code == 1 and json.loads(out)["valid"] is False


def test_explain_prints_a_matrix(capsys: pytest.CaptureFixture[str], policy_file: Path) -> None:
    code, out, _ = cli(
        capsys,
        "explain",
        "--policy",
        str(policy_file),
        "--region",
        "ap-southeast-1",
        "--account",
        ACCOUNT,
        "--log-group",
        "/a/b",
    )
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("Logs (regional)")]
    assert lines and "ALLOW" in lines[0]
    anonymous = [line for line in out.splitlines() if line.startswith("anonymous")]
    assert anonymous and "ALLOW" not in anonymous[0]


# Bad input for every command: test_bad_input_catalogue.py.


def test_render_writes_the_parameter_file_and_validates(tmp_path: Path) -> None:
    out = tmp_path / "params" / "dev.yaml"
    result = run("render", "--account", ACCOUNT, "--region", "eu-central-1", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "validation: VALID" in result.stdout
    assert "/secure-api-dev/function" in out.read_text()
    leftovers = [p.name for p in out.parent.iterdir() if p.name != "dev.yaml"]
    assert leftovers == []


def test_render_policy_to_stdout_is_valid_json() -> None:
    result = run(
        "render",
        "--account",
        ACCOUNT,
        "--region",
        "us-west-2",
        "--out",
        "-",
        "--stack-name",
        "other-stack",
    )
    assert result.returncode == 0, result.stderr
    policy = json.loads(result.stdout)
    arns = policy["Statement"][1]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert f"arn:aws:logs:us-west-2:{ACCOUNT}:log-group:/other-stack/function" in arns


@pytest.fixture
def rendered_params(tmp_path: Path) -> Path:
    """params for secure-api-dev in eu-west-1, written by `render` as users run it."""
    params = tmp_path / "p.yaml"
    result = run("render", "--account", ACCOUNT, "--region", "eu-west-1", "--out", str(params))
    assert result.returncode == 0, result.stderr
    return params


def check_template(params: Path, stack_name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        "check-template", "template.yaml", "--stack-name", stack_name,
        "--parameter-overrides", f"file://{params}", *extra,
    )  # fmt: skip


def test_check_template_passes_on_our_template_with_the_rendered_policy(
    rendered_params: Path,
) -> None:
    result = check_template(rendered_params, "secure-api-dev", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["findings"] == []
    assert data["keys"][0]["log_groups"] == [
        "/secure-api-dev/function",
        "/secure-api-dev/api-access",
        "/secure-api-dev/api-execution",
        "aws-waf-logs-secure-api-dev",  # created in every configuration
    ]
    assert data["keys"][0]["topics"] == ["secure-api-dev-alarms"]


def test_check_template_under_another_stack_name_is_covered(rendered_params: Path) -> None:
    """The stack-name guard: the log groups carry the rendered name under any stack name."""
    result = check_template(rendered_params, "renamed", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["keys"][0]["log_groups"] == [
        "/secure-api-dev/function",
        "/secure-api-dev/api-access",
        "/secure-api-dev/api-execution",
        "aws-waf-logs-secure-api-dev",  # created in every configuration
    ]


def test_check_template_finds_a_hand_edited_policy_stack_name(
    rendered_params: Path, tmp_path: Path
) -> None:
    edited = tmp_path / "edited.yaml"
    text = rendered_params.read_text()
    assert "'PolicyStackName': 'secure-api-dev'" in text
    edited.write_text(text.replace("'PolicyStackName': 'secure-api-dev'", "'PolicyStackName': 'x'"))
    result = check_template(edited, "secure-api-dev")
    assert result.returncode == 1
    assert "LOGS_DENIED" in result.stdout
