"""The package's layers import only downward: every import in kraft/, including those
inside functions.

ORDER is the one source of the layer order. kraft/__init__.py's docstring and README.md's
"Layout" table repeat it for readers; the last two tests keep them in step with it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import kraft

pytestmark = pytest.mark.slow  # a tree-wide check: in the default suite, not in `./dev unit`

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["errors", "config", "security", "schemas", "metadata", "iceberg", "storage", "quorum", "replication", "controller", "coordinator",
         "groups", "transactions", "share", "internode", "broker", "registry", "api", "kafka", "server", "client", "scenario", "testing", "perf", "cli", "top"]
FRONT_DOORS = {"api", "kafka"}  # side by side: neither imports the other
RANK = {name: i for i, name in enumerate(ORDER)}
TOP = {"__init__", "__main__"}  # the package's own entry points


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "top"
    head = parts[1]
    return "top" if head in TOP else head


def kraft_imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    here = module_of(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:  # `from kraft.x import y` may name a module y
                yield node.lineno, f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base


def _is_module(name: str) -> bool:
    parts = name.split(".")
    if parts[0] != "kraft":
        return False
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def sources():
    yield from sorted((ROOT / "kraft").rglob("*.py"))


def test_every_layer_declared_exists():
    found = {layer_of(module_of(p)) for p in sources()}
    assert found <= set(ORDER), found - set(ORDER)


def test_layers_import_only_downward():
    violations = []
    for path in sources():
        mine = layer_of(module_of(path))
        for line, name in kraft_imports(path):
            top = name.split(".")[0]
            if top in ("metadata", "replication", "groups"):
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {name} (old top-level name)")
                continue
            if top != "kraft" or name == "kraft":
                continue
            theirs = layer_of(name)
            if {mine, theirs} == FRONT_DOORS:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {name} (one front door reaches into the other)")
            elif RANK[theirs] > RANK[mine]:
                violations.append(f"{path.relative_to(ROOT)}:{line} imports {name} (layer {mine} -> layer {theirs})")
    assert not violations, "\n".join(violations)


def test_no_import_cycles_between_modules():
    graph = {}
    for path in sources():
        here = module_of(path)
        graph[here] = {name for _, name in kraft_imports(path) if name.startswith("kraft.") and name != here}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [nxt])
                return True
            if state.get(nxt) is None and visit(nxt, stack + [nxt]):
                return True
        state[node] = 2
        return False

    for node in graph:
        if state.get(node) is None and visit(node, [node]):
            break
    assert not cycle, " -> ".join(cycle)


def _as_order(names: list[str]) -> list[str]:
    """Layer names as written for readers, consecutive repeats as one."""
    out: list[str] = []
    for name in names:
        name = "top" if name in TOP else name
        if not out or out[-1] != name:
            out.append(name)
    return out


def test_the_package_docstring_lists_the_layers_in_order():
    doc = kraft.__doc__ or ""
    chain = doc[doc.index("errors ->"):doc.index("\n\n", doc.index("errors ->"))]
    assert _as_order(re.findall(r"[a-z][a-z.]*", chain)) == ORDER[:-1]  # "top": the package's own entry points


def test_the_readme_layout_table_lists_the_layers_in_order():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout"):]
    section = section[:section.index("\n## ", 1)]
    rows = [line.split("|")[1].strip() for line in section.splitlines() if line.startswith("| ")]
    names = [n.strip() for row in rows[1:] if row for n in row.split(",")]
    assert _as_order(names) == ORDER[:-1]
