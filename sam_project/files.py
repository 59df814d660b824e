"""The kit's one reader of user-named files and its one writer of generated files.

Reading: a path on a command line or in a config file can name anything: a device
(``/dev/zero`` never ends), a FIFO (a read blocks until someone writes), a directory, a
symbolic link to any of them, or a log of many gigabytes. :func:`read_regular_file`
refuses everything but a regular file *before* opening it for a blocking read, then
reads at most the caller's limit plus one byte, so "too big" is known without reading
the rest. Every refusal is a one-line :class:`~sam_project.errors.UserError`.

Writing: rendered parameter files, reports and generated documents are read by other
tools (``sam deploy`` reads ``params/ENV.yaml``): an interrupted write must leave the
old file or the new one, never a truncated mix. Hence a temporary file in the same
directory (same filesystem, so the rename is atomic), flushed to disk, then renamed. A
directory we may not write (read-only mount, ``/proc``) is a one-line error too, and
nothing is left behind.
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
# What `stat` says a path is, for messages; anything else is "a special file".
_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)
# Opening never waits (a FIFO without a writer would block the open itself), never
# makes a terminal ours, and never leaks into child processes.
_OPEN_FLAGS: Final = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
)


def _require_regular(mode: int, what: str, expected: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    raise UserError(f"cannot read {what}: it is {kind}, not a regular file; expected {expected}")


def read_regular_file(path: str | Path, *, limit: int, what: str, expected: str) -> bytes:
    """The bytes of the regular file ``path``: at most ``limit`` of them, or a UserError.

    ``what`` names the input in messages (``"template 'a.yaml'"``) and ``expected`` says
    what was wanted (``"a SAM template"``). The type is checked with ``stat`` (which
    follows symbolic links) before the file is opened, and again on the open descriptor
    in case the path was swapped in between.
    """
    name = os.fspath(path)
    try:
        _require_regular(os.stat(name).st_mode, what, expected)
        descriptor = os.open(name, _OPEN_FLAGS)
    except FileNotFoundError:
        raise UserError(f"{what} was not found (no such file): expected {expected}") from None
    except OSError as error:
        raise UserError(f"cannot read {what}: {error.strerror or error}") from None
    try:
        _require_regular(os.fstat(descriptor).st_mode, what, expected)
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        raise UserError(f"cannot read {what}: {error.strerror or error}") from None
    finally:
        os.close(descriptor)
    if remaining <= 0:
        raise UserError(f"{what} is larger than {limit} bytes: expected {expected}")
    return b"".join(chunks)


def _decoded(raw: bytes, what: str, expected: str) -> str:
    try:
        return raw.decode("utf-8-sig")  # a leading byte-order mark is not content
    except UnicodeDecodeError:
        raise UserError(f"{what} is not UTF-8 text: expected {expected}") from None


def read_text_file(path: str | Path, *, limit: int, what: str, expected: str) -> str:
    """:func:`read_regular_file` decoded as UTF-8."""
    return _decoded(
        read_regular_file(path, limit=limit, what=what, expected=expected), what, expected
    )


def read_text_stream(stream: BinaryIO, *, limit: int, what: str, expected: str) -> str:
    """At most ``limit`` bytes of an open stream (stdin) decoded as UTF-8, or a UserError."""
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise UserError(f"{what} is larger than {limit} bytes: expected {expected}")
    return _decoded(raw, what, expected)


class WriteError(UserError, OSError):
    """A file that cannot be written: bad input (one line, exit 2) for the commands, and
    still an ``OSError`` for code that handles I/O failures as such."""


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file and a rename.

    The file keeps its mode when it is replaced; a new file gets :data:`NEW_FILE_MODE`.
    A directory that cannot be created or written, or a target that cannot be replaced,
    is a one-line :class:`WriteError`; the old file (if any) is kept.
    """
    where = f"cannot write {str(path)!r}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(f"{where}: {str(path.parent)!r} is not a directory") from None
    except OSError as error:
        raise WriteError(
            f"{where}: cannot create directory {str(path.parent)!r} ({error.strerror or error})"
        ) from None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # no file yet (or none we may look at): a new file's mode
        mode = NEW_FILE_MODE
    try:
        handle, temp_name = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise WriteError(
            f"{where}: cannot create a file in {str(path.parent)!r} ({error.strerror or error})"
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except OSError as error:
        Path(temp_name).unlink(missing_ok=True)
        raise WriteError(f"{where}: {error.strerror or error}") from None
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def replace_marked_block(text: str, begin: str, end: str, body: str, *, where: str) -> str:
    """``text`` with what lies between the marker lines ``begin`` and ``end`` replaced by
    ``body``: the one way the generators rewrite their part of a hand-written file
    (template.yaml's request models, README.md's conformance table). Each marker must be
    there once, ``begin`` first; otherwise a one-line UserError naming ``where``."""
    if text.count(begin) != 1 or text.count(end) != 1:
        raise UserError(
            f"{where} must hold the marker lines {begin.strip()!r} and {end.strip()!r} once each"
        )
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    if stop < start:
        raise UserError(f"{where}: the marker {end.strip()!r} comes before {begin.strip()!r}")
    return text[:start] + body + text[stop:]


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
