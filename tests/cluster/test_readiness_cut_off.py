"""A node cut off from the controller stops saying it is ready.

Its own metadata is cut off too, so it still shows the node unfenced; what tells it is
that its heartbeats have gone unanswered for a whole broker session (the controller
fences it in that time). A load balancer or operator polling /status/ready must not
keep sending clients to it.
"""

from __future__ import annotations

import pytest

from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster


def test_node_cut_off_from_the_quorum_is_not_ready_and_recovers():
    with LocalCluster(3) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        assert http_json("GET", c.url(1) + "/status/ready")[0] == 200
        c.pause(2)
        c.pause(3)
        try:
            def not_ready():
                status, body = http_json("GET", c.url(1) + "/status/ready", timeout=5)
                return body if status == 503 else None
            body = c.wait_until(not_ready, 20, "node 1 to report itself not ready")
            assert "heartbeat" in str(body), body
        finally:
            c.resume(2)
            c.resume(3)
        c.wait_ready(timeout_s=60)
