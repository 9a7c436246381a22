"""Under systemd (deploy/systemd/*.service, Type=notify) a node says READY=1 once it can
take requests and STOPPING=1 when it begins to stop, so `systemctl start` and a rolling
restart wait for the node itself, not for a guessed delay. The service manager is stood
in for by the datagram socket systemd would pass in NOTIFY_SOCKET; the node is real."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


def receive_until(sock: socket.socket, field: str, timeout_s: float) -> list[str]:
    """Every message up to and including the first that has `field` as a line."""
    got = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            break
        got.append(message)
        if field in message.splitlines():
            return got
    raise AssertionError(f"no {field} within {timeout_s}s; got {got}")


def test_a_node_tells_the_service_manager_when_it_is_ready_and_when_it_stops(tmp_path):
    manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    manager.bind(str(tmp_path / "notify"))
    with manager, LocalCluster(1, env={"NOTIFY_SOCKET": str(tmp_path / "notify")}) as c:
        c.start()
        messages = receive_until(manager, "READY=1", timeout_s=60)
        assert c.get(1, "/status/ready")[0] == 200  # ready as soon as it says so
        assert "STATUS=serving" in messages[-1].splitlines()
        assert not any("READY=1" in m.splitlines() for m in messages[:-1])  # said once
        c.procs[1].send_signal(15)
        stopping = receive_until(manager, "STOPPING=1", timeout_s=20)
        assert c.procs[1].wait(30) == 0
        assert any(line.startswith("STATUS=stopping") for line in stopping[-1].splitlines())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed (the units are checked where systemd is)")
@pytest.mark.parametrize("unit", ["kraft-controller@.service", "kraft-broker@.service"])
def test_the_shipped_units_are_valid_for_systemd(unit, tmp_path):
    kraft = Path(sys.executable).with_name("kraft")
    text = (UNITS / unit).read_text()
    assert "Type=notify" in text and "LimitNOFILE=" in text and "Restart=on-failure" in text
    # installed as the instance of node 1, pointing at this checkout's kraft
    instance = tmp_path / unit.replace("@", "@1")
    instance.write_text(text.replace("/opt/kraft/venv/bin/kraft", str(kraft))
                        .replace("User=kraft\n", "").replace("Group=kraft\n", ""))
    result = subprocess.run(["systemd-analyze", "verify", str(instance)], capture_output=True, text=True,
                            timeout=60, cwd=tmp_path)
    complaints = [line for line in (result.stdout + result.stderr).splitlines() if instance.name in line]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr
