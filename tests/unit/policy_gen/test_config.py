"""samconfig.toml reading: the same values SAM CLI sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_gen.config import load_environment, parse_overrides
from policy_gen.errors import InputError

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
    values, files = parse_overrides(['A=1 B="two words"', "file://x.yaml", "C='3'"])
    assert values == {"A": "1", "B": "two words", "C": "3"}
    assert files == ("x.yaml",)


def test_bad_override_is_an_error() -> None:
    with pytest.raises(InputError, match="expected Name=Value"):
        parse_overrides(["not a pair"])


def test_unknown_env_lists_known_ones(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text('version = 0.1\n[dev.global.parameters]\nstack_name = "s"\n')
    with pytest.raises(InputError, match="unknown config env 'prod'.*dev"):
        load_environment(path, "prod")


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "samconfig.toml"
    path.write_text("version = = 1\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_environment(path, "default")
