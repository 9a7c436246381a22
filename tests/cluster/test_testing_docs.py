"""docs/TESTING.md's user tests (the `# test_app.py` block) run as written, in a project of
their own, against the installed package."""

import re
from pathlib import Path

import pytest

from test_testing_plugin import run_project

pytestmark = pytest.mark.cluster
DOC = Path(__file__).parents[2] / "docs" / "TESTING.md"


def doc_block(first_line: str) -> str:
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"no python block starting {first_line!r} in {DOC}")


def test_the_documented_user_tests_pass_as_written(tmp_path):
    ran = run_project(tmp_path, {"test_app.py": doc_block("# test_app.py"),
                                 "pytest.ini": "[pytest]\nkraft_nodes = 3\n"})
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    assert "3 passed" in ran.stdout
