"""A scenario that cannot run here is reported as skipped and exits 3, never 0."""

from __future__ import annotations

import os
import subprocess
import sys


def test_a_skipped_scenario_is_not_a_pass(tmp_path):
    # No iptables on PATH: the network-fault scenario cannot run, before any cluster starts.
    env = {**os.environ, "PATH": str(tmp_path)}
    ran = subprocess.run([sys.executable, "-m", "kraft", "scenario", "run", "isolate-leader"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert ran.returncode == 3, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "SKIPPED (not a pass)" in ran.stdout and "iptables" in ran.stdout
    assert "not a pass" in ran.stdout.splitlines()[-1]
