"""The bad-input catalogue: every command, every kind of bad input.

Each case must give exit code 2, exactly one line on stderr that names the
problem, no traceback, nothing on stdout, and leave the working directory (and
any existing output file) exactly as it was.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tests.unit.policy_gen.bad_input import ROOT, refused

ACCOUNT = "111122223333"
GOOD_POLICY = {"Version": "2012-10-17", "Statement": []}
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

# Each command line is split like a shell would (shlex) after filling in {root}
# (the repository), {acct} (a good account id) and {long} (a 601-character name).
SIMULATE = "simulate --policy {policy} --principal '*' --action kms:Decrypt"
VALIDATE = "validate --policy good.json --region us-east-1 --account {acct} --log-group /a"
RENDER = "render --template {root}/template.yaml --config-file {root}/samconfig.toml"
# fmt: off
CASE_LINES: list[tuple[str, str, str]] = [
    # simulate
    ("missing policy file", SIMULATE.format(policy="nope.json"), "nope.json"),
    ("policy is a directory", SIMULATE.format(policy="."), "directory"),
    ("truncated JSON", SIMULATE.format(policy="trunc.json"), "not valid JSON"),
    ("JSON array", SIMULATE.format(policy="array.json"), "expected a JSON object"),
    ("JSON string", SIMULATE.format(policy="string.json"), "expected a JSON object"),
    ("JSON number", SIMULATE.format(policy="number.json"), "expected a JSON object"),
    ("JSON null", SIMULATE.format(policy="null.json"), "expected a JSON object"),
    ("empty file", SIMULATE.format(policy="empty.json"), "empty"),
    ("binary file", SIMULATE.format(policy="binary.json"), "not UTF-8"),
    ("huge file", SIMULATE.format(policy="huge.json"), "larger than"),
    ("deeply nested", SIMULATE.format(policy="deep.json"), "deep"),
    ("Statement of wrong type", SIMULATE.format(policy="bad-statement.json"), "Statement"),
    ("principal: short account", "simulate --policy good.json --principal arn:aws:iam::12345:root --action kms:Decrypt", "arn:aws:iam::12345:root"),
    ("principal: garbage", "simulate --policy good.json --principal 'not a principal!' --action kms:Decrypt", "not a principal!"),
    ("action without service", "simulate --policy good.json --principal '*' --action Decrypt", "Decrypt"),
    ("context without =", SIMULATE.format(policy="good.json") + " --context kms:CallerAccount", "kms:CallerAccount"),
    # validate / explain
    ("unknown partition", VALIDATE + " --partition aws-mars", "aws-mars"),
    ("region ap-southeast-99x", VALIDATE.replace("us-east-1", "ap-southeast-99x"), "ap-southeast-99x"),
    ("region of another partition", VALIDATE.replace("us-east-1", "cn-north-1") + " --partition aws", "cn-north-1"),
    ("account with 11 digits", VALIDATE.replace("{acct}", "11112222333"), "11112222333"),
    ("account with 13 digits", VALIDATE.replace("{acct}", "1111222233334"), "1111222233334"),
    ("account with letters", VALIDATE.replace("{acct}", "11112222333a"), "11112222333a"),
    ("log group with invalid characters", VALIDATE.replace("/a", "'/app/fn name*'"), "/app/fn name*"),
    ("log group over 512 characters", VALIDATE.replace("validate", "explain").replace("/a", "{long}"), "601 characters"),
    ("log group reserved prefix", VALIDATE.replace("validate", "explain").replace("/a", "aws/x"), "aws/x"),
    ("explain missing policy", VALIDATE.replace("validate", "explain").replace("good.json", "gone.json"), "gone.json"),
    ("unknown format", VALIDATE + " --format xml", "xml"),
    # check-template
    ("template missing", "check-template absent.yaml", "absent.yaml"),
    ("template with a cycle", "check-template cycle.yaml", "cycle"),
    ("template with an unknown intrinsic", "check-template intrinsic.yaml", "Fn::Bogus"),
    ("template with an unknown tag", "check-template badtag.yaml", "!Nope"),
    ("not a template", "check-template notemplate.yaml", "Resources"),
    ("template is a list", "check-template list.yaml", "mapping"),
    ("template binary", "check-template binary.json", "UTF-8"),
    ("override of unknown parameter", "check-template {root}/template.yaml --parameter-overrides Nope=1", "Nope"),
    ("bad account for check-template", "check-template {root}/template.yaml --account 123", "'123'"),
    # render
    ("render: bad account", RENDER + " --account 12 --region us-east-1 --out existing.yaml", "'12'"),
    ("render: bad region", RENDER + " --account {acct} --region mars-1 --out existing.yaml", "mars-1"),
    ("render: unknown config env", RENDER + " --config-env staging --account {acct} --out existing.yaml", "staging"),
    ("render: bad output extension", RENDER + " --account {acct} --region us-east-1 --out policy.txt", "policy.txt"),
    ("render: template without keys", RENDER.replace("{root}/template.yaml", "notemplate.yaml") + " --account {acct} --out existing.yaml", "Resources"),
    # audit
    ("audit: bad region", "audit --region ap-southeast-99x", "ap-southeast-99x"),
    ("audit: bad concurrency", "audit --region us-east-1 --concurrency 0", "0"),
]
# fmt: on
CASES: list[tuple[str, list[str], str]] = [
    (name, shlex.split(line.format(root=ROOT, acct=ACCOUNT, long="/" + "a" * 600)), fragment)
    for name, line, fragment in CASE_LINES
]


@pytest.mark.parametrize(("name", "args", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(tmp_path: Path, name: str, args: list[str], fragment: str) -> None:
    for file_name, content in FILES.items():
        path = tmp_path / file_name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    assert fragment in refused(tmp_path, args).line, name


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
