"""Which files of the paths on a check-template command line are templates.

A repository holds templates among everything else (``package.json``, OpenAPI files,
sample events, docker-compose files), so a directory is searched and each candidate is
*recognised*, not assumed: a YAML or JSON mapping with ``AWSTemplateFormatVersion``, a
``Transform``, or ``Resources`` whose entries have a ``Type`` (CloudFormation user guide,
"Template anatomy"). A non-template found in a directory is skipped with a note; one
named on the command line is bad input, because the user said it was a template.

Candidates are ``*.yaml``, ``*.yml``, ``*.json`` and ``*.template``. A CDK cloud
assembly (a directory named ``cdk.out``, or one holding the ``cdk.out`` marker file
``cdk synth`` writes) also holds ``manifest.json``, ``tree.json`` and ``asset.*``
directories of application code: there only ``*.template.json`` files are candidates.

The walk is bounded and never hangs: symbolic links to directories are not followed
(a link loop is one skipped entry), hidden directories and dependency folders
(``node_modules``, virtualenvs) are not searched, a file larger than CloudFormation's
template limit is skipped unread, and a tree holding more than :data:`MAX_CANDIDATES`
candidates or :data:`MAX_ENTRIES` entries is refused with a one-line error instead of
a run that looks complete but is not.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sam_project.errors import UserError

SUFFIXES: Final = (".yaml", ".yml", ".json", ".template")
CDK_SUFFIX: Final = ".template.json"
CDK_MARKER: Final = "cdk.out"
# Directories no template lives in (dependencies, caches), beside hidden ones such as
# .git and .aws-sam (sam build's copies of the templates).
PRUNED_DIRECTORIES: Final = frozenset(
    {"node_modules", "__pycache__", "venv", "site-packages", "bower_components"}
)
MAX_CANDIDATES: Final = 5_000
MAX_ENTRIES: Final = 200_000
GLOB_CHARACTERS: Final = frozenset("*?[")


@dataclass(frozen=True)
class Candidate:
    path: str
    explicit: bool  # named on the command line (or by a glob pattern), not found in a walk


@dataclass
class Expansion:
    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)


def _directories(
    top: str, onerror: Callable[[OSError], None]
) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(top)`` top-down, without following links to directories, and without its
    recursion: Python 3.11's ``os.walk`` recurses once per level, so a tree a thousand
    directories deep ends in a RecursionError. The caller may prune ``dirnames``."""
    stack = [top]
    while stack:
        directory = stack.pop()
        dirnames: list[str] = []
        filenames: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        is_directory = entry.is_dir()  # a link to one is listed, not entered
                    except OSError:
                        is_directory = False
                    (dirnames if is_directory else filenames).append(entry.name)
        except OSError as error:
            onerror(error)
            continue
        yield directory, dirnames, filenames
        for name in reversed(dirnames):
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                stack.append(path)


def _is_assembly(directory: str, names: Sequence[str]) -> bool:
    return os.path.basename(os.path.normpath(directory)) == CDK_MARKER or (
        CDK_MARKER in names and os.path.isfile(os.path.join(directory, CDK_MARKER))
    )


def _wanted(name: str, in_assembly: bool) -> bool:
    if in_assembly:
        return name.endswith(CDK_SUFFIX)
    return name.lower().endswith(SUFFIXES)


def _walk(top: str, expansion: Expansion) -> Iterator[str]:
    """Candidate files under ``top`` in a stable order, within the bounds."""
    entries = 0
    found = 0
    assemblies: set[str] = set()  # directories inside a CDK cloud assembly

    def refuse(what: str, limit: int) -> UserError:
        return UserError(
            f"directory {top!r} holds more than {limit} {what}: expected a smaller tree; "
            "name the directories or files that hold templates (e.g. cdk.out or templates/)"
        )

    def unreadable(error: OSError) -> None:
        where = os.path.normpath(str(error.filename))
        expansion.skipped.append((where, f"cannot read ({error.strerror})"))

    for directory, dirnames, filenames in _directories(top, unreadable):
        entries += len(dirnames) + len(filenames)
        if entries > MAX_ENTRIES:
            raise refuse("entries", MAX_ENTRIES)
        in_assembly = os.path.dirname(directory) in assemblies or _is_assembly(directory, filenames)
        if in_assembly:
            assemblies.add(directory)
        kept = []
        for name in sorted(dirnames):
            path = os.path.normpath(os.path.join(directory, name))
            if os.path.islink(path):
                expansion.skipped.append((path, "symbolic link to a directory: not followed"))
            elif name.startswith(".") or name in PRUNED_DIRECTORIES:
                continue  # never holds templates to check; not worth a line each
            elif in_assembly and name.startswith("asset."):
                continue  # application code and files the CDK app ships
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in sorted(filenames):
            if not _wanted(name, in_assembly):
                continue
            found += 1
            if found > MAX_CANDIDATES:
                raise refuse("candidate files (*.yaml, *.yml, *.json, *.template)", MAX_CANDIDATES)
            yield os.path.normpath(os.path.join(directory, name))


def expand_paths(arguments: Sequence[str]) -> Expansion:
    """The candidate files of ``arguments`` (files, directories, glob patterns), each once.

    A path that does not exist is bad input, unless it is a glob pattern (quoted, so the
    shell left it alone): then its matches, recursively with ``**``.
    """
    expansion = Expansion()
    seen: set[str] = set()

    def add(path: str, explicit: bool) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            expansion.candidates.append(Candidate(path, explicit))

    for argument in arguments:
        paths = [argument]
        if not os.path.lexists(argument) and GLOB_CHARACTERS & set(argument):
            paths = expand_pattern(argument, expansion.skipped)
            if not paths:
                raise UserError(f"pattern {argument!r} matches no file: expected template paths")
        for path in paths:
            try:
                mode = os.stat(path).st_mode
            except OSError:
                add(path, True)  # the reader reports a missing or looping path in one line
                continue
            if not stat.S_ISDIR(mode):
                add(path, True)
                continue
            found_any = False
            for found in _walk(path, expansion):
                found_any = True
                add(found, False)
            if not found_any:
                raise UserError(
                    f"directory {path!r} holds no *.yaml, *.yml, *.json or *.template file "
                    "(in a cdk.out, no *.template.json): expected a directory with templates"
                )
    # A directory named twice, or inside another one named, is walked again: its skipped
    # entries are still one line each, as its candidates are.
    expansion.skipped[:] = dict.fromkeys(expansion.skipped)
    return expansion


def _matches(names: Sequence[str], parts: Sequence[str]) -> bool:
    """Whether path components ``names`` match pattern components ``parts``: ``**`` is
    any number of directories, other components are shell patterns that do not match a
    hidden name unless they start with a dot (as the shell's and Python's glob)."""
    if not parts:
        return not names
    if parts[0] == "**":
        for skip in range(len(names) + 1):
            if _matches(names[skip:], parts[1:]):
                return True
            if skip < len(names) and names[skip].startswith("."):
                return False  # ** does not pass through a hidden directory either
        return False
    if not names or (names[0].startswith(".") and not parts[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], parts[0]) and _matches(names[1:], parts[1:])


def expand_pattern(pattern: str, skipped: list[tuple[str, str]]) -> list[str]:
    """The paths a quoted glob pattern matches, ``**`` recursive, in a stable order.

    Our own walk rather than :mod:`glob`: Python's ``**`` follows links to directories,
    so one link loop multiplies the matches without end. Here links are matched but never
    entered, hidden directories are searched only for a pattern that names one, and the
    walk has the directory walk's bound on entries.
    """
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if GLOB_CHARACTERS & set(part))
    root = os.path.join(*parts[:fixed]) if fixed else "."
    rest = parts[fixed:]
    hidden_too = any(part.startswith(".") for part in rest)
    found: list[str] = []
    entries = 0

    def unreadable(error: OSError) -> None:
        where = os.path.normpath(str(error.filename))
        skipped.append((where, f"cannot read ({error.strerror})"))

    for directory, dirnames, filenames in _directories(root, unreadable):
        entries += len(dirnames) + len(filenames)
        if entries > MAX_ENTRIES:
            raise UserError(
                f"pattern {pattern!r} searches more than {MAX_ENTRIES} entries: expected a "
                "narrower pattern; name the directories that hold templates"
            )
        relative = os.path.relpath(directory, root)
        base = () if relative == "." else tuple(relative.split(os.sep))
        dirnames[:] = sorted(name for name in dirnames if hidden_too or not name.startswith("."))
        for name in sorted([*dirnames, *filenames]):
            if _matches((*base, name), rest):
                found.append(os.path.normpath(os.path.join(directory, name)))
    return sorted(found)


def looks_like_template(document: object) -> bool:
    """A CloudFormation/SAM template, as its anatomy says: a mapping with
    AWSTemplateFormatVersion, a Transform, or Resources whose entries have a Type."""
    if not isinstance(document, dict):
        return False
    if "AWSTemplateFormatVersion" in document or "Transform" in document:
        return True
    resources = document.get("Resources")
    return isinstance(resources, dict) and any(
        isinstance(resource, dict) and "Type" in resource for resource in resources.values()
    )


def mentions_template_keys(text: str) -> bool:
    """Cheap first look: a text that names none of the top-level keys of a template is
    skipped without parsing (most of a repository's JSON and YAML files)."""
    return any(key in text for key in ("AWSTemplateFormatVersion", "Resources", "Transform"))


def too_big(path: str, limit: int) -> bool:
    """Whether a walked file is larger than ``limit`` (checked before reading it)."""
    try:
        return Path(path).stat().st_size > limit
    except OSError:
        return False  # the reader reports why it cannot be read
