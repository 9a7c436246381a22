"""Nodes formatted with different Raft passwords never form a quorum, and say why: in the
log, in /status/ready's reason and in `kraft quorum status` (not only "no active
controller has been seen yet")."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from kraft.config.data_dir import META_PROPERTIES
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster

WHY = "fail authentication"


def test_different_raft_passwords_are_named_as_the_reason():
    with LocalCluster(3) as c:
        for node_id, password in ((2, "another-password-2"), (3, "another-password-3")):
            meta = c.config.node(node_id).data_path / META_PROPERTIES
            meta.write_text(re.sub(r"raft\.password=.*", f"raft.password={password}", meta.read_text()))
        c.start()

        def reason_named():
            status, body = http_json("GET", c.url(1) + "/status/ready", timeout=5)
            return body if status == 503 and WHY in body.get("reason", "") else None
        body = c.wait_until(reason_named, 30, "node 1's readiness to name the cause")
        assert "raft_password" in body["reason"], body
        shown = subprocess.run([sys.executable, "-m", "kraft", "quorum", "status",
                                "--bootstrap", c.url(1)], capture_output=True, text=True, timeout=60)
        assert WHY in shown.stdout, shown.stdout + shown.stderr
        assert WHY in c.log_path(1).read_text()
