"""The build artifact `make build` produces: what Lambda will run."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FUNCTION_DIR = ROOT / ".aws-sam" / "build" / "ApiFunction"
SOURCE_DIR = ROOT / "src" / "handler"


def test_handler_ships_unchecked_hash_bytecode_for_python313() -> None:
    # Lambda's code directory is read-only: without shipped .pyc every cold start
    # compiles the handler and its dependencies from source.
    sources = sorted(SOURCE_DIR.rglob("*.py"))
    assert {"app.py", "routes/__init__.py", "body_validators.py"} <= {
        source.relative_to(SOURCE_DIR).as_posix() for source in sources
    }
    for source in sources:
        relative = source.relative_to(SOURCE_DIR)
        pyc = FUNCTION_DIR / relative.parent / "__pycache__" / f"{relative.stem}.cpython-313.pyc"
        header = pyc.read_bytes()[:16]
        (flags,) = struct.unpack("<I", header[4:8])
        assert flags == 0b01, f"{pyc.name}: expected hash-based, unchecked (flags 1), got {flags}"
    powertools = list((FUNCTION_DIR / "aws_lambda_powertools").rglob("*.cpython-313.pyc"))
    assert len(powertools) > 100


def test_artifact_has_the_pinned_dependencies_and_no_dev_tools() -> None:
    names = {p.name for p in FUNCTION_DIR.iterdir()}
    assert "aws_lambda_powertools" in names
    assert not names & {"pytest", "moto", "samcli", "pydantic", "pydantic_core"}
    assert (
        (FUNCTION_DIR / "requirements.txt")
        .read_text()
        .strip()
        .startswith("aws-lambda-powertools==")
    )


def test_artifact_ships_nothing_the_function_never_imports() -> None:
    # Issue 12: no tracing SDK (service-level tracing instead), and none of what the
    # Lambda python3.13 runtime already ships (boto3, botocore and their dependencies).
    names = {p.name.split("-")[0].lower() for p in FUNCTION_DIR.iterdir()}
    unwanted = {"aws_xray_sdk", "wrapt", "botocore", "boto3", "s3transfer", "urllib3"}
    unwanted |= {"dateutil", "six.py", "opentelemetry"}
    assert not names & unwanted


def test_sam_package_zip_would_include_the_bytecode(tmp_path: Path) -> None:
    # SAM's own zip helper is what `sam package`/`sam deploy` upload.
    from samcli.lib.package.utils import make_zip

    archive = Path(make_zip(str(tmp_path / "function"), str(FUNCTION_DIR)))
    with zipfile.ZipFile(archive) as zipped:
        assert "__pycache__/app.cpython-313.pyc" in zipped.namelist()
