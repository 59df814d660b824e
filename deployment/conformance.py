"""The template's verdict on each Security Hub control, per environment, from the template.

Why computed, not written: a reviewer reads the README's conformance table as a claim
about what is deployed. Each verdict here comes from the template as CloudFormation
would create it for one samconfig environment: translated by the real SAM translator
with that environment's parameter values (``deployment.translate``), its Conditions
evaluated (``policy_gen.template.Resolver``), its key policy the one ``policy_gen render``
writes for it. A control that fails on a resource whose ``Metadata.AcceptedRisks`` names
it (for that environment) is ACCEPTED, with the recorded reason; any other failure is
FAIL. ``scripts/conformance.py`` writes the table; ``make lint`` fails when it is stale.

The rules decide what each control's AWS Config rule checks, as the Security Hub user
guide describes it (``deployment.controls`` cites the pages); where a template cannot
know (a key scheduled for deletion in the account), the verdict says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from deployment.controls import (
    CONTROLS,
    MIN_RETENTION_DAYS,
    SUPPORTED_PYTHON_RUNTIMES,
    Control,
)
from deployment.translate import load_sam_template, translate
from policy_gen.actions import action_matches
from policy_gen.environment import render_environment
from policy_gen.template import Resolver, Unresolved, template_references
from sam_project.samconfig import load_environment

# The account the table is computed for: verdicts do not depend on it.
ACCOUNT: Final = "123456789012"
PASS, FAIL, ACCEPTED, NOT_APPLICABLE, ACCOUNT_STATE = (
    "PASS",
    "FAIL",
    "ACCEPTED",
    "n/a",
    "account",
)
STAGE = "AWS::ApiGateway::Stage"
DECRYPT_ACTIONS = ("kms:Decrypt", "kms:ReEncryptFrom")


@dataclass(frozen=True)
class Outcome:
    """One resource's result for one control."""

    resource: str
    passed: bool
    detail: str = ""


@dataclass
class Context:
    """One environment's template, as CloudFormation would create it."""

    env: str  # EnvironmentSuffix: what AcceptedRisks' Environments name
    source: dict[str, Any]
    cfn: dict[str, Any]
    resolver: Resolver
    key_policy_findings: tuple[str, ...] = ()
    _created: dict[str, dict[str, Any]] = field(default_factory=dict)

    def created(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.cfn["Resources"].items():
            if resource.get("Type") in types and self.resolver.resource_enabled(resource):
                yield logical_id, resource

    def value(self, raw: Any) -> Any:
        """``raw`` resolved, with AWS::NoValue list items dropped (as CloudFormation does)."""
        result = self.resolver.resolve(raw)
        if isinstance(result, list):
            return [v for v in result if not _no_value(v)]
        return None if _no_value(result) else result

    def prop(self, resource: Mapping[str, Any], name: str) -> Any:
        return self.value((resource.get("Properties") or {}).get(name))


def _no_value(value: Any) -> bool:
    return isinstance(value, Unresolved) and value.expression == "AWS::NoValue"


Rule = Callable[[Context], "list[Outcome] | None"]  # None: decided by the account's state


def _stage_settings(ctx: Context, stage: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [s for s in ctx.prop(stage, "MethodSettings") or [] if isinstance(s, Mapping)]


def stage_execution_logging(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, stage in ctx.created(STAGE):
        levels = {str(s.get("LoggingLevel", "OFF")).upper() for s in _stage_settings(ctx, stage)}
        on = levels & {"ERROR", "INFO"}
        outcomes.append(Outcome(logical_id, bool(on), f"loggingLevel {'/'.join(sorted(levels))}"))
    return outcomes


def stage_client_certificate(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, ctx.prop(s, "ClientCertificateId") is not None) for i, s in ctx.created(STAGE)
    ]


def stage_tracing(ctx: Context) -> list[Outcome]:
    return [Outcome(i, ctx.prop(s, "TracingEnabled") is True) for i, s in ctx.created(STAGE)]


def stage_web_acl(ctx: Context) -> list[Outcome]:
    associated: set[str] = set()
    for _, association in ctx.created("AWS::WAFv2::WebACLAssociation"):
        associated |= template_references((association.get("Properties") or {}).get("ResourceArn"))
    return [Outcome(i, i in associated) for i, _ in ctx.created(STAGE)]


def stage_cache_encrypted(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, stage in ctx.created(STAGE):
        cached = [s for s in _stage_settings(ctx, stage) if s.get("CachingEnabled") is True]
        encrypted = all(s.get("CacheDataEncrypted") is True for s in cached)
        outcomes.append(Outcome(logical_id, encrypted, "no cache" if not cached else ""))
    return outcomes


def alarm_actions(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, bool(ctx.prop(a, "AlarmActions")))
        for i, a in ctx.created("AWS::CloudWatch::Alarm")
    ]


def alarm_actions_enabled(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, ctx.prop(a, "ActionsEnabled") is not False)
        for i, a in ctx.created("AWS::CloudWatch::Alarm")
    ]


def log_group_retention(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, group in ctx.created("AWS::Logs::LogGroup"):
        days = ctx.prop(group, "RetentionInDays")
        kept = days is None or (str(days).isdigit() and int(str(days)) >= MIN_RETENTION_DAYS)
        outcomes.append(Outcome(logical_id, kept, f"{days or 'never expires'} days"))
    return outcomes


def _statements(document: Any) -> list[Mapping[str, Any]]:
    statements = document.get("Statement") if isinstance(document, Mapping) else None
    if isinstance(statements, Mapping):
        statements = [statements]
    return [s for s in statements or [] if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def no_inline_decrypt_on_all_keys(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, role in ctx.created("AWS::IAM::Role"):
        broad = False
        for policy in ctx.prop(role, "Policies") or []:
            for statement in _statements(ctx.value(policy.get("PolicyDocument"))):
                actions = [str(a) for a in _as_list(statement.get("Action"))]
                decrypts = any(action_matches(a, d) for a in actions for d in DECRYPT_ACTIONS)
                everything = "*" in [str(r) for r in _as_list(statement.get("Resource"))]
                broad |= statement.get("Effect") == "Allow" and decrypts and everything
        outcomes.append(Outcome(logical_id, not broad))
    return outcomes


def account_state(_ctx: Context) -> None:
    return None


def key_rotation(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, ctx.prop(k, "EnableKeyRotation") is True)
        for i, k in ctx.created("AWS::KMS::Key")
    ]


def key_not_public(ctx: Context) -> list[Outcome]:
    public = "PUBLIC" in ctx.key_policy_findings
    return [
        Outcome(i, not public, "policy_gen validate on the rendered policy")
        for i, _ in ctx.created("AWS::KMS::Key")
    ]


def _functions(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    return list(ctx.created("AWS::Lambda::Function"))


def _public_principal(principal: Any) -> bool:
    if isinstance(principal, Mapping):
        return any(_public_principal(p) for v in principal.values() for p in _as_list(v))
    return isinstance(principal, str) and principal == "*"


def function_not_public(ctx: Context) -> list[Outcome]:
    public: set[str] = set()
    for _, permission in ctx.created("AWS::Lambda::Permission"):
        properties = permission.get("Properties") or {}
        if _public_principal(ctx.value(properties.get("Principal"))):
            public |= template_references(properties.get("FunctionName"))
    return [Outcome(i, i not in public) for i, _ in _functions(ctx)]


def function_runtime(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, ctx.prop(f, "Runtime") in SUPPORTED_PYTHON_RUNTIMES, str(ctx.prop(f, "Runtime")))
        for i, f in _functions(ctx)
    ]


def function_vpc(ctx: Context) -> list[Outcome]:
    return [Outcome(i, bool(ctx.prop(f, "VpcConfig"))) for i, f in _functions(ctx)]


def function_multi_az(ctx: Context) -> list[Outcome]:
    """Evaluates only functions connected to a VPC (the guide's scope)."""
    outcomes = []
    for logical_id, function in _functions(ctx):
        vpc = ctx.prop(function, "VpcConfig")
        if vpc:
            subnets = vpc.get("SubnetIds") if isinstance(vpc, Mapping) else None
            outcomes.append(Outcome(logical_id, isinstance(subnets, list) and len(subnets) > 1))
    return outcomes


def function_tracing(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, function in _functions(ctx):
        config = ctx.prop(function, "TracingConfig")
        mode = config.get("Mode") if isinstance(config, Mapping) else None
        outcomes.append(Outcome(logical_id, mode == "Active"))
    return outcomes


def user_pool_threat_protection(ctx: Context) -> list[Outcome]:
    """Cognito.1 with Security Hub's default parameter (SecurityMode ENFORCED)."""
    outcomes = []
    for logical_id, pool in ctx.created("AWS::Cognito::UserPool"):
        add_ons = ctx.prop(pool, "UserPoolAddOns")
        mode = add_ons.get("AdvancedSecurityMode") if isinstance(add_ons, Mapping) else None
        outcomes.append(Outcome(logical_id, mode == "ENFORCED"))
    return outcomes


def topic_encrypted(ctx: Context) -> list[Outcome]:
    return [
        Outcome(i, ctx.prop(t, "KmsMasterKeyId") is not None)
        for i, t in ctx.created("AWS::SNS::Topic")
    ]


def topic_policy_not_public(ctx: Context) -> list[Outcome]:
    public: set[str] = set()
    for _, policy in ctx.created("AWS::SNS::TopicPolicy"):
        properties = policy.get("Properties") or {}
        for statement in _statements(ctx.value(properties.get("PolicyDocument"))):
            if _public_principal(statement.get("Principal")) and not statement.get("Condition"):
                public |= template_references(properties.get("Topics"))
    return [Outcome(i, i not in public) for i, _ in ctx.created("AWS::SNS::Topic")]


def _web_acls(ctx: Context) -> list[tuple[str, dict[str, Any]]]:
    return list(ctx.created("AWS::WAFv2::WebACL"))


def web_acl_has_rules(ctx: Context) -> list[Outcome]:
    return [Outcome(i, bool(ctx.prop(w, "Rules"))) for i, w in _web_acls(ctx)]


def web_acl_logging(ctx: Context) -> list[Outcome]:
    logged: set[str] = set()
    for _, config in ctx.created("AWS::WAFv2::LoggingConfiguration"):
        logged |= template_references((config.get("Properties") or {}).get("ResourceArn"))
    return [Outcome(i, i in logged) for i, _ in _web_acls(ctx)]


def web_acl_metrics(ctx: Context) -> list[Outcome]:
    outcomes = []
    for logical_id, acl in _web_acls(ctx):
        configs = [ctx.prop(acl, "VisibilityConfig")]
        configs += [r.get("VisibilityConfig") for r in ctx.prop(acl, "Rules") or []]
        enabled = all(isinstance(c, Mapping) and c.get("CloudWatchMetricsEnabled") is True
                      for c in configs)  # fmt: skip
        outcomes.append(Outcome(logical_id, enabled))
    return outcomes


RULES: Final[dict[str, Rule]] = {
    rule.__name__: rule
    for rule in (
        stage_execution_logging,
        stage_client_certificate,
        stage_tracing,
        stage_web_acl,
        stage_cache_encrypted,
        alarm_actions,
        alarm_actions_enabled,
        log_group_retention,
        no_inline_decrypt_on_all_keys,
        account_state,
        key_rotation,
        key_not_public,
        function_not_public,
        function_runtime,
        function_vpc,
        function_multi_az,
        function_tracing,
        user_pool_threat_protection,
        topic_encrypted,
        topic_policy_not_public,
        web_acl_has_rules,
        web_acl_logging,
        web_acl_metrics,
    )
}


# --- accepted risks -----------------------------------------------------------------


def _owner(ctx: Context, logical_id: str) -> str:
    """Where a generated resource's acceptance is recorded: a SAM API's stage on the API."""
    resource = ctx.cfn["Resources"].get(logical_id, {})
    if resource.get("Type") == STAGE and logical_id not in ctx.source["Resources"]:
        owners = template_references((resource.get("Properties") or {}).get("RestApiId"))
        return next(iter(sorted(owners)), logical_id)
    return logical_id


def accepted_reason(ctx: Context, control: str, logical_id: str) -> str | None:
    """The reason recorded in the resource's ``Metadata.AcceptedRisks`` for ``control`` in
    this environment, if any."""
    resource = ctx.source["Resources"].get(_owner(ctx, logical_id)) or {}
    for entry in (resource.get("Metadata") or {}).get("AcceptedRisks") or []:
        if not isinstance(entry, Mapping) or entry.get("Control") != control:
            continue
        environments = entry.get("Environments")
        if environments is None or ctx.env in environments:
            return str(entry.get("Reason") or "").strip() or None
    return None


@dataclass(frozen=True)
class Verdict:
    control: Control
    status: str
    reasons: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()


def verdict(control: Control, ctx: Context) -> Verdict:
    outcomes = RULES[control.rule](ctx)
    if outcomes is None:
        return Verdict(control, ACCOUNT_STATE)
    if not outcomes:
        return Verdict(control, NOT_APPLICABLE)
    failing = [o.resource for o in outcomes if not o.passed]
    if not failing:
        return Verdict(control, PASS)
    reasons = [accepted_reason(ctx, control.control_id, r) for r in failing]
    if all(reasons):
        unique = tuple(dict.fromkeys(r for r in reasons if r))
        return Verdict(control, ACCEPTED, unique, tuple(failing))
    return Verdict(control, FAIL, (), tuple(failing))


# --- environments and the table --------------------------------------------------------


def environment_context(root: Path, config_env: str) -> Context:
    """The template as CloudFormation would create it for one samconfig environment."""
    config = root / "samconfig.toml"
    template = root / "template.yaml"
    rendered = render_environment(
        config_file=config, config_env=config_env, template=template, account=ACCOUNT
    )
    values = dict(load_environment(config, config_env).parameter_overrides)
    values.update(rendered.parameters)
    source = load_sam_template(template)
    for resource in source["Resources"].values():
        if resource.get("Type") == "AWS::Serverless::Function":  # no upload here
            resource.setdefault("Properties", {})["CodeUri"] = "s3://placeholder/code.zip"
    declared = source.get("Parameters") or {}
    values = {k: v for k, v in values.items() if k in declared}
    cfn = translate(source, region=rendered.region, account=ACCOUNT, parameter_values=values)
    resolver = Resolver.for_template(
        cfn,
        values,
        region=rendered.region,
        account=ACCOUNT,
        partition=rendered.partition.name,
        stack_name=rendered.stack_name,
    )
    env = str(values.get("EnvironmentSuffix") or resolver.ref("EnvironmentSuffix"))
    findings = tuple(f.code for f in rendered.report.findings)
    return Context(env, source, cfn, resolver, findings)


def table(contexts: Mapping[str, Context]) -> str:
    """The README table: one row per control, one verdict column per environment."""
    names = list(contexts)
    header = ["Control", "Title", "NIST SP 800-53 r5", *names, "Accepted risk (from Metadata)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for control in CONTROLS:
        verdicts = [verdict(control, contexts[name]) for name in names]
        reasons = list(dict.fromkeys(r for v in verdicts for r in v.reasons))
        accepted_in = {
            reason: [n for n, v in zip(names, verdicts, strict=True) if reason in v.reasons]
            for reason in reasons
        }
        notes = "; ".join(f"{'/'.join(accepted_in[r])}: {r}" for r in reasons)
        cells = [
            f"[{control.control_id}]({control.url})",
            control.title,
            ", ".join(control.nist) or "see the guide",
            *(_cell(v) for v in verdicts),
            notes.replace("|", "\\|"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(v: Verdict) -> str:
    if v.status == FAIL:
        return f"**FAIL** ({', '.join(v.failing)})"
    return v.status


def conformance_contexts(root: Path) -> dict[str, Context]:
    """dev (samconfig ``default``) and prod, labelled by their EnvironmentSuffix."""
    contexts = {}
    for config_env in ("default", "prod"):
        ctx = environment_context(root, config_env)
        contexts[ctx.env] = ctx
    return contexts
