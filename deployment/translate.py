"""The SAM template as CloudFormation's Serverless transform would produce it:
the real SAM translator, fed the parameter values as SAM CLI itself reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from deployment.emulator import EMULATOR_ACCOUNT, EMULATOR_REGION, emulator_session
from deployment.results import StepFailed
from policy_gen.partitions import partition_for_region

SERVERLESS_TRANSFORM = "AWS::Serverless-2016-10-31"


def read_parameter_overrides(parameter_overrides: Sequence[str]) -> dict[str, str]:
    """The parameter values exactly as SAM CLI reads ``--parameter-overrides``
    (its own parser: ``file://`` files, unquoting and all)."""
    from samcli.cli.types import CfnParameterOverridesType  # noqa: PLC0415 -- slow import

    try:
        values = CfnParameterOverridesType().convert(list(parameter_overrides), None, None)
    except Exception as error:  # click raises BadParameter/UsageError for a bad file
        raise StepFailed(f"SAM could not read the parameter overrides: {error}") from None
    return {str(key): str(value) for key, value in values.items()}


def transform_template(
    packaged: Path,
    parameter_values: Mapping[str, str],
    endpoint_url: str | None,
    region: str = EMULATOR_REGION,
) -> dict[str, Any]:
    """The packaged SAM template as CloudFormation's Serverless transform would
    produce it: the real SAM translator, fed the parameters as SAM CLI's own
    parser read them (``read_parameter_overrides``)."""
    # SAM CLI and the translator load slowly; only the emulator path needs them.
    from samcli.yamlhelper import yaml_parse  # noqa: PLC0415
    from samtranslator.parser.parser import Parser  # noqa: PLC0415
    from samtranslator.public.exceptions import InvalidDocumentException  # noqa: PLC0415
    from samtranslator.translator.managed_policy_translator import (  # noqa: PLC0415
        ManagedPolicyLoader,
    )
    from samtranslator.translator.translator import Translator  # noqa: PLC0415

    template = yaml_parse(packaged.read_text(encoding="utf-8"))
    declared = template.get("Transform") or []
    transforms = [declared] if isinstance(declared, str) else list(declared)
    others = [name for name in transforms if name != SERVERLESS_TRANSFORM]
    if others:
        raise StepFailed(f"the template uses transforms the rehearsal cannot run: {others}")
    if not transforms:
        return dict(template)
    parameters: dict[str, Any] = dict(parameter_values)
    parameters.update(
        {
            "AWS::Region": region,
            "AWS::Partition": partition_for_region(region).name,
            "AWS::AccountId": EMULATOR_ACCOUNT,
        }
    )
    session = emulator_session(region)
    iam: Any = session.client("iam", endpoint_url=endpoint_url)
    loader = ManagedPolicyLoader(iam)
    policies: dict[str, dict[str, str]] = {}

    def managed_policies() -> dict[str, str]:
        # Called only when a function names managed policies; the emulator's IAM
        # carries AWS's managed policy list.
        if "map" not in policies:
            policies["map"] = dict(loader.load())
        return policies["map"]

    try:
        translated = Translator(None, Parser(), boto_session=session).translate(
            template, parameter_values=parameters, get_managed_policy_map=managed_policies
        )
    except InvalidDocumentException as error:
        causes = " ".join(str(cause) for cause in getattr(error, "causes", []))
        raise StepFailed(f"the SAM translator rejected the template: {error} {causes}") from None
    return dict(translated)
