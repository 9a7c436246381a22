"""Every fuzz target (tests/fuzz/target_*.py, found by name) over its whole corpus plus a
short coverage-guided run, in the default suite; a long run of each behind the `fuzz`
marker (`./dev test -m fuzz`; KRAFT_FUZZ_SECONDS sets its length, 600 by default). Each
run is a child process (tests/fuzz/run.py): a crash, an out-of-memory or a hang there is a
failure here with its input saved, not the end of pytest."""

from __future__ import annotations

import os
import pathlib

import pytest

from tests.fuzz import run

SHORT_S = 6  # per target, corpus pass included: the default suite's whole fuzz cost stays under a minute
LONG_S = int(os.environ.get("KRAFT_FUZZ_SECONDS", "600"))


def _verdict(target: str, findings: pathlib.Path, status: int, output: str) -> None:
    found = run.findings_in(findings)
    if status == 0 and not found:
        return
    shown = "\n".join(f"{p} ({p.stat().st_size} bytes): {p.read_bytes()[:120].hex()}" for p in found)
    pytest.fail(f"fuzz target {target}: exit status {status}; reproducers (replay with "
                f"`python -m tests.fuzz.run {target} --replay FILE`):\n{shown}\n{output[-3000:]}")


@pytest.mark.parametrize("target", run.targets())
def test_short_fuzz_run_finds_nothing(target, tmp_path):
    status, output = run.fuzz(target, SHORT_S, tmp_path)
    _verdict(target, tmp_path, status, output)
    assert "INITED" in output, f"libFuzzer never finished reading the corpus:\n{output[-2000:]}"


@pytest.mark.fuzz
@pytest.mark.timeout(LONG_S + 300)
@pytest.mark.parametrize("target", run.targets())
def test_long_fuzz_run_finds_nothing(target):
    findings = run.HERE / "findings" / target  # kept after the run: git-ignored
    status, output = run.fuzz(target, LONG_S, findings)
    _verdict(target, findings, status, output)
