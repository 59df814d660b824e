"""Injection: the parameter SAM CLI passes must parse back to exactly the rendered policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from samcli.cli.types import CfnParameterOverridesType

from policy_gen.inject import (
    MAX_PARAMETER_BYTES,
    output_text,
    parameter_file_text,
    parameter_value,
    parameters,
)
from policy_gen.partitions import get_partition
from policy_gen.render import render_policy
from sam_project.errors import UserError
from sam_project.files import write_atomically


def sam_reads(path: Path) -> dict[str, str]:
    """What SAM CLI's own --parameter-overrides type makes of file://PATH."""
    return dict(CfnParameterOverridesType().convert([f"file://{path}"], None, None))


@pytest.mark.parametrize(
    ("partition", "region", "account"),
    [
        ("aws", "us-east-1", "123456789012"),
        ("aws-cn", "cn-northwest-1", "012345678901"),
        ("aws-us-gov", "us-gov-east-1", "000000000001"),
    ],
)
def test_round_trip_through_sam_cli_parameter_parsing(
    tmp_path: Path, partition: str, region: str, account: str
) -> None:
    policy = render_policy(
        get_partition(partition),
        region,
        account,
        ["/secure-api-dev/function", "/secure-api-dev/api-access", "/odd#name_with.dots-1"],
    )
    path = tmp_path / "params.yaml"
    write_atomically(path, output_text(path, policy, account, region))
    values = sam_reads(path)
    assert json.loads(values["KeyPolicy"]) == policy
    # An account id with a leading zero must stay a string, digit for digit.
    assert values["PolicyAccountId"] == account
    assert values["PolicyRegion"] == region


def test_sam_cli_samconfig_style_list_with_file_and_pairs(tmp_path: Path) -> None:
    policy = render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/a"])
    path = tmp_path / "default.yaml"
    path.write_text(parameter_file_text(parameters(policy, "123456789012", "us-east-1")))
    values = dict(
        CfnParameterOverridesType().convert(["EnvironmentSuffix=dev", f"file://{path}"], None, None)
    )
    assert values["EnvironmentSuffix"] == "dev"
    assert json.loads(values["KeyPolicy"]) == policy


def test_parameter_over_4096_bytes_is_refused() -> None:
    names = [f"/stack/log-group-{i:03d}-{'x' * 60}" for i in range(60)]
    policy = render_policy(get_partition("aws"), "us-east-1", "123456789012", names)
    with pytest.raises(UserError, match=f"at most {MAX_PARAMETER_BYTES}"):
        parameter_value(policy)


def test_backslash_is_refused_because_sam_would_corrupt_it() -> None:
    with pytest.raises(UserError, match="backslash"):
        parameter_value({"Sid": 'a"b'})


def test_unknown_output_extension_writes_nothing(tmp_path: Path) -> None:
    policy = render_policy(get_partition("aws"), "us-east-1", "123456789012", ["/a"])
    with pytest.raises(UserError, match="unsupported extension"):
        output_text(tmp_path / "out.txt", policy, "123456789012", "us-east-1")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("old")

    with pytest.raises(TypeError):
        write_atomically(path, 42)  # type: ignore[arg-type]
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]
