"""The failure lab's clusters of [[hosts]] entries, without starting a process: the file
LocalCluster writes (one address per host, consecutive ports, the first process of each
host a controller), the scenario files' keys for it, and the targets that name a host."""

from __future__ import annotations

import pytest

from kraft.config.scenarios import ScenarioError, load_scenario, load_scenario_text
from kraft.scenario.targets import host_processes, resolve
from kraft.server.local_cluster import LocalCluster


@pytest.fixture(scope="module")
def hosted():
    with LocalCluster(host_entries=3, processes_per_host=2, inter_broker_listener=True) as c:
        yield c


def test_each_host_is_one_address_with_its_processes_on_consecutive_ports(hosted):
    assert hosted.host_of == {1: "h1", 2: "h1", 3: "h2", 4: "h2", 5: "h3", 6: "h3"}
    assert len({hosted.hosts[1], hosted.hosts[3], hosted.hosts[5]}) == 3
    nodes = {n.id: n for n in hosted.config.nodes}
    for first in (1, 3, 5):
        a, b = nodes[first], nodes[first + 1]
        assert a.host == b.host == hosted.hosts[first] and a.host_name == b.host_name == hosted.host_of[first]
        assert "controller" in a.roles and b.roles == ("broker",)
        assert (b.http_port, b.kafka_port, b.inter_broker_port) == (a.http_port + 1, a.kafka_port + 1,
                                                                    a.inter_broker_port + 1)
        assert b.data_path.parent == a.data_path.parent  # <data_dir>/node-<id> of the host's data_dir
    assert len({nodes[first].data_path.parent for first in (1, 3, 5)}) == 3
    assert sorted(n.id for n in hosted.config.controllers) == [1, 3, 5]


def test_without_hosts_the_file_names_nodes_as_before():
    with LocalCluster(3, controllers=1) as c:
        assert c.host_of == {} and not c.config.hosts
        assert len(set(c.hosts.values())) == 3 and [n.id for n in c.config.controllers] == [1]
        assert host_processes(c, 2) == [2]  # a node of no [[hosts]] entry is a host of its own
        with pytest.raises(ValueError, match=r"hosts are none \(the file has no \[\[hosts\]\] entries\)"):
            resolve(c, "host:h1")


def test_host_targets_name_every_process_of_the_host(hosted):
    assert resolve(hosted, "host:h2") == [3, 4]
    assert host_processes(hosted, 6) == [5, 6]
    with pytest.raises(ValueError, match="bad fault target 'host:h4': hosts are h1, h2, h3"):
        resolve(hosted, "host:h4")
    with pytest.raises(ValueError, match="expected <topic>-<partition>"):
        resolve(hosted, "leader-host:t")


def test_scenario_files_say_hosts_and_processes_per_host():
    shape = load_scenario("host-kill").cluster
    assert (shape.hosts, shape.processes_per_host, shape.node_count) == (3, 2, 6)
    assert load_scenario_text('name = "x"', "x").cluster.node_count == 3  # nodes, as before
    for keys, error in [("processes_per_host = 2", "processes_per_host needs hosts"),
                        ("hosts = 2\nnodes = 4", "give nodes or hosts, not both"),
                        ("hosts = 2\nspare_brokers = 1", "spare_brokers are [[nodes]] entries"),
                        ("hosts = 2\ncontrollers = 3", "at most one per host")]:
        with pytest.raises(ScenarioError, match=error.replace("[", r"\[").replace("]", r"\]")):
            load_scenario_text(f'name = "x"\n[cluster]\n{keys}\n', "x")
