"""Writing generated files so that no reader ever sees half of one.

Rendered parameter files, reports and generated documents are read by other tools
(``sam deploy`` reads ``params/ENV.yaml``): an interrupted write must leave the old
file or the new one, never a truncated mix. Hence a temporary file in the same
directory (same filesystem, so the rename is atomic), flushed to disk, then renamed.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import BinaryIO, Final

from sam_project.errors import UserError

# The mode of a new file: what `touch` gives under the usual umask (mkstemp's own 0600
# would make generated, committed files unreadable to others).
NEW_FILE_MODE: Final = 0o644


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename.

    The file keeps its mode when it is replaced; a new file gets :data:`NEW_FILE_MODE`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def publish_generated(
    path: Path, text: str, *, check: bool, tool: str, regenerate: str, detail: str = ""
) -> int:
    """Write a generated, committed file, or with ``check`` report whether it is stale.

    The one ``--check`` contract of the kit's generators (``make lint`` runs them so):
    exit status 0 when ``path`` holds ``text`` (or was written), 1 when it is stale.
    """
    if check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(f"{tool}: {path} is stale; run `{regenerate}`", file=sys.stderr)
            return 1
        print(f"{tool}: {path} is up to date{detail}")
        return 0
    write_atomically(path, text)
    print(f"{tool}: wrote {path}{detail}")
    return 0


def read_input(
    source: str, what: str, limit: int, expected: str, stdin: BinaryIO | None = None
) -> bytes:
    """The bytes of file ``source``, or of stdin for ``-``, at most ``limit`` of them.

    ``what`` names the input in the one-line errors (``policy``, ``event``), ``expected``
    says what it should be; reading one byte past the limit tells "too large" from
    "exactly the limit" without reading an endless stream (a device, a pipe that never
    closes) to its end.
    """
    label = "stdin" if source == "-" else repr(source)
    try:
        if source == "-":
            raw = (stdin or sys.stdin.buffer).read(limit + 1)
        else:
            with open(source, "rb") as stream:
                raw = stream.read(limit + 1)
    except IsADirectoryError:
        raise UserError(f"cannot read {what} {label}: it is a directory") from None
    except OSError as error:
        raise UserError(
            f"cannot read {what} {label}: {error.strerror or error} (expected {expected})"
        ) from None
    if len(raw) > limit:
        raise UserError(f"{what} {label} is larger than {limit} bytes: expected {expected}")
    return raw
