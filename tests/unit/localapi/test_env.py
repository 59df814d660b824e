"""The function's environment: SAM's resolution plus Lambda's variables, minus the host's secrets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from localapi.runtime import LocalApiError
from localapi.server import (
    ProcessServer,
    ServeOptions,
    check_host,
    load_env_vars,
    samconfig_parameters,
)
from sam_project.errors import UserError
from sam_project.overrides import parse_parameter_overrides

from .conftest import FIXTURE_CODE, FIXTURE_TEMPLATE


def worker_env(
    *,
    parameter_overrides: dict[str, str] | None = None,
    env_vars: dict[str, Any] | None = None,
    region: str = "eu-central-1",
) -> dict[str, str]:
    opts = ServeOptions(
        template=FIXTURE_TEMPLATE,
        parameter_overrides=parameter_overrides or {},
        env_vars=env_vars or {},
        region=region,
    )
    server = ProcessServer(opts)
    server.load()
    spec = server.worker_spec(server.function_config("FixtureFunction"))
    assert spec.code_dir == FIXTURE_CODE
    assert spec.timeout_s == 2.0
    return dict(spec.env)


@pytest.fixture(autouse=True)
def hostile_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real-looking credentials in the shell must never reach the function."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALREALREAL")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "real-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.delenv("FROM_SHELL", raising=False)


def test_template_variables_resolved_with_parameter_defaults() -> None:
    env = worker_env()
    assert env["STAGE"] == "local"  # !Ref Stage, the parameter's default
    assert env["GREETING"] == "hello"
    assert env["POWERTOOLS_SERVICE_NAME"] == "fixture"


def test_parameter_overrides_reach_the_environment() -> None:
    assert worker_env(parameter_overrides={"Stage": "itest"})["STAGE"] == "itest"


def test_lambda_standard_variables() -> None:
    env = worker_env(region="eu-central-1")
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "FixtureFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "2"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "aws/lambda/FixtureFunction"
    assert env["_HANDLER"] == "app.handler"
    assert env["LAMBDA_TASK_ROOT"] == str(FIXTURE_CODE)
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["AWS_SAM_LOCAL"] == "true"


def test_placeholder_credentials_only_and_no_aws_config_files() -> None:
    env = worker_env()
    assert env["AWS_ACCESS_KEY_ID"] == "defaultkey"
    assert env["AWS_SECRET_ACCESS_KEY"] == "defaultsecret"
    assert "AWS_SESSION_TOKEN" not in env
    assert "AWS_PROFILE" not in env
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"] == "/dev/null"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"


def test_tracing_is_off_locally() -> None:
    env = worker_env()
    assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["AWS_XRAY_SDK_ENABLED"] == "false"


def test_env_vars_file_in_sams_format(monkeypatch: pytest.MonkeyPatch) -> None:
    env = worker_env(
        env_vars={
            "Parameters": {"GREETING": "from-parameters", "STAGE": "from-parameters"},
            "FixtureFunction": {"GREETING": "from-function-section"},
            "OtherFunction": {"STAGE": "not-for-us"},
        }
    )
    # Function section beats Parameters, Parameters beats the template.
    assert env["GREETING"] == "from-function-section"
    assert env["STAGE"] == "from-parameters"


def test_shell_values_override_template_defaults_like_sam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_SHELL", "shell-value")
    assert worker_env()["FROM_SHELL"] == "shell-value"


def test_user_can_turn_tracing_back_on_explicitly() -> None:
    """The --env-vars file is the way to undo a local default, declared in the template or not."""
    env = worker_env(env_vars={"FixtureFunction": {"POWERTOOLS_TRACE_DISABLED": "false"}})
    assert env["POWERTOOLS_TRACE_DISABLED"] == "false"


def test_parameter_overrides_use_sams_syntax(tmp_path: Path) -> None:
    """Same syntax as `sam --parameter-overrides`, file:// included: serve reads them with
    the kit's one parser (sam_project.overrides, contract-tested against SAM CLI's)."""
    params = tmp_path / "params.yaml"
    params.write_text("Stage: from-file\nOther: 1\n")
    assert parse_parameter_overrides(
        ["A=1", "B=x=y", 'ParameterKey=C,ParameterValue="a b"', f"file://{params}"]
    ) == {"A": "1", "B": "x=y", "C": "a b", "Stage": "from-file", "Other": "1"}
    with pytest.raises(UserError, match="not a valid format"):
        parse_parameter_overrides(["novalue"])
    with pytest.raises(UserError, match="was not found"):
        parse_parameter_overrides([f"file://{tmp_path / 'missing.yaml'}"])


def test_samconfig_parameters_like_sam_local_start_api(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text(
        "version = 0.1\n"
        "[default.global.parameters]\n"
        'region = "eu-north-1"\n'
        'parameter_overrides = ["Stage=from-global"]\n'
        "[default.local_start_api.parameters]\n"
        'warm_containers = "EAGER"\n'
        "[prod.global.parameters]\n"
        'parameter_overrides = ["Stage=prod"]\n'
    )
    found = samconfig_parameters(config, "default", explicit=True)
    assert found["region"] == "eu-north-1"
    assert parse_parameter_overrides(found["parameter_overrides"]) == {"Stage": "from-global"}
    assert samconfig_parameters(config, "prod", explicit=True)["parameter_overrides"] == [
        "Stage=prod"
    ]
    assert samconfig_parameters(tmp_path / "none.toml", "default", explicit=False) == {}
    with pytest.raises(LocalApiError, match="not found"):
        samconfig_parameters(tmp_path / "none.toml", "default", explicit=True)


def test_env_vars_file_errors_are_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "env.json"
    bad.write_text("{not json")
    with pytest.raises(LocalApiError, match="not valid JSON"):
        load_env_vars(bad)
    bad.write_text(json.dumps({"FixtureFunction": "oops"}))
    with pytest.raises(LocalApiError, match="must map to an object"):
        load_env_vars(bad)
    bad.write_text(json.dumps(["a"]))
    with pytest.raises(LocalApiError, match="must be a JSON object"):
        load_env_vars(bad)
    with pytest.raises(LocalApiError, match="not found"):
        load_env_vars(tmp_path / "missing.json")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])  # noqa: S104
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(LocalApiError):
        check_host(host)


def test_loopback_hosts_are_accepted() -> None:
    assert check_host("127.0.0.1") == "127.0.0.1"
    assert check_host("localhost") == "127.0.0.1"
    assert check_host("::1") == "::1"


def test_env_vars_file_that_never_ends_or_is_huge_is_refused_in_one_line(tmp_path: Path) -> None:
    """A FIFO, /dev/zero or a huge file must not hang or exhaust the local API at start."""
    fifo = tmp_path / "env.fifo"
    os.mkfifo(fifo)
    with pytest.raises(LocalApiError, match="env.fifo.*not a regular file|env.fifo.*regular"):
        load_env_vars(fifo)
    with pytest.raises(LocalApiError, match="/dev/zero"):
        load_env_vars(Path("/dev/zero"))
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: nothing is written
    with pytest.raises(LocalApiError, match="larger than"):
        load_env_vars(huge)
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes(b'{"F": {"V": "caf\xe9"}}')
    with pytest.raises(LocalApiError, match="latin1.json") as raised:
        load_env_vars(latin1)
    assert "\n" not in str(raised.value)
