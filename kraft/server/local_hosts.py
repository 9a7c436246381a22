"""[[hosts]] entries for a LocalCluster: each host on a loopback address of its own, its
processes on consecutive ports (host_config.py derives process i's port as first + i).

A host's processes share its address, as the processes of one machine do, so a network
fault on that address takes the whole host (kraft/scenario/faults/network.py).
"""

from __future__ import annotations

import json
import random
import socket

# one run of ports per kind, each `processes` long, in this order; the raft port is the
# host's controller's alone (the last one)
PORT_KINDS = ("http_port", "kafka_port", "schema_registry_port", "inter_broker_port")


def free_port_run(address: str, count: int, low: int, high: int, tries: int = 200) -> int:
    """The first of `count` consecutive ports in [low, high) free on `address` now (all
    bound at once while looking, so none is counted free twice)."""
    chooser = random.SystemRandom()
    for _ in range(tries):
        base = chooser.randrange(low, max(low + 1, high - count))
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(s)
                s.bind((address, port))
            return base
        except OSError:  # one is taken: try another base
            continue
        finally:
            for s in held:
                s.close()
    raise OSError(f"no {count} consecutive free ports on {address}")


def host_name(index: int) -> str:
    """The name of the index-th host (1-based): h1, h2, ..."""
    return f"h{index}"


def layout(count: int, processes: int, first_address: int) -> tuple[dict[int, str], dict[int, str]]:
    """(node id -> address, node id -> host name) of `count` hosts of `processes` each:
    host k is 127.0.0.<first_address + k - 1>, its processes nodes (k-1)*processes + 1 on."""
    addresses: dict[int, str] = {}
    names: dict[int, str] = {}
    for k in range(1, count + 1):
        for i in range(processes):
            node = (k - 1) * processes + i + 1
            addresses[node] = f"127.0.0.{first_address + k - 1}"
            names[node] = host_name(k)
    return addresses, names


def host_entry(index: int, address: str, processes: int, first_id: int, controller: bool,
               inter_broker: bool, base: int) -> list[str]:
    """One [[hosts]] entry as TOML lines, its ports from `base` on (runs of PORT_KINDS,
    then the raft port)."""
    lines = ["", "[[hosts]]", f"name = {json.dumps(host_name(index))}", f"processes = {processes}",
             f"first_id = {first_id}", f"controller = {'true' if controller else 'false'}",
             f"address = {json.dumps(address)}"]
    for k, kind in enumerate(PORT_KINDS):
        if kind != "inter_broker_port" or inter_broker:
            lines.append(f"{kind} = {base + k * processes}")
    if controller:
        lines.append(f"raft_port = {base + len(PORT_KINDS) * processes}")
    lines.append(f'data_dir = "{host_name(index)}"')
    return lines


def entries(addresses: dict[int, str], processes: int, controllers: int, inter_broker: bool,
            port_range: tuple[int, int]) -> list[str]:
    """The [[hosts]] entries of a layout() (node id -> address), as TOML lines: the first
    `controllers` hosts have a controller, each host's ports a free run in port_range."""
    lines: list[str] = []
    for k in range(1, len(addresses) // processes + 1):
        first_id = (k - 1) * processes + 1
        base = free_port_run(addresses[first_id], len(PORT_KINDS) * processes + 1, *port_range)
        lines += host_entry(k, addresses[first_id], processes, first_id, k <= controllers, inter_broker, base)
    return lines
