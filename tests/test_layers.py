"""The import contract (docs/architecture.md): one-way arrows between the layers, lazy imports included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# where each installed package's modules live in the repo
FOLDERS = {
    "pytest_normfusion": ROOT / "pytest_normfusion",
    "pytest_normfusion.reference": ROOT / "reference",
    "pytest_normfusion.impls": ROOT / "impls",
    "pytest_normfusion.conformance": ROOT / "conformance",
}
PYTEST_LAYER = {"options", "settings", "expectations", "harness", "results", "plugin", "pool", "report"}
NO_PYTEST = ("core", "ranks", "perf", "certificate", "api", "loading", "reference")


def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            if package == "pytest_normfusion" and any(p in path.parts for p in ("reference", "impls", "conformance")):
                continue
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, at the top or inside a function, resolved to our modules where it can be."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package.split(".")[: len(package.split(".")) - node.level + 1], base]).strip(".")
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in MODULES)
    return found


GRAPH = {name: {m for m in _imports(name, path) if m in MODULES and m != name} for name, path in MODULES.items()}


def _short(name: str) -> str:
    return name.removeprefix("pytest_normfusion.")


def test_the_module_graph_has_no_cycle() -> None:
    """Tarjan's strongly connected components: every one is a single module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(map(_short, component)))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert cycles == []


def test_nothing_imports_the_plugin() -> None:
    assert sorted(_short(n) for n, deps in GRAPH.items() if "pytest_normfusion.plugin" in deps) == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("pytest_normfusion.impls")))
def test_candidates_import_only_the_api_and_the_reference(name: str) -> None:
    ours = {m for m in _imports(name, MODULES[name]) if m.startswith("pytest_normfusion")}
    allowed = {"pytest_normfusion", "pytest_normfusion.api", "pytest_normfusion.reference"}
    assert {m for m in ours if m not in allowed and not m.startswith("pytest_normfusion.impls")} == set()


# the pytest-benchmark bridge is the one perf module that touches pytest
LOWER = sorted(n for n in MODULES if _short(n).split(".")[0] in NO_PYTEST and n != "pytest_normfusion.perf.benchmark")


@pytest.mark.parametrize("name", LOWER)
def test_lower_layers_import_no_pytest_and_no_pytest_layer(name: str) -> None:
    deps = _imports(name, MODULES[name])
    assert "pytest" not in deps
    assert {_short(m) for m in deps if m in MODULES and _short(m) in PYTEST_LAYER} == set()


def test_the_api_imports_no_torch_at_import() -> None:
    tree = ast.parse(MODULES["pytest_normfusion.api"].read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name for n in top if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in top if isinstance(n, ast.ImportFrom)}
    assert not any(n == "torch" or n.startswith("torch.") for n in names)
    imported = {m for n in names if n in MODULES for m in [n]}
    for module in imported:  # what the api imports at its top is torch-free at its top too
        inner = ast.parse(MODULES[module].read_text()).body
        assert not any(isinstance(n, ast.Import) and any(a.name == "torch" for a in n.names) for n in inner), module
