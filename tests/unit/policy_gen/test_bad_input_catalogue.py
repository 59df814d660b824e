"""The bad-input catalogue: every command, every kind of bad input.

Each case must give exit code 2, exactly one line on stderr that names the
problem, no traceback, nothing on stdout, and leave the working directory (and
any existing output file) exactly as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT = "111122223333"
GOOD_POLICY = {"Version": "2012-10-17", "Statement": []}
T = "TEMPLATE"  # placeholder: replaced by a file in the case's temp dir

FILES: dict[str, str | bytes] = {
    "good.json": json.dumps(GOOD_POLICY),
    "trunc.json": '{"Version": "2012-10-17", "Statement": [{"Effect": "Al',
    "array.json": "[1, 2, 3]",
    "string.json": '"just a string"',
    "number.json": "42",
    "null.json": "null",
    "empty.json": "",
    "binary.json": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
    "bad-statement.json": json.dumps({"Version": "2012-10-17", "Statement": "oops"}),
    "huge.json": '{"Version": "2012-10-17", "Pad": "' + "x" * 1_100_000 + '"}',
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "cycle.yaml": "Resources:\n  A:\n    Type: AWS::Logs::LogGroup\n    Properties:\n"
    "      LogGroupName: !Ref B\n      KmsKeyId: !GetAtt K.Arn\n"
    "  B:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      LogGroupName: !Ref A\n"
    "  K:\n    Type: AWS::KMS::Key\n    Properties: {KeyPolicy: {}}\n",
    "intrinsic.yaml": "Resources:\n  L:\n    Type: AWS::Logs::LogGroup\n    Properties:\n"
    "      LogGroupName: {'Fn::Bogus': x}\n      KmsKeyId: !GetAtt K.Arn\n"
    "  K:\n    Type: AWS::KMS::Key\n    Properties: {KeyPolicy: {}}\n",
    "badtag.yaml": "Resources:\n  K:\n    Type: AWS::KMS::Key\n    Properties: {KeyPolicy: !Nope x}\n",
    "notemplate.yaml": "just: a mapping\n",
    "list.yaml": "- a\n- b\n",
    "existing.yaml": "# an earlier render: must survive a failed one\n",
}

CASES: list[tuple[str, list[str], str]] = [
    # simulate
    (
        "missing policy file",
        ["simulate", "--policy", "nope.json", "--principal", "*", "--action", "kms:Decrypt"],
        "nope.json",
    ),
    (
        "policy is a directory",
        ["simulate", "--policy", ".", "--principal", "*", "--action", "kms:Decrypt"],
        "directory",
    ),
    (
        "truncated JSON",
        ["simulate", "--policy", "trunc.json", "--principal", "*", "--action", "kms:Decrypt"],
        "not valid JSON",
    ),
    (
        "JSON array",
        ["simulate", "--policy", "array.json", "--principal", "*", "--action", "kms:Decrypt"],
        "expected a JSON object",
    ),
    (
        "JSON string",
        ["simulate", "--policy", "string.json", "--principal", "*", "--action", "kms:Decrypt"],
        "expected a JSON object",
    ),
    (
        "JSON number",
        ["simulate", "--policy", "number.json", "--principal", "*", "--action", "kms:Decrypt"],
        "expected a JSON object",
    ),
    (
        "JSON null",
        ["simulate", "--policy", "null.json", "--principal", "*", "--action", "kms:Decrypt"],
        "expected a JSON object",
    ),
    (
        "empty file",
        ["simulate", "--policy", "empty.json", "--principal", "*", "--action", "kms:Decrypt"],
        "empty",
    ),
    (
        "binary file",
        ["simulate", "--policy", "binary.json", "--principal", "*", "--action", "kms:Decrypt"],
        "not UTF-8",
    ),
    (
        "huge file",
        ["simulate", "--policy", "huge.json", "--principal", "*", "--action", "kms:Decrypt"],
        "larger than",
    ),
    (
        "deeply nested",
        ["simulate", "--policy", "deep.json", "--principal", "*", "--action", "kms:Decrypt"],
        "deep",
    ),
    (
        "Statement of wrong type",
        [
            "simulate",
            "--policy",
            "bad-statement.json",
            "--principal",
            "*",
            "--action",
            "kms:Decrypt",
        ],
        "Statement",
    ),
    (
        "principal: short account",
        [
            "simulate",
            "--policy",
            "good.json",
            "--principal",
            "arn:aws:iam::12345:root",
            "--action",
            "kms:Decrypt",
        ],
        "arn:aws:iam::12345:root",
    ),
    (
        "principal: garbage",
        [
            "simulate",
            "--policy",
            "good.json",
            "--principal",
            "not a principal!",
            "--action",
            "kms:Decrypt",
        ],
        "not a principal!",
    ),
    (
        "action without service",
        ["simulate", "--policy", "good.json", "--principal", "*", "--action", "Decrypt"],
        "Decrypt",
    ),
    (
        "context without =",
        [
            "simulate",
            "--policy",
            "good.json",
            "--principal",
            "*",
            "--action",
            "kms:Decrypt",
            "--context",
            "kms:CallerAccount",
        ],
        "kms:CallerAccount",
    ),
    # validate / explain
    (
        "unknown partition",
        [
            "validate",
            "--policy",
            "good.json",
            "--partition",
            "aws-mars",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/a",
        ],
        "aws-mars",
    ),
    (
        "region ap-southeast-99x",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "ap-southeast-99x",
            "--account",
            ACCOUNT,
            "--log-group",
            "/a",
        ],
        "ap-southeast-99x",
    ),
    (
        "region of another partition",
        [
            "validate",
            "--policy",
            "good.json",
            "--partition",
            "aws",
            "--region",
            "cn-north-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/a",
        ],
        "cn-north-1",
    ),
    (
        "account with 11 digits",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            "11112222333",
            "--log-group",
            "/a",
        ],
        "11112222333",
    ),
    (
        "account with 13 digits",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            "1111222233334",
            "--log-group",
            "/a",
        ],
        "1111222233334",
    ),
    (
        "account with letters",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            "11112222333a",
            "--log-group",
            "/a",
        ],
        "11112222333a",
    ),
    (
        "log group with invalid characters",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/app/fn name*",
        ],
        "/app/fn name*",
    ),
    (
        "log group over 512 characters",
        [
            "explain",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/" + "a" * 600,
        ],
        "601 characters",
    ),
    (
        "log group reserved prefix",
        [
            "explain",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "aws/x",
        ],
        "aws/x",
    ),
    (
        "explain missing policy",
        [
            "explain",
            "--policy",
            "gone.json",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/a",
        ],
        "gone.json",
    ),
    (
        "unknown format",
        [
            "validate",
            "--policy",
            "good.json",
            "--region",
            "us-east-1",
            "--account",
            ACCOUNT,
            "--log-group",
            "/a",
            "--format",
            "xml",
        ],
        "xml",
    ),
    # check-template
    ("template missing", ["check-template", "absent.yaml"], "absent.yaml"),
    ("template with a cycle", ["check-template", "cycle.yaml"], "cycle"),
    ("template with an unknown intrinsic", ["check-template", "intrinsic.yaml"], "Fn::Bogus"),
    ("template with an unknown tag", ["check-template", "badtag.yaml"], "!Nope"),
    ("not a template", ["check-template", "notemplate.yaml"], "Resources"),
    ("template is a list", ["check-template", "list.yaml"], "mapping"),
    ("template binary", ["check-template", "binary.json"], "UTF-8"),
    (
        "override of unknown parameter",
        ["check-template", str(ROOT / "template.yaml"), "--parameter-overrides", "Nope=1"],
        "Nope",
    ),
    (
        "bad account for check-template",
        ["check-template", str(ROOT / "template.yaml"), "--account", "123"],
        "'123'",
    ),
    # render
    (
        "render: bad account",
        [
            "render",
            "--template",
            str(ROOT / "template.yaml"),
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--account",
            "12",
            "--region",
            "us-east-1",
            "--out",
            "existing.yaml",
        ],
        "'12'",
    ),
    (
        "render: bad region",
        [
            "render",
            "--template",
            str(ROOT / "template.yaml"),
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--account",
            ACCOUNT,
            "--region",
            "mars-1",
            "--out",
            "existing.yaml",
        ],
        "mars-1",
    ),
    (
        "render: unknown config env",
        [
            "render",
            "--template",
            str(ROOT / "template.yaml"),
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--config-env",
            "staging",
            "--account",
            ACCOUNT,
            "--out",
            "existing.yaml",
        ],
        "staging",
    ),
    (
        "render: bad output extension",
        [
            "render",
            "--template",
            str(ROOT / "template.yaml"),
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--account",
            ACCOUNT,
            "--region",
            "us-east-1",
            "--out",
            "policy.txt",
        ],
        "policy.txt",
    ),
    (
        "render: template without keys",
        [
            "render",
            "--template",
            "notemplate.yaml",
            "--config-file",
            str(ROOT / "samconfig.toml"),
            "--account",
            ACCOUNT,
            "--out",
            "existing.yaml",
        ],
        "Resources",
    ),
    # audit
    ("audit: bad region", ["audit", "--region", "ap-southeast-99x"], "ap-southeast-99x"),
    ("audit: bad concurrency", ["audit", "--region", "us-east-1", "--concurrency", "0"], "0"),
]


@pytest.mark.parametrize(("name", "args", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path: Path, name: str, args: list[str], fragment: str) -> None:
    for file_name, content in FILES.items():
        path = tmp_path / file_name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "policy_gen", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 2, (name, result.returncode, result.stdout[-500:], result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, (name, result.stderr)
    assert "Traceback" not in result.stderr
    assert fragment in lines[0], (name, lines[0])
    assert result.stdout == ""
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before, f"{name}: files changed"


def test_catalogue_is_large_and_covers_every_command() -> None:
    assert len(CASES) >= 30
    assert {args[0] for _, args, _ in CASES} == {
        "simulate",
        "validate",
        "explain",
        "check-template",
        "render",
        "audit",
    }
