"""policy_gen's layering: the audit's pure judging never reaches for boto3 (so it is
tested, and read, without AWS). Cycles and sizes: tests/unit/test_layout.py."""

from __future__ import annotations

from tests.unit.import_graph import imports_of, product_modules

# The audit modules that decide and format: no AWS client, no AWS module.
PURE_AUDIT = ("model", "judge", "fixes", "output", "progress")
AWS_MODULES = ("boto3", "botocore", "policy_gen.audit.aws", "policy_gen.audit.command")


def test_the_pure_audit_modules_never_import_aws() -> None:
    modules = product_modules()
    known = set(modules) | {"boto3", "botocore"}
    for name in PURE_AUDIT:
        imported = imports_of(modules[f"policy_gen.audit.{name}"], known)
        reached = {i for i in imported if i.startswith(AWS_MODULES)}
        assert not reached, f"policy_gen.audit.{name} imports {sorted(reached)}"
