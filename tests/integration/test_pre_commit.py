"""``.pre-commit-hooks.yaml`` run by pre-commit (from PyPI) on a throwaway git repository.

No network: the hook is declared ``repo: local`` with the id, entry, files and types of
this repository's ``.pre-commit-hooks.yaml``, and ``language: system`` so pre-commit
runs the ``policy-gen`` of this virtualenv instead of building a virtualenv of its own
from PyPI (what ``language: python`` does for a user whose config names this
repository). A clean template passes; a commit that drops a log group's key fails with
the finding; a template of any name is checked, other JSON/YAML files are skipped with a
note, and the repository's ``.policy-gen.toml`` severities apply.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = Path(sys.executable).parent / "pre-commit"


def _template(encrypted: bool) -> dict[str, object]:
    group: dict[str, object] = {"LogGroupName": "/app/fn", "RetentionInDays": 7}
    if encrypted:
        group["KmsKeyId"] = {"Fn::GetAtt": ["Key", "Arn"]}
    region, account = "${AWS::Region}", "${AWS::AccountId}"
    return {
        "Resources": {
            "Key": {
                "Type": "AWS::KMS::Key",
                "Properties": {
                    "EnableKeyRotation": True,
                    "KeyPolicy": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                             "Principal": {"AWS": {"Fn::Sub": f"arn:aws:iam::{account}:root"}}},
                            {"Effect": "Allow", "Resource": "*",
                             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
                             "Principal": {"Service": {"Fn::Sub": f"logs.{region}.amazonaws.com"}},
                             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": {
                                 "Fn::Sub": f"arn:aws:logs:{region}:{account}:log-group:/app/fn"}}}},
                        ],
                    },
                },
            },
            "Logs": {"Type": "AWS::Logs::LogGroup", "Properties": group},
        }
    }  # fmt: skip


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    local = {**hook, "language": "system"}
    config = {"repos": [{"repo": "local", "hooks": [local]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (repo / "infra").mkdir()
    (repo / "infra" / "template.yaml").write_text(json.dumps(_template(True), indent=2))
    (repo / "notes.json").write_text("{}")  # not a template: the hook skips it with a note
    return repo


def run_hooks(repo: Path) -> tuple[int, str]:
    """``pre-commit run --all-files`` in ``repo``: exit code and combined output."""
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
    }
    command = [str(PRE_COMMIT), "run", "--all-files", "--color", "never"]
    with subprocess.Popen(
        command, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        output, _ = process.communicate(timeout=300)
    return process.returncode, output


def test_the_hook_passes_a_good_template_and_fails_a_broken_one(repository: Path) -> None:
    code, output = run_hooks(repository)
    assert code == 0, output
    assert "policy-gen check-template" in output and "Passed" in output

    (repository / "infra" / "template.yaml").write_text(json.dumps(_template(False), indent=2))
    code, output = run_hooks(repository)
    assert code == 1, output
    assert "Failed" in output
    assert "LOGGROUP_UNENCRYPTED [Logs]" in output
    assert "notes.json: not a CloudFormation template" in output  # looked at, not refused


def test_the_hook_checks_templates_of_any_name_with_the_repository_severities(
    repository: Path,
) -> None:
    (repository / "infra" / "template.yaml").unlink()
    stack = repository / "stacks" / "api-stack.yml"
    stack.parent.mkdir()
    stack.write_text(json.dumps(_template(False), indent=2))
    code, output = run_hooks(repository)
    assert code == 1, output
    assert "LOGGROUP_UNENCRYPTED [Logs]" in output and "api-stack.yml" in output

    (repository / ".policy-gen.toml").write_text('[severity]\nLOGGROUP_UNENCRYPTED = "warning"\n')
    code, output = run_hooks(repository)
    assert code == 0, output


def test_hook_args_with_parameter_values_keep_the_file_names(repository: Path) -> None:
    """pre-commit appends the file names after the hook's args: written as two items,
    ``--parameter-overrides VALUE`` would take the file names as more values (the README
    says to write ``--parameter-overrides=VALUE``, one item)."""
    template = _template(True)
    template["Parameters"] = {"Env": {"Type": "String"}}
    group = template["Resources"]["Logs"]["Properties"]  # type: ignore[index]
    group["LogGroupName"] = {"Fn::Sub": "/app/${Env}"}
    (repository / "infra" / "template.yaml").write_text(json.dumps(template, indent=2))
    config_path = repository / ".pre-commit-config.yaml"
    config = yaml.safe_load(config_path.read_text())
    hook = config["repos"][0]["hooks"][0]
    hook.update(args=["--parameter-overrides=Env=fn"], verbose=True)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = run_hooks(repository)
    assert code == 0, output
    assert "key Key: encrypts /app/fn: policy valid" in output  # Env reached the template

    hook["args"] = ["--parameter-overrides", "Env=fn"]  # the form that cannot work
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, output = run_hooks(repository)
    assert code == 1, output  # pre-commit's own exit code for a failed hook
    assert "exit code: 2" in output and "required: PATH" in output, output
