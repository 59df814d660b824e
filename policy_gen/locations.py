"""Line numbers of a template's resources and a policy's statements, for SARIF results.

The loaders give plain data, without positions; a code-scanning result must point at a
line. PyYAML's composer keeps every node's position without constructing values (so
CloudFormation's short tags need no constructor), and JSON is read by the same composer.
Positions are a courtesy: text the composer cannot read gives no lines, never an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

Pair = tuple[yaml.Node, yaml.Node]


def _pairs(node: yaml.Node | None) -> Iterator[Pair]:
    if isinstance(node, yaml.MappingNode):
        yield from node.value


def _get(node: yaml.Node | None, key: str) -> Pair | None:
    for key_node, value_node in _pairs(node):
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass(frozen=True)
class Locator:
    """Where things are in one template or policy document (1-based lines)."""

    root: yaml.Node | None

    @classmethod
    def of_text(cls, text: str) -> Locator:
        try:
            return cls(yaml.compose(text, Loader=yaml.SafeLoader))
        except (yaml.YAMLError, RecursionError):
            return cls(None)

    def section_entry(self, section: str, name: str) -> int | None:
        """The line of ``name`` under a top-level section (``Resources``, ``Rules``)."""
        found = _get(self.root, section)
        entry = _get(found[1], name) if found else None
        return _line(entry[0]) if entry else None

    def statement(self, statement: str | None, policy: yaml.Node | None = None) -> int | None:
        """The line of a policy statement named by its Sid or 0-based index."""
        found = _get(self.root if policy is None else policy, "Statement")
        if found is None:
            return None
        items = found[1].value if isinstance(found[1], yaml.SequenceNode) else [found[1]]
        for index, item in enumerate(items):
            sid = _get(item, "Sid")
            names = {str(index)}
            if sid is not None and isinstance(sid[1], yaml.ScalarNode):
                names.add(str(sid[1].value))
            if statement in names:
                return _line(item)
        return _line(found[0])

    def resource_property(self, logical_id: str, name: str) -> Pair | None:
        resources = _get(self.root, "Resources")
        resource = _get(resources[1], logical_id) if resources else None
        properties = _get(resource[1], "Properties") if resource else None
        return _get(properties[1], name) if properties else None

    def template_finding(self, resource: str, statement: str | None) -> int | None:
        """A check-template finding: the statement of an inline key policy, the key's
        ``KeyPolicy`` when the policy comes from elsewhere, else the resource or rule."""
        if statement is not None:
            policy = self.resource_property(resource, "KeyPolicy")
            if policy is not None:
                inline = isinstance(policy[1], yaml.MappingNode)
                found = self.statement(statement, policy[1]) if inline else None
                return found or _line(policy[0])
        for section in ("Resources", "Rules"):
            line = self.section_entry(section, resource)
            if line is not None:
                return line
        return None
