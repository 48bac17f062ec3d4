"""The architecture, checked: the import graph has no cycle, the learner never imports the
pipeline, and nothing in the library imports the command line."""

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

PACKAGES = ("contract", "corpus", "model", "pipelines")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every project module `path` imports, at the top level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES}


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for pkg in PACKAGES for p in (REPO_ROOT / pkg).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        # `from corpus import store` names a module; `from corpus.x import f` a function.
        edges[name] = {m for m in imports_of(path) if m in modules and m != name}
    return edges


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            # A package's __init__ importing its own submodules is not a cycle of modules.
            if node == nxt.rsplit(".", 1)[0] or nxt == node.rsplit(".", 1)[0]:
                continue
            if state.get(nxt) == "open":
                cycle = [*stack[stack.index(nxt):], nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_the_learner_reads_bundles_only_through_the_contract():
    for name, deps in graph().items():
        if name.startswith("model"):
            assert not {d for d in deps if d.split(".")[0] in ("corpus", "pipelines")}, name


def test_the_contract_depends_on_neither_side():
    for name, deps in graph().items():
        if name.startswith("contract"):
            assert {d.split(".")[0] for d in deps} <= {"contract"}, name


def test_only_the_edge_imports_the_command_line():
    for name, deps in graph().items():
        if not name.startswith("pipelines"):
            assert not {d for d in deps if d.startswith("pipelines")}, name


def test_every_package_ships_in_the_wheel():
    """pyproject lists packages by hand (the design card's folders stay top-level); a package
    missing from the list would import from a checkout and be absent from `pip install .`."""
    import tomllib

    declared = set(tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
                   ["tool"]["setuptools"]["packages"])
    found = {module_name(p.parent / "__init__.py") for pkg in PACKAGES
             for p in (REPO_ROOT / pkg).rglob("__init__.py")}
    assert found - declared == set(), "add these to [tool.setuptools] packages"
    assert declared - found == {"subtext_data"}
