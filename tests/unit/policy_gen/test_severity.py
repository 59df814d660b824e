"""The severity layer and the Metadata suppressions it honours, on plain finding lists.

The layer must work for any code (including ones other checks add later), change no
finding silently, and let a template's reasoned suppression win over configuration.
"""

from __future__ import annotations

from typing import Any

import pytest

from policy_gen.inline_suppressions import SUPPRESSION_INVALID, read_suppressions
from policy_gen.project_config import Override
from policy_gen.severity import SUPPRESSION_UNUSED, Located, Suppression, assess, count
from policy_gen.validate import Finding

ERROR = Finding("LAMBDA_AUTO_LOGGROUP", "error", "Lambda makes its own group")
WARNING = Finding("OVERBROAD", "warning", "look-alike groups allowed")
NOTE = Finding("SOME_FUTURE_NOTE", "note", "a code this layer has never heard of")
CONFIG = ".policy-gen.toml"
KNOWN = ["LAMBDA_AUTO_LOGGROUP", "OVERBROAD", "LOGGROUP_UNENCRYPTED", SUPPRESSION_UNUSED]


def located(*findings: Finding, resource: str = "Fn", file: str = "t.yaml") -> list[Located]:
    return [Located(file, resource, finding) for finding in findings]


def test_defaults_pass_through_and_only_errors_fail() -> None:
    result = assess(located(ERROR, WARNING, NOTE), {}, {})
    assert [(item.level, item.source, item.suppressed) for item in result] == [
        ("error", None, None),
        ("warning", None, None),
        ("note", None, None),
    ]
    counts = count(result)
    assert (counts.errors, counts.warnings, counts.notes, counts.exit_code) == (1, 1, 1, 1)
    assert count(assess(located(WARNING, NOTE), {}, {})).exit_code == 0


def test_an_override_changes_the_level_and_says_where_it_came_from() -> None:
    result = assess(located(ERROR), {ERROR.code: Override("warning", CONFIG)}, {})
    (item,) = result
    assert (item.level, item.source) == ("warning", CONFIG)
    assert item.as_json()["default_severity"] == "error"
    assert item.as_json()["severity_set_by"] == CONFIG
    assert count(result).exit_code == 0


def test_off_keeps_the_finding_as_ignored_with_its_real_level() -> None:
    result = assess(located(ERROR, ERROR), {ERROR.code: Override("off", "--severity")}, {})
    assert len(result) == 2  # never dropped
    for item in result:
        assert item.suppressed is not None and item.suppressed.kind == "external"
        assert "--severity" in item.suppressed.justification
        assert item.level == "error"  # what it would have been (SARIF keeps it)
    counts = count(result)
    assert (counts.errors, counts.ignored, counts.exit_code) == (0, 2, 0)


def test_a_later_code_can_be_raised_to_an_error() -> None:
    result = assess(located(NOTE), {NOTE.code: Override("error", "--severity")}, {})
    assert count(result).exit_code == 1


def test_strict_promotes_warnings_but_not_notes_nor_the_ignored() -> None:
    overrides = {ERROR.code: Override("off", CONFIG)}
    result = assess(located(WARNING, NOTE, ERROR), overrides, {}, strict=True)
    assert [item.level for item in result] == ["error", "note", "error"]
    assert result[0].source == "--strict"
    assert result[2].suppressed is not None  # still off: --strict does not undo a decision
    assert count(result).errors == 1


def test_a_template_suppression_needs_the_same_file_resource_and_code() -> None:
    suppressions = {("t.yaml", "Fn"): [Suppression(ERROR.code, "group made by a custom resource")]}
    findings = [
        *located(ERROR),  # suppressed
        *located(ERROR, resource="Other"),  # another resource: not
        *located(ERROR, file="u.yaml"),  # same logical id in another template: not
        *located(WARNING),  # another code: not
    ]
    result = assess(findings, {}, suppressions)
    assert [item.suppressed is not None for item in result] == [True, False, False, False]
    assert result[0].suppressed is not None
    assert result[0].suppressed.kind == "inSource"
    assert result[0].suppressed.justification == "group made by a custom resource"
    counts = count(result)
    assert (counts.errors, counts.suppressed) == (2, 1)


def test_the_template_reason_wins_over_off() -> None:
    suppressions = {("t.yaml", "Fn"): [Suppression(ERROR.code, "why")]}
    (item,) = assess(located(ERROR), {ERROR.code: Override("off", CONFIG)}, suppressions)
    assert item.suppressed is not None and item.suppressed.kind == "inSource"
    assert item.level == "error"  # a real level for SARIF and JSON, never "off"


def test_an_unused_suppression_is_a_note_that_config_can_turn_off() -> None:
    suppressions = {("t.yaml", "Gone"): [Suppression(ERROR.code, "was needed once")]}
    (item,) = assess([], {}, suppressions)
    assert (item.finding.code, item.level, item.resource) == (SUPPRESSION_UNUSED, "note", "Gone")
    assert count([item]).exit_code == 0
    (off,) = assess([], {SUPPRESSION_UNUSED: Override("off", CONFIG)}, suppressions)
    assert off.suppressed is not None and count([off]).ignored == 1
    (raised,) = assess([], {SUPPRESSION_UNUSED: Override("error", CONFIG)}, suppressions)
    assert count([raised]).exit_code == 1


def template(metadata: Any) -> dict[str, Any]:
    return {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Metadata": metadata}}}


def test_metadata_suppressions_are_read() -> None:
    found, problems = read_suppressions(
        template(
            {"policy-gen": {"suppress": [
                {"code": "lambda_auto_loggroup", "reason": "  made by\n a custom resource "}]},
             "cfn-lint": {"config": {"ignore_checks": ["W3005"]}}}
        ),
        KNOWN,
    )  # fmt: skip
    assert problems == []
    assert found == {"Fn": [Suppression("LAMBDA_AUTO_LOGGROUP", "made by a custom resource")]}


@pytest.mark.parametrize(
    ("name", "ours", "fragment"),
    [
        ("no reason", {"suppress": [{"code": "OVERBROAD"}]}, "without a reason"),
        ("blank reason", {"suppress": [{"code": "OVERBROAD", "reason": "  "}]}, "without a reason"),
        ("reason not text", {"suppress": [{"code": "OVERBROAD", "reason": {"Ref": "X"}}]}, "without a reason"),
        ("unknown code", {"suppress": [{"code": "OVERBORAD", "reason": "x"}]}, "unknown finding code 'OVERBORAD'"),
        ("extra key", {"suppress": [{"code": "OVERBROAD", "reason": "x", "until": "2027"}]}, "unknown key(s) until"),
        ("entry not a mapping", {"suppress": ["OVERBROAD"]}, "is a str"),
        ("suppress not a list", {"suppress": {"code": "OVERBROAD"}}, "not a list"),
        ("other key", {"skip": [{"code": "OVERBROAD", "reason": "x"}]}, "one key, suppress"),
        ("not a mapping", ["OVERBROAD"], "one key, suppress"),
        ("suppressing the unused note", {"suppress": [{"code": SUPPRESSION_UNUSED, "reason": "x"}]}, "only the config file"),
    ],
)  # fmt: skip
def test_a_malformed_suppression_is_an_error_finding_not_a_refusal(
    name: str, ours: Any, fragment: str
) -> None:
    found, problems = read_suppressions(template({"policy-gen": ours}), KNOWN)
    assert found == {}, name
    ((resource, finding),) = problems
    assert (resource, finding.code, finding.severity) == ("Fn", SUPPRESSION_INVALID, "error")
    assert fragment in finding.message, (name, finding.message)


def test_a_bad_entry_does_not_spoil_its_neighbours() -> None:
    found, problems = read_suppressions(
        template({"policy-gen": {"suppress": [
            {"code": "OVERBROAD"}, {"code": "OVERBROAD", "reason": "accepted: prefix grant"}]}}),
        KNOWN,
    )  # fmt: skip
    assert found == {"Fn": [Suppression("OVERBROAD", "accepted: prefix grant")]}
    assert len(problems) == 1


def test_templates_without_our_metadata_or_odd_shapes_give_nothing() -> None:
    assert read_suppressions({"Resources": {"A": {"Type": "X", "Metadata": "text"}}}, KNOWN) == (
        {},
        [],
    )
    assert read_suppressions({"Resources": "not a mapping"}, KNOWN) == ({}, [])
    assert read_suppressions({}, KNOWN) == ({}, [])


def test_every_code_the_checks_produce_can_be_configured() -> None:
    """The config reader and Metadata suppressions accept exactly the codes of the SARIF
    rule table: a check producing a code missing there could not be turned down."""
    import re
    from pathlib import Path

    from policy_gen.check_run import known_codes

    package = Path(__file__).resolve().parents[3] / "policy_gen"
    produced = {"MALFORMED", SUPPRESSION_INVALID, SUPPRESSION_UNUSED}
    for path in package.rglob("*.py"):
        if "audit" in path.parts:  # the account audit has its own status codes
            continue
        text = path.read_text()
        produced |= set(re.findall(r'Finding\(\s*"([A-Z][A-Z_]+)"', text))
        produced |= set(re.findall(r'^([A-Z][A-Z_]+) = "\1"$', text, re.MULTILINE))
    assert {"LAMBDA_AUTO_LOGGROUP", "DUPLICATE_SID", "LOGS_DENIED"} <= produced  # the scan works
    assert produced - set(known_codes()) == set()
