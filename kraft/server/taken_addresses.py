"""Before `kraft up` starts anything: does something already answer on the file's addresses?

A second `kraft up` of the same file would otherwise ask the first cluster whether it is
ready (and hear yes) while each of its own nodes fails to bind. Any answer counts, from
a kraft node or not: a taken address would stop that node anyway.
"""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

from kraft.config.cluster import ClusterConfig

CONNECT_TIMEOUT_S = 1.0  # a refused loopback connect is immediate; a filtered remote one is not


def listener_addresses(config: ClusterConfig) -> list[tuple[str, str, int]]:
    """(what, host, port) for every listener the file gives its nodes."""
    out = []
    for node in config.nodes:
        ports = {"http": node.http_port, "kafka": node.kafka_port, "inter-broker": node.inter_broker_port,
                 "raft": node.raft_port}
        out += [(f"node {node.id} {kind}", node.host, port) for kind, port in ports.items() if port is not None]
    return out


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def taken_addresses(config: ClusterConfig) -> list[str]:
    """"node 1 http 127.0.0.1:8081", ... for each listener address something answers on."""
    addresses = listener_addresses(config)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(addresses)))) as pool:
        answered = list(pool.map(lambda a: answers(a[1], a[2]), addresses))
    return [f"{what} {f'[{host}]' if ':' in host else host}:{port}"
            for (what, host, port), yes in zip(addresses, answered) if yes]
