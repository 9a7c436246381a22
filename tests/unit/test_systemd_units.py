"""deploy/systemd as docs/DEPLOY.md installs it: systemd's own checker accepts each unit,
`systemd-analyze security` rates each one below 4 (OK or better), a node that refuses to
start is not restarted in a loop, and the example environment file names only variables
kraft reads. systemd-analyze runs offline on the files (no running systemd needed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
INSTALLED_KRAFT = "/opt/kraft/venv/bin/kraft"  # where docs/DEPLOY.md installs it
SAFE_BELOW = 4.0  # systemd-analyze's "OK" band and better


def analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian/Ubuntu: apt-get install systemd)")
    version = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.match(r"systemd (\d+)", version)
    if found is None or int(found.group(1)) < 250:
        pytest.skip(f"systemd-analyze security --offline needs systemd 250 or later (here: {version[:40]!r})")
    return tool


def test_there_are_the_two_units_the_doc_names():
    assert [u.name for u in UNITS] == ["kraft-broker@.service", "kraft-controller@.service"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_the_unit(unit, tmp_path):
    tool = analyze()
    # the command must exist for verify: this checkout's kraft stands in for the installed one
    kraft = Path(sys.executable).with_name("kraft")
    assert kraft.exists(), kraft
    copy = tmp_path / unit.name.replace("@.", "@3.")
    copy.write_text(unit.read_text().replace(INSTALLED_KRAFT, str(kraft)))
    done = subprocess.run([tool, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_security_rates_the_unit_below_4(unit):
    tool = analyze()
    done = subprocess.run([tool, "security", "--offline=true", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    rated = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert rated is not None, done
    assert float(rated.group(1)) < SAFE_BELOW, done.stdout


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_a_node_that_refuses_to_start_is_not_restarted(unit):
    """`kraft node` exits 2 when the operator must act (kraft/server/main.py): the unit
    leaves it stopped, where Restart=on-failure would start it again and again."""
    settings = unit.read_text().splitlines()
    assert "RestartPreventExitStatus=2" in settings and "Restart=on-failure" in settings
    assert "StateDirectory=kraft" in settings and "User=kraft" in settings
    assert f"ExecStart={INSTALLED_KRAFT} node -c /etc/kraft/cluster.toml --id %i" in settings
    assert "EnvironmentFile=-/etc/kraft/kraft.env" in settings


def test_the_example_environment_file_names_only_what_kraft_reads():
    text = (ROOT / "deploy" / "systemd" / "kraft.env").read_text()
    names = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line == "#" or line.startswith("# "):
            continue  # a blank line or an explaining comment; "#KEY=value" is a default shown
        assignment = re.fullmatch(r"#?([A-Z][A-Z0-9_]*)=(\S+)", line)
        assert assignment is not None, f"not KEY=value: {line!r}"
        names.append(assignment.group(1))
    assert names, "no variable explained"
    source = "\n".join(p.read_text() for p in (ROOT / "kraft").rglob("*.py"))
    unread = [n for n in names if f'"{n}"' not in source]
    assert not unread, f"kraft reads none of {unread}"
