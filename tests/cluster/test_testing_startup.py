"""What a test cluster's node does at start: only what the node needs."""

import subprocess
import sys

import pytest

from kraft.testing import Cluster

pytestmark = pytest.mark.cluster

USAGE_BOUND_S = 120  # one Python start on a busy machine


def test_a_node_skips_kio_hypothesis_strategies_where_hypothesis_is_installed():
    pytest.importorskip("hypothesis")  # the cost only exists where Hypothesis is installed
    # the node's interpreter lists every module it imports on stderr, into the node's log
    with Cluster(nodes=1, env={"PYTHONPROFILEIMPORTTIME": "1"}) as c:
        imports = [line.rsplit("|", 1)[-1].strip() for line in c.log_path(1).read_text().splitlines()
                   if line.startswith("import time:")]
    assert "kio.static.primitive" in imports  # the node does load the protocol types
    # kio's one attempt (import hypothesis.strategies) is listed, refused; nothing of it loads
    assert not [name for name in imports if name.split(".")[0] == "hypothesis" and name != "hypothesis.strategies"]


@pytest.mark.parametrize("args, says", [
    ([], "usage: python -m kraft.server.node_process CONFIG NODE_ID"),
    (["cluster.toml", "one"], "usage: python -m kraft.server.node_process CONFIG NODE_ID"),
    (["no-such-cluster.toml", "1"], "kraft node: "),
])
def test_the_node_process_refuses_bad_arguments_plainly(tmp_path, args, says):
    ran = subprocess.run([sys.executable, "-m", "kraft.server.node_process", *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=USAGE_BOUND_S)
    assert ran.returncode == 2
    assert ran.stderr.startswith(says) and "Traceback" not in ran.stderr
