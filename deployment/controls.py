"""AWS Security Hub controls (Foundational Security Best Practices) for the template's types.

Data only: each control as the AWS Security Hub user guide defines it (its page per
service, e.g. "Security Hub CSPM controls for Amazon API Gateway",
https://docs.aws.amazon.com/securityhub/latest/userguide/apigateway-controls.html), the
template resource types it evaluates, and the name of the rule in
``deployment.conformance`` that decides it from a template. ``nist`` holds the
"Related requirements" (NIST SP 800-53 Rev. 5) the guide lists, where they were read from
the guide; an empty tuple means "see the guide" (not read, never guessed).

Controls of these services that evaluate account settings or resource types this template
never declares (API Gateway V2 stages and routes, Lambda layers, IAM managed policies...)
are left out: a template cannot fail them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

GUIDE: Final = "https://docs.aws.amazon.com/securityhub/latest/userguide/"


@dataclass(frozen=True)
class Control:
    control_id: str
    title: str
    page: str  # the user guide page that defines it
    rule: str  # the deciding function in deployment.conformance.RULES
    nist: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"{GUIDE}{self.page}.html#{self.control_id.lower().replace('.', '-')}"


CONTROLS: Final[tuple[Control, ...]] = (
    Control(
        "APIGateway.1",
        "API Gateway REST and WebSocket API execution logging should be enabled",
        "apigateway-controls",
        "stage_execution_logging",
        (
            "AC-4(26)",
            "AU-10",
            "AU-12",
            "AU-2",
            "AU-3",
            "AU-6(3)",
            "AU-6(4)",
            "CA-7",
            "SC-7(9)",
            "SI-7(8)",
        ),
    ),
    Control(
        "APIGateway.2",
        "API Gateway REST API stages should be configured to use SSL certificates for "
        "backend authentication",
        "apigateway-controls",
        "stage_client_certificate",
    ),
    Control(
        "APIGateway.3",
        "API Gateway REST API stages should have AWS X-Ray tracing enabled",
        "apigateway-controls",
        "stage_tracing",
    ),
    Control(
        "APIGateway.4",
        "API Gateway should be associated with a WAF Web ACL",
        "apigateway-controls",
        "stage_web_acl",
    ),
    Control(
        "APIGateway.5",
        "API Gateway REST API cache data should be encrypted at rest",
        "apigateway-controls",
        "stage_cache_encrypted",
    ),
    Control(
        "CloudWatch.15",
        "CloudWatch alarms should have specified actions configured",
        "cloudwatch-controls",
        "alarm_actions",
    ),
    Control(
        "CloudWatch.16",
        "CloudWatch log groups should be retained for a specified time period (365 days)",
        "cloudwatch-controls",
        "log_group_retention",
    ),
    Control(
        "CloudWatch.17",
        "CloudWatch alarm actions should be activated",
        "cloudwatch-controls",
        "alarm_actions_enabled",
    ),
    Control(
        "KMS.2",
        "IAM principals should not have IAM inline policies that allow decryption actions "
        "on all KMS keys",
        "kms-controls",
        "no_inline_decrypt_on_all_keys",
    ),
    Control(
        "KMS.3",
        "AWS KMS keys should not be deleted unintentionally",
        "kms-controls",
        "account_state",
    ),
    Control("KMS.4", "AWS KMS key rotation should be enabled", "kms-controls", "key_rotation"),
    Control(
        "KMS.5",
        "KMS keys should not be publicly accessible",
        "kms-controls",
        "key_not_public",
    ),
    Control(
        "Lambda.1",
        "Lambda function policies should prohibit public access",
        "lambda-controls",
        "function_not_public",
        (
            "AC-21",
            "AC-3",
            "AC-3(7)",
            "AC-4",
            "AC-4(21)",
            "AC-6",
            "SC-7",
            "SC-7(11)",
            "SC-7(16)",
            "SC-7(20)",
            "SC-7(21)",
            "SC-7(3)",
            "SC-7(4)",
            "SC-7(9)",
        ),
    ),
    Control(
        "Lambda.2",
        "Lambda functions should use supported runtimes",
        "lambda-controls",
        "function_runtime",
    ),
    Control("Lambda.3", "Lambda functions should be in a VPC", "lambda-controls", "function_vpc"),
    Control(
        "Lambda.5",
        "VPC Lambda functions should operate in multiple Availability Zones",
        "lambda-controls",
        "function_multi_az",
    ),
    Control(
        "Lambda.7",
        "Lambda functions should have AWS X-Ray active tracing enabled",
        "lambda-controls",
        "function_tracing",
    ),
    Control(
        "Cognito.1",
        "Cognito user pools should have threat protection activated with full function "
        "enforcement mode for standard authentication",
        "cognito-controls",
        "user_pool_threat_protection",
    ),
    Control(
        "SNS.1",
        "SNS topics should be encrypted at-rest using AWS KMS",
        "sns-controls",
        "topic_encrypted",
    ),
    Control(
        "SNS.4",
        "SNS topic access policies should not allow public access",
        "sns-controls",
        "topic_policy_not_public",
    ),
    Control(
        "WAF.10",
        "AWS WAF web ACLs should have at least one rule or rule group",
        "waf-controls",
        "web_acl_has_rules",
    ),
    Control(
        "WAF.11",
        "AWS WAF web ACL logging should be enabled",
        "waf-controls",
        "web_acl_logging",
    ),
    Control(
        "WAF.12",
        "AWS WAF rules should have CloudWatch metrics enabled",
        "waf-controls",
        "web_acl_metrics",
    ),
)

# Lambda.2's parameter: the runtimes Lambda supports (Lambda developer guide, "Lambda
# runtimes", supported runtimes table), Python only (the kit deploys Python), as of this
# writing; a newer runtime is added here when the guide lists it.
SUPPORTED_PYTHON_RUNTIMES: Final = frozenset(
    {"python3.10", "python3.11", "python3.12", "python3.13"}
)
# CloudWatch.16's default parameter: minRetentionTime 365 days.
MIN_RETENTION_DAYS: Final = 365
