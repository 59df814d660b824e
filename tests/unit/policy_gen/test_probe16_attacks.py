"""Probes from an adversarial review of check-template (issue 16): each one was a way to
make a broken key policy pass, a false error, or a crash, before its fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policy_gen.actions import pattern_atoms, wildcard_match
from policy_gen.sarif import artifact_uri

from .test_check_template_resolve import FUNCTION, arn, codes, group, key_with, template
from .test_cli import run
from .test_sarif import sarif_of

ROOT = Path(__file__).resolve().parents[3]
UNENCRYPTED = """Resources:
  G:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /app/x}
"""


def like(*patterns: str) -> str:
    return key_with(*(arn(p) for p in patterns)).replace("ArnEquals", "ArnLike")


@pytest.mark.parametrize(
    "pattern",
    [
        "/aws/lambda/#*",  # only names that start with '#': no function name does
        "/aws/lambda/*#",
        "/aws/lambda/*.*",  # function names have no '.'
        "/aws/lambda/*-*",  # the stand-in's slug has '-' only when the expression does
        "/aws/lambda/" + "?" * len("#Ref-Fn.0123456789#"),  # the stand-in length only
    ],
)
def test_a_wildcard_that_matches_only_the_stand_in_spelling_is_denied(pattern: str) -> None:
    text = template(like(pattern), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    assert ("LOGS_DENIED", "error", "Key") in codes(text)


@pytest.mark.parametrize("pattern", ["/aws/lambda/*", "/aws/*/*", "*"])
def test_a_wildcard_that_matches_every_value_still_passes(pattern: str) -> None:
    text = template(like(pattern), FUNCTION, group("!Sub /aws/lambda/${Fn}"))
    assert ("LOGS_DENIED", "error", "Key") not in codes(text)


def test_token_like_text_that_was_never_issued_is_matched_as_characters() -> None:
    # validate/audit see real names; only tokens this process issued are opaque.
    name = "#Ref-X.0123456789#"
    assert wildcard_match(pattern_atoms("#*"), name)
    assert wildcard_match(pattern_atoms("?" * len(name)), name)


# --- output: names and text a UTF-8 stdout or a SARIF consumer cannot take as they are --


def test_sarif_artifact_uris_are_percent_encoded_uri_references() -> None:
    assert artifact_uri("my templates/a #1%.yaml") == "my%20templates/a%20%231%25.yaml"
    assert artifact_uri(os.fsdecode(b"t/n\xffm.yaml")) == "t/n%FFm.yaml"


def test_a_file_name_that_is_not_utf8_prints_without_a_traceback(tmp_path: Path) -> None:
    name = os.fsdecode(b"n\xffm.yaml")
    (tmp_path / name).write_text(UNENCRYPTED)
    strict = subprocess.run(
        [sys.executable, "-m", "policy_gen", "check-template", "."],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"},
    )
    assert b"Traceback" not in strict.stderr, strict.stderr.decode(errors="replace")
    assert strict.returncode == 1
    assert "n\ufffdm.yaml" in strict.stdout.decode("utf-8")


def test_sarif_of_a_template_spelling_a_lone_surrogate_is_valid(tmp_path: Path) -> None:
    template = tmp_path / "t.json"
    template.write_text(
        '{"Resources": {"G\\ud800": {"Type": "AWS::Logs::LogGroup",'
        ' "Properties": {"LogGroupName": "/a/b"}}}}'
    )
    result = run("check-template", "--format", "sarif", str(template))
    assert "Traceback" not in result.stderr, result.stderr
    log = sarif_of(result)
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["LOGGROUP_UNENCRYPTED"]


# --- paths ------------------------------------------------------------------------------


def test_a_directory_named_twice_lists_each_skipped_entry_once(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(UNENCRYPTED)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")
    result = run("check-template", "--format", "json", str(tmp_path), str(tmp_path))
    report = json.loads(result.stdout)
    assert report["skipped"] == [
        {
            "file": str(tmp_path / "sub" / "up"),
            "reason": "symbolic link to a directory: not followed",
        }
    ]


# --- a log group whose name depends on a condition this check cannot decide -----------

UNDECIDED = "Parameters:\n  P: {Type: String}\nConditions:\n  C: !Equals [!Ref P, a]\n"


def test_a_conditional_name_covered_in_both_configurations_passes() -> None:
    text = template(
        key_with(arn("/app/x"), arn("/app/y")), group("!If [C, /app/x, /app/y]"), header=UNDECIDED
    )
    assert codes(text) == []


def test_a_conditional_name_covered_in_one_configuration_is_denied() -> None:
    text = template(key_with(arn("/app/x")), group("!If [C, /app/x, /app/y]"), header=UNDECIDED)
    assert codes(text) == [("LOGS_DENIED", "error", "Key")]


def test_a_conditional_name_reports_its_key_finding_once() -> None:
    text = template(
        key_with(arn("/app/x"), arn("/app/y")),
        group("!If [C, /app/x, /app/y]", "!Ref Key"),
        header=UNDECIDED,
    )
    assert codes(text) == [("KMSKEYID_NOT_ARN", "error", "Group")]


def test_text_a_template_supplies_cannot_send_terminal_escapes(tmp_path: Path) -> None:
    template = tmp_path / "t.yaml"
    template.write_text(
        UNENCRYPTED.replace(
            "    Properties:",
            "    Metadata:\n      policy-gen:\n        suppress:\n"
            '          - {code: LOGGROUP_UNENCRYPTED, reason: "ok\\e[2J\\rgone"}\n'
            "    Properties:",
        )
    )
    result = run("check-template", str(template))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\r" not in result.stdout
    assert "(reason: ok\\x1b[2J gone)" in result.stdout  # a reason's whitespace is one space
