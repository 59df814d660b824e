"""Render the key policy: pure data in, policy document out.

The policy has two statements, plus one per AWS service that publishes to an SNS
topic the key encrypts, because every extra grant is something an auditor has to
reason about:

1. the account root with ``kms:*`` — keeps the account in control of the key
   (KMS refuses a policy that would lock the caller out, and this delegates to
   IAM policies rather than to the root user alone);
2. the *regional* CloudWatch Logs principal with the documented actions, limited
   by ``ArnEquals`` on ``kms:EncryptionContext:aws:logs:arn`` to the exact ARNs
   of the log groups the template encrypts. Pinning account and name in that ARN
   is what stops any other log group, in this account or another, from using
   the key (the confused-deputy problem);
3. for encrypted SNS topics only: each publishing service (CloudWatch alarms) with
   ``kms:GenerateDataKey*``/``kms:Decrypt``, limited to our topics' ARNs by the
   ``kms:EncryptionContext:aws:sns:topicArn`` condition (``policy_gen.publishers``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from policy_gen.partitions import (
    Partition,
    check_account,
    check_log_group_name,
    check_region,
    log_group_arn,
    logs_principal,
    root_arn,
)
from policy_gen.publishers import publisher_statements

POLICY_VERSION = "2012-10-17"
POLICY_ID = "secure-serverless-api-logs-key"
ROOT_SID = "EnableAccountControlThroughIAM"
LOGS_SID = "AllowCloudWatchLogsForTheseLogGroupsOnly"

# The action set the CloudWatch Logs guide documents for a log-group key. Logs
# itself calls at least GenerateDataKey and Decrypt (and Encrypt); DescribeKey
# is never granted by this statement because its requests carry no encryption
# context, which is harmless.
LOGS_ACTIONS = (
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
)
ENCRYPTION_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


def render_policy(
    partition: Partition,
    region: str,
    account: str,
    log_group_names: Sequence[str],
    *,
    principal: str | None = None,
    topics: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """The key policy for ``log_group_names`` in one account and region.

    ``principal`` overrides the table's Logs principal (for a partition whose
    spelling the table does not know or the user has verified differently).
    ``topics`` maps the ARN of each SNS topic the key encrypts to the services that
    publish to it (``policy_gen.topics.publisher_map``).
    """
    check_region(partition, region)
    check_account(account)
    if not log_group_names:
        raise ValueError("render_policy needs at least one log group")
    names = sorted({check_log_group_name(name) for name in log_group_names})
    arns = [log_group_arn(partition, region, account, name) for name in names]
    return {
        "Version": POLICY_VERSION,
        "Id": POLICY_ID,
        "Statement": [
            {
                "Sid": ROOT_SID,
                "Effect": "Allow",
                "Principal": {"AWS": root_arn(partition, account)},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": LOGS_SID,
                "Effect": "Allow",
                "Principal": {"Service": principal or logs_principal(partition, region)},
                "Action": list(LOGS_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "ArnEquals": {ENCRYPTION_CONTEXT_KEY: arns[0] if len(arns) == 1 else arns}
                },
            },
            *publisher_statements(partition, dict(topics or {})),
        ],
    }
