"""The numbers the README gives a new user match the code: how many checkers judge a
failure-lab run and how many scenarios ship (they drifted before)."""

from __future__ import annotations

import re
from pathlib import Path

import kraft
from kraft.scenario.checkers import CHECKERS

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_the_readme_counts_the_checkers_and_the_built_in_scenarios():
    builtin = sorted((Path(kraft.__file__).parent / "scenario" / "builtin").glob("*.toml"))
    said_checkers = re.search(r"judges (\d+)\s+checkers", README)
    said_scenarios = re.search(r"(\d+) built-in scenarios", README)
    assert said_checkers and int(said_checkers.group(1)) == len(CHECKERS), said_checkers
    assert said_scenarios and int(said_scenarios.group(1)) == len(builtin), said_scenarios

