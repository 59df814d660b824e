"""Template reading: short tags, intrinsic resolution, encrypted log groups."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_gen.template import (
    Resolver,
    Unresolved,
    encrypted_log_groups,
    load_template,
    parse_template_text,
)
from sam_project.errors import UserError

ROOT = Path(__file__).resolve().parents[3]

MINIMAL = """
Parameters:
  Env: {Type: String, Default: dev}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: {KeyPolicy: {}}
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/${AWS::StackName}/${Env}/fn"
      KmsKeyId: !GetAtt Key.Arn
  ProdOnly:
    Type: AWS::Logs::LogGroup
    Condition: IsProd
    Properties:
      LogGroupName: !Join ["-", [!Ref Env, extra]]
      KmsKeyId: !GetAtt [Key, Arn]
  ById:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: by-id
      KmsKeyId: !Ref Key
"""


def resolver(text: str, **overrides: str) -> tuple[dict, Resolver]:  # type: ignore[type-arg]
    template = parse_template_text(text)
    return template, Resolver.for_template(
        template,
        overrides,
        region="eu-west-1",
        account="111122223333",
        partition="aws",
        stack_name="stk",
    )


def test_short_tags_and_sub_with_pseudo_parameters() -> None:
    template, r = resolver(MINIMAL)
    groups = encrypted_log_groups(template, r)
    assert [(g.logical_id, g.name, g.key_reference) for g in groups] == [
        ("Logs", "/stk/dev/fn", "arn"),
        ("ById", "by-id", "id"),
    ]


def test_conditions_follow_parameter_overrides() -> None:
    template, r = resolver(MINIMAL, Env="prod")
    names = [g.name for g in encrypted_log_groups(template, r)]
    assert names == ["/stk/prod/fn", "prod-extra", "by-id"]


def test_unknown_stack_name_is_unresolved_not_guessed() -> None:
    template = parse_template_text(MINIMAL)
    r = Resolver.for_template(template, {}, region="eu-west-1", account="111122223333")
    name = encrypted_log_groups(template, r)[0].name
    assert isinstance(name, Unresolved)


def test_override_of_undeclared_parameter_is_an_error() -> None:
    template = parse_template_text(MINIMAL)
    with pytest.raises(UserError, match="'Nope' is not a parameter"):
        Resolver.for_template(template, {"Nope": "x"})


def test_unknown_intrinsic_is_an_error() -> None:
    _, r = resolver(MINIMAL)
    with pytest.raises(UserError, match="Fn::Bogus"):
        r.resolve({"Fn::Bogus": "x"})


def test_unknown_short_tag_is_a_parse_error() -> None:
    with pytest.raises(UserError, match="!Bogus"):
        parse_template_text("Resources:\n  A:\n    Type: X\n    Properties: {V: !Bogus x}\n")


def test_reference_cycle_is_detected() -> None:
    text = """
Resources:
  A:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Ref B}
  B:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: !Ref A}
"""
    _, r = resolver(text)
    with pytest.raises(UserError, match="cycle"):
        r.resolve({"Ref": "A"})


def test_condition_cycle_is_detected() -> None:
    text = """
Conditions:
  A: !Condition B
  B: !Condition A
Resources:
  X: {Type: AWS::SNS::Topic, Condition: A}
"""
    _, r = resolver(text)
    with pytest.raises(UserError, match="cycle"):
        r.condition("A")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[1, 2]", "expected a mapping"),
        ("Resources: {}", "no Resources"),
        ('{"Resources": ', "not valid JSON"),
        ("Resources:\n  A: {Type: [", "not valid YAML"),
        ("Resources:\n  A: {Properties: {}}", "has no Type"),
    ],
)
def test_malformed_templates(text: str, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        parse_template_text(text)


def test_load_template_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file|No such file"):
        load_template(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(UserError, match="not UTF-8"):
        load_template(binary)


def test_our_template_names_its_log_groups() -> None:
    template = load_template(ROOT / "template.yaml")
    r = Resolver.for_template(
        template,
        {"PolicyStackName": "secure-api-dev"},
        region="us-east-1",
        account="123456789012",
        partition="aws",
        stack_name="any-other-name",
    )
    groups = encrypted_log_groups(template, r)
    # Named after the rendered PolicyStackName, whatever the stack is called.
    assert sorted((g.logical_id, g.name) for g in groups) == [
        ("AccessLogGroup", "/secure-api-dev/api-access"),
        ("ExecutionLogGroup", "/secure-api-dev/api-execution"),
        ("FunctionLogGroup", "/secure-api-dev/function"),
        ("WafLogGroup", "aws-waf-logs-secure-api-dev"),
    ]
    assert all(g.key_logical_id == "LogsKey" and g.key_reference == "arn" for g in groups)


def test_deployed_facts_answer_refs_and_getatts_before_the_template() -> None:
    template = parse_template_text(MINIMAL)
    asked: list[tuple[str, str | None]] = []

    def deployed(name: str, attribute: str | None) -> str | None:
        asked.append((name, attribute))
        return {("Logs", None): "/live/name", ("Key", "Arn"): "arn:aws:kms:eu-west-1:1:key/k"}.get(
            (name, attribute)
        )

    r = Resolver(template, {"Env": "dev"}, stack_name="stk", deployed=deployed)
    assert r.resolve({"Ref": "Logs"}) == "/live/name"
    assert r.resolve({"Fn::GetAtt": "Key.Arn"}) == "arn:aws:kms:eu-west-1:1:key/k"
    assert r.resolve({"Fn::Sub": "${Key.Arn}|${AWS::StackName}"}) == (
        "arn:aws:kms:eu-west-1:1:key/k|stk"
    )
    # Unknown to the deployment: the template's own answer, or Unresolved.
    assert r.resolve({"Ref": "ById"}) == "by-id"
    assert isinstance(r.resolve({"Fn::GetAtt": ["Logs", "Arn"]}), Unresolved)
    assert ("Logs", "Arn") in asked
