"""``check-template`` on a repository, as a user runs it: real ``python -m policy_gen``
processes on real files in throwaway repositories.

Several paths and directories make one report and one exit code; severities come from
the command line, a ``.policy-gen.toml`` or ``pyproject.toml`` found upward from the
working directory, and Metadata suppressions; nothing the user turned off disappears
(text counts it, JSON lists it, SARIF marks it suppressed, validated against the SARIF
2.1.0 schema). Hostile trees (link loops, FIFOs, binary files, thousands of files) are
skipped or refused, never hung on.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy_gen.template_paths import MAX_CANDIDATES
from tests.unit.policy_gen.bad_input import refused

from .test_cli import run
from .test_sarif import sarif_of

REGION, ACCOUNT = "${AWS::Region}", "${AWS::AccountId}"


def key_policy(*groups: str) -> dict[str, Any]:
    arns = [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}" for group in groups]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*",
             "Principal": {"AWS": {"Fn::Sub": f"arn:aws:iam::{ACCOUNT}:root"}}},
            {"Effect": "Allow", "Resource": "*",
             "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"],
             "Principal": {"Service": {"Fn::Sub": f"logs.{REGION}.amazonaws.com"}},
             "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
                 {"Fn::Sub": arn} for arn in arns]}}},
        ],
    }  # fmt: skip


def template(*, function: bool = False, metadata: Any = None) -> dict[str, Any]:
    """A valid key and encrypted group; with ``function``, a Lambda function without its
    own log group (LAMBDA_AUTO_LOGGROUP), carrying ``metadata``."""
    resources: dict[str, Any] = {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": key_policy("/app/fn")}},
        "Logs": {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "/app/fn", "KmsKeyId": {"Fn::GetAtt": ["Key", "Arn"]}},
        },
    }
    if function:
        fn: dict[str, Any] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Runtime": "python3.13", "Handler": "app.handler", "CodeUri": "src"},
        }
        if metadata is not None:
            fn["Metadata"] = metadata
        resources["Fn"] = fn
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}


def write(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository: .git marks the root the config search stops at."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def check(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run("check-template", *args, cwd=repo)


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(result.stdout)
    return data


# --- several paths ------------------------------------------------------------------------


def test_a_directory_is_searched_for_templates_and_cdk_assemblies(repo: Path) -> None:
    write(repo / "infra" / "api.yaml", template())
    write(repo / "infra" / "nested" / "stack.template", template(function=True))
    write(repo / "package.json", {"name": "app", "version": "1.0.0"})
    (repo / "docs").mkdir()
    (repo / "docs" / "mkdocs.yml").write_text("site_name: docs\nnav: []\n")
    (repo / "events").mkdir()
    (repo / "events" / "resources.json").write_text('{"Resources": ["not", "a", "template"]}')
    out = repo / "cdk.out"
    write(out / "AppStack.template.json", template())
    write(out / "manifest.json", {"version": "36.0.0", "artifacts": {}})
    write(out / "tree.json", {"version": "tree-0.1", "tree": {}})
    write(out / "asset.0f1e2d" / "template.yaml", template())  # application code: not ours
    write(out / "assembly-Prod" / "ProdApi.template.json", template())  # a CDK stage
    write(out / "assembly-Prod" / "ProdApi.assets.json", {"version": "36.0.0"})
    # A cloud assembly under another name, as aws-cdk's integ snapshots are: the `cdk.out`
    # marker file says what it is.
    snapshot = repo / "test" / "integ.logs.js.snapshot"
    (snapshot / "cdk.out").parent.mkdir(parents=True)
    (snapshot / "cdk.out").write_text('{"version":"36.0.0"}')
    write(snapshot / "LogsStack.template.json", template())
    write(snapshot / "integ.json", {"version": "36.0.0", "testCases": {}})
    write(repo / ".aws-sam" / "build" / "template.yaml", template())  # sam build's copy
    write(repo / "node_modules" / "pkg" / "template.yaml", template())  # a dependency's
    result = check(repo, ".", "--format", "json")
    assert result.returncode == 1, result.stderr  # the nested stack's function
    report = as_json(result)
    assert report["templates"] == [
        "cdk.out/AppStack.template.json",
        "cdk.out/assembly-Prod/ProdApi.template.json",
        "infra/api.yaml",
        "infra/nested/stack.template",
        "test/integ.logs.js.snapshot/LogsStack.template.json",
    ]
    assert sorted(item["file"] for item in report["skipped"]) == [
        "docs/mkdocs.yml",
        "events/resources.json",
        "package.json",
    ]
    assert {item["reason"] for item in report["skipped"]} == {"not a CloudFormation template"}
    (finding,) = report["findings"]
    assert (finding["code"], finding["file"], finding["resource"]) == (
        "LAMBDA_AUTO_LOGGROUP",
        "infra/nested/stack.template",
        "Fn",
    )
    assert {key["file"] for key in report["keys"]} == set(report["templates"])


def test_text_reports_each_file_then_the_total(repo: Path) -> None:
    write(repo / "a.yaml", template())
    write(repo / "b.yaml", template(function=True))
    (repo / "notes.yaml").write_text("owner: platform-team\n")
    result = check(repo, ".")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Template a.yaml as stack")
    assert "Result: VALID (0 error(s), 0 warning(s))" in lines
    assert "Result: INVALID (1 error(s), 0 warning(s))" in lines
    assert "Skipped 1 file(s): 1 not a CloudFormation template" in lines
    assert "  notes.yaml: not a CloudFormation template" in lines
    assert lines[-1] == "Total: 2 template(s): INVALID (1 error(s), 0 warning(s))"


def test_the_exit_code_is_the_worst_and_a_bad_file_does_not_hide_the_others(repo: Path) -> None:
    write(repo / "good.yaml", template())
    (repo / "notes.yaml").write_text("owner: platform-team\n")
    result = check(repo, "good.yaml", "notes.yaml")
    assert result.returncode == 2  # a file named as a template that is none: bad input
    assert "Result: VALID" in result.stdout  # ... but good.yaml's report is printed
    (line,) = result.stderr.splitlines()
    assert "notes.yaml" in line and "Resources" in line
    assert "Total: 1 template(s), 1 could not be read" in result.stdout
    sarif = check(repo, "good.yaml", "notes.yaml", "--format", "sarif")
    assert sarif.returncode == 2
    (invocation,) = sarif_of(sarif)["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    (notification,) = invocation["toolExecutionNotifications"]
    assert notification["level"] == "error" and "notes.yaml" in notification["message"]["text"]
    report = as_json(check(repo, "good.yaml", "notes.yaml", "--format", "json"))
    assert report["valid"] is False and "notes.yaml" in report["errors"][0]


def test_several_bad_files_are_each_reported(repo: Path) -> None:
    (repo / "a.yaml").write_text("owner: a\n")
    (repo / "b.yaml").write_text("owner: b\n")
    result = check(repo, "a.yaml", "b.yaml", "--format", "json")
    assert result.returncode == 2
    assert [line.split("'")[1] for line in result.stderr.splitlines()] == ["a.yaml", "b.yaml"]
    report = as_json(result)
    assert report["valid"] is False and len(report["errors"]) == 2


def test_a_named_non_template_alone_is_refused(repo: Path) -> None:
    (repo / "notes.yaml").write_text("owner: platform-team\n")
    assert "Resources" in refused(repo, ["check-template", "notes.yaml"]).line


def test_a_broken_template_in_a_directory_is_an_error_not_a_skip(repo: Path) -> None:
    write(repo / "good.yaml", template())
    (repo / "broken.yaml").write_text("AWSTemplateFormatVersion: '2010-09-09'\nResources: []\n")
    result = check(repo, ".")
    assert result.returncode == 2
    assert "broken.yaml" in result.stderr and "Resources" in result.stderr
    assert "Result: VALID" in result.stdout


def test_a_directory_of_no_templates_is_refused(repo: Path) -> None:
    write(repo / "package.json", {"name": "x"})
    assert "found no CloudFormation template" in refused(repo, ["check-template", "."]).line
    (repo / "empty").mkdir()
    assert "holds no *.yaml" in refused(repo, ["check-template", "empty"]).line


def test_quoted_glob_patterns_are_expanded(repo: Path) -> None:
    write(repo / "templates" / "a" / "one.yaml", template())
    write(repo / "templates" / "b" / "c" / "two.yml", template())
    write(repo / "templates" / "b" / "three.json", template())
    result = check(repo, "templates/**/*.y*ml", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert as_json(result)["templates"] == [
        "templates/a/one.yaml",
        "templates/b/c/two.yml",
    ]
    assert "matches no file" in refused(repo, ["check-template", "nowhere/**/*.yaml"]).line


def test_a_glob_pattern_does_not_follow_link_loops(repo: Path) -> None:
    """Python's own glob follows directory links under **: two loops would give 2**depth
    matches of the same file. The pattern is walked without entering links."""
    write(repo / "t" / "app.yaml", template())
    (repo / "t" / "loop").symlink_to(repo / "t")
    (repo / "t" / "again").symlink_to(repo / "t")
    write(repo / ".hidden" / "app.yaml", template())
    result = check(repo, "**/*.yaml", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert as_json(result)["templates"] == ["t/app.yaml"]
    named = check(repo, ".hidden/*.yaml", "--format", "json")
    assert as_json(named)["templates"] == [".hidden/app.yaml"]


def test_parameter_overrides_go_to_the_templates_that_declare_them(repo: Path) -> None:
    with_env = template()
    with_env["Parameters"] = {"Env": {"Type": "String", "AllowedValues": ["dev", "prod"]}}
    with_env["Resources"]["Logs"]["Properties"]["LogGroupName"] = {"Fn::Sub": "/app/${Env}"}
    with_env["Resources"]["Key"]["Properties"]["KeyPolicy"] = key_policy("/app/prod")
    write(repo / "a.yaml", with_env)
    write(repo / "b.yaml", template())  # declares no Env: it gets no value, and no error
    result = check(repo, ".", "--parameter-overrides", "Env=prod", "--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [key["log_groups"] for key in as_json(result)["keys"]] == [["/app/prod"], ["/app/fn"]]
    # A value no template declares is a typo, not something to drop quietly.
    line = refused(repo, ["check-template", ".", "--parameter-overrides", "Evn=prod"]).line
    assert "'Evn'" in line and "none of the 2 template(s)" in line
    # One template named alone keeps CloudFormation's rule: an unknown parameter is refused.
    assert (
        "'Evn'"
        in refused(repo, ["check-template", "b.yaml", "--parameter-overrides", "Evn=1"]).line
    )


def test_pre_commit_style_file_lists_skip_non_templates(repo: Path) -> None:
    write(repo / "stack.yml", template())
    write(repo / "package.json", {"name": "x"})
    result = check(repo, "stack.yml", "package.json", "--skip-non-templates")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "package.json: not a CloudFormation template" in result.stdout
    only = check(repo, "package.json", "--skip-non-templates")
    assert only.returncode == 0 and "Total: 0 template(s)" in only.stdout


# --- severities -----------------------------------------------------------------------------


def test_a_config_file_lowers_a_code_and_the_report_says_so(repo: Path) -> None:
    write(repo / "infra" / "app.yaml", template(function=True))
    (repo / ".policy-gen.toml").write_text('[severity]\nLAMBDA_AUTO_LOGGROUP = "warning"\n')
    result = check(repo / "infra", "app.yaml")  # run from a subdirectory: found upward
    assert result.returncode == 0, result.stdout
    config = str(repo / ".policy-gen.toml")
    assert f"Severities set: LAMBDA_AUTO_LOGGROUP=warning ({config})" in result.stdout
    assert f"WARNING LAMBDA_AUTO_LOGGROUP [Fn] (error by default; warning per {config})" in (
        result.stdout
    )
    # The command line wins over the file.
    raised = check(repo / "infra", "app.yaml", "--severity", "LAMBDA_AUTO_LOGGROUP=error")
    assert raised.returncode == 1
    assert check(repo / "infra", "app.yaml", "--no-config").returncode == 1


def test_pyproject_tool_table_is_read(repo: Path) -> None:
    write(repo / "app.yaml", template(function=True))
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.policy-gen.severity]\nLAMBDA_AUTO_LOGGROUP = "note"\n'
    )
    result = check(repo, "app.yaml", "--format", "json")
    assert result.returncode == 0
    (finding,) = as_json(result)["findings"]
    assert (finding["severity"], finding["default_severity"]) == ("note", "error")
    assert finding["severity_set_by"] == str(repo / "pyproject.toml")


def test_off_is_counted_listed_and_marked_suppressed(repo: Path) -> None:
    write(repo / "app.yaml", template(function=True))
    args = ("app.yaml", "--severity", "LAMBDA_AUTO_LOGGROUP=off")
    text = check(repo, *args)
    assert text.returncode == 0
    assert "Result: VALID (0 error(s), 0 warning(s)); 1 finding(s) ignored by configuration" in (
        text.stdout
    )
    assert "IGNORED LAMBDA_AUTO_LOGGROUP x1 (off per --severity)" in text.stdout

    report = as_json(check(repo, *args, "--format", "json"))
    assert report["findings"] == [] and report["valid"] is True
    (ignored,) = report["suppressed"]
    assert ignored["code"] == "LAMBDA_AUTO_LOGGROUP"
    assert ignored["suppression"]["kind"] == "external"
    assert report["summary"]["ignored_by_configuration"] == 1

    sarif = check(repo, *args, "--format", "sarif")
    assert sarif.returncode == 0
    run_ = sarif_of(sarif)["runs"][0]
    (result,) = run_["results"]
    assert result["ruleId"] == "LAMBDA_AUTO_LOGGROUP" and result["level"] == "error"
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == "external" and suppression["status"] == "accepted"
    (override,) = run_["invocations"][0]["ruleConfigurationOverrides"]
    assert override["descriptor"]["id"] == "LAMBDA_AUTO_LOGGROUP"
    rules = run_["tool"]["driver"]["rules"]
    assert rules[override["descriptor"]["index"]]["id"] == "LAMBDA_AUTO_LOGGROUP"


def test_a_warning_raised_to_error_fails_and_strict_fails_warnings(repo: Path) -> None:
    write(repo / "app.yaml", template(function=True))
    lowered = ("--severity", "LAMBDA_AUTO_LOGGROUP=warning")
    assert check(repo, "app.yaml", *lowered).returncode == 0
    assert check(repo, "app.yaml", *lowered, "--strict").returncode == 1
    noted = ("--severity", "LAMBDA_AUTO_LOGGROUP=note")
    assert check(repo, "app.yaml", *noted, "--strict").returncode == 0  # notes never fail


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ('[severity]\nLAMBDA_AUTO_LOGGRUP = "off"\n', "did you mean LAMBDA_AUTO_LOGGROUP"),
        ('[severity]\nLAMBDA_AUTO_LOGGROUP = "ignore"\n', "unknown severity 'ignore'"),
        ("[severity\n", "not valid TOML"),
    ],
)
def test_a_bad_config_file_is_refused_in_one_line(repo: Path, config: str, fragment: str) -> None:
    write(repo / "app.yaml", template(function=True))
    (repo / ".policy-gen.toml").write_text(config)
    line = refused(repo, ["check-template", "app.yaml"]).line
    assert fragment in line and ".policy-gen.toml" in line


# --- suppressions in Metadata ------------------------------------------------------------------


REASON = "the function logs nothing; its group is created by the platform team"


def test_a_metadata_suppression_with_a_reason_is_reported_as_suppressed(repo: Path) -> None:
    suppress = {"policy-gen": {"suppress": [{"code": "LAMBDA_AUTO_LOGGROUP", "reason": REASON}]}}
    write(repo / "app.yaml", template(function=True, metadata=suppress))
    text = check(repo, "app.yaml")
    assert text.returncode == 0, text.stdout
    assert f"SUPPRESSED LAMBDA_AUTO_LOGGROUP [Fn] (reason: {REASON})" in text.stdout
    assert "1 finding(s) suppressed in the template" in text.stdout

    report = as_json(check(repo, "app.yaml", "--format", "json"))
    (item,) = report["suppressed"]
    assert item["suppression"] == {"kind": "inSource", "justification": REASON}

    sarif = check(repo, "app.yaml", "--format", "sarif")
    (result,) = sarif_of(sarif)["runs"][0]["results"]
    assert result["suppressions"] == [
        {"kind": "inSource", "status": "accepted", "justification": REASON}
    ]


def test_a_suppression_without_a_reason_is_an_error_and_suppresses_nothing(repo: Path) -> None:
    suppress = {"policy-gen": {"suppress": [{"code": "LAMBDA_AUTO_LOGGROUP"}]}}
    write(repo / "app.yaml", template(function=True, metadata=suppress))
    result = check(repo, "app.yaml", "--format", "json")
    assert result.returncode == 1
    codes = sorted(finding["code"] for finding in as_json(result)["findings"])
    assert codes == ["LAMBDA_AUTO_LOGGROUP", "SUPPRESSION_INVALID"]


def test_an_unused_suppression_is_a_note(repo: Path) -> None:
    suppress = {"policy-gen": {"suppress": [{"code": "LOGGROUP_UNENCRYPTED", "reason": "x"}]}}
    write(repo / "app.yaml", template(function=True, metadata=suppress))
    result = check(repo, "app.yaml", "--severity", "LAMBDA_AUTO_LOGGROUP=warning")
    assert result.returncode == 0
    assert "NOTE    SUPPRESSION_UNUSED [Fn]" in result.stdout
    assert "Result: VALID (0 error(s), 1 warning(s), 1 note(s))" in result.stdout


# --- hostile trees ---------------------------------------------------------------------------


def test_hostile_entries_in_a_directory_are_skipped_with_a_reason(repo: Path) -> None:
    write(repo / "good.yaml", template())
    (repo / "loop").mkdir()
    (repo / "loop" / "again").symlink_to(repo / "loop")  # a directory link loop
    (repo / "self.yaml").symlink_to(repo / "self.yaml")  # a file link loop
    (repo / "dangling.json").symlink_to(repo / "gone.json")
    os.mkfifo(repo / "pipe.yaml")  # a read would block forever
    (repo / "image.json").write_bytes(b"\x89PNG\r\n\x1a\n\x00Resources\xff\xfe")
    with (repo / "huge.template").open("wb") as stream:
        stream.truncate(64 << 30)  # sparse: reading it would exhaust memory
    (repo / "zero.yaml").symlink_to("/dev/zero")
    result = check(repo, ".", "--format", "json")
    assert result.returncode == 0, result.stderr
    report = as_json(result)
    assert report["templates"] == ["good.yaml"]
    reasons = {item["file"]: item["reason"] for item in report["skipped"]}
    assert "not followed" in reasons["loop/again"]
    assert "Too many levels of symbolic links" in reasons["self.yaml"]
    assert "not found" in reasons["dangling.json"]
    assert "FIFO" in reasons["pipe.yaml"]
    assert "not UTF-8" in reasons["image.json"]
    assert "larger than" in reasons["huge.template"]
    assert "character device" in reasons["zero.yaml"]


def test_a_tree_deeper_than_the_recursion_limit_is_walked(repo: Path) -> None:
    """Python 3.11's os.walk recurses once per level: 1,200 levels raised RecursionError."""
    deep = repo / "deep"
    deep.mkdir()
    for _ in range(1_200):  # one level at a time: mkdir(parents=True) recurses too
        deep = deep / "d"
        deep.mkdir()
    write(deep / "app.yaml", template())
    try:
        result = check(repo, ".", "--format", "json")
        assert result.returncode == 0, result.stderr[-500:]
        (found,) = as_json(result)["templates"]
        assert found.endswith("/d/app.yaml") and found.count("/d") == 1_200
    finally:  # bottom-up, one level at a time: shutil.rmtree would recurse as deep
        (deep / "app.yaml").unlink()
        while deep != repo:
            deep.rmdir()
            deep = deep.parent


def test_ten_thousand_files_are_walked_and_too_many_candidates_refused(repo: Path) -> None:
    big = repo / "big"
    big.mkdir()
    for number in range(10_000):
        (big / f"{number}.txt").write_text("x")
    write(big / "app.yaml", template())
    result = check(repo, "big", "--format", "json")
    assert result.returncode == 0 and as_json(result)["templates"] == ["big/app.yaml"]

    many = repo / "many"
    many.mkdir()
    for number in range(MAX_CANDIDATES + 1):
        (many / f"{number}.yaml").write_text("a: 1\n")
    line = refused(repo, ["check-template", "many"]).line
    assert f"more than {MAX_CANDIDATES} candidate files" in line
