"""deploy/systemd as docs/DEPLOY.md installs it: systemd's own checker accepts each unit,
`systemd-analyze security` rates each one below 4 (OK or better), a node that refuses to
start is not restarted in a loop, and the example environment file names only variables
kraft reads; and systemd's checker accepts what `kraft host units` writes for a host (its
target and a drop-in per process) beside the templates. systemd-analyze runs offline on
the files (no running systemd needed)."""

from __future__ import annotations

import os
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


HOSTS_TOML = """
[cluster]
name = "hosts"

[[hosts]]
name = "a"
processes = 2
first_id = 1
controller = true
address = "10.0.0.1"
http_port = 8081
kafka_port = 9092
raft_port = 9193
data_dir = "/var/lib/kraft/a"

[[hosts]]
name = "b"
processes = 2
first_id = 10
address = "10.0.0.2"
http_port = 8081
kafka_port = 9092
data_dir = "/srv/kraft/b"
"""


def host_unit_dir(tmp_path: Path, host: str) -> Path:
    """A unit directory as docs/DEPLOY.md fills it: the templates (this checkout's kraft in
    ExecStart) and what `kraft host units HOST --out` writes."""
    from kraft.cli.host_units import host_processes, host_unit_files, write_unit_files
    from kraft.config.cluster import load_cluster_config_text
    kraft = Path(sys.executable).with_name("kraft")
    out = tmp_path / "units"
    out.mkdir(exist_ok=True)
    for unit in UNITS:
        (out / unit.name).write_text(unit.read_text().replace(INSTALLED_KRAFT, str(kraft)))
    config = load_cluster_config_text(HOSTS_TOML, "cluster.toml", "/")
    write_unit_files(host_unit_files(host, host_processes(config, host)), out, host)
    return out


def verify(tool: str, unit_dir: Path, unit: str) -> subprocess.CompletedProcess:
    # the directory first on the unit path, so the target's Wants= and their drop-ins load from it
    env = {**os.environ, "SYSTEMD_UNIT_PATH": f"{unit_dir}:"}
    return subprocess.run([tool, "verify", unit],
                          capture_output=True, text=True, timeout=60, env=env)


@pytest.mark.parametrize("host", ["a", "b"])
def test_systemd_analyze_verify_accepts_a_hosts_target_and_drop_ins(host, tmp_path):
    tool = analyze()
    unit_dir = host_unit_dir(tmp_path, host)
    for unit in [f"kraft-host-{host}.target"] + [d.name.removesuffix(".d") for d in unit_dir.glob("*.service.d")]:
        done = verify(tool, unit_dir, unit)
        assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (unit, done)


def test_the_check_reads_the_drop_ins(tmp_path):
    """What the check above stands on: systemd-analyze loads each process's drop-in through
    the target, so a mistake in one is reported."""
    tool = analyze()
    unit_dir = host_unit_dir(tmp_path, "a")
    drop_in = unit_dir / "kraft-broker@2.service.d" / "host.conf"
    drop_in.write_text(drop_in.read_text().replace("PartOf=", "PartOff="))
    done = verify(tool, unit_dir, "kraft-host-a.target")
    assert "PartOff" in done.stderr, done
