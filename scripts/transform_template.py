"""Write template.yaml as CloudFormation sees it: transformed by the real SAM translator.

Scanners (checkov) and reviewers see the resources SAM generates (stage, usage
plan, permissions), not only the shorthand. Like `sam validate`, the code location
is a placeholder S3 URI and managed policies are not looked up (none are used).

usage: python scripts/transform_template.py [TEMPLATE] [OUTPUT]
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class _NoManagedPolicies:
    def load(self) -> dict[str, str]:
        return {}


def transformed(template_path: Path, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The SAM translation of ``template_path``; AWS::LanguageExtensions resolves what
    SAM reads (the Api's Auth) for ``parameters`` (defaults: the template's), every other
    condition stays in the output (deployment.translate.resolve_for_sam)."""
    repo = str(Path(__file__).resolve().parents[1])
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from deployment.translate import resolve_for_sam  # noqa: PLC0415 - needs repo on sys.path

    template = resolve_for_sam(yaml_parse(template_path.read_text(encoding="utf-8")), parameters)
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://placeholder-bucket/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    output = dict(transform(json.loads(json.dumps(template)), {}, _NoManagedPolicies()))
    _carry_scanner_skips(template, output)
    return output


def _carry_scanner_skips(source: dict[str, Any], output: dict[str, Any]) -> None:
    """Give an API's generated stage the checkov skips reviewed on the API.

    SAM copies a function's Metadata to the function it generates, but not an
    API's to the stage it generates; without this the reviewed reason would be
    lost and the scan of the transformed template would disagree with the scan
    of the source. Only the `checkov` entry is carried, only to stages of that API.
    """
    for logical_id, resource in source.get("Resources", {}).items():
        skips = (resource.get("Metadata") or {}).get("checkov")
        if resource.get("Type") != "AWS::Serverless::Api" or not skips:
            continue
        for generated in output["Resources"].values():
            if generated["Type"] == "AWS::ApiGateway::Stage" and generated["Properties"].get(
                "RestApiId"
            ) == {"Ref": logical_id}:
                generated.setdefault("Metadata", {})["checkov"] = skips


def main(argv: list[str]) -> int:
    source = Path(argv[1] if len(argv) > 1 else "template.yaml")
    target = Path(argv[2] if len(argv) > 2 else "build/transformed.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(json.dumps(transformed(source), indent=2) + "\n", encoding="utf-8")
    temp.replace(target)
    print(f"transformed {source} -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
