"""Every module's import path is its file path: `kraft.x.y` is kraft/x/y.py (and `kraft.x`
is kraft/x/__init__.py), so a reader finds any module from its name alone."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a tree-wide check: in the default suite, not in `./dev unit`

ROOT = Path(__file__).resolve().parents[2]


def import_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def test_every_module_imports_from_its_own_file():
    misplaced = []
    for path in sorted((ROOT / "kraft").rglob("*.py")):
        name = import_name(path)
        if name == "kraft.__main__":  # importing it runs the command: where it would load from
            found = importlib.util.find_spec(name)
            origin = found.origin if found else None
        else:
            origin = importlib.import_module(name).__file__
        if origin is None or Path(origin).resolve() != path:
            misplaced.append(f"{name}: {origin} (expected {path.relative_to(ROOT)})")
    assert not misplaced, "\n".join(misplaced)


def test_no_python_outside_kraft_installs_as_part_of_it():
    """The repository root holds no package folder: tests, bench and docs only."""
    packages = {d.name for d in ROOT.iterdir() if d.is_dir() and (d / "__init__.py").exists()}
    assert packages == {"kraft"}, packages
