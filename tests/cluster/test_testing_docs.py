"""docs/TESTING.md's user tests (the `# test_app.py` block) and the README's example
("kraft in your own tests") run as written, in a project of their own, against the
installed package."""

import re
from pathlib import Path

import pytest

from test_testing_plugin import run_project

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "TESTING.md"
README = ROOT / "README.md"


def doc_block(first_line: str, doc: Path = DOC, holding: str = "") -> str:
    for block in re.findall(r"```python\n(.*?)```", doc.read_text(), re.S):
        if block.startswith(first_line) and holding in block:
            return block
    raise AssertionError(f"no python block starting {first_line!r} (holding {holding!r}) in {doc}")


def test_the_documented_user_tests_pass_as_written(tmp_path):
    ran = run_project(tmp_path, {"test_app.py": doc_block("# test_app.py"),
                                 "pytest.ini": "[pytest]\nkraft_nodes = 3\n"})
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    assert "3 passed" in ran.stdout


def test_the_readme_example_passes_as_written(tmp_path):
    block = doc_block("from confluent_kafka import Producer", README, holding="kraft_cluster.kill_leader")
    ran = run_project(tmp_path, {"test_readme.py": block, "pytest.ini": "[pytest]\nkraft_nodes = 3\n"})
    assert ran.returncode == 0, ran.stdout[-6000:] + ran.stderr[-2000:]
    assert "1 passed" in ran.stdout
