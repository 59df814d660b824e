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


def test_importing_the_pure_audit_does_not_load_boto3() -> None:
    """The package's own ``__init__`` must not pull boto3 in through its re-exports,
    yet every AWS-facing name stays reachable as ``policy_gen.audit.NAME``."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import policy_gen.audit.judge, policy_gen.audit.output, policy_gen.audit.fixes\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 loaded'\n"
        "import policy_gen.audit as audit\n"
        "assert callable(audit.run_cli) and callable(audit.collect_org)\n"
        "assert audit.AwsFacts.__module__ == 'policy_gen.audit.aws'\n"
        "try:\n"
        "    audit.no_such_name\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('unknown names must raise AttributeError')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
