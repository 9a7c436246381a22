"""Small enough to read: no module in kraft/ or bench/ over 500 lines, no function over 80.

A module that grows past the limit is split by concept, a function by its steps (a
benchmark by role: its runners, its report, its command line)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a tree-wide check: in the default suite, not in `./dev unit`

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def sources() -> list[Path]:
    # bench/: the scripts, and their helper modules in bench/parts/
    return sorted((ROOT / "kraft").rglob("*.py")) + sorted((ROOT / "bench").rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [f"{_name(path)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno is not None and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_module_is_over_the_limit():
    over = [f"{_name(p)} ({n} lines)" for p in sources()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not over, "\n".join(over)


def test_no_function_is_over_the_limit():
    over = [line for p in sources() for line in long_functions(p)]
    assert not over, "\n".join(over)

