"""template.yaml as CloudFormation will see it: transformed by the real SAM translator.

The translator (deployment.translate, the rehearsal's) needs an S3 CodeUri and a
managed-policy loader; like `sam validate` we give it a placeholder bucket and no
managed policies (the template uses none, which one test proves).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deployment.translate import load_sam_template, translate

ROOT = Path(__file__).resolve().parents[3]


def _transformed(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    template = load_sam_template(ROOT / "template.yaml")
    template["Resources"]["ApiFunction"]["Properties"]["CodeUri"] = "s3://bucket/code.zip"
    return translate(template, region="us-east-1", parameter_values=parameters)


@pytest.fixture(scope="module")
def cfn(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    return _transformed()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    patch = pytest.MonkeyPatch()
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    yield patch
    patch.undo()


def resources(cfn: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in cfn["Resources"].items() if v["Type"] == kind}


def test_key_is_symmetric_rotated_and_takes_the_rendered_policy(cfn: dict[str, Any]) -> None:
    key = cfn["Resources"]["LogsKey"]
    assert key["Type"] == "AWS::KMS::Key"
    props = key["Properties"]
    assert props["EnableKeyRotation"] is True
    assert props["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert props["KeyPolicy"] == {"Ref": "KeyPolicy"}
    # Neither retained, so no log group outlives its key.
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Delete"
    assert resources(cfn, "AWS::KMS::Alias")


def test_every_log_group_is_encrypted_with_the_key_arn(cfn: dict[str, Any]) -> None:
    groups = resources(cfn, "AWS::Logs::LogGroup")
    assert set(groups) == {"FunctionLogGroup", "AccessLogGroup", "ExecutionLogGroup", "WafLogGroup"}
    # Unconditional: SAM CLI's local expansion refuses a parameter-driven DeletionPolicy
    # on a resource whose Condition is false (test_language_extensions.py).
    assert "Condition" not in groups["WafLogGroup"]
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        # Named after the rendered PolicyStackName, never AWS::StackName: the key
        # policy names the same value (the stack-name guard, test_stack_name_guard.py).
        name = json.dumps(group["Properties"]["LogGroupName"])
        assert "${PolicyStackName}" in name and "AWS::StackName" not in name
        assert group["DeletionPolicy"] == "Delete"


def test_function_logs_only_to_its_own_encrypted_group(cfn: dict[str, Any]) -> None:
    functions = resources(cfn, "AWS::Lambda::Function")
    assert list(functions) == ["ApiFunction"]
    props = functions["ApiFunction"]["Properties"]
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "FunctionLogGroup"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Role"] == {"Fn::GetAtt": ["FunctionRole", "Arn"]}


def test_execution_role_is_least_privilege(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"]["FunctionRole"]["Properties"]
    assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole
    # Always-on policies; the optional ones (secret, Lambda Insights) are Fn::If.
    always = [p for p in role["Policies"] if "PolicyName" in p]
    optional = [p for p in role["Policies"] if "PolicyName" not in p]
    assert [p["Fn::If"][0] for p in optional] == ["HasSecret", "UseLambdaInsights"]
    statements = [s for p in always for s in p["PolicyDocument"]["Statement"]]
    actions = sorted(a for s in statements for a in s["Action"])
    assert actions == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
        ]
    )
    for statement in statements:
        if any(a.startswith("logs:") for a in statement["Action"]):
            assert statement["Resource"] == {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}
    # The only CreateLogGroup is the optional Lambda Insights extension's own group.
    insights = json.dumps(optional[1])
    assert "logs:CreateLogGroup" not in json.dumps(always)
    assert "logs:CreateLogGroup" in insights and 'log-group:/aws/lambda-insights"' in insights


def test_api_stage_throttling_tracing_and_encrypted_access_logs(cfn: dict[str, Any]) -> None:
    stage = next(iter(resources(cfn, "AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage["StageName"] == {"Ref": "EnvironmentSuffix"}
    assert stage["TracingEnabled"] is True
    settings = stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}
    # Execution logging on, delivered to the encrypted ExecutionLogGroup (not API
    # Gateway's own group): see test_execution_logs_are_delivered_to_the_encrypted_group.
    assert settings["LoggingLevel"] == {"Ref": "ExecutionLogLevel"}
    assert settings["DataTraceEnabled"] is False
    destination = json.dumps(stage["AccessLogSetting"]["DestinationArn"])
    assert "AccessLogGroup" in destination
    json.loads(stage["AccessLogSetting"]["Format"].replace("\n", ""))  # JSON access logs
    api = cfn["Resources"]["Api"]
    assert api["Type"] == "AWS::ApiGateway::RestApi"
    assert api["Properties"]["EndpointConfiguration"]["Types"] == ["REGIONAL"]


def test_routes_proxy_everything_and_keys_are_required_except_health(cfn: dict[str, Any]) -> None:
    # Authorization per AuthMode: tests/unit/template/test_authorization.py.
    body = cfn["Resources"]["Api"]["Properties"]["Body"]
    paths = body["paths"]
    assert set(paths) == {"/", "/{proxy+}", "/health", "/echo"}
    for path in ("/", "/{proxy+}", "/echo"):
        method = paths[path]["x-amazon-apigateway-any-method"]
        assert {"api_key": []} in method["security"]
        assert method["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert "security" not in paths["/health"]["get"] or paths["/health"]["get"]["security"] == []


def test_usage_plan_throttles_and_quotas_the_key(monkeypatch_module: pytest.MonkeyPatch) -> None:
    # The translator resolves usage-plan values from the parameters it is given.
    cfn = _transformed(
        {"ThrottlingRateLimit": 7, "ThrottlingBurstLimit": 9, "UsagePlanQuotaPerDay": 11}
    )
    plan = next(iter(resources(cfn, "AWS::ApiGateway::UsagePlan").values()))["Properties"]
    assert plan["Throttle"] == {"RateLimit": 7, "BurstLimit": 9}
    assert plan["Quota"] == {"Limit": 11, "Period": "DAY"}
    assert "ApiApiKey" in cfn["Resources"]


def test_outputs_are_complete(cfn: dict[str, Any]) -> None:
    assert set(cfn["Outputs"]) == {
        "ApiUrl",
        "KmsKeyId",
        "KmsKeyArn",
        "LogGroupName",
        "AccessLogGroupName",
        "FunctionName",
        "ApiKeyId",
        "AuthMode",
        "UserPoolId",
        "UserPoolClientId",
    }


def test_rules_pin_the_policy_to_account_and_region(cfn: dict[str, Any]) -> None:
    assertions = cfn["Rules"]["KeyPolicyRenderedForThisDeployment"]["Assertions"]
    asserted = json.dumps(assertions)
    assert '"Ref": "PolicyAccountId"' in asserted and '"Ref": "AWS::AccountId"' in asserted
    assert '"Ref": "PolicyRegion"' in asserted and '"Ref": "AWS::Region"' in asserted


def test_alarms_cover_errors_throttles_5xx_and_p99(cfn: dict[str, Any]) -> None:
    alarms = resources(cfn, "AWS::CloudWatch::Alarm")
    metrics = sorted(a["Properties"]["MetricName"] for a in alarms.values())
    assert metrics == ["5XXError", "Errors", "Latency", "Throttles"]
    latency = next(a for a in alarms.values() if a["Properties"]["MetricName"] == "Latency")
    assert latency["Properties"]["ExtendedStatistic"] == "p99"


def test_account_role_only_when_asked(monkeypatch_module: pytest.MonkeyPatch) -> None:
    cfn = _transformed({"CreateApiGatewayAccountRole": "true"})
    assert cfn["Resources"]["ApiGatewayAccount"]["Condition"] == "CreateAccountRole"
    # A region-wide setting: it and its role outlive the stack, and the role may
    # write to this account's log groups in this region only (never Resource "*").
    role = cfn["Resources"]["ApiGatewayCloudWatchRole"]
    for resource in (role, cfn["Resources"]["ApiGatewayAccount"]):
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    (statement,) = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
    }
    assert cfn["Resources"]["Api"]["DependsOn"] == "ApiGatewayAccountReady"


def test_every_taggable_resource_is_tagged(cfn: dict[str, Any]) -> None:
    taggable = {
        "AWS::KMS::Key",
        "AWS::Logs::LogGroup",
        "AWS::IAM::Role",
        "AWS::Lambda::Function",
        "AWS::ApiGateway::Stage",
    }
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] in taggable:
            tags = json.dumps(resource["Properties"].get("Tags"))
            assert "Environment" in tags and "Application" in tags, logical_id


def test_execution_logs_are_delivered_to_the_encrypted_group(cfn: dict[str, Any]) -> None:
    """API Gateway developer guide, "Create a log delivery for REST API execution logs":
    a delivery source on the stage ARN with log type EXECUTION_LOGS, a destination on our
    log group, a delivery joining them."""
    ((source_id, source),) = resources(cfn, "AWS::Logs::DeliverySource").items()
    assert source["Properties"]["LogType"] == "EXECUTION_LOGS"
    arn = source["Properties"]["ResourceArn"]["Fn::Sub"]
    assert arn.endswith(":/restapis/${Api}/stages/${ApiStage}")
    assert arn.startswith("arn:${AWS::Partition}:apigateway:${AWS::Region}:${AWS::AccountId}:")
    ((destination_id, destination),) = resources(cfn, "AWS::Logs::DeliveryDestination").items()
    target = destination["Properties"]["DestinationResourceArn"]["Fn::Sub"]
    assert target.endswith(":log-group:${ExecutionLogGroup}")
    (delivery,) = resources(cfn, "AWS::Logs::Delivery").values()
    assert delivery["Properties"] == {
        "DeliverySourceName": {"Ref": source_id},
        "DeliveryDestinationArn": {"Fn::GetAtt": [destination_id, "Arn"]},
    }
    level = cfn["Parameters"]["ExecutionLogLevel"]
    assert level["Default"] == "ERROR" and level["AllowedValues"] == ["ERROR", "INFO"]


def test_alarms_notify_the_stack_topic_unless_one_is_given(cfn: dict[str, Any]) -> None:
    topic = cfn["Resources"]["AlarmTopic"]
    assert topic["Condition"] == "CreateAlarmTopic"
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["LogsKey", "Arn"]}
    assert topic["Properties"]["TopicName"] == {"Fn::Sub": "${PolicyStackName}-alarms"}
    alarms = resources(cfn, "AWS::CloudWatch::Alarm")
    assert len(alarms) == 4
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == {
            "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], [{"Ref": "AlarmTopic"}]]
        }
