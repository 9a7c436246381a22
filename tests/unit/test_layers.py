"""The package's layers import only downward (kraft/__init__.py lists them): every
import in kraft/, metadata/ and replication/, including those inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ORDER = ["errors", "config", "security", "metadata", "storage", "quorum", "replication", "controller", "groups",
         "internode", "broker", "api", "kafka", "internode.routes", "server", "client", "top"]
# kraft.internode holds both halves of node-to-node HTTP: its client below the broker,
# its server (routes) beside the front doors, above the broker it serves.
SERVER_HALVES = {"kraft.internode.routes": "internode.routes"}
FRONT_DOORS = {"api", "kafka"}  # side by side: neither imports the other
RANK = {name: i for i, name in enumerate(ORDER)}
TOP = {"cli", "perf", "scenario", "__init__", "__main__"}
# The bundled client picks partitions by the same rule as the server (murmur2 of the key).
ALLOWED_UPWARD = {("client", "kraft.broker.partitioner")}


def module_of(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[0] in ("metadata", "replication"):
        parts = ["kraft", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    if module in SERVER_HALVES:
        return SERVER_HALVES[module]
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
    candidates = []
    if len(parts) > 1 and parts[1] in ("metadata", "replication"):
        candidates.append(ROOT.joinpath(*parts[1:]))
    candidates.append(ROOT.joinpath(*parts))
    return any(c.with_suffix(".py").exists() or (c / "__init__.py").exists() for c in candidates)


def sources():
    for folder in ("kraft", "metadata", "replication"):
        yield from sorted((ROOT / folder).rglob("*.py"))


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
            elif RANK[theirs] > RANK[mine] and (mine, name) not in ALLOWED_UPWARD:
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
