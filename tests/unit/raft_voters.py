"""Three real pysyncobj voters (kraft's MetadataSyncObj) on loopback, ticked by hand: a
voter not ticked is a paused process (its sockets fill, its election timer runs out)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from pysyncobj import SyncObjConf
from pysyncobj.transport import TCPTransport

from kraft.metadata.state_machine import MetadataStateMachine
from kraft.quorum.raft_syncobj import MetadataSyncObj
from kraft.server.local_cluster import free_ports


@contextlib.contextmanager
def three_voters(host: str, **conf) -> Iterator[list[MetadataSyncObj]]:
    """`conf`: SyncObjConf's timeouts and options (autoTick is always off).
    The ports are below the kernel's ephemeral range, on an address of the test's own: an
    ephemeral one may be taken by any outgoing connection on the machine before the voter
    binds it, and pysyncobj's constructor retries the bind once a second until it is free
    (40 s once in a full run)."""
    addresses = [f"{host}:{port}" for port in free_ports(host, 3)]
    settings = SyncObjConf(**{**conf, "autoTick": False})
    nodes = [MetadataSyncObj(a, [b for b in addresses if b != a], settings, MetadataStateMachine(),
                             lambda: None, TCPTransport, durable=False) for a in addresses]
    try:
        yield nodes
    finally:
        for node in nodes:
            node.destroy()


def tick(nodes, seconds: float, until=lambda: False) -> bool:
    """Tick `nodes` in turn for at most `seconds`, or until `until()`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for node in nodes:
            node.doTick(0.002)
        if until():
            return True
    return until()
