"""mypy runs clean on every package of kraft, as listed in pyproject.toml [tool.mypy]:
errors, config, security, metadata, storage, replication, controller, groups, quorum,
broker, api, kafka, server, client, cli, perf and scenario, with check_untyped_defs on
(so the bodies of unannotated route handlers are checked too: a produce can be followed
from its route through BrokerServices to the log). The pure cores (metadata, controller,
storage) and the coordinators (runtime, groups, transactions) are held to every flag of
`strict` that mypy takes per module. Run on the tree itself: every module's import path
is its file path."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a tree-wide check: in the default suite, not in `./dev unit`

ROOT = Path(__file__).resolve().parents[2]


def test_mypy_is_clean_on_the_checked_packages(tmp_path):
    run = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                          "--cache-dir", str(tmp_path / "cache")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-2000:]


def test_mypy_lists_every_package():
    """A new package is type-checked from the start: the mypy list covers the wheel's."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    # kraft's own modules are listed one by one (kraft.errors); builtin holds scenario files
    # only, kraft.api.console.static the web console's (HTML, CSS, JavaScript)
    shipped = set(config["tool"]["setuptools"]["packages"]) - {
        "kraft", "kraft.scenario.builtin", "kraft.api.console.static", "kraft.api.console.static.js",
        "kraft.api.console.static.js.pages"}
    checked = set(config["tool"]["mypy"]["packages"])  # mypy checks their sub-packages too
    assert {name for name in shipped if not any(name == c or name.startswith(c + ".") for c in checked)} == set()


# What `strict = true` turns on, less warn_redundant_casts (global only, checked below):
# mypy takes each of these per module.
STRICT_PER_MODULE = {
    "disallow_any_generics": True, "disallow_subclassing_any": True, "disallow_untyped_calls": True,
    "disallow_untyped_defs": True, "disallow_incomplete_defs": True, "check_untyped_defs": True,
    "disallow_untyped_decorators": True, "warn_unused_ignores": True, "warn_return_any": True,
    "implicit_reexport": False, "strict_equality": True, "extra_checks": True,
}
STRICT_CORES = {"kraft.metadata.*", "kraft.controller.*", "kraft.storage.*",
                "kraft.coordinator.*", "kraft.groups.*", "kraft.transactions.*"}


def test_the_pure_cores_and_the_coordinators_are_held_to_strict():
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert mypy["warn_redundant_casts"] is True
    strict = {module for override in mypy["overrides"]
              if all(override.get(flag) == value for flag, value in STRICT_PER_MODULE.items())
              for module in override["module"]}
    assert STRICT_CORES - strict == set()
