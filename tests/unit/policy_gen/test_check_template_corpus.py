"""The check-template corpus: templates written here in the shapes found in public
repositories (SAM apps, CloudFormation samples, CDK synth output, conditional encryption,
computed ARNs, nested stacks), each with its expected verdict and the AWS documentation
that decides it (``NAME.expected.json`` next to ``NAME.yaml``/``NAME.template.json``).

Every fixture runs through the real command line (``python -m policy_gen check-template``)
and must agree exactly: exit code and the (code, resource) of every finding. The text and
SARIF outputs must carry the same findings as the JSON one, and no fixture may exit 2:
each is a template CloudFormation accepts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from policy_gen.cli import main
from policy_gen.symbols import TOKEN

from .test_sarif import SARIF_VALIDATOR

ROOT = Path(__file__).resolve().parents[3]
CORPUS = ROOT / "tests" / "fixtures" / "check_template_corpus"
TEMPLATES = sorted(
    path for path in CORPUS.iterdir() if path.suffix in (".yaml", ".yml", ".json")
    and not path.name.endswith(".expected.json")
)  # fmt: skip


def expected_of(template: Path) -> dict[str, Any]:
    stem = template.name.removesuffix(".template.json").removesuffix(".yaml")
    data: dict[str, Any] = json.loads((CORPUS / f"{stem}.expected.json").read_text())
    return data


def test_the_corpus_has_at_least_25_templates_each_with_its_verdict() -> None:
    assert len(TEMPLATES) >= 25
    sidecars = sorted(CORPUS.glob("*.expected.json"))
    assert len(sidecars) == len(TEMPLATES)
    formats = Counter(path.suffix for path in TEMPLATES)
    assert formats[".yaml"] and formats[".json"]  # YAML and JSON alike
    for template in TEMPLATES:
        expected = expected_of(template)
        assert expected["pattern"].strip() and expected["reasoning"].strip(), template.name
        assert expected["exit_code"] in (0, 1), template.name  # never 2: CloudFormation accepts it


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_fixture_verdict_through_the_real_cli(template: Path) -> None:
    expected = expected_of(template)
    result = subprocess.run(
        [sys.executable, "-m", "policy_gen", "check-template", str(template),
         "--format", "json", *expected["args"]],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == expected["exit_code"], result.stdout + result.stderr
    report = json.loads(result.stdout)
    found = Counter((f["code"], f["resource"]) for f in report["findings"])
    assert found == Counter(tuple(pair) for pair in expected["findings"]), result.stdout
    for key in report["keys"]:
        # A key that is not checked always says why.
        assert key["valid"] is not None or key["not_checked"].strip()


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_text_and_sarif_carry_the_same_lines(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["check-template", str(template), *expected_of(template)["args"]]
    json_code = main([*args, "--format", "json"])
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert main([*args, "--format", "sarif"]) == json_code
    log = json.loads(capsys.readouterr().out)
    assert SARIF_VALIDATOR.is_valid(log)  # notes included: SARIF 2.1.0 level "note"
    results = log["runs"][0]["results"]
    assert Counter(
        (r["ruleId"], r["level"], r["locations"][0]["logicalLocations"][0]["name"]) for r in results
    ) == Counter((f["code"], f["severity"], f["resource"]) for f in findings)
    assert main(args) == json_code
    text = capsys.readouterr().out
    # Stand-in tokens are internal: every output shows <expression> instead.
    assert not TOKEN.search(text + json.dumps(log) + json.dumps(findings))
    for finding in findings:
        assert f"{finding['severity'].upper():<7} {finding['code']} [{finding['resource']}]" in text


def test_every_sarif_rule_is_documented_in_the_readme_and_every_corpus_code_has_a_rule() -> None:
    from policy_gen.sarif import RULES

    readme = (ROOT / "README.md").read_text()
    assert [code for code in RULES if f"`{code}`" not in readme] == []
    codes = {pair[0] for t in TEMPLATES for pair in expected_of(t)["findings"]}
    assert codes - set(RULES) == set()
