"""`kraft up --host`'s choice of nodes and data dirs, and the restart request files between
`kraft host restart` and the `kraft up` supervising a host (real files in tmp dirs)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kraft.config.cluster import load_cluster_config_text
from kraft.config.data_dir import read_identity
from kraft.server import host_supervision as hs
from kraft.server.launcher import LaunchError, prepare_data_dirs


def hosts_toml(cluster: str = "") -> str:
    entries = "".join(f'\n[[hosts]]\nname = "{name}"\nprocesses = 2\nfirst_id = {1 + 2 * i}\ncontroller = true\n'
                      f'address = "127.0.0.{10 + i}"\nhttp_port = 8081\nkafka_port = 9092\nraft_port = 9191\n'
                      f'data_dir = "data/{name}"\n' for i, name in enumerate(("a", "b", "c")))
    return f'[cluster]\nname = "t"\n{cluster}\n{entries}'


def config(tmp_path, cluster: str = ""):
    return load_cluster_config_text(hosts_toml(cluster), "cluster.toml", tmp_path)


def test_hosts_are_chosen_by_name_repeated_or_in_a_comma_list_in_the_files_order(tmp_path):
    cfg = config(tmp_path)
    assert [h.name for h in hs.select_hosts(cfg, ["c,a"])] == ["a", "c"]
    assert [h.name for h in hs.select_hosts(cfg, ["b", "a", "b"])] == ["a", "b"]
    assert [n.id for n in hs.nodes_of(cfg, hs.select_hosts(cfg, ["b"]))] == [3, 4]


@pytest.mark.parametrize("names", [["a,x"], ["x"], [" , "]])
def test_a_name_the_file_does_not_give_is_one_line_naming_its_hosts(tmp_path, names):
    with pytest.raises(hs.HostSelectionError) as refused:
        hs.select_hosts(config(tmp_path), names)
    assert "a, b, c" in str(refused.value) and "\n" not in str(refused.value)


ID_AND_PASSWORD = 'id = "MkU3OEVBNTcwNTJENDM2Qg"\nraft_password = "a-long-secret"'


def test_up_with_hosts_on_a_machine_with_nothing_formatted_needs_the_files_id_and_password(tmp_path):
    with pytest.raises(LaunchError, match=r"\[cluster\] id and raft_password"):
        prepare_data_dirs(config(tmp_path), only=[1, 2])
    cfg = config(tmp_path, ID_AND_PASSWORD)
    assert prepare_data_dirs(cfg, only=[1, 2]) == "MkU3OEVBNTcwNTJENDM2Qg"
    assert [n.id for n in cfg.nodes if read_identity(n.data_path)] == [1, 2]  # only those hosts' dirs


def test_up_with_hosts_formats_their_dirs_with_the_id_other_dirs_here_hold(tmp_path):
    prepare_data_dirs(config(tmp_path, ID_AND_PASSWORD), only=[1, 2])
    cfg = config(tmp_path)  # the file says no id now: node 1's and 2's dirs do
    assert prepare_data_dirs(cfg, only=[3, 4]) == "MkU3OEVBNTcwNTJENDM2Qg"
    assert read_identity(cfg.node(3).data_path).raft_password == "a-long-secret"
    assert read_identity(cfg.node(5).data_path) is None


def test_a_restart_request_is_carried_out_once_and_answered_with_the_new_pids(tmp_path):
    cfg = config(tmp_path)
    desk = hs.RestartDesk.of(cfg, hs.select_hosts(cfg, ["a", "b"]))
    directory = hs.host_dir(cfg, cfg.hosts[1])
    assert hs.supervisor(directory) is None
    desk.claim()
    assert hs.supervisor(directory) == desk.pid
    request = hs.request_restart(directory)
    asked: list[tuple[int, ...]] = []

    def restart(ids):
        asked.append(ids)
        return {i: 1000 + i for i in ids}
    assert hs.restarted(directory, request) is None
    desk.poll(restart)
    desk.poll(restart)  # nothing left to do
    assert asked == [(3, 4)]
    assert hs.restarted(directory, request) == {3: 1003, 4: 1004}
    assert hs.restarted(directory, "another") is None
    desk.release()
    assert hs.supervisor(directory) is None


def test_a_supervisor_that_is_gone_supervises_nothing_and_a_request_can_be_withdrawn(tmp_path):
    cfg = config(tmp_path)
    directory = hs.host_dir(cfg, cfg.hosts[0])
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    hs.RestartDesk({"a": directory}, {"a": (1, 2)}, pid=int(gone.stdout)).claim()  # then killed
    assert hs.supervisor(directory) is None
    request = hs.request_restart(directory)
    hs.withdraw(directory, "not-ours")
    assert (directory / hs.REQUEST_FILE).exists()
    hs.withdraw(directory, request)
    assert not (directory / hs.REQUEST_FILE).exists()


def test_a_new_supervisor_drops_a_request_left_from_a_run_that_ended(tmp_path):
    cfg = config(tmp_path)
    directory = hs.host_dir(cfg, cfg.hosts[0])
    directory.mkdir(parents=True)
    hs.request_restart(directory)
    desk = hs.RestartDesk.of(cfg, cfg.hosts[:1])
    desk.claim()
    desk.poll(lambda ids: pytest.fail("a stale request was carried out"))
