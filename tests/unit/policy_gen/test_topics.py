"""Encrypted SNS topics and their publishers: render grants, validate and check-template prove.

CloudWatch alarms publish to a KMS-encrypted topic only when the key policy lets
cloudwatch.amazonaws.com use the key (SNS developer guide, "Encryption at rest").
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from policy_gen.check_template import check_template
from policy_gen.cli import main
from policy_gen.environment import render_environment
from policy_gen.evaluate import Request, evaluate, parse_policy
from policy_gen.partitions import get_partition
from policy_gen.publishers import SNS_CONTEXT_KEY, sns_context, topic_arn
from policy_gen.render import render_policy
from policy_gen.sarif import RULES
from policy_gen.template import Resolver, load_template, parse_template_text
from policy_gen.validate import Target, validate

ROOT = Path(__file__).resolve().parents[3]
AWS = get_partition("aws")
ACCOUNT = "123456789012"
REGION = "us-east-1"
TOPIC = "s-alarms"
ARN = topic_arn(AWS, REGION, ACCOUNT, TOPIC)
CLOUDWATCH = "cloudwatch.amazonaws.com"

TEMPLATE = """
Parameters:
  KeyPolicy: {Type: String}
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties: {KeyPolicy: !Ref KeyPolicy}
  Group:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /s/fn
      KmsKeyId: !GetAtt Key.Arn
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: s-alarms
      KmsMasterKeyId: !GetAtt Key.Arn
  Alarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmActions: [!Ref Topic]
"""


def policy(*, topics: bool = True) -> str:
    published = {ARN: ("cloudwatch",)} if topics else None
    return json.dumps(render_policy(AWS, REGION, ACCOUNT, ["/s/fn"], topics=published))


def findings(text: str, key_policy: str) -> list[tuple[str, str]]:
    template = parse_template_text(text)
    resolver = Resolver.for_template(
        template, {"KeyPolicy": key_policy}, region=REGION, account=ACCOUNT, partition="aws"
    )
    report = check_template(template, resolver, AWS)
    return [(finding.code, resource) for resource, finding in report.all_findings()]


def test_rendered_statement_lets_cloudwatch_use_the_key_for_our_topic_only() -> None:
    parsed = parse_policy(json.loads(policy()))
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-4000-8000-000000000000"
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        ours = evaluate(parsed, Request(CLOUDWATCH, action, sns_context(ARN), key))
        assert ours.decision == "Allow"
    theirs = topic_arn(AWS, REGION, "999988887777", TOPIC)
    foreign = evaluate(parsed, Request(CLOUDWATCH, "kms:GenerateDataKey", sns_context(theirs), key))
    assert foreign.decision != "Allow"
    other_service = evaluate(
        parsed, Request("events.amazonaws.com", "kms:GenerateDataKey", sns_context(ARN), key)
    )
    assert other_service.decision != "Allow"
    statement = json.loads(policy())["Statement"][-1]
    assert statement["Principal"] == {"Service": CLOUDWATCH}  # never a wildcard
    assert statement["Condition"] == {"StringEquals": {SNS_CONTEXT_KEY: ARN}}


def test_no_topic_no_statement() -> None:
    assert len(json.loads(policy(topics=False))["Statement"]) == 2


def test_check_template_accepts_the_rendered_policy() -> None:
    assert findings(TEMPLATE, policy()) == []


def test_hand_broken_policy_is_reported_with_the_new_code() -> None:
    """Topic encrypted, cloudwatch.amazonaws.com missing from the key policy."""
    assert findings(TEMPLATE, policy(topics=False)) == [("TOPIC_PUBLISHER_DENIED", "Key")]


def test_ok_actions_make_a_publisher_too() -> None:
    text = TEMPLATE.replace("AlarmActions:", "OKActions:")
    assert findings(text, policy(topics=False)) == [("TOPIC_PUBLISHER_DENIED", "Key")]


@pytest.mark.parametrize(
    "spelling",
    ["!GetAtt Topic.TopicArn", '!Sub "${Topic}"', "!If [Always, !Ref Topic, !Ref AWS::NoValue]"],
)
def test_every_spelling_of_the_topic_makes_a_publisher(spelling: str) -> None:
    """An alarm naming the topic by GetAtt, Sub or a condition still publishes to it."""
    text = TEMPLATE.replace("AlarmActions: [!Ref Topic]", f"AlarmActions: [{spelling}]")
    text = text.replace("Resources:", "Conditions:\n  Always: !Equals [a, a]\nResources:", 1)
    assert findings(text, policy(topics=False)) == [("TOPIC_PUBLISHER_DENIED", "Key")]
    assert findings(text, policy()) == []


def test_a_topic_nobody_publishes_to_needs_no_statement() -> None:
    text = TEMPLATE.replace("AlarmActions: [!Ref Topic]", "AlarmActions: []")
    assert findings(text, policy(topics=False)) == []


def test_topic_without_a_name_is_reported() -> None:
    text = TEMPLATE.replace("      TopicName: s-alarms\n", "")
    assert ("TOPIC_NAME_UNKNOWN", "Topic") in findings(text, policy())


def test_unconditioned_grant_is_a_warning() -> None:
    document = json.loads(policy())
    del document["Statement"][-1]["Condition"]
    target = dataclasses.replace(
        Target.checked(AWS, REGION, ACCOUNT, ["/s/fn"]), topics=((TOPIC, "cloudwatch"),)
    )
    report = validate(document, target)
    assert report.valid
    assert [f.code for f in report.findings] == ["TOPIC_PUBLISHER_UNSCOPED"]


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEquals": {SNS_CONTEXT_KEY: [ARN, f"arn:aws:sns:{REGION}:210987654321:theirs"]}},
        {"ArnLike": {SNS_CONTEXT_KEY: [ARN, f"arn:aws:sns:{REGION}:44445555666*:theirs"]}},
    ],
    ids=["listed-foreign-topic", "foreign-account-pattern"],
)
def test_grant_naming_another_accounts_topic_beside_ours_is_a_warning(
    condition: dict[str, object],
) -> None:
    # Probe: our topic stays allowed, so only a foreign-topic simulation can see this; the
    # stand-in outsider with our topic's name is not what the condition admits.
    document = json.loads(policy())
    document["Statement"][-1]["Condition"] = condition
    target = dataclasses.replace(
        Target.checked(AWS, REGION, ACCOUNT, ["/s/fn"]), topics=((TOPIC, "cloudwatch"),)
    )
    report = validate(document, target)
    assert [f.code for f in report.findings] == ["TOPIC_PUBLISHER_UNSCOPED"]
    assert "theirs" in report.findings[0].message


def test_wildcard_principal_is_public_not_a_publisher_grant() -> None:
    document = json.loads(policy())
    document["Statement"][-1]["Principal"] = "*"
    del document["Statement"][-1]["Condition"]
    target = dataclasses.replace(
        Target.checked(AWS, REGION, ACCOUNT, ["/s/fn"]), topics=((TOPIC, "cloudwatch"),)
    )
    assert "PUBLIC" in [f.code for f in validate(document, target).findings]


def config(tmp_path: Path) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text('version = 0.1\n[x.global.parameters]\nregion = "eu-west-1"\n')
    return path


def test_the_app_template_renders_and_checks_its_alarm_topic(tmp_path: Path) -> None:
    rendered = render_environment(
        config_file=config(tmp_path),
        config_env="x",
        template=ROOT / "template.yaml",
        stack_name="bank-api",
        region="eu-west-1",
        account="111122223333",
    )
    arn = "arn:aws:sns:eu-west-1:111122223333:bank-api-alarms"
    assert rendered.topics == ((arn, ("cloudwatch",)),)
    assert "/bank-api/api-execution" in rendered.log_groups
    assert rendered.valid


def test_a_topic_of_ones_own_gets_no_statement(tmp_path: Path) -> None:
    own = "arn:aws:sns:eu-west-1:111122223333:ops"
    rendered = render_environment(
        config_file=config(tmp_path),
        config_env="x",
        template=ROOT / "template.yaml",
        stack_name="bank-api",
        region="eu-west-1",
        account="111122223333",
        parameter_overrides=[f"AlarmTopicArn={own}"],
    )
    assert rendered.topics == ()
    assert [s["Sid"] for s in rendered.policy["Statement"]][-1].startswith("AllowCloudWatchLogs")


def test_app_template_with_a_policy_missing_the_publisher(tmp_path: Path) -> None:
    template = load_template(ROOT / "template.yaml")
    broken = render_policy(
        AWS,
        REGION,
        ACCOUNT,
        ["/st/function", "/st/api-access", "/st/api-execution", "aws-waf-logs-st"],
    )
    resolver = Resolver.for_template(
        template,
        {"KeyPolicy": json.dumps(broken), "PolicyStackName": "st"},
        region=REGION,
        account=ACCOUNT,
        partition="aws",
        stack_name="st",
    )
    report = check_template(template, resolver, AWS)
    codes = [(resource, f.code) for resource, f in report.all_findings()]
    assert codes == [("LogsKey", "TOPIC_PUBLISHER_DENIED")]


def test_validate_cli_alarm_topic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text(policy(topics=False), encoding="utf-8")
    common = ["validate", "--policy", str(path), "--region", REGION, "--account", ACCOUNT]
    common += ["--log-group", "/s/fn"]
    assert main(common) == 0
    assert main([*common, "--alarm-topic", TOPIC]) == 1
    assert "TOPIC_PUBLISHER_DENIED" in capsys.readouterr().out
    path.write_text(policy(), encoding="utf-8")
    assert main([*common, "--alarm-topic", TOPIC]) == 0
    capsys.readouterr()
    assert main([*common, "--alarm-topic", "no/slashes"]) == 2
    assert "invalid --alarm-topic" in capsys.readouterr().err


def test_sarif_documents_the_new_codes() -> None:
    assert {"TOPIC_PUBLISHER_DENIED", "TOPIC_PUBLISHER_UNSCOPED", "TOPIC_NAME_UNKNOWN"} <= set(
        RULES
    )
