"""The product's modules and what each imports, read from the source with ``ast``.

One reader for every layout test (cycles, layering rules, line budgets): reading the
source rather than ``sys.modules`` sees imports inside functions too, and cannot be
fooled by import order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product: what users install or deploy, and the tools that generate its files.
PACKAGES = ("policy_gen", "localapi", "sam_project", "deployment")
HANDLER = ROOT / "src" / "handler"
SCRIPTS = ROOT / "scripts"


def product_files(root: Path = ROOT) -> Iterator[Path]:
    for package in PACKAGES:
        if (root / package).is_dir():
            yield from sorted((root / package).rglob("*.py"))
    handler = root / HANDLER.relative_to(ROOT)
    yield from sorted(p for p in handler.rglob("*.py") if "__pycache__" not in p.parts)
    yield from sorted((root / SCRIPTS.relative_to(ROOT)).glob("*.py"))


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted name as the code imports it (the handler's code root is ``src/handler``)."""
    handler = root / HANDLER.relative_to(ROOT)
    base = handler if path.is_relative_to(handler) else root
    if path.parent == root / SCRIPTS.relative_to(ROOT):
        base = path.parent  # scripts run as top-level modules
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


def product_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(path, root): path for path in product_files(root)}


def imports_of(path: Path, known: set[str], root: Path = ROOT) -> set[str]:
    """The known modules ``path`` imports, at module level or inside functions.

    ``from a import b`` imports ``a.b`` when that is a module, else ``a``; a name that is
    not a known module resolves to the longest known module it starts with.
    """
    this = module_name(path, root)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] or [base]
        for imported in names:
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != this:
                found.add(target)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = product_modules(root)
    known = set(modules)
    return {name: imports_of(path, known, root) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every set of modules that import one another (Tarjan's strongly connected
    components with more than one member, or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found
