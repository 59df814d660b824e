"""The 27 post-deploy checks and how one runs (``run_check``: every way it can
end becomes PASS, FAIL or NOT RUN). Each reads a ``Target``: live resources,
or the transformed template for a known emulator gap (never against real AWS).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from deployment.checks_auth import check_authorization, check_request_validation
from deployment.checks_owned import OWNED_CHECKS, alarm_topic_names
from deployment.console import Console
from deployment.results import (
    FAIL,
    NOT_RUN,
    PASS,
    TEMPLATE,
    CheckFailed,
    CheckNotRun,
    CheckResult,
    Outcome,
    Status,
    Where,
)
from deployment.stack_spec import (
    API_ID,
    API_KEY_ID,
    EXPECTED_ARCHITECTURES,
    EXPECTED_ENDPOINT_TYPES,
    EXPECTED_KEY_SPEC,
    EXPECTED_LOG_FORMAT,
    EXPECTED_RUNTIME,
    EXPECTED_TRACING_MODE,
    FUNCTION_ID,
    KEY_ID,
    LOG_GROUPS,
    REQUIRED_OUTPUTS,
)
from deployment.target import Target
from deployment.template_values import TemplateValues, template_references
from policy_gen.partitions import partition_for_region
from policy_gen.rules import RefusedAssertion, refused_assertions
from policy_gen.template import Resolver
from policy_gen.validate import Target as PolicyTarget
from policy_gen.validate import validate


@dataclass(frozen=True)
class Check:
    check_id: str
    title: str
    run: Callable[[Target], Outcome]


def check_stack_status(target: Target) -> Outcome:
    status = str(target.stack().get("StackStatus", ""))
    good = status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    return Outcome(good, target.live, f"stack {target.stack_name} is {status}")


def check_rendered_for_target(target: Target) -> Outcome:
    """What the template's Rules assert (moto does not evaluate Rules): the key
    policy was rendered for the account and region the stack lives in, and every other
    assertion holds for the stack's parameters (prod's authorization, retention,
    deletion, alarm target and web ACL), as CloudFormation would have refused the deploy
    otherwise (policy_gen.rules, what check-template reports as RULE_REFUSED)."""
    account, region = target.account(), target.region
    rendered = (target.parameter("PolicyAccountId"), target.parameter("PolicyRegion"))
    refused = _refused_rules(target, account) if target.emulated else []
    detail = (
        f"PolicyAccountId={rendered[0]} PolicyRegion={rendered[1]}; "
        f"the stack is in {account}/{region}"
    )
    if refused:
        detail += "; " + "; ".join(f"rule {r.rule} refuses: {r.description}" for r in refused)
    return Outcome(
        rendered == (account, region) and not refused,
        target.live,
        detail,
        gap="rules" if target.emulated else None,
    )


def _refused_rules(target: Target, account: str) -> list[RefusedAssertion]:
    """The template's assertions the stack's parameters break (none without a template)."""
    template = target.transformed or {}
    declared = template.get("Parameters") or {}
    values = {k: v for k, v in target.parameters().items() if k in declared}
    resolver = Resolver.for_template(
        template,
        values,
        region=target.region,
        account=account,
        partition=target.partition(),
        stack_name=target.stack_name,
    )
    return refused_assertions(template, resolver)


def check_key_rotation(target: Target) -> Outcome:
    status = target.client("kms").get_key_rotation_status(KeyId=target.physical_id(KEY_ID))
    enabled = bool(status.get("KeyRotationEnabled"))
    return Outcome(enabled, target.live, f"GetKeyRotationStatus: KeyRotationEnabled={enabled}")


def check_key_state(target: Target) -> Outcome:
    """Logs needs the key enabled and in the log groups' region."""
    meta = target.key_metadata()
    arn = str(meta.get("Arn", ""))
    parts = arn.split(":")
    key_region = parts[3] if len(parts) > 3 else None
    wrong = []
    if meta.get("KeyState") != "Enabled":
        wrong.append(f"KeyState={meta.get('KeyState')} (expected Enabled)")
    if key_region != target.region:
        wrong.append(f"region {key_region} (the stack's is {target.region})")
    detail = "; ".join(wrong) or "Enabled, in the stack's region"
    return Outcome(not wrong, target.live, f"DescribeKey {arn}: {detail}")


def check_key_spec(target: Target) -> Outcome:
    """Logs can only use a symmetric encryption key."""
    meta = target.key_metadata()  # the key must exist on the emulator too
    live = {"KeySpec": meta.get("KeySpec"), "KeyUsage": meta.get("KeyUsage")}
    if target.uses_template_for("kms-key-spec"):
        properties = target.template_properties(KEY_ID)
        # CloudFormation's defaults when the properties are omitted.
        declared = {
            "KeySpec": properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            "KeyUsage": properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
        }
        return Outcome(
            declared == EXPECTED_KEY_SPEC,
            TEMPLATE,
            f"{KEY_ID}: {declared} (expected {EXPECTED_KEY_SPEC}); the emulator's DescribeKey "
            f"says {live} whatever the template says",
            gap="kms-key-spec",
        )
    return Outcome(
        live == EXPECTED_KEY_SPEC,
        target.live,
        f"DescribeKey: {live} (expected {EXPECTED_KEY_SPEC})",
    )


def check_policy_matches_render(target: Target) -> Outcome:
    if target.expected_policy is None:
        raise CheckNotRun("policy_gen rendered no policy to compare with")
    live = target.live_policy()
    if live == target.expected_policy:
        return Outcome(
            True,
            target.live,
            "GetKeyPolicy equals the policy policy_gen rendered (json.loads equality)",
        )
    return Outcome(
        False,
        target.live,
        "GetKeyPolicy differs from the rendered policy: live "
        f"{json.dumps(live, sort_keys=True)} rendered "
        f"{json.dumps(target.expected_policy, sort_keys=True)}",
    )


def check_policy_validates(target: Target) -> Outcome:
    names = [target.physical_id(logical_id) for logical_id in LOG_GROUPS.values()]
    policy_target = PolicyTarget.checked(
        partition_for_region(target.region), target.region, target.account(), names
    )
    topics = alarm_topic_names(target)
    policy_target = dataclasses.replace(policy_target, topics=topics)
    names += [f"SNS topic {name} (publisher {service})" for name, service in topics]
    report = validate(target.live_policy(), policy_target)
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = sorted({f.code for f in report.findings if f.severity != "error"})
    detail = (
        f"policy_gen.validate on the key's live policy for {', '.join(names)}: "
        f"{len(errors)} error(s), {len(warnings)} warning code(s)"
    )
    if errors:
        detail += " (" + "; ".join(f"{f.code}: {f.message}" for f in errors[:3]) + ")"
    if warnings:
        detail += f"; warnings: {', '.join(warnings)}"
    return Outcome(report.valid, target.live, detail)


def _check_retention(target: Target, logical_id: str) -> Outcome:
    group = target.log_group(logical_id)
    expected = target.parameter("LogRetentionInDays")
    retention = group.get("retentionInDays")
    return Outcome(
        retention is not None and str(retention) == expected,
        target.live,
        f"DescribeLogGroups {group['logGroupName']}: retentionInDays={retention} "
        f"(LogRetentionInDays={expected})",
    )


def _check_log_group_key(target: Target, logical_id: str) -> Outcome:
    key_arn = target.key_arn()
    group = target.log_group(logical_id)  # it must exist, on the emulator too
    live = group.get("kmsKeyId")
    if target.uses_template_for("logs-kms-key"):
        declared = target.template_properties(logical_id).get("KmsKeyId")
        resolved = TemplateValues(target).resolve(declared)
        return Outcome(
            resolved == key_arn,
            TEMPLATE,
            f"{logical_id}.KmsKeyId = {json.dumps(declared)} -> {resolved} (the key is "
            f"{key_arn}); the emulator's DescribeLogGroups shows kmsKeyId={live}",
            gap="logs-kms-key",
        )
    return Outcome(
        live == key_arn,
        target.live,
        f"DescribeLogGroups {group['logGroupName']}: kmsKeyId={live} (the key is {key_arn})",
    )


def check_function_runtime(target: Target) -> Outcome:
    config = target.function_configuration()
    runtime = config.get("Runtime")
    return Outcome(
        runtime == EXPECTED_RUNTIME,
        target.live,
        f"GetFunction {config.get('FunctionName')}: Runtime={runtime} "
        f"(expected {EXPECTED_RUNTIME})",
    )


def check_function_architecture(target: Target) -> Outcome:
    live = target.function_configuration().get("Architectures")  # the function must exist
    if target.uses_template_for("lambda-architectures"):
        declared = target.template_properties(FUNCTION_ID).get("Architectures")
        return Outcome(
            declared == EXPECTED_ARCHITECTURES,
            TEMPLATE,
            f"{FUNCTION_ID}.Architectures={declared} (expected {EXPECTED_ARCHITECTURES}); "
            f"the emulator's GetFunction says {live}",
            gap="lambda-architectures",
        )
    return Outcome(
        live == EXPECTED_ARCHITECTURES,
        target.live,
        f"GetFunction: Architectures={live} (expected {EXPECTED_ARCHITECTURES})",
    )


def _logging_config_problems(config: Mapping[str, Any], group: str, level: str) -> list[str]:
    problems = []
    if config.get("LogFormat") != EXPECTED_LOG_FORMAT:
        problems.append(f"LogFormat={config.get('LogFormat')} (expected {EXPECTED_LOG_FORMAT})")
    if config.get("LogGroup") != group:
        problems.append(f"LogGroup={config.get('LogGroup')} (expected {group})")
    if config.get("ApplicationLogLevel") != level:
        problems.append(
            f"ApplicationLogLevel={config.get('ApplicationLogLevel')} (LogLevel={level})"
        )
    return problems


def check_function_logging(target: Target) -> Outcome:
    live = target.function_configuration().get("LoggingConfig")
    group = target.physical_id(LOG_GROUPS["function"])
    level = target.parameter("LogLevel")
    if target.uses_template_for("lambda-logging-config"):
        declared = target.template_properties(FUNCTION_ID).get("LoggingConfig")
        if not isinstance(declared, dict):
            return Outcome(
                False,
                TEMPLATE,
                f"{FUNCTION_ID} declares no LoggingConfig",
                gap="lambda-logging-config",
            )
        resolved = TemplateValues(target).resolve(declared)
        problems = _logging_config_problems(resolved, group, level)
        return Outcome(
            not problems,
            TEMPLATE,
            f"{FUNCTION_ID}.LoggingConfig -> {json.dumps(resolved, sort_keys=True)}"
            + (f": {'; '.join(problems)}" if problems else "")
            + f"; the emulator's GetFunction has LoggingConfig={live}",
            gap="lambda-logging-config",
        )
    problems = _logging_config_problems(live or {}, group, level)
    return Outcome(
        not problems,
        target.live,
        f"GetFunction LoggingConfig={json.dumps(live, sort_keys=True)}"
        + (f": {'; '.join(problems)}" if problems else ""),
    )


def _nested_setting(
    target: Target,
    *,
    gap: str,
    logical_id: str,
    path: tuple[str, str],
    live: object,
    live_name: str,
    expected: object,
) -> Outcome:
    """One nested property (``path``: property, key) read live, or declared on the
    transformed template where the emulator is known to drop it (``gap``)."""
    if target.uses_template_for(gap):
        declared = target.template_properties(logical_id).get(path[0])
        value = declared.get(path[1]) if isinstance(declared, dict) else None
        return Outcome(
            value == expected,
            TEMPLATE,
            f"{logical_id}.{'.'.join(path)}={value} (expected {expected}); the emulator's "
            f"{live_name} says {live}",
            gap=gap,
        )
    return Outcome(live == expected, target.live, f"{live_name}={live} (expected {expected})")


def check_function_tracing(target: Target) -> Outcome:
    """Active tracing: Lambda records the function's segment (no SDK in the function)."""
    return _nested_setting(
        target,
        gap="lambda-tracing-config",
        logical_id=FUNCTION_ID,
        path=("TracingConfig", "Mode"),
        live=(target.function_configuration().get("TracingConfig") or {}).get("Mode"),
        live_name="GetFunction TracingConfig.Mode",
        expected=EXPECTED_TRACING_MODE,
    )


def check_api_exists(target: Target) -> Outcome:
    api_id = target.physical_id(API_ID)
    paginator = target.client("apigateway").get_paginator("get_rest_apis")
    apis = [api for page in paginator.paginate() for api in page.get("items", [])]
    match = next((api for api in apis if api.get("id") == api_id), None)
    if match is None:
        return Outcome(False, target.live, f"GetRestApis does not list {api_id}")
    expected_name = f"{target.stack_name}-api"
    return Outcome(
        match.get("name") == expected_name,
        target.live,
        f"GetRestApis lists {api_id} named {match.get('name')} (expected {expected_name})",
    )


def check_api_regional(target: Target) -> Outcome:
    api = target.client("apigateway").get_rest_api(restApiId=target.physical_id(API_ID))
    return _nested_setting(
        target,
        gap="apigateway-endpoint-configuration",
        logical_id=API_ID,
        path=("EndpointConfiguration", "Types"),
        live=(api.get("endpointConfiguration") or {}).get("types"),
        live_name="GetRestApi endpointConfiguration.types",
        expected=EXPECTED_ENDPOINT_TYPES,
    )


def _expected_access_log_arn(target: Target) -> str:
    return (
        f"arn:{target.partition()}:logs:{target.region}:{target.account()}:log-group:"
        f"{target.physical_id(LOG_GROUPS['access'])}"
    )


def _template_stage(target: Target) -> tuple[str, dict[str, Any]]:
    for logical_id, resource in ((target.transformed or {}).get("Resources") or {}).items():
        properties = resource.get("Properties") or {} if isinstance(resource, dict) else {}
        if (
            isinstance(resource, dict)
            and resource.get("Type") == "AWS::ApiGateway::Stage"
            and properties.get("RestApiId") == {"Ref": API_ID}
        ):
            return str(logical_id), dict(properties)
    raise CheckFailed(f"the transformed template has no AWS::ApiGateway::Stage for {API_ID}")


def check_stage_access_logs(target: Target) -> Outcome:
    expected = _expected_access_log_arn(target)
    stage_name = target.parameter("EnvironmentSuffix")
    if target.uses_template_for("apigateway-stage"):
        target.physical_id(API_ID)  # the API itself must exist on the emulator
        logical_id, properties = _template_stage(target)
        values = TemplateValues(target)
        name = values.resolve(properties.get("StageName"))
        setting = properties.get("AccessLogSetting") or {}
        destination = values.resolve(setting.get("DestinationArn"))
        return Outcome(
            destination == expected and name == stage_name,
            TEMPLATE,
            f"{logical_id}: StageName={name} (EnvironmentSuffix={stage_name}), "
            f"AccessLogSetting.DestinationArn -> {destination} (expected {expected}); "
            "the emulator created no stage",
            gap="apigateway-stage",
        )
    stage = target.client("apigateway").get_stage(
        restApiId=target.physical_id(API_ID), stageName=stage_name
    )
    destination = (stage.get("accessLogSettings") or {}).get("destinationArn")
    return Outcome(
        destination == expected,
        target.live,
        f"GetStage {stage_name}: accessLogSettings.destinationArn={destination} "
        f"(expected {expected})",
    )


def check_stage_tracing(target: Target) -> Outcome:
    """X-Ray on the stage: API Gateway's segment starts the trace the function's joins."""
    stage_name = target.parameter("EnvironmentSuffix")
    if target.uses_template_for("apigateway-stage"):
        target.physical_id(API_ID)  # the API itself must exist on the emulator
        logical_id, properties = _template_stage(target)
        enabled = TemplateValues(target).resolve(properties.get("TracingEnabled"))
        return Outcome(
            enabled is True,
            TEMPLATE,
            f"{logical_id}: TracingEnabled={enabled} (expected true); the emulator created "
            "no stage",
            gap="apigateway-stage",
        )
    stage = target.client("apigateway").get_stage(
        restApiId=target.physical_id(API_ID), stageName=stage_name
    )
    enabled = stage.get("tracingEnabled")
    return Outcome(
        enabled is True,
        target.live,
        f"GetStage {stage_name}: tracingEnabled={enabled} (expected true)",
    )


def _live_output_problems(target: Target, outputs: Mapping[str, str]) -> list[str]:
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    problems = [f"missing or empty: {', '.join(missing)}"] if missing else []
    expected: dict[str, Callable[[], str]] = {
        "KmsKeyArn": target.key_arn,
        "KmsKeyId": lambda: str(target.key_metadata()["KeyId"]),
        "LogGroupName": lambda: target.physical_id(LOG_GROUPS["function"]),
        "AccessLogGroupName": lambda: target.physical_id(LOG_GROUPS["access"]),
        "FunctionName": lambda: target.physical_id(FUNCTION_ID),
        "ApiKeyId": lambda: target.physical_id(API_KEY_ID),
    }
    for name, load in expected.items():
        if outputs.get(name) and outputs[name] != load():
            problems.append(f"{name}={outputs[name]} but the stack's resource is {load()}")
    url = outputs.get("ApiUrl")
    api_host = f"https://{target.physical_id(API_ID)}.execute-api.{target.region}."
    if url and not url.startswith(api_host):
        problems.append(f"ApiUrl={url} does not start with {api_host}")
    return problems


def check_outputs(target: Target) -> Outcome:
    outputs = {
        str(item["OutputKey"]): str(item.get("OutputValue") or "")
        for item in target.stack().get("Outputs") or []
    }
    if not outputs and target.uses_template_for("change-set-outputs"):
        template = target.transformed or {}
        declared = template.get("Outputs") or {}
        known = set(template.get("Resources") or {}) | set(template.get("Parameters") or {})
        missing = [name for name in REQUIRED_OUTPUTS if name not in declared]
        dangling = sorted(
            f"{name} -> {ref}"
            for name in REQUIRED_OUTPUTS
            if name in declared
            for ref in template_references(declared[name].get("Value"))
            if not ref.startswith("AWS::") and ref not in known
        )
        problems = ([f"not declared: {', '.join(missing)}"] if missing else []) + (
            [f"refer to nothing in the template: {', '.join(dangling)}"] if dangling else []
        )
        verdict = "; ".join(problems) or (
            f"all {len(REQUIRED_OUTPUTS)} outputs declared, each referring to a resource or "
            "parameter of the transformed template"
        )
        return Outcome(
            not problems,
            TEMPLATE,
            f"{verdict}; the emulator's DescribeStacks returns no Outputs",
            gap="change-set-outputs",
        )
    problems = _live_output_problems(target, outputs)
    return Outcome(
        not problems,
        target.live,
        f"DescribeStacks Outputs {', '.join(sorted(outputs)) or 'none'}"
        + (f": {'; '.join(problems)}" if problems else ": all match the stack's resources"),
    )


def _log_group_checks(name: str) -> tuple[Check, Check]:
    """The two checks of one log group of ``LOG_GROUPS``: retention, and the key."""
    logical_id = LOG_GROUPS[name]
    return (
        Check(
            f"logs.{name}.retention",
            f"{name} log group exists with the retention",
            lambda target: _check_retention(target, logical_id),
        ),
        Check(
            f"logs.{name}.kms_key",
            f"{name} log group encrypted with the key",
            lambda target: _check_log_group_key(target, logical_id),
        ),
    )


CHECKS: tuple[Check, ...] = (
    Check("stack.status", "stack deployed", check_stack_status),
    Check(
        "stack.rendered_for_target",
        "key policy rendered for this account/region",
        check_rendered_for_target,
    ),
    Check("kms.rotation", "key rotation enabled", check_key_rotation),
    Check("kms.key_state", "key enabled, in the stack's region", check_key_state),
    Check("kms.key_spec", "key is symmetric ENCRYPT_DECRYPT", check_key_spec),
    Check(
        "kms.policy_matches_render",
        "key policy is exactly the rendered one",
        check_policy_matches_render,
    ),
    Check("kms.policy_validates", "key policy passes policy_gen.validate", check_policy_validates),
    *_log_group_checks("function"),
    *_log_group_checks("access"),
    *_log_group_checks("execution"),
    *(Check(check_id, title, run) for check_id, title, run in OWNED_CHECKS),
    Check("lambda.runtime", "function exists on python3.13", check_function_runtime),
    Check("lambda.architecture", "function runs on arm64", check_function_architecture),
    Check(
        "lambda.logging_config",
        "function logs JSON to its encrypted group",
        check_function_logging,
    ),
    Check("lambda.tracing", "function traced by Lambda (X-Ray active)", check_function_tracing),
    Check("apigateway.api_exists", "REST API exists", check_api_exists),
    Check("apigateway.regional", "REST API is REGIONAL", check_api_regional),
    Check(
        "apigateway.stage_access_logs",
        "stage access logs go to the encrypted group",
        check_stage_access_logs,
    ),
    Check(
        "apigateway.stage_tracing",
        "stage traced by X-Ray (API Gateway -> Lambda)",
        check_stage_tracing,
    ),
    Check("stack.outputs", "stack outputs complete", check_outputs),
    Check(
        "apigateway.authorization",
        "every route but GET /health needs AuthMode's credentials",
        check_authorization,
    ),
    Check(
        "apigateway.request_validation",
        "body routes validated against their model",
        check_request_validation,
    ),
)


def run_check(check: Check, target: Target) -> CheckResult:
    """Run one check; every way it can end becomes PASS, FAIL or NOT RUN."""
    started = time.monotonic()

    def result(
        status: Status, where: Where | None, detail: str, gap: str | None = None
    ) -> CheckResult:
        return CheckResult(
            check.check_id, check.title, status, where, detail, time.monotonic() - started, gap
        )

    try:
        outcome = check.run(target)
    except CheckNotRun as reason:
        return result(NOT_RUN, None, str(reason))
    except CheckFailed as problem:
        return result(FAIL, target.live, str(problem))
    except (ClientError, BotoCoreError) as error:
        return result(FAIL, target.live, f"AWS call failed: {error}")
    except Exception as error:  # a bug in a check must still be a visible FAIL
        return result(FAIL, target.live, f"check raised {type(error).__name__}: {error}")
    return result(PASS if outcome.passed else FAIL, outcome.where, outcome.detail, outcome.gap)


def run_checks(target: Target, console: Console | None = None) -> list[CheckResult]:
    results = []
    for check in CHECKS:
        result = run_check(check, target)
        if console is not None:
            console.check(result)
        results.append(result)
    return results


def not_run(reason: str) -> list[CheckResult]:
    """Every check as NOT RUN (a step before them failed)."""
    return [CheckResult(c.check_id, c.title, NOT_RUN, None, reason) for c in CHECKS]
