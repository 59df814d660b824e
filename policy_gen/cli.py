"""Command line: the only module that reads arguments, files and the terminal.

Contract (scripts and CI depend on it):
  exit 0  success (render written, Allow, policy/template valid)
  exit 1  a deny, or a policy/template with errors (warnings too with --strict)
  exit 2  bad input: one line on stderr, no traceback, nothing written (with
          --format json, also {"error": ..., "exit_code": 2} on stdout)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from policy_gen import __version__
from policy_gen.partitions import resolve_partition
from sam_project.documents import parse_json
from sam_project.errors import OneLineArgumentParser, UserError
from sam_project.files import read_text_file, read_text_stream

# A KMS key policy is at most 32 KiB; anything far larger is not a policy.
MAX_POLICY_BYTES = 1_048_576
DEFAULT_CHECK_ACCOUNT = "123456789012"
DEFAULT_CHECK_REGION = "us-east-1"


# --- input helpers ---------------------------------------------------------------


def read_policy(source: str) -> object:
    """Read a JSON policy from a regular file or ``-`` (stdin), at most MAX_POLICY_BYTES.

    Repeated keys and NaN/Infinity are kept for the policy parser to report (MALFORMED):
    they are the policy's mistakes, not unreadable input.
    """
    label = "policy from stdin" if source == "-" else f"policy {source!r}"
    expected = "a JSON key policy (KMS allows 32 KiB)"
    if source == "-":
        text = read_text_stream(
            sys.stdin.buffer, limit=MAX_POLICY_BYTES, what=label, expected=expected
        )
    else:
        text = read_text_file(source, limit=MAX_POLICY_BYTES, what=label, expected=expected)
    if not text.strip():
        raise UserError(f"{label} is empty: expected a JSON object")
    document = parse_json(text, label)
    if not isinstance(document, dict):
        raise UserError(f"{label} is a JSON {type(document).__name__}: expected a JSON object")
    return document


def parse_context(items: Sequence[str]) -> dict[str, list[str]]:
    """``KEY=VALUE`` items; a key given twice becomes multi-valued."""
    context: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"invalid --context {item!r}: expected KEY=VALUE")
        context.setdefault(key.strip(), []).append(value)
    return context


# --- output helpers --------------------------------------------------------------


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2))


def _simulation_lines(report: Any) -> list[str]:
    lines = []
    for simulation in report.simulations:
        context = simulation.request.context.get("kms:EncryptionContext:aws:logs:arn")
        where = f" for {context[0]}" if context else ""
        verdict = "ok" if simulation.as_expected else "UNEXPECTED"
        matched = ",".join(simulation.result.matched) or "-"
        lines.append(
            f"  {simulation.result.decision:<12} {simulation.request.principal} "
            f"{simulation.request.action}{where} [statements: {matched}] "
            f"expected {simulation.expected}: {verdict}"
        )
    return lines


def _finding_lines(findings: Sequence[Any], resource_of: Any = None) -> list[str]:
    if not findings:
        return ["  none"]
    lines = []
    for item in findings:
        resource, finding = item if resource_of else (None, item)
        where = f" [{resource}]" if resource else ""
        statement = f" (statement {finding.statement})" if finding.statement else ""
        lines.append(
            f"  {finding.severity.upper():<7} {finding.code}{where}{statement}: {finding.message}"
        )
    return lines


def _summary(findings: Sequence[Any]) -> str:
    errors = sum(1 for f in findings if f.severity == "error")
    notes = sum(1 for f in findings if f.severity == "note")
    warnings = len(findings) - errors - notes
    verdict = "VALID" if errors == 0 else "INVALID"
    noted = f", {notes} note(s)" if notes else ""
    return f"Result: {verdict} ({errors} error(s), {warnings} warning(s){noted})"


# --- commands ----------------------------------------------------------------------


def cmd_simulate(args: argparse.Namespace) -> int:
    from policy_gen.evaluate import Request, evaluate, parse_policy, parse_principal

    document = read_policy(args.policy)
    principal = parse_principal(args.principal)
    action = args.action.strip()
    if ":" not in action or not all(action.split(":", 1)):
        raise UserError(
            f"invalid --action {args.action!r}: expected service:Action, e.g. kms:Decrypt"
        )
    request = Request(principal, action, parse_context(args.context), args.resource)
    result = evaluate(parse_policy(document), request)
    if args.format == "json":
        _print_json({"decision": result.decision, "matched": list(result.matched)})
    else:
        matched = ", ".join(result.matched) if result.matched else "no statement"
        print(f"{result.decision}: {principal} {action} (decided by {matched})")
    return 0 if result.decision == "Allow" else 1


def _target(args: argparse.Namespace) -> Any:
    from policy_gen.validate import Target

    partition = resolve_partition(args.partition, args.region, args.logs_principal)
    return Target.checked(partition, args.region, args.account, args.log_group)


def cmd_validate(args: argparse.Namespace) -> int:
    import dataclasses

    from policy_gen.publishers import PUBLISHERS
    from policy_gen.validate import validate

    document = read_policy(args.policy)
    target = _target(args)
    alarms = PUBLISHERS[0].service
    target = dataclasses.replace(
        target, topics=tuple((_topic_name(name), alarms) for name in args.alarm_topic)
    )
    report = validate(document, target)
    if args.strict:
        report = report.strict()
    if args.format == "sarif":
        _print_sarif([(None, finding) for finding in report.findings], args.policy)
    elif args.format == "json":
        _print_json(report.as_json())
    else:
        print(
            f"Key policy for {len(target.log_groups)} log group(s) in "
            f"{target.partition.name}/{target.region}/{target.account}; "
            f"Logs principal {target.logs_principal} ({target.partition.principal_source})"
        )
        print("Simulated requests:")
        print("\n".join(_simulation_lines(report)))
        print("Findings:")
        print("\n".join(_finding_lines(report.findings)))
        print(_summary(report.findings))
    return 0 if report.valid else 1


def _topic_name(value: str) -> str:
    """An SNS topic name (1-256 letters, digits, '-', '_'; '.fifo' at the end allowed)."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}(\.fifo)?", value):
        raise UserError(
            f"invalid --alarm-topic {value[:60]!r}: expected an SNS topic name "
            "(1-256 letters, digits, hyphens, underscores)"
        )
    return value


def cmd_explain(args: argparse.Namespace) -> int:
    from policy_gen.evaluate import parse_policy
    from policy_gen.explain import MATRIX_ACTIONS, access_matrix, render_table

    document = read_policy(args.policy)
    target = _target(args)
    rows = access_matrix(parse_policy(document), target)
    if args.format == "json":
        _print_json(
            {
                "actions": list(MATRIX_ACTIONS),
                "rows": [
                    {
                        "principal": row.principal,
                        "label": row.principal_label,
                        "log_group_arn": row.log_group_arn,
                        "decisions": list(row.decisions),
                    }
                    for row in rows
                ],
            }
        )
    else:
        print(
            f"Access matrix for {target.partition.name}/{target.region}/{target.account} "
            "(requests carry each log group's encryption context)"
        )
        print(render_table(rows))
    return 0


def cmd_check_template(args: argparse.Namespace) -> int:
    """Every template of the paths given, one report, the worst exit code."""
    from policy_gen.check_run import Place, run_check_template

    return run_check_template(args, Place(DEFAULT_CHECK_REGION, DEFAULT_CHECK_ACCOUNT))


def cmd_render(args: argparse.Namespace) -> int:
    from policy_gen.environment import default_output, render_environment

    rendered = render_environment(
        config_file=Path(args.config_file),
        config_env=args.config_env,
        template=args.template,
        stack_name=args.stack_name,
        region=args.region,
        account=args.account,
        partition=args.partition,
        logs_principal=args.logs_principal,
        key=args.key,
        parameter_overrides=args.parameter_overrides,
    )
    if not rendered.valid:
        sys.stderr.write("render: refusing to write a policy that fails validation:\n")
        sys.stderr.write("\n".join(_finding_lines(rendered.report.findings)) + "\n")
        return 1
    summary = [
        f"Rendered the key policy of {rendered.key_logical_id} for stack {rendered.stack_name} "
        f"in {rendered.partition.name}/{rendered.region}/{rendered.account}",
        f"  Logs principal: {rendered.logs_principal} ({rendered.partition.principal_source})",
        *(f"  log group: {name}" for name in rendered.log_groups),
        *(
            f"  SNS topic: {arn} (publishers: {', '.join(services)})"
            for arn, services in rendered.topics
        ),
        f"  validation: {_summary(rendered.report.findings).removeprefix('Result: ')}; "
        f"parameter size {rendered.parameter_bytes}/4096 bytes",
    ]
    if args.out == "-":
        _print_json(rendered.policy)
        sys.stderr.write("\n".join(summary) + "\n")
        return 0
    path = Path(args.out) if args.out else default_output(args.config_env)
    rendered.write(path)
    if args.format == "json":
        _print_json(
            {
                "written": str(path),
                "policy": rendered.policy,
                "stack_name": rendered.stack_name,
                "region": rendered.region,
                "account": rendered.account,
                "log_groups": list(rendered.log_groups),
            }
        )
    else:
        print("\n".join([*summary, f"  written to {path}"]))
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from policy_gen.audit.command import run_cli

    return run_cli(args)


# --- parser -------------------------------------------------------------------------


def _add_format(parser: argparse.ArgumentParser, *, sarif: bool = False) -> None:
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif") if sarif else ("text", "json"),
        default="text",
        help="text (default, for people) or json (for scripts)"
        + (", or sarif (SARIF 2.1.0 for code scanning)" if sarif else ""),
    )


def _print_sarif(findings: Sequence[tuple[str | None, Any]], source: str) -> None:
    """A policy's findings as SARIF 2.1.0, each at its statement's line in ``source``
    (``-``: stdin, no location)."""
    from policy_gen.locations import Locator
    from policy_gen.sarif import sarif_log

    if source == "-":
        _print_json(sarif_log(findings, None, lambda resource, finding: None))
        return
    try:
        locator = Locator.of_text(Path(source).read_text(encoding="utf-8", errors="replace"))
    except OSError:
        locator = Locator(None)
    _print_json(
        sarif_log(findings, source, lambda _, finding: locator.statement(finding.statement))
    )


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--policy", required=True, help="policy JSON file, or - for stdin")
    parser.add_argument(
        "--partition",
        help="aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b (default: the region's partition)",
    )
    parser.add_argument("--region", required=True, help="the key's region, e.g. eu-west-1")
    parser.add_argument("--account", required=True, help="the key's 12-digit account id")
    parser.add_argument(
        "--log-group",
        action="append",
        required=True,
        metavar="NAME",
        help="a log group the key must serve (repeat for several)",
    )
    parser.add_argument("--logs-principal", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="policy_gen",
        description=(
            "Render, prove and inject the KMS key policy that lets CloudWatch Logs encrypt "
            "exactly your log groups. Exit codes: 0 ok, 1 denied/invalid, 2 bad input."
        ),
    )
    parser.add_argument("--version", action="version", version=f"policy_gen {__version__}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=OneLineArgumentParser
    )

    render = commands.add_parser(
        "render",
        help="render the key policy for an environment and write the SAM parameter file",
        description=(
            "Render the key policy for the log groups the template encrypts, for one stack, "
            "account and region; validate it; write it (with the account and region it was "
            "rendered for) as a SAM parameter file that samconfig.toml pulls in with "
            "file://params/ENV.yaml. Values not given come from samconfig.toml."
        ),
    )
    render.add_argument(
        "--template", default="template.yaml", help="SAM template (default: template.yaml)"
    )
    render.add_argument(
        "--config-file", default="samconfig.toml", help="SAM config (default: samconfig.toml)"
    )
    render.add_argument(
        "--config-env", default="default", help="samconfig environment (default: default)"
    )
    render.add_argument("--stack-name", help="stack name (default: from samconfig)")
    render.add_argument("--region", help="region (default: samconfig, then AWS_REGION)")
    render.add_argument("--partition", help="partition (default: the region's)")
    render.add_argument("--account", help="12-digit account id (default: STS GetCallerIdentity)")
    render.add_argument("--logs-principal", help="Logs principal for a partition the table lacks")
    render.add_argument("--key", help="logical id of the key, when the template has several")
    render.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="K=V",
        help="template parameter values (on top of samconfig's)",
    )
    render.add_argument(
        "--out",
        help="output: .yaml SAM parameter file (default params/ENV.yaml), "
        ".json policy document, or - for the policy on stdout",
    )
    _add_format(render)
    render.set_defaults(handler=cmd_render)

    simulate = commands.add_parser(
        "simulate",
        help="decide one request against a key policy as KMS would",
        description="Decide one request against a key policy alone. Exit 0 Allow, 1 deny.",
    )
    simulate.add_argument("--policy", required=True, help="policy JSON file, or - for stdin")
    simulate.add_argument(
        "--principal",
        required=True,
        help="service principal (logs.eu-west-1.amazonaws.com), ARN, account id, or * (anonymous)",
    )
    simulate.add_argument("--action", required=True, help="e.g. kms:GenerateDataKey")
    simulate.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="request context; repeat a key for several values",
    )
    simulate.add_argument(
        "--resource", help="the key ARN (default: the key the policy is attached to)"
    )
    _add_format(simulate)
    simulate.set_defaults(handler=cmd_simulate)

    validate = commands.add_parser(
        "validate",
        help="prove a key policy right for CloudWatch Logs",
        description=(
            "Simulate the requests that matter (Logs for each log group, Logs for look-alike "
            "and other accounts' groups, the root's PutKeyPolicy, outsiders) and report "
            "findings with stable codes. Exit 0 no errors, 1 errors."
        ),
    )
    _add_target(validate)
    validate.add_argument(
        "--alarm-topic",
        action="append",
        default=[],
        metavar="NAME",
        help="an SNS topic of this account and region, encrypted with the key, that "
        "CloudWatch alarms publish to (repeatable): cloudwatch.amazonaws.com must be able "
        "to use the key for it",
    )
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    _add_format(validate, sarif=True)
    validate.set_defaults(handler=cmd_validate)

    explain = commands.add_parser(
        "explain",
        help="print the access matrix of a key policy",
        description="Principals x actions x log groups -> decision, as a table.",
    )
    _add_target(explain)
    _add_format(explain)
    explain.set_defaults(handler=cmd_explain)

    check = commands.add_parser(
        "check-template",
        help="check every key and log group of a SAM/CloudFormation template",
        description=(
            "Find every KMS key, its policy (inline or via a parameter) and the log groups "
            "encrypted with it; validate each key; report template mistakes. "
            "Exit 0 valid, 1 findings with errors."
        ),
    )
    check.add_argument(
        "template",
        nargs="+",
        metavar="PATH",
        help="template files, directories (searched for *.yaml, *.yml, *.json and *.template "
        "files that are CloudFormation/SAM templates; in a CDK cdk.out, *.template.json) or "
        "quoted glob patterns such as 'templates/**/*.yaml'; one combined report",
    )
    check.add_argument(
        "--region",
        help=f"deployment region (default: PolicyRegion parameter, else {DEFAULT_CHECK_REGION})",
    )
    check.add_argument(
        "--account",
        help=f"deployment account (default: PolicyAccountId parameter, else {DEFAULT_CHECK_ACCOUNT})",
    )
    check.add_argument("--partition", help="partition (default: the region's)")
    check.add_argument(
        "--stack-name", default="secure-api-dev", help="stack name (default: secure-api-dev)"
    )
    check.add_argument("--logs-principal", help=argparse.SUPPRESS)
    check.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="K=V",
        help="parameter values, or file://params/ENV.yaml",
    )
    check.add_argument(
        "--external-log-group",
        action="append",
        default=[],
        metavar="NAME",
        help="a log group another stack creates (repeatable): a function logging there gets "
        "a 'not checked' note instead of a finding",
    )
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.add_argument(
        "--severity",
        action="append",
        default=[],
        metavar="CODE=LEVEL",
        help="set a finding code's severity: error, warning, note (reported, never fails) "
        "or off (not counted, still listed as ignored); repeatable; wins over the config file",
    )
    check.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: the nearest .policy-gen.toml, or pyproject.toml with "
        "[tool.policy-gen], from the current directory up to the repository root)",
    )
    check.add_argument("--no-config", action="store_true", help="read no config file")
    check.add_argument(
        "--skip-non-templates",
        action="store_true",
        help="skip a named file that is not a CloudFormation template (with a note) instead "
        "of refusing it; for tools that pass every changed file, such as pre-commit",
    )
    _add_format(check, sarif=True)
    check.set_defaults(handler=cmd_check_template)

    audit = commands.add_parser(
        "audit",
        help="find log groups whose KMS key would block CloudWatch Logs (read-only)",
        description=(
            "List every log group with a KMS key, look up each distinct key once "
            "(DescribeKey, GetKeyPolicy) and simulate whether the region's CloudWatch Logs "
            "principal may use it. Makes only Describe/Get/List calls (and sts:AssumeRole with "
            "--organization). Exit 0 nothing broken "
            "(warnings allowed), 1 something broken, 2 bad input."
        ),
    )
    audit.add_argument(
        "--region",
        action="extend",
        nargs="+",
        metavar="R",
        help="region(s) to audit, repeatable (default: the profile's or AWS_REGION); with "
        "--organization, 'all' means every region enabled in each account",
    )
    audit.add_argument("--profile", help="AWS profile (default: the environment's credentials)")
    audit.add_argument(
        "--log-group-prefix", metavar="P", help="only log groups whose name starts with P"
    )
    audit.add_argument(
        "--format",
        choices=("text", "json", "csv"),
        default="text",
        help="text (default), json, or csv (one row per log group)",
    )
    audit.add_argument(
        "--suggest-fix",
        action="store_true",
        help="print the Logs statement that would fix each broken key (changes nothing)",
    )
    audit.add_argument(
        "--concurrency",
        type=int,
        default=8,
        metavar="N",
        help="parallel key look-ups; with --organization, AWS calls in flight across all "
        "accounts and regions (default 8)",
    )
    audit.add_argument("--endpoint-url", help=argparse.SUPPRESS)
    org = audit.add_argument_group(
        "organization",
        "Audit every active account of an AWS Organization: list them (ListAccounts, from "
        "the management account or a delegated administrator), assume --role-name in each "
        "(audit-role/member-role.yaml, deployable with StackSets) and audit each region. "
        "An account whose role cannot be assumed, or a region it has not enabled, is "
        "reported as such and the run goes on. Exit 1 also when an account or region "
        "could not be audited.",
    )
    org.add_argument(
        "--organization", action="store_true", help="audit the organization's member accounts"
    )
    org.add_argument("--role-name", metavar="ROLE", help="the role to assume in each account")
    org.add_argument(
        "--external-id", metavar="ID", help="sts:ExternalId, if the role's trust policy asks one"
    )
    org.add_argument(
        "--accounts", action="extend", nargs="+", metavar="ID", help="only these account ids"
    )
    org.add_argument(
        "--exclude-accounts",
        action="extend",
        nargs="+",
        metavar="ID",
        help="skip these account ids",
    )
    org.add_argument(
        "--state",
        metavar="FILE",
        help="record finished account-regions in FILE; run again with the same options "
        "to resume where an interrupted run stopped (failures are retried)",
    )
    audit.set_defaults(handler=cmd_audit)
    return parser


def _wants_json(argv: Sequence[str]) -> bool:
    """Whether the command line asks for JSON output (read before argparse accepts it)."""
    pairs = zip(argv, [*argv[1:], ""], strict=True)
    return "--format=json" in argv or any(a == "--format" and b == "json" for a, b in pairs)


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse; a usage error asked for in JSON also answers in JSON on stdout."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            return parser.parse_args(argv)
    except SystemExit as exit_:
        if exit_.code == 2 and _wants_json(argv):
            _print_json({"error": errors.getvalue().strip(), "exit_code": 2})
        raise
    finally:
        sys.stderr.write(errors.getvalue())


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args))
    except UserError as error:
        sys.stderr.write(f"policy_gen {args.command}: error: {error}\n")
        if getattr(args, "format", None) == "json":
            # Scripts reading stdout get a JSON answer on bad input too.
            _print_json({"error": str(error), "exit_code": 2})
        return 2
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
