"""The pytest plugin from a wheel: built from this tree, installed into a fresh virtual
environment, and used by a user's project through the pytest11 entry point alone. The
dependencies come from this environment (a .pth line), kraft only from the wheel."""

import os
import shutil
import site
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
BUILD_BOUND_S = 300   # a wheel build on a busy 2-core machine
RUN_BOUND_S = 600     # the user's pytest run, a cluster started and stopped included

USER_TEST = """
    from pathlib import Path

    import kraft
    from confluent_kafka import Consumer, Producer

    def test_kraft_comes_from_the_wheel():
        Path("kraft_file").write_text(kraft.__file__)

    def test_produce_and_consume(kraft_cluster, kraft_topic):
        producer = Producer(kraft_cluster.client_config())
        producer.produce(kraft_topic, b"from the wheel")
        assert producer.flush(30) == 0
        consumer = Consumer({**kraft_cluster.client_config(), "group.id": "g", "auto.offset.reset": "earliest"})
        consumer.subscribe([kraft_topic])
        msg = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        consumer.close()
        assert msg is not None and msg.value() == b"from the wheel"
"""


def build_wheel(tmp_path: Path) -> Path:
    tree = tmp_path / "src"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".venv", ".git", "data", "build", "*.egg-info",
                                                              "__pycache__", ".mypy_cache"))
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(tree)], capture_output=True, text=True,
                         timeout=BUILD_BOUND_S)
    assert run.returncode == 0, run.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("kraft-*.whl")
    return wheel


def fresh_env(tmp_path: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; this environment's packages
    (the dependencies) reachable behind its own, through a .pth line."""
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    own_site = Path(subprocess.run([str(python), "-c", "import site; print(site.getsitepackages()[0])"],
                                   capture_output=True, text=True, timeout=60, check=True).stdout.strip())
    # only the directory: an editable install of this tree there (a .pth of its own) is not
    # processed from a .pth line, so `kraft` can only come from the wheel
    (own_site / "deps-from-the-test-env.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
                          str(wheel)], capture_output=True, text=True, timeout=BUILD_BOUND_S)
    assert run.returncode == 0, run.stderr[-2000:]
    return python


def test_a_user_project_runs_with_the_plugin_from_a_wheel(tmp_path):
    python = fresh_env(tmp_path, build_wheel(tmp_path))
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_user.py").write_text(textwrap.dedent(USER_TEST))
    (project / "pytest.ini").write_text("[pytest]\nkraft_nodes = 1\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    # where this worker's clusters live, and the machine's temporary directory
    env.update({k: v for k, v in os.environ.items() if k in ("KRAFT_LOCAL_CLUSTER_FIRST_ADDRESS", "TMPDIR")})
    ran = subprocess.run([str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q"], cwd=project, env=env,
                         capture_output=True, text=True, timeout=RUN_BOUND_S)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "2 passed" in ran.stdout
    assert (project / "kraft_file").read_text().startswith(str(tmp_path / "env")), \
        "kraft was imported from somewhere else than the wheel's install"
