"""Engine choice (docker hand-over vs process) and the host build's derived template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from localapi import server
from localapi.build import host_template
from localapi.runtime import LocalApiError

from .conftest import FIXTURE_TEMPLATE, REPO


class Exec(Exception):
    """Raised instead of replacing the test process."""


def opts(engine: str, **kw: Any) -> server.ServeOptions:
    return server.ServeOptions(template=FIXTURE_TEMPLATE, engine=engine, port=3123, **kw)


@pytest.fixture
def execs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        assert env["SAM_CLI_TELEMETRY"] == "0"
        calls.append(argv)
        raise Exec

    monkeypatch.setattr(server.os, "execve", fake_execve)
    return calls


def test_auto_hands_over_to_sam_local_when_docker_answers(
    monkeypatch: pytest.MonkeyPatch, execs: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(server, "docker_available", lambda timeout_s=3.0: True)
    with pytest.raises(Exec):
        server.serve(opts("auto", parameter_items=["Stage=x"], env_vars_file=Path("/tmp/e.json")))
    (argv,) = execs
    assert argv[1:3] == ["local", "start-api"]
    assert argv[argv.index("--warm-containers") + 1] == "EAGER"
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    assert argv[argv.index("--port") + 1] == "3123"
    assert argv[argv.index("--parameter-overrides") + 1] == "Stage=x"
    assert argv[argv.index("--env-vars") + 1] == "/tmp/e.json"
    assert "engine docker (auto: Docker engine reachable)" in capsys.readouterr().out


def test_engine_docker_requires_docker(
    monkeypatch: pytest.MonkeyPatch, execs: list[list[str]]
) -> None:
    monkeypatch.setattr(server, "docker_available", lambda timeout_s=3.0: False)
    with pytest.raises(LocalApiError, match="no Docker engine reachable"):
        server.serve(opts("docker"))
    assert execs == []


def test_engine_process_never_asks_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(timeout_s: float = 3.0) -> bool:
        raise AssertionError("docker must not be probed with --engine process")

    monkeypatch.setattr(server, "docker_available", boom)
    monkeypatch.setattr(server, "check_sam_version", lambda: (_ for _ in ()).throw(Exec()))
    with pytest.raises(Exec):
        server.serve(opts("process"))


def test_docker_probe_is_false_without_a_daemon() -> None:
    # On this kind of machine the CLI exists but no daemon: must answer quickly, False.
    import time

    started = time.monotonic()
    result = server.docker_available(timeout_s=3.0)
    assert time.monotonic() - started < 5
    assert isinstance(result, bool)


def test_another_sam_version_is_refused_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    import samcli

    monkeypatch.setattr(samcli, "__version__", "9.9.9")
    monkeypatch.delenv("LOCALAPI_ALLOW_SAM_VERSION", raising=False)
    with pytest.raises(
        LocalApiError,
        match=r"aws-sam-cli 9\.9\.9 is installed but localapi reuses SAM CLI 1\.170\.0",
    ):
        server.check_sam_version()
    monkeypatch.setenv("LOCALAPI_ALLOW_SAM_VERSION", "9.9.9")
    assert server.check_sam_version() == "9.9.9"


def test_host_template_retargets_every_function_and_keeps_intrinsics(tmp_path: Path) -> None:
    from samcli.yamlhelper import yaml_parse

    derived = tmp_path / "template.yaml"
    targets = host_template(REPO / "template.yaml", "x86_64", derived)
    assert targets == {"ApiFunction": "arm64"}
    doc = yaml_parse(derived.read_text())
    assert doc["Globals"]["Function"]["Architectures"] == ["x86_64"]
    assert doc["Resources"]["ApiFunction"]["Properties"]["Architectures"] == ["x86_64"]
    # Short-form intrinsics survive the round trip (SAM's YAML loader/dumper).
    assert doc["Resources"]["ApiFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["FunctionRole", "Arn"]
    }


def test_host_build_marker_is_read_next_to_the_template(tmp_path: Path) -> None:
    (tmp_path / server.HOST_BUILD_MARKER).write_text(
        '{"target_architectures": {"ApiFunction": "arm64"}}'
    )
    assert server.read_host_build_marker(tmp_path / "template.yaml") == {"ApiFunction": "arm64"}
    assert server.read_host_build_marker(REPO / "template.yaml") == {}


def project_server(**overrides: str) -> server.ProcessServer:
    srv = server.ProcessServer(
        server.ServeOptions(
            template=REPO / "template.yaml", parameter_overrides=overrides, region="eu-west-1"
        )
    )
    srv.load()
    return srv


def test_conditional_layers_resolve_to_none_by_default() -> None:
    """template.yaml declares AWS::LanguageExtensions, whose expansion (SAM CLI's, as
    `--language-extensions` runs it) resolves `Layers: !If [...]` before SAM's providers
    read it; effective_layers' own pass stays for templates without the transform."""
    srv = project_server()
    config = srv.function_config("ApiFunction")
    assert [layer.arn for layer in config.layers] == []
    assert srv.effective_layers(config) == []


def test_a_function_with_a_real_layer_is_refused_with_the_docker_hint() -> None:
    srv = project_server(EnableLambdaInsights="true")
    config = srv.function_config("ApiFunction")
    assert srv.effective_layers(config) == [
        "arn:aws:lambda:eu-west-1:580247275435:layer:LambdaInsightsExtension-Arm64:5"
    ]
    with pytest.raises(
        LocalApiError, match=r"uses layer\(s\) arn:aws:lambda:eu-west-1:.*--engine docker"
    ):
        srv.worker_spec(config)
