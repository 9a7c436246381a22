"""The installed package is one import name, `kraft`: a wheel built from the tree holds
nothing else, and the pyproject's package list matches the folders."""

from __future__ import annotations

import pytest

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

pytestmark = pytest.mark.slow  # a tree-wide check: in the default suite, not in `./dev unit`

ROOT = Path(__file__).resolve().parents[2]


def test_the_package_list_matches_the_tree():
    """Every folder under kraft/ is listed, those holding only data files too: Python can
    import any folder, and setuptools warns about one it is not told to ship."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = [ROOT / "kraft", *(d for d in (ROOT / "kraft").rglob("*") if d.is_dir() and d.name != "__pycache__"
                                  and not d.name.startswith("."))]
    found = {".".join(("kraft", *d.relative_to(ROOT / "kraft").parts)) for d in folders}
    assert listed == found


def test_a_built_wheel_holds_only_kraft(tmp_path):
    tree = tmp_path / "src"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "*.egg-info",
                                                              "__pycache__", ".mypy_cache"))
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(tree)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("kraft-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"kraft", next(n.split("/")[0] for n in names if ".dist-info" in n)}
    for expected in ("kraft/metadata/image.py", "kraft/replication/replica_manager.py", "kraft/cluster.toml",
                     "kraft/scenario/builtin/chaos.toml", "kraft/storage/partition_log.py",
                     "kraft/api/console/static/index.html", "kraft/api/console/static/console.css",
                     "kraft/api/console/static/js/app.js", "kraft/api/console/static/js/pages/lab.js"):
        assert expected in names


def test_old_top_level_names_are_not_importable():
    code = "import importlib.util as u; print([u.find_spec(n) is None for n in ('metadata', 'replication', 'groups')])"
    run = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[True, True, True]", run.stderr
