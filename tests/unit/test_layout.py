"""The code's shape, kept by tests: small modules, no import cycles, packages that say
what they hold, comments about this repository only.

A newcomer finds their way by package and module names; a 2,000-line module or a cycle
(two modules that each need the other) is where that stops working.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.unit.import_graph import (
    PACKAGES,
    ROOT,
    cycles,
    import_graph,
    imports_of,
    product_files,
    product_modules,
)

MAX_MODULE_LINES = 800


def test_no_product_module_is_over_the_line_budget() -> None:
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in product_files()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}, f"split these along their seams: {too_long}"


@pytest.mark.parametrize("package", PACKAGES)
def test_each_package_says_what_it_holds(package: str) -> None:
    init = ROOT / package / "__init__.py"
    assert init.is_file(), f"{package} has no __init__.py"
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
    assert docstring and len(docstring.split()) >= 8, f"{package}/__init__.py needs a docstring"


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == [], "modules that import each other"


def test_the_cycle_finder_sees_a_cycle_through_a_lazy_import(tmp_path: Path) -> None:
    """Positive control: an import inside a function still closes a cycle."""
    package = tmp_path / "policy_gen"
    package.mkdir()
    (package / "__init__.py").write_text('"""A package."""\n')
    (package / "a.py").write_text("from policy_gen import b\n")
    (package / "b.py").write_text("def f():\n    from policy_gen.a import g\n")
    (package / "c.py").write_text("from . import a\n")
    graph = import_graph(tmp_path)
    assert graph["policy_gen.c"] == {"policy_gen.a"}
    assert cycles(graph) == [["policy_gen.a", "policy_gen.b"]]


def test_comments_speak_of_this_repository_only() -> None:
    outside = [
        str(path.relative_to(ROOT))
        for path in product_files()
        if "../shared/" in (text := path.read_text(encoding="utf-8"))
        or "REFERENCE.md" in text
        or "active development" in text
    ]
    assert outside == []


def test_localapi_reaches_deployment_only_from_main() -> None:
    """localapi is SAM local without Docker; its ``__main__`` forwards three commands."""
    modules = product_modules()
    known = set(modules)
    for name, path in modules.items():
        if not name.startswith("localapi"):
            continue
        reached = {m for m in imports_of(path, known) if m.startswith("deployment")}
        assert reached == ({"deployment.__main__"} if name == "localapi.__main__" else set()), name


def test_no_module_imports_an_entry_point() -> None:
    """``__main__`` modules are where commands start, never something to build on."""
    graph = import_graph()
    offenders = {
        name: sorted(m for m in targets if m.endswith("__main__"))
        for name, targets in graph.items()
        if not name.endswith("__main__") and any(m.endswith("__main__") for m in targets)
    }
    assert offenders == {}
