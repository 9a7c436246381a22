"""cluster.toml's [[hosts]]: one entry stands for a machine's broker processes. Process i
is node first_id + i, with every port first + i and the data dir <data_dir>/node-<id>;
only the first may be a controller. The same file derives the same nodes every time,
and every collision or impossible entry is refused at load with one line naming the
entry (and the derived node) at fault."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_config import load_error, node, write

from kraft.config.cluster import load_cluster_config


def host(name: str = "a", processes: int | str = 3, first_id: int = 1, controller: bool = True,
         address: str = "127.0.0.1", http: int = 8081, kafka: int = 19091, raft: int | None = 9091,
         data_dir: str | None = None, extra: str = "") -> str:
    """One [[hosts]] table; `processes` as written in TOML ('"cores"' for the string)."""
    lines = ["[[hosts]]", f'name = "{name}"',
             f"processes = {processes}",
             f"first_id = {first_id}", f'address = "{address}"', f"http_port = {http}", f"kafka_port = {kafka}",
             f'data_dir = "{data_dir or "data/" + name}"']
    if controller:
        lines.append("controller = true")
    if raft is not None:
        lines.append(f"raft_port = {raft}")
    return "\n".join(lines) + "\n" + extra + "\n"


def view(path: Path) -> list[tuple]:
    config = load_cluster_config(path)
    return [(n.id, n.roles, n.host, n.http_port, n.kafka_port, n.raft_port, n.data_path, n.host_name)
            for n in config.nodes]


def test_each_process_is_a_node_with_its_id_ports_and_data_dir_derived(tmp_path):
    extra = 'inter_broker_port = 29091\nschema_registry_port = 8181\nrack = "az-1"\nbind_host = "0.0.0.0"'
    config = load_cluster_config(write(tmp_path, host(extra=extra)))
    got = [(n.id, n.roles, n.http_port, n.kafka_port, n.raft_port, n.inter_broker_port, n.schema_registry_port,
            n.data_path, n.rack, n.bind_host, n.host, n.host_name) for n in config.nodes]
    assert got == [
        (1, ("controller", "broker"), 8081, 19091, 9091, 29091, 8181, tmp_path / "data/a/node-1", "az-1", "0.0.0.0",
         "127.0.0.1", "a"),
        (2, ("broker",), 8082, 19092, None, 29092, 8182, tmp_path / "data/a/node-2", "az-1", "0.0.0.0",
         "127.0.0.1", "a"),
        (3, ("broker",), 8083, 19093, None, 29093, 8183, tmp_path / "data/a/node-3", "az-1", "0.0.0.0",
         "127.0.0.1", "a"),
    ]
    assert [n.id for n in config.controllers] == [1] and [n.id for n in config.brokers] == [1, 2, 3]


def test_a_host_without_a_controller_runs_brokers_only(tmp_path):
    text = node(1, roles=["controller"]) + host(controller=False, raft=None, first_id=10, http=8091)
    roles = [(n.id, n.roles, n.raft_port) for n in load_cluster_config(write(tmp_path, text)).nodes]
    assert roles == [(1, ("controller",), 9091), (10, ("broker",), None), (11, ("broker",), None),
                     (12, ("broker",), None)]


def test_the_same_file_derives_the_same_nodes_and_a_new_host_leaves_the_others_as_they_were(tmp_path):
    text = host("a") + host("b", first_id=4, address="127.0.0.2", data_dir="data/b")
    path = write(tmp_path, text)
    first = view(path)
    assert view(path) == first
    assert [n[0] for n in first] == [1, 2, 3, 4, 5, 6]
    # hosts at other addresses may use the same ports
    assert [(n[2], n[3]) for n in first[3:]] == [("127.0.0.2", 8081), ("127.0.0.2", 8082), ("127.0.0.2", 8083)]
    grown = view(write(tmp_path, text + host("c", first_id=7, address="127.0.0.3", controller=False, raft=None)))
    assert grown[:6] == first and [n[7] for n in grown[6:]] == ["c", "c", "c"]


def test_nodes_and_hosts_together_explicit_nodes_first_each_a_host_of_its_own(tmp_path):
    text = node(1, roles=["controller"]) + host(first_id=2, http=8082, kafka=19092, controller=False, raft=None)
    nodes = load_cluster_config(write(tmp_path, text)).nodes
    assert [(n.id, n.host_name) for n in nodes] == [(1, None), (2, "a"), (3, "a"), (4, "a")]


def test_cores_runs_one_process_per_core_of_the_machine_reading_the_file(tmp_path, monkeypatch):
    path = write(tmp_path, host(processes='"cores"'))
    assert len(load_cluster_config(path).nodes) == len(os.sched_getaffinity(0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4})
    assert [n.id for n in load_cluster_config(path).nodes] == [1, 2, 3, 4, 5]
    assert [n.http_port for n in load_cluster_config(path).nodes] == [8081, 8082, 8083, 8084, 8085]


def test_ids_taken_by_nodes_or_another_host_are_refused(tmp_path):
    text = node(2) + host(first_id=1, http=8091, kafka=19191, raft=9191)
    assert load_error(tmp_path, text) == "hosts[0] (node 2).id: node id 2 is already used by nodes[0]"
    text = host("a") + host("b", first_id=3, address="127.0.0.2", controller=False, raft=None)
    assert load_error(tmp_path, text) == "hosts[1] (node 3).id: node id 3 is already used by hosts[0] (node 3)"


def test_ports_taken_on_one_address_are_refused(tmp_path):
    text = node(9, http=8083) + host(first_id=1)
    assert load_error(tmp_path, text) == ("hosts[0] (node 3).http_port: port 8083 on 127.0.0.1 is already used "
                                          "by nodes[0].http_port")
    # a host's range runs into its own controller's raft port
    text = host(http=9090, raft=9092, kafka=19091)
    assert load_error(tmp_path, text) == ("hosts[0] (node 3).http_port: port 9092 on 127.0.0.1 is already used "
                                          "by hosts[0] (node 1).raft_port")
    text = host("a") + host("b", first_id=4, http=8083, kafka=19191, controller=False, raft=None)
    assert load_error(tmp_path, text) == ("hosts[1] (node 4).http_port: port 8083 on 127.0.0.1 is already used "
                                          "by hosts[0] (node 3).http_port")


def test_a_data_dir_taken_by_a_node_is_refused(tmp_path):
    text = node(9).replace('data_dir = "data/node-9"', 'data_dir = "data/a/node-2"') + host(first_id=1)
    assert load_error(tmp_path, text) == (f"hosts[0] (node 2).data_dir: data dir {tmp_path}/data/a/node-2 is "
                                          "already used by nodes[0]")


def test_a_host_name_used_twice_is_refused(tmp_path):
    text = host("a") + host("a", first_id=4, address="127.0.0.2", data_dir="data/a2")
    assert load_error(tmp_path, text) == "hosts[1].name: host 'a' is already named by hosts[0]"


def test_the_controller_and_its_raft_port_go_together(tmp_path):
    assert load_error(tmp_path, host(raft=None)) == \
        "hosts[0].raft_port: required with controller = true (the host's first process is a controller)"
    assert load_error(tmp_path, node(9) + host(controller=False, first_id=1)) == \
        "hosts[0].raft_port: only a controller uses a raft port: remove it, or set controller = true"


@pytest.mark.parametrize("field, text, message", [
    ("http_port", host(http=65534), "the host's 3 processes need ports 65534-65536, past 65535"),
    ("kafka_port", host(processes=4, kafka=65533), "the host's 4 processes need ports 65533-65536, past 65535"),
    ("schema_registry_port", host(extra="schema_registry_port = 65535"),
     "the host's 3 processes need ports 65535-65537, past 65535"),
    ("first_id", host(first_id=2**31 - 2), "the host's 3 processes need ids up to 2147483648, past 2147483647"),
])
def test_ranges_past_the_last_port_or_id_are_refused(tmp_path, field, text, message):
    assert load_error(tmp_path, text) == f"hosts[0].{field}: {message}"


@pytest.mark.parametrize("name", ["-a", "a b", "", "x" * 64, "é"])
def test_bad_host_names_are_refused(tmp_path, name):
    assert load_error(tmp_path, host(name=name, data_dir="data/x")) == (
        "hosts[0].name: must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit, "
        f"got {name!r}")


@pytest.mark.parametrize("processes, shown", [("0", "0"), ("257", "257"), ('"all"', "'all'"), ("true", "True"),
                                              ("1.5", "1.5")])
def test_a_process_count_is_a_number_up_to_256_or_cores(tmp_path, processes, shown):
    assert load_error(tmp_path, host(processes=processes)) == \
        f'hosts[0].processes: must be a number from 1 to 256, or "cores", got {shown}'


def test_addresses_are_checked_under_their_own_key(tmp_path):
    assert load_error(tmp_path, host(address="0.0.0.0")) == \
        "hosts[0].address: 0.0.0.0 is not an address others can connect to; use the node's own address"
    assert load_error(tmp_path, host(extra='bind_host = "bad host"')) == \
        "hosts[0].bind_host: must be an IPv4/IPv6 address (no brackets) or a hostname, got 'bad host'"


def test_an_unknown_key_is_refused_with_a_suggestion(tmp_path):
    message = load_error(tmp_path, host().replace("processes =", "procesess ="))
    assert message.startswith("hosts[0].procesess: unknown key") and "processes" in message, message
