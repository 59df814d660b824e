"""samconfig.toml reading: the same values SAM CLI sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam_project.errors import UserError
from sam_project.overrides import split_overrides
from sam_project.samconfig import command_settings, load_environment

ROOT = Path(__file__).resolve().parents[3]


def test_project_samconfig_environments() -> None:
    dev = load_environment(ROOT / "samconfig.toml", "default")
    prod = load_environment(ROOT / "samconfig.toml", "prod")
    assert dev.stack_name == "secure-api-dev" and prod.stack_name == "secure-api-prod"
    assert dev.parameter_overrides["EnvironmentSuffix"] == "dev"
    assert prod.parameter_overrides["EnvironmentSuffix"] == "prod"
    assert dev.parameter_files == ("params/default.yaml",)
    assert prod.parameter_files == ("params/prod.yaml",)


def test_overrides_in_sam_string_forms() -> None:
    split = split_overrides(['A=1 B="two words"', "file://x.yaml", "C='3'"])
    assert split.values == {"A": "1", "B": "two words", "C": "3"}
    assert split.files == ("x.yaml",)


def test_bad_override_is_an_error() -> None:
    with pytest.raises(UserError, match="expected Name=Value"):
        split_overrides(["not a pair"])


def test_unknown_env_lists_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text('version = 0.1\n[dev.global.parameters]\nstack_name = "s"\n')
    with pytest.raises(UserError, match="unknown config env 'prod'.*dev"):
        load_environment(path, "prod")


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text("version = = 1\n")
    with pytest.raises(UserError, match="not valid TOML"):
        load_environment(path, "default")


def test_command_settings_overlay_global_like_sam(tmp_path: Path) -> None:
    """`sam local start-api` sees global, then its own table; other commands' tables not."""
    path = tmp_path / "samconfig.toml"
    path.write_text(
        "version = 0.1\n"
        "[default.global.parameters]\n"
        'region = "eu-north-1"\nparameter_overrides = ["Stage=global"]\n'
        "[default.local_start_api.parameters]\n"
        'parameter_overrides = ["Stage=local"]\n'
        "[default.deploy.parameters]\n"
        'region = "us-west-2"\n'
    )
    local = command_settings(path, "default", "local_start_api")
    assert local == {"region": "eu-north-1", "parameter_overrides": ["Stage=local"]}
    assert command_settings(path, "missing-env", "local_start_api") == {}
    deployed = load_environment(path, "default")
    assert deployed.region == "us-west-2"
    assert deployed.parameter_overrides == {"Stage": "global"}


@pytest.mark.parametrize("make", ["directory", "fifo", "huge"])
def test_config_that_is_not_a_small_regular_file_is_one_line(tmp_path: Path, make: str) -> None:
    """A directory, a FIFO (which would block a read forever) or a huge file: refused."""
    import os

    path = tmp_path / "samconfig.toml"
    if make == "directory":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(b"# " + b"x" * (2 << 20))
    with pytest.raises(UserError, match=r"samconfig\.toml") as caught:
        load_environment(path, "default")
    assert "\n" not in str(caught.value)
