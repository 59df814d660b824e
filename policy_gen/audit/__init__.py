"""``policy_gen audit``: which log groups in an account have a KMS key that blocks Logs.

A log group encrypted with a KMS key depends on that key for every event written and
read. When the key is disabled, scheduled for deletion, asymmetric, in another region,
gone, or its policy does not let the region's CloudWatch Logs principal use it for
that log group, events are lost on ingestion and stored ones cannot be read, and
nothing in the console says so until someone looks. This package answers that for a
whole account, read-only.

Pure logic in the middle, I/O at the edges, so the decisions are unit-tested without
AWS. The pure modules (``model``, ``judge``, ``fixes``, ``output``, ``progress``) never
import boto3.

* ``model``: statuses, log groups, key facts, verdicts and the report (plain data).
* ``judge``: ``audit()``, log groups plus key facts in, one verdict per log group out.
* ``fixes``: ``suggest_fixes()``, the policy statement or advice that repairs a key.
* ``aws``: the only code that talks to AWS (``AwsFacts``, its threads and retries),
  the session and the validated command-line options.
* ``progress``: the progress bar or lines on stderr.
* ``command``: ``collect``/``run``/``run_cli``, the command from options to exit code.
* ``output``: the text, JSON and CSV reports.

``audit --organization`` runs the same audit in every member account and region of an
AWS Organization; its own modules, pure ones first:

* ``org_model``: accounts, account-regions, their statuses, the organization report.
* ``org_scope``: which accounts and regions, the role and its session name.
* ``org_state``: the ``--state`` file that lets an interrupted run resume.
* ``org_output``: the organization report as text, JSON and CSV.
* ``org_aws``: Organizations, STS (assumed roles that refresh) and DescribeRegions.
* ``org_run``: the run itself, one bounded pool for every account and region.

The names below are the package's API. Those of
the AWS-facing modules are imported when first used (PEP 562), so importing a pure module
(``policy_gen.audit.judge``) does not pay for boto3's import through this package.
"""

from importlib import import_module
from typing import Any

from policy_gen.audit.fixes import suggest_fixes
from policy_gen.audit.judge import (
    KEY_STATE_STATUS,
    READ_ACTIONS,
    STATUS_FINDINGS,
    WRITE_ACTIONS,
    audit,
)
from policy_gen.audit.model import (
    ALL_STATUSES,
    ENCRYPT_DECRYPT,
    KEY_DISABLED,
    KEY_NOT_FOUND,
    KEY_NOT_SYMMETRIC,
    KEY_OTHER_REGION,
    KEY_PENDING_DELETION,
    KEY_UNREADABLE,
    LOGS_DENIED,
    OK,
    STATUS_ORDER,
    SYMMETRIC_SPEC,
    AuditReport,
    Fix,
    GroupResult,
    Issue,
    KeyFacts,
    LogGroup,
    key_region,
    kms_arn_parts,
    log_group_from_api,
)
from policy_gen.audit.org_model import OrgReport
from policy_gen.audit.org_scope import OrgOptions
from policy_gen.audit.output import CSV_COLUMNS, audit_json, summary_line, write_csv, write_text
from policy_gen.audit.progress import Progress

# Names of the modules that talk to AWS, resolved on first access.
_AWS_FACING: dict[str, str] = {
    **dict.fromkeys(
        (
            "DEFAULT_CONCURRENCY",
            "IDENTITY_CONFIG",
            "MAX_CONCURRENCY",
            "READ_ONLY_PREFIXES",
            "RETRY_CONFIG",
            "AuditOptions",
            "AwsFacts",
            "check_options",
            "new_session",
        ),
        "aws",
    ),
    **dict.fromkeys(("collect", "run", "run_cli"), "command"),
    "collect_org": "org_run",
}


def __getattr__(name: str) -> Any:
    module = _AWS_FACING.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_STATUSES",
    "CSV_COLUMNS",
    "DEFAULT_CONCURRENCY",
    "ENCRYPT_DECRYPT",
    "IDENTITY_CONFIG",
    "KEY_DISABLED",
    "KEY_NOT_FOUND",
    "KEY_NOT_SYMMETRIC",
    "KEY_OTHER_REGION",
    "KEY_PENDING_DELETION",
    "KEY_STATE_STATUS",
    "KEY_UNREADABLE",
    "LOGS_DENIED",
    "MAX_CONCURRENCY",
    "OK",
    "READ_ACTIONS",
    "READ_ONLY_PREFIXES",
    "RETRY_CONFIG",
    "STATUS_FINDINGS",
    "STATUS_ORDER",
    "SYMMETRIC_SPEC",
    "WRITE_ACTIONS",
    "AuditOptions",
    "AuditReport",
    "AwsFacts",
    "Fix",
    "GroupResult",
    "Issue",
    "KeyFacts",
    "LogGroup",
    "OrgOptions",
    "OrgReport",
    "Progress",
    "audit",
    "audit_json",
    "check_options",
    "collect",
    "collect_org",
    "key_region",
    "kms_arn_parts",
    "log_group_from_api",
    "new_session",
    "run",
    "run_cli",
    "suggest_fixes",
    "summary_line",
    "write_csv",
    "write_text",
]
