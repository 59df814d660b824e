"""The architecture check: foreign native code is refused, pure Python is served and said so."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from localapi.runtime import (
    ArchitectureMismatchError,
    check_architecture,
    identify_binary,
    normalize_arch,
    scan_native_code,
)

X86_HOST = ("linux", "x86_64")
ARM_HOST = ("linux", "arm64")
EM_X86_64, EM_AARCH64 = 62, 183


def elf(path: Path, machine: int, big_endian: bool = False) -> Path:
    """The first bytes of an ELF shared object for ``machine`` (all the check reads)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + bytes(9)
    header = ident + struct.pack(">HH" if big_endian else "<HH", 3, machine) + bytes(44)
    path.write_bytes(header)
    return path


def wheel(code: Path, dist: str, *tags: str) -> Path:
    path = code / f"{dist}.dist-info" / "WHEEL"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["Wheel-Version: 1.0", "Generator: test", "Root-Is-Purelib: false"]
    path.write_text("\n".join([*lines, *(f"Tag: {t}" for t in tags)]) + "\n")
    return path


def pure_build(code: Path) -> Path:
    (code / "app.py").parent.mkdir(parents=True, exist_ok=True)
    (code / "app.py").write_text("def handler(e, c):\n    return {}\n")
    wheel(code, "aws_lambda_powertools-3.37.0", "py3-none-any")
    return code


@pytest.mark.parametrize(
    ("machine", "expected"),
    [("aarch64", "arm64"), ("ARM64", "arm64"), ("amd64", "x86_64"), ("x86_64", "x86_64")],
)
def test_arch_names_are_normalised(machine: str, expected: str) -> None:
    assert normalize_arch(machine) == expected


def test_elf_machine_is_read_from_the_header(tmp_path: Path) -> None:
    assert identify_binary(elf(tmp_path / "a.so", EM_AARCH64)) == ("ELF", "linux", ("arm64",))
    assert identify_binary(elf(tmp_path / "b.so", EM_X86_64)) == ("ELF", "linux", ("x86_64",))
    assert identify_binary(elf(tmp_path / "c.so", 22, big_endian=True)) == (
        "ELF",
        "linux",
        ("s390x",),
    )
    (tmp_path / "text.so").write_text("not a binary")
    assert identify_binary(tmp_path / "text.so") is None


def test_pe_and_macho_headers(tmp_path: Path) -> None:
    pe = bytearray(0x100)
    pe[0:2] = b"MZ"
    pe[0x3C:0x40] = struct.pack("<I", 0x80)
    pe[0x80:0x84] = b"PE\0\0"
    pe[0x84:0x86] = struct.pack("<H", 0xAA64)
    (tmp_path / "m.pyd").write_bytes(bytes(pe))
    assert identify_binary(tmp_path / "m.pyd") == ("PE", "windows", ("arm64",))
    (tmp_path / "m.so").write_bytes(b"\xcf\xfa\xed\xfe" + struct.pack("<I", 0x01000007) + bytes(24))
    assert identify_binary(tmp_path / "m.so") == ("Mach-O", "darwin", ("x86_64",))


def test_pure_python_arm64_build_is_served_on_x86_64_and_said_so(tmp_path: Path) -> None:
    report = check_architecture("ApiFunction", "arm64", pure_build(tmp_path), host=X86_HOST)
    assert report.summary == (
        "arm64 function served on x86_64 host: pure-Python package, no native code"
    )
    assert report.extra_env == {}


def test_foreign_extension_is_refused_with_the_way_out(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "pydantic_core" / "_pydantic_core.cpython-313-aarch64-linux-gnu.so", EM_AARCH64)
    with pytest.raises(ArchitectureMismatchError) as info:
        check_architecture("ApiFunction", "arm64", code, host=X86_HOST)
    message = str(info.value)
    assert "pydantic_core/_pydantic_core.cpython-313-aarch64-linux-gnu.so" in message
    assert "linux-arm64" in message
    assert "--host-build" in message
    assert "\n" not in message


def test_foreign_wheel_tag_alone_is_refused(tmp_path: Path) -> None:
    """A platform wheel is native even if its binary has an unusual name."""
    code = pure_build(tmp_path)
    wheel(
        code,
        "orjson-3.10.0",
        "cp313-cp313-manylinux_2_17_aarch64",
        "cp313-cp313-manylinux2014_aarch64",
    )
    with pytest.raises(ArchitectureMismatchError, match=r"orjson-3\.10\.0\.dist-info/WHEEL"):
        check_architecture("ApiFunction", "arm64", code, host=X86_HOST)


def test_wrapt_accelerator_is_tolerated_switched_off_and_reported(tmp_path: Path) -> None:
    """aws-xray-sdk pulls wrapt, whose C extension is optional: the expected real build."""
    code = pure_build(tmp_path)
    elf(code / "wrapt" / "_wrappers.cpython-313-aarch64-linux-gnu.so", EM_AARCH64)
    wheel(code, "wrapt-2.5.2", "cp313-cp313-manylinux_2_17_aarch64")
    report = check_architecture("ApiFunction", "arm64", code, host=X86_HOST)
    assert report.summary.startswith("arm64 function served on x86_64 host: pure-Python code")
    assert "wrapt's optional arm64 C extension is not loaded" in report.summary
    assert report.extra_env == {"WRAPT_DISABLE_EXTENSIONS": "true"}


def test_native_code_for_the_host_loads_when_the_target_is_the_host(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "ext.cpython-313-x86_64-linux-gnu.so", EM_X86_64)
    report = check_architecture("Fn", "x86_64", code, host=X86_HOST)
    assert report.summary == "x86_64 function on x86_64 host: native code loads as built"


def test_host_native_code_in_an_arm64_function_is_served_but_flagged(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "ext.so", EM_X86_64)
    report = check_architecture("Fn", "arm64", code, host=X86_HOST)
    assert "would not run on arm64 Lambda" in report.summary


def test_host_build_is_reported_as_such(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "ext.so", EM_X86_64)
    report = check_architecture("Fn", "x86_64", code, host=X86_HOST, host_build_of="arm64")
    assert report.summary.startswith("arm64 function served from a host build (x86_64")
    assert "not the artifact you deploy" in report.summary


def test_arm64_host_serves_arm64_native_code(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "ext.so", EM_AARCH64)
    report = check_architecture("Fn", "arm64", code, host=ARM_HOST)
    assert "native code loads as built" in report.summary


def test_scan_ignores_pycache_and_pure_wheels(tmp_path: Path) -> None:
    code = pure_build(tmp_path)
    elf(code / "__pycache__" / "junk.so", EM_AARCH64)
    assert scan_native_code(code) == []
