"""The kit's one JSON parser and one YAML loader for the documents users hand us.

Templates, ``file://`` parameter files and key policies come from people and from other
tools; none of them may take a command down or be read differently from the way AWS
reads it:

* **YAML aliases** are references, so a few lines can name a structure of billions of
  nodes ("billion laughs"): PyYAML builds it as shared references, and the first walk
  over it (resolving intrinsics, printing) runs out of memory. Before anything is
  constructed, :func:`load_yaml` measures how many nodes the aliases add when expanded
  and refuses a document where that exceeds :data:`MAX_ALIAS_EXPANSION`; an alias that
  contains itself is refused too (no walk over it could end).
* **Duplicate keys**: JSON (RFC 8259) and YAML leave a repeated key to the parser, and
  parsers disagree on which value wins. Both readers keep Python's choice (the last)
  but return such a mapping as a :class:`DuplicateKeyDict` that remembers the repeated
  keys, so that a checker (the key-policy parser) can report them instead of silently
  proving a document other tools read differently. Mappings without repeats stay
  plain ``dict``.
* **Dates stay text**: YAML 1.1 reads an unquoted ``2012-10-17`` as a timestamp, but
  CloudFormation does not support the timestamp type (CloudFormation user guide,
  "Template format": YAML 1.1 without the binary, omap, pairs, set and timestamp tags)
  and SAM CLI keeps such values as strings. So ``Version: 2012-10-17`` in a key policy,
  or ``AWSTemplateFormatVersion: 2010-09-09``, is read as the text it is, exactly as
  written.
* **CloudFormation short tags** (``!Ref``, ``!Sub``...) are read as their long form
  (``{"Ref": ...}``) where the document is a template; parameter files take none, as
  in SAM CLI.

Every failure is a one-line :class:`~sam_project.errors.UserError` naming the document.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Final

import yaml

from sam_project.errors import UserError

# The nodes a document's aliases may add when expanded. Templates rarely use aliases
# (CloudFormation itself does not read them; SAM CLI expands them before upload), and
# a shared block of tags or settings referenced a few dozen times stays far below.
MAX_ALIAS_EXPANSION: Final = 10_000

# CloudFormation's short-form tags and the long form they stand for (CloudFormation
# user guide, "Intrinsic function reference"). !GetAtt "A.B" becomes ["A", "B"].
SHORT_TAGS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Sub",
            "GetAtt",
            "Join",
            "Select",
            "Split",
            "If",
            "Equals",
            "Not",
            "And",
            "Or",
            "FindInMap",
            "ImportValue",
            "Base64",
            "Cidr",
            "GetAZs",
            "Transform",
            "Length",
            "ToJsonString",
            "ForEach",
            "Contains",
            "EachMemberEquals",
            "EachMemberIn",
            "RefAll",
            "ValueOf",
            "ValueOfAll",
        )
    },
}

_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class DuplicateKeyDict(dict[str, Any]):
    """A mapping read from a document that repeated some of its keys (the last won)."""

    def __init__(self, items: Iterable[tuple[str, Any]] = (), duplicates: Iterable[str] = ()):
        super().__init__(items)
        self.duplicate_keys: tuple[str, ...] = tuple(duplicates)


def duplicate_keys(value: object) -> tuple[str, ...]:
    """The keys ``value`` repeated in its document; () for anything else."""
    return value.duplicate_keys if isinstance(value, DuplicateKeyDict) else ()


def rebuilt(original: object, items: dict[str, Any]) -> dict[str, Any]:
    """``items`` (a copy of ``original`` with new values) still remembering its repeats,
    for code that rebuilds mappings (resolving intrinsics) before they are checked."""
    repeated = duplicate_keys(original)
    return DuplicateKeyDict(items.items(), repeated) if repeated else items


def _repeated(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    repeated: list[str] = []
    for key in keys:
        if key in seen and key not in repeated:
            repeated.append(key)
        seen.add(key)
    return repeated


def _json_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    return DuplicateKeyDict(result.items(), _repeated(key for key, _ in pairs))


def parse_json(text: str, source: str) -> object:
    """JSON text as Python data; repeated keys are remembered (see the module)."""
    try:
        return json.loads(text, object_pairs_hook=_json_object)
    except json.JSONDecodeError as error:
        raise UserError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise UserError(f"{source} is nested too deeply to be read") from None


# --- YAML ---------------------------------------------------------------------------


class _AliasError(yaml.YAMLError):
    """Aliases that expand beyond the bound, or an alias inside itself."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_alias_expansion(root: yaml.Node, limit: int = MAX_ALIAS_EXPANSION) -> None:
    """Refuse a node graph whose aliases add more than ``limit`` nodes when expanded.

    PyYAML's composer returns an alias as the very node it names, so the graph is
    small while the tree it stands for may not be. One post-order walk (a loop, not
    recursion) sizes every distinct node once: expanded size = 1 + the children's
    expanded sizes. A node met again while still on the walk's path contains itself.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:
        node, finished = pending.pop()
        ident = id(node)
        if finished:
            on_path.discard(ident)
            sizes[ident] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if ident in sizes:
            continue
        if ident in on_path:
            raise _AliasError(
                f"an alias refers to a node that contains it (line {node.start_mark.line + 1})"
            )
        on_path.add(ident)
        pending.append((node, True))
        pending.extend((child, False) for child in _children(node) if id(child) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > limit:
        raise _AliasError(
            f"its aliases expand to {added} more nodes, over the limit of {limit} (an alias bomb?)"
        )


def _explicit_duplicates(node: yaml.MappingNode) -> list[str]:
    """Plain keys written twice in one mapping (keys brought in by ``<<`` merges may be
    overridden: that is what merging is for)."""
    return _repeated(
        str(key.value)
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode) and key.tag != _MERGE_TAG
    )


class _DocumentLoader(yaml.SafeLoader):
    """SafeLoader with the alias bound and duplicate-key memory; its own constructor
    tables, so that another library registering tags on SafeLoader changes nothing."""

    yaml_constructors: ClassVar[dict[Any, Any]] = dict(yaml.SafeLoader.yaml_constructors)
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            check_alias_expansion(node)
        return node


def _construct_map(loader: _DocumentLoader, node: yaml.MappingNode) -> Iterator[dict[str, Any]]:
    repeated = _explicit_duplicates(node)
    data: dict[str, Any] = DuplicateKeyDict((), repeated) if repeated else {}
    yield data  # first the empty container, so that recursive structures can refer to it
    data.update(loader.construct_mapping(node))  # type: ignore[arg-type]


_DocumentLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _construct_timestamp_as_text(loader: _DocumentLoader, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_DocumentLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


class _TemplateLoader(_DocumentLoader):
    """The document loader plus CloudFormation's short-form tags."""

    yaml_constructors: ClassVar[dict[Any, Any]] = dict(_DocumentLoader.yaml_constructors)
    yaml_multi_constructors: ClassVar[dict[Any, Any]] = {}


def _construct_tag(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    long_name = SHORT_TAGS.get(suffix)
    if long_name is None:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{suffix}", node.start_mark
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {long_name: value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(text: str, source: str, *, short_tags: bool = False) -> object:
    """YAML text as Python data, aliases bounded, repeated keys remembered.

    ``short_tags`` reads CloudFormation's ``!Ref``/``!Sub``... (templates); without it
    any tag is an error (parameter files, as SAM CLI reads them).
    """
    loader = _TemplateLoader if short_tags else _DocumentLoader
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - SafeLoader subclasses
    except _AliasError as error:
        raise UserError(f"{source} is refused: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UserError(f"{source} is not valid YAML: {problem}{where}") from None
    except RecursionError:
        raise UserError(f"{source} is nested too deeply to be read") from None


def walk(value: object) -> Iterator[tuple[str, object]]:
    """Every (path, value) in a parsed document, containers included, each container
    once (aliases and shared references are not walked twice). A loop, not recursion:
    no document is too deep for it. Paths read like ``Statement[0].Condition``."""
    seen: set[int] = set()
    pending: list[tuple[str, object]] = [("", value)]
    while pending:
        path, item = pending.pop()
        yield path, item
        if isinstance(item, Mapping | list) and id(item) not in seen:
            seen.add(id(item))
            if isinstance(item, Mapping):
                children = [(f"{path}.{key}" if path else str(key), v) for key, v in item.items()]
            else:
                children = [(f"{path}[{index}]", v) for index, v in enumerate(item)]
            pending.extend(reversed(children))
