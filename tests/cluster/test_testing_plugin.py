"""The pytest plugin as a user meets it: a project of its own, run by pytest in a
subprocess against the installed package (fixtures found through the pytest11 entry
point, never this repository's conftest)."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

RUN_BOUND_S = 600  # a user's whole pytest run, clusters started and stopped included


def run_project(tmp_path: Path, files: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Write the user's project and run pytest in it (cwd: the project, so only its own
    files are collected and no conftest of this repository applies)."""
    project = tmp_path / "project"
    project.mkdir()
    for name, text in files.items():
        (project / name).write_text(textwrap.dedent(text))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONPATH"))}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=RUN_BOUND_S)


USER_TEST = """
    from confluent_kafka import Consumer, Producer

    def test_produce_and_consume(kraft_cluster, kraft_topic):
        producer = Producer({"bootstrap.servers": kraft_cluster.bootstrap_servers})
        producer.produce(kraft_topic, b"hello")
        assert producer.flush(30) == 0
        consumer = Consumer({"bootstrap.servers": kraft_cluster.bootstrap_servers, "group.id": "g",
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([kraft_topic])
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        consumer.close()
        assert msg is not None and msg.value() == b"hello"

    def test_topics_are_fresh(kraft_cluster, kraft_topic):
        assert kraft_topic in kraft_cluster.admin.topics()
        assert kraft_cluster.rest_url.startswith("http://127.0.0.")
"""


def test_user_project_gets_a_cluster_through_the_entry_point(tmp_path):
    ran = run_project(tmp_path, {"test_user.py": USER_TEST, "pytest.ini": "[pytest]\nkraft_nodes = 1\n"})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 passed" in ran.stdout


def test_xdist_workers_each_get_their_own_cluster(tmp_path):
    files = {"pytest.ini": "[pytest]\nkraft_nodes = 1\n", "test_workers.py": """
        import os
        from pathlib import Path

        def test_one(kraft_cluster, kraft_topic):
            Path(os.environ["PYTEST_XDIST_WORKER"]).write_text(kraft_cluster.bootstrap_servers)

        def test_two(kraft_cluster, kraft_topic):
            Path(os.environ["PYTEST_XDIST_WORKER"] + "-b").write_text(kraft_cluster.bootstrap_servers)
    """}
    ran = run_project(tmp_path, files, "-n", "2", "--dist", "each")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    project = tmp_path / "project"
    seen = {w: (project / w).read_text() for w in ("gw0", "gw1")}
    assert seen["gw0"] != seen["gw1"], seen  # no two workers on one listener


def test_a_crashed_session_leaves_no_node_behind(tmp_path):
    files = {"pytest.ini": "[pytest]\nkraft_nodes = 1\n", "test_crash.py": """
        import os, signal
        from pathlib import Path

        def test_crash(kraft_cluster):
            pids = [p.pid for p in kraft_cluster.local.procs.values()]
            Path("pids").write_text(" ".join(map(str, pids)))
            os.kill(os.getpid(), signal.SIGKILL)  # no fixture teardown, no atexit
    """}
    ran = run_project(tmp_path, files)
    assert ran.returncode == -9, ran.stdout + ran.stderr
    pids = [int(p) for p in (tmp_path / "project" / "pids").read_text().split()]
    assert pids
    deadline = time.monotonic() + 60  # the node's owner watch notices within a second
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    assert not [p for p in pids if _alive(p)], "nodes outlived the session that started them"


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended


def test_a_cluster_that_cannot_start_fails_with_its_log_tail(tmp_path):
    boom = tmp_path / "boom"
    boom.mkdir()
    (boom / "sitecustomize.py").write_text("import os\nos.write(2, b'node cannot start: boom\\n')\n"
                                           "os._exit(3)\n")
    files = {"test_fail.py": f"""
        def test_needs_cluster(kraft_cluster_factory):
            kraft_cluster_factory(nodes=1, env={{"PYTHONPATH": {str(boom)!r}}})
    """}
    ran = run_project(tmp_path, files)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "did not start" in ran.stdout and "node cannot start: boom" in ran.stdout, ran.stdout
    assert "pytest_plugin.py" not in ran.stdout  # a plain failure, not the plugin's traceback
