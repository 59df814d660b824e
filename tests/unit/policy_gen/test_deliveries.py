"""check-template learns CloudWatch Logs deliveries: where execution logs go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from policy_gen.check_template import check_template
from policy_gen.deliveries import delivery_findings
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from policy_gen.template import Resolver, load_template, parse_template_text, template_references

ROOT = Path(__file__).resolve().parents[3]
AWS = get_partition("aws")

STAGE = """
Resources:
  RestApi:
    Type: AWS::ApiGateway::RestApi
    Properties: {Name: a}
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties:
      RestApiId: !Ref RestApi
      StageName: prod
      MethodSettings:
        - {ResourcePath: "/*", HttpMethod: "*", LoggingLevel: ERROR}
  Group:
    Type: AWS::Logs::LogGroup
    Properties: {LogGroupName: /s/exec}
  Source:
    Type: AWS::Logs::DeliverySource
    Properties:
      Name: s
      LogType: EXECUTION_LOGS
      ResourceArn: !Sub "arn:${AWS::Partition}:apigateway:${AWS::Region}:${AWS::AccountId}:/restapis/${RestApi}/stages/${Stage}"
  Destination:
    Type: AWS::Logs::DeliveryDestination
    Properties:
      Name: d
      DestinationResourceArn: !Sub "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${Group}"
  Delivery:
    Type: AWS::Logs::Delivery
    Properties:
      DeliverySourceName: !Ref Source
      DeliveryDestinationArn: !GetAtt Destination.Arn
"""


def codes(text: str) -> list[tuple[str, str]]:
    template = parse_template_text(text)
    resolver = Resolver.for_template(
        template, region="us-east-1", account="123456789012", partition="aws"
    )
    return [(finding.code, resource) for resource, finding in delivery_findings(template, resolver)]


def test_a_delivered_stage_is_clean() -> None:
    assert codes(STAGE) == []


def test_logging_without_a_delivery_goes_to_api_gateways_unencrypted_group() -> None:
    without = STAGE.split("  Delivery:\n", maxsplit=1)[0]
    assert codes(without) == [("EXECUTION_LOGS_UNENCRYPTED", "Stage")]


def test_a_source_of_another_log_type_does_not_count() -> None:
    text = STAGE.replace("LogType: EXECUTION_LOGS", "LogType: ACCESS_LOGS")
    assert codes(text) == [("EXECUTION_LOGS_UNENCRYPTED", "Stage")]


def test_settings_chosen_by_a_condition_are_read() -> None:
    without = STAGE.split("  Delivery:\n", maxsplit=1)[0]
    text = without.replace(
        '      MethodSettings:\n        - {ResourcePath: "/*", HttpMethod: "*", LoggingLevel: ERROR}',
        "      MethodSettings: !If\n        - Chosen\n"
        '        - [{ResourcePath: "/*", HttpMethod: "*", LoggingLevel: INFO}]\n'
        "        - []",
    ).replace("Resources:", "Conditions:\n  Chosen: !Equals [a, a]\nResources:", 1)
    assert codes(text) == [("EXECUTION_LOGS_UNENCRYPTED", "Stage")]


def test_logging_off_needs_no_delivery() -> None:
    text = STAGE.split("  Delivery:\n", maxsplit=1)[0].replace(
        "LoggingLevel: ERROR", "LoggingLevel: OFF"
    )
    assert codes(text) == []


def test_a_delivery_to_an_undeclared_group_cannot_be_proven() -> None:
    text = STAGE.replace("log-group:${Group}", "log-group:/elsewhere")
    assert codes(text) == [("DELIVERY_DESTINATION_UNCHECKED", "Destination")]


def test_references_in_sub_ref_and_getatt() -> None:
    sub = {"Fn::Sub": "x${A}y${B.Arn}${AWS::Region}${!Lit}"}
    assert template_references(sub) == {"A", "B", "AWS::Region"}
    assert template_references({"Fn::GetAtt": "C.Arn"}) == {"C"}
    assert template_references([{"Ref": "D"}, {"Fn::Sub": ["${E}", {"E": {"Ref": "F"}}]}]) == {
        "D",
        "F",
    }


def _app(**params: str) -> dict[str, Any]:
    template = load_template(ROOT / "template.yaml")
    topics = {"arn:aws:sns:us-east-1:123456789012:st-alarms": ("cloudwatch",)}
    groups = ["/st/function", "/st/api-access", "/st/api-execution", "aws-waf-logs-st"]
    policy = render_policy(AWS, "us-east-1", "123456789012", groups, topics=topics)
    values = {"KeyPolicy": json.dumps(policy), "PolicyStackName": "st", **params}
    return {"template": template, "values": values}


def _app_codes(template: dict[str, Any], values: dict[str, str]) -> list[tuple[str, str]]:
    resolver = Resolver.for_template(
        template, values, region="us-east-1", account="123456789012", partition="aws"
    )
    report = check_template(template, resolver, AWS)
    return [(resource, finding.code) for resource, finding in report.all_findings()]


def test_the_app_template_delivers_its_execution_logs() -> None:
    app = _app()
    assert _app_codes(app["template"], app["values"]) == []
    del app["template"]["Resources"]["ExecutionLogsDelivery"]
    assert _app_codes(app["template"], app["values"]) == [("Api", "EXECUTION_LOGS_UNENCRYPTED")]


def test_the_execution_group_must_be_in_the_key_policy() -> None:
    app = _app()
    groups = ["/st/function", "/st/api-access", "aws-waf-logs-st"]
    topics = {"arn:aws:sns:us-east-1:123456789012:st-alarms": ("cloudwatch",)}
    policy = render_policy(AWS, "us-east-1", "123456789012", groups, topics=topics)
    app["values"]["KeyPolicy"] = json.dumps(policy)
    assert _app_codes(app["template"], app["values"]) == [("LogsKey", "LOGS_DENIED")]
