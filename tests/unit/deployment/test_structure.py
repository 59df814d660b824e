"""The shape the packages promise: localapi is SAM local without Docker and knows
nothing of deployment (but its ``__main__`` hands three commands over); no module
imports itself back through another; no module grows past what one job needs."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("localapi", "deployment")
MAX_LINES = 800


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).glob("*.py")):
            name = package if path.stem == "__init__" else f"{package}.{path.stem}"
            found[name] = path
    return found


def imports(path: Path, known: set[str]) -> set[str]:
    """Every project module ``path`` imports, at module level or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(name for name in names if name in known)
    return found


def test_no_import_cycles() -> None:
    paths = modules()
    graph = {name: imports(path, set(paths)) - {name} for name, path in paths.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert cycles == []


def test_localapi_hands_over_only_from_main() -> None:
    paths = modules()
    for name, path in paths.items():
        deployment_imports = {m for m in imports(path, set(paths)) if m.startswith("deployment")}
        if name == "localapi.__main__":
            assert deployment_imports == {"deployment.__main__"}
        elif name.startswith("localapi"):
            assert deployment_imports == set(), name


def test_deployment_never_imports_the_localapi_entry_point() -> None:
    paths = modules()
    for name, path in paths.items():
        if name.startswith("deployment"):
            assert "localapi.__main__" not in imports(path, set(paths)), name


def test_no_module_over_the_limit() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
