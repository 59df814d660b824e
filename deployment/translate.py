"""The SAM template as CloudFormation's Serverless transform would produce it:
the real SAM translator, fed the parameter values as SAM CLI itself reads them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3

from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION, emulator_session
from deployment.results import StepFailed
from policy_gen.partitions import partition_for_region

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
# What this kit uses of AWS::LanguageExtensions: a parameter Ref as DeletionPolicy or
# UpdateReplacePolicy (CloudFormation User Guide, "AWS::LanguageExtensions transform").
RESOURCE_POLICIES = ("DeletionPolicy", "UpdateReplacePolicy")


class TranslationError(Exception):
    """The template cannot be translated; the message says why, on one line."""


def translate(
    template: Mapping[str, Any],
    *,
    region: str,
    account: str | None = None,
    parameter_values: Mapping[str, str] | None = None,
    managed_policies: Callable[[], dict[str, str]] | None = None,
    session: boto3.session.Session | None = None,
) -> dict[str, Any]:
    """``template`` as CloudFormation's Serverless transform would produce it, for a
    stack in ``region`` (and ``account``, when known): the real SAM translator, given
    the parameter values and these pseudo parameters. A template without the
    Serverless transform comes back as it is.

    ``managed_policies`` maps AWS managed policy names to ARNs, asked for only when
    a function names one (default: none known). Used by the rehearsal and by
    scripts/transform_template.py (what checkov scans).
    """
    # The translator loads slowly; only the paths that translate need it.
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.public.exceptions import InvalidDocumentException  # noqa: PLC0415
    from samtranslator.translator.translator import Translator  # noqa: PLC0415

    declared = template.get("Transform") or []
    transforms = [declared] if isinstance(declared, str) else list(declared)
    others = [
        name for name in transforms if name not in (SERVERLESS_TRANSFORM, LANGUAGE_EXTENSIONS)
    ]
    if others:
        raise TranslationError(f"the template uses transforms that cannot run here: {others}")
    if not transforms:
        return dict(template)
    parameters: dict[str, Any] = dict(parameter_values or {})
    parameters.update({"AWS::Region": region, "AWS::Partition": partition_for_region(region).name})
    if account is not None:
        parameters["AWS::AccountId"] = account
    if LANGUAGE_EXTENSIONS in transforms:
        # The two things this kit uses the transform for: DeletionPolicy and
        # UpdateReplacePolicy from a parameter, and the !Ifs where SAM reads (both in
        # resolve_for_sam); CloudFormation (here: the emulator) decides the rest, as it
        # would after the whole transform.
        template = resolve_for_sam(template, parameters)
        if SERVERLESS_TRANSFORM not in transforms:
            return dict(template)
    # The translator asks its session for a region even when AWS::Region is given.
    session = session or boto3.session.Session(region_name=region)
    policies: dict[str, dict[str, str]] = {}

    def policy_map() -> dict[str, str]:
        if "map" not in policies:
            policies["map"] = dict(managed_policies()) if managed_policies else {}
        return policies["map"]

    try:
        translated = Translator(None, Parser(), boto_session=session).translate(
            copy.deepcopy(dict(template)),
            parameter_values=parameters,
            get_managed_policy_map=policy_map,
        )
    except InvalidDocumentException as error:
        causes = " ".join(str(cause) for cause in getattr(error, "causes", []))
        raise TranslationError(
            f"the SAM translator rejected the template: {error} {causes}"
        ) from None
    return dict(translated)


def expand_with_sam_cli(
    template: Mapping[str, Any], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """``template`` after the AWS::LanguageExtensions transform, as SAM CLI runs it
    locally (its own implementation, samcli.lib.cfn_language_extensions; check-template's
    policy_gen.foreach is a separate, dependency-free expansion of Fn::ForEach alone): conditions
    that depend only on parameters are decided and their ``Fn::If`` resolved, so the
    Serverless transform sees plain values. CloudFormation runs the same transform
    server-side at deploy time. The transform is removed from the result. Every
    property-level ``Fn::If`` is decided, so callers keep only what they need
    (:func:`resolve_for_sam`).

    Parameters the caller did not give take their template default, as CloudFormation
    would; a parameter without either stays unresolved (partial mode).
    """
    from samcli.lib.cfn_language_extensions.exceptions import (  # noqa: PLC0415
        InvalidTemplateException,
    )
    from samcli.lib.cfn_language_extensions.sam_integration import (  # noqa: PLC0415
        process_template_for_sam_cli,
    )

    values: dict[str, Any] = {
        name: spec["Default"]
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }
    values.update(parameters)
    # Policies first: SAM CLI's expansion refuses a parameter-driven DeletionPolicy on a
    # resource whose Condition is false (resolve_resource_policies says more).
    resolved = resolve_resource_policies(template, {k: str(v) for k, v in values.items()})
    try:
        expanded = process_template_for_sam_cli(resolved, parameter_values=values)
    except InvalidTemplateException as error:
        raise TranslationError(f"AWS::LanguageExtensions rejected the template: {error}") from None
    declared = expanded.get("Transform") or []
    remaining = [
        name
        for name in ([declared] if isinstance(declared, str) else list(declared))
        if name != LANGUAGE_EXTENSIONS
    ]
    if remaining:
        expanded["Transform"] = remaining[0] if len(remaining) == 1 else remaining
    else:
        expanded.pop("Transform", None)
    return dict(expanded)


# What the Serverless transform reads from a template that CloudFormation itself would
# otherwise resolve: (resource type, path under Properties). SAM resolves only parameter
# Refs in these, so their !Ifs must be gone before it runs.
SAM_READ_PROPERTIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWS::Serverless::Api", ("Auth",)),
)


def resolve_for_sam(
    template: Mapping[str, Any], parameters: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``template`` with AWS::LanguageExtensions applied only where the Serverless
    transform reads (each Serverless::Api's ``Auth``, each Api event's ``Auth``), for
    ``parameters`` (template defaults for the rest); every other ``Fn::If`` and every
    Condition stays, for CloudFormation (or policy_gen's resolver) to decide later.

    The scanners' and tests' view of the template: one translation whose conditions
    can still be evaluated for any parameter set, with the authorization of the
    AuthMode given. A deploy (and :func:`translate`) runs the whole transform instead;
    both give the Serverless transform the same Auth values.
    """
    declared = template.get("Transform") or []
    transforms = [declared] if isinstance(declared, str) else list(declared)
    if LANGUAGE_EXTENSIONS not in transforms:
        return copy.deepcopy(dict(template))
    # DeletionPolicy/UpdateReplacePolicy from parameters are decided too: SAM copies
    # them to what it generates, and no scanner reads an intrinsic there.
    result = resolve_resource_policies(template, {k: str(v) for k, v in (parameters or {}).items()})
    expanded = expand_with_sam_cli(result, dict(parameters or {}))
    for logical_id, resource in (result.get("Resources") or {}).items():
        done = (expanded.get("Resources") or {}).get(logical_id) or {}
        kind = resource.get("Type")
        for resource_type, path in SAM_READ_PROPERTIES:
            if kind == resource_type:
                _copy_path(done.get("Properties") or {}, resource.get("Properties") or {}, path)
        if kind == "AWS::Serverless::Function":
            events = (resource.get("Properties") or {}).get("Events") or {}
            done_events = (done.get("Properties") or {}).get("Events") or {}
            for name, event in events.items():
                if event.get("Type") == "Api":
                    _copy_path(
                        (done_events.get(name) or {}).get("Properties") or {},
                        event.get("Properties") or {},
                        ("Auth",),
                    )
    remaining = [name for name in transforms if name != LANGUAGE_EXTENSIONS]
    result["Transform"] = remaining[0] if len(remaining) == 1 else remaining
    return result


def _copy_path(source: Mapping[str, Any], target: dict[str, Any], path: tuple[str, ...]) -> None:
    *parents, last = path
    for key in parents:
        source = source.get(key) or {}
        target = target.setdefault(key, {})
    if last in source:
        target[last] = copy.deepcopy(source[last])
    else:
        target.pop(last, None)


def resolve_resource_policies(
    template: Mapping[str, Any], parameter_values: Mapping[str, str]
) -> dict[str, Any]:
    """What AWS::LanguageExtensions does to ``DeletionPolicy``/``UpdateReplacePolicy``
    written as ``{"Ref": Parameter}``: the parameter's value (given, else its Default).

    SAM CLI's own local expansion (:func:`expand_with_sam_cli`), in 1.170, turns
    the policy of a resource whose Condition is false into AWS::NoValue and then refuses
    it; so the policies are resolved here first, and the expansion sees plain values.
    Any other intrinsic there is refused: CloudFormation's transform alone knows it.
    """
    declared = template.get("Parameters") or {}
    resolved = copy.deepcopy(dict(template))
    for logical_id, resource in (resolved.get("Resources") or {}).items():
        for attribute in RESOURCE_POLICIES:
            value = resource.get(attribute) if isinstance(resource, dict) else None
            if value is None or isinstance(value, str):
                continue
            name = value.get("Ref") if isinstance(value, dict) and len(value) == 1 else None
            spec = declared.get(name) if isinstance(name, str) else None
            if isinstance(name, str) and name in parameter_values:
                resource[attribute] = str(parameter_values[name])
            elif isinstance(spec, Mapping) and "Default" in spec:
                resource[attribute] = str(spec["Default"])
            else:
                raise TranslationError(
                    f"{logical_id} {attribute} {value!r}: expected Delete/Retain/Snapshot or a "
                    "Ref to a parameter with a value"
                )
    return resolved


def load_sam_template(path: Path) -> dict[str, Any]:
    """A SAM template file (YAML with CloudFormation's short-form tags, or JSON)."""
    from samtranslator.yaml_helper import yaml_parse  # noqa: PLC0415

    return dict(yaml_parse(path.read_text(encoding="utf-8")))


def transform_template(
    packaged: Path,
    parameter_values: Mapping[str, str],
    endpoint_url: str | None,
    region: str = EMULATOR_REGION,
) -> dict[str, Any]:
    """The packaged template translated for the emulator stack: its account, the
    parameters as SAM CLI's own parser read them (``sam_project.overrides``),
    and AWS's managed policy list from the emulator's IAM."""
    from samtranslator.translator.managed_policy_translator import (  # noqa: PLC0415
        ManagedPolicyLoader,
    )

    session = emulator_session(region)
    iam: Any = session.client("iam", endpoint_url=endpoint_url)
    try:
        return translate(
            load_sam_template(packaged),
            region=region,
            account=EMULATOR_ACCOUNT,
            parameter_values=parameter_values,
            managed_policies=ManagedPolicyLoader(iam).load,
            session=session,
        )
    except TranslationError as error:
        raise StepFailed(str(error)) from None
