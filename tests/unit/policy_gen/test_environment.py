"""render_environment: the in-process form of `policy_gen render`, same result as the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from policy_gen.environment import default_output, render_environment
from sam_project.errors import UserError
from tests.unit.policy_gen.test_cli import ACCOUNT, ROOT, run

SAMCONFIG = ROOT / "samconfig.toml"
TEMPLATE = ROOT / "template.yaml"


def test_in_process_render_writes_what_the_cli_writes(tmp_path: Path) -> None:
    by_cli = tmp_path / "cli.yaml"
    result = run("render", "--config-env", "prod", "--account", ACCOUNT, "--out", str(by_cli))
    assert result.returncode == 0, result.stderr

    rendered = render_environment(
        config_file=SAMCONFIG, config_env="prod", template=TEMPLATE, account=ACCOUNT
    )
    in_process = tmp_path / "in-process.yaml"
    rendered.write(in_process)

    assert in_process.read_text() == by_cli.read_text()
    assert rendered.valid
    assert rendered.stack_name == "secure-api-prod" and rendered.region == "us-east-1"
    assert sorted(rendered.log_groups) == [
        "/secure-api-prod/api-access",
        "/secure-api-prod/api-execution",
        "/secure-api-prod/function",
        "aws-waf-logs-secure-api-prod",
    ]
    params = yaml.safe_load(in_process.read_text())
    assert params == rendered.parameters
    assert json.loads(params["KeyPolicy"]) == rendered.policy
    assert params["PolicyAccountId"] == ACCOUNT


def test_arguments_win_over_samconfig_and_follow_the_stack_name() -> None:
    rendered = render_environment(
        config_file=SAMCONFIG,
        template=TEMPLATE,
        account=ACCOUNT,
        region="ap-southeast-2",
        stack_name="renamed",
        parameter_overrides=["EnvironmentSuffix=test", "NotATemplateParameter=ignored"],
    )
    assert rendered.region == "ap-southeast-2"
    assert rendered.logs_principal == "logs.ap-southeast-2.amazonaws.com"
    assert all(
        name.startswith("/renamed/") or name == "aws-waf-logs-renamed"
        for name in rendered.log_groups
    )
    assert default_output("prod") == Path("params/prod.yaml")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"config_env": "nope"}, "unknown config env 'nope'"),
        ({"account": "12345"}, "12345"),
        ({"region": "mars-1"}, "mars-1"),
        ({"key": "NoSuchKey"}, "no log group encrypted"),
        ({"parameter_overrides": ["novalue"]}, "not a valid format"),
        ({"config_file": Path("/nonexistent/samconfig.toml")}, "no such file"),
    ],
)
def test_bad_input_is_one_user_error(kwargs: dict[str, object], fragment: str) -> None:
    arguments: dict[str, object] = {
        "config_file": SAMCONFIG,
        "template": TEMPLATE,
        "account": ACCOUNT,
        **kwargs,
    }
    with pytest.raises(UserError, match=fragment) as caught:
        render_environment(**arguments)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)
