"""policy_gen's layering, read from the source: no import cycle, and the audit's
pure judging never reaches for boto3 (so it is tested, and read, without AWS)."""

from __future__ import annotations

import ast
from pathlib import Path

import policy_gen

ROOT = Path(policy_gen.__file__).resolve().parent
# The audit modules that decide and format: no AWS client, no AWS module.
PURE_AUDIT = ("model", "judge", "fixes", "output", "progress")
AWS_MODULES = ("boto3", "botocore", "policy_gen.audit.aws", "policy_gen.audit.command")


def _modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module ``path`` imports, anywhere in the file (``from a import b``
    counts as importing ``a.b`` when that is a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.add(submodule if submodule in modules else node.module)
    return names


def test_no_import_cycle_between_policy_gen_modules() -> None:
    modules = _modules()
    graph = {
        name: {
            target
            for target in _imports(path, modules)
            if target in modules and target != name and not name.startswith(f"{target}.")
        }
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = [*trail[trail.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_pure_audit_modules_never_import_aws() -> None:
    modules = _modules()
    for name in PURE_AUDIT:
        imported = _imports(modules[f"policy_gen.audit.{name}"], modules)
        reached = {i for i in imported if i.startswith(AWS_MODULES)}
        assert not reached, f"policy_gen.audit.{name} imports {sorted(reached)}"
