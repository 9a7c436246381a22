"""What 1,000 open TLS connections (each past its handshake and one ApiVersions) cost a
node, and that it gives that memory back once they close.

Each used to cost about 280 KiB (asyncio's TLS read buffer is 256 KiB per connection);
the listener's connections now share one read buffer (kafka/wire/tls_reads.py), about 35 KiB
each. Before that, the node also kept the 280 MB peak after the connections were gone
(glibc keeps freed heap chunks it cannot hand back from the top); the bound on what may
stay is well above what a node legitimately keeps (its caches, Python's own pools).
"""

from __future__ import annotations

import asyncio
import resource
import time

import pytest
from certs import one_tls_node
from tls_burst import PER_SOURCE, close_all, open_descriptors, open_many, rss_mib, wait_for_descriptors

from kraft.server.local_cluster import default_first_address

pytestmark = pytest.mark.cluster

CONNECTIONS = 1000
OPEN_BOUND_MIB = 100  # what the open connections may cost (280 MiB with a buffer each)
KEPT_BOUND_MIB = 60  # what may stay after they close (280 MiB did)
RETURN_BOUND_S = 120  # a node checks every 5 s; a busy machine is slow to close 1,000 TLS sessions


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory):
    with one_tls_node(tmp_path_factory.mktemp("pki"), cluster={"max.connections": CONNECTIONS + 100}) as c:
        yield c


def _rss_settled(pid: int) -> float:
    """Resident memory once the node has started for good (two readings a few seconds apart agree)."""
    previous = rss_mib(pid)
    for _ in range(20):
        time.sleep(3)
        now = rss_mib(pid)
        if abs(now - previous) < 2:
            return now
        previous = now
    return previous


def test_memory_of_closed_tls_connections_is_given_back(tls_node):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < CONNECTIONS + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(CONNECTIONS + 500, hard), hard))
    c = tls_node
    pid, node = c.procs[1].pid, c.config.node(1)
    idle = _rss_settled(pid)
    descriptors = open_descriptors(pid)
    first = default_first_address()
    sources = [f"127.0.0.{first + 20 + i}" for i in range((CONNECTIONS + PER_SOURCE - 1) // PER_SOURCE)]

    async def burst() -> float:
        writers = await open_many(node.host, node.kafka_port, CONNECTIONS, sources, c.tls)
        held = rss_mib(pid)
        await close_all(writers)
        return held

    held = asyncio.run(burst())
    assert held - idle < OPEN_BOUND_MIB, f"1,000 open TLS connections cost {held - idle:.0f} MiB"
    wait_for_descriptors(pid, descriptors + 5)
    deadline = time.monotonic() + RETURN_BOUND_S
    while (now := rss_mib(pid)) - idle > KEPT_BOUND_MIB and time.monotonic() < deadline:
        time.sleep(1)
    trims = [line for line in c.log_path(1).read_text().splitlines() if "freed memory back" in line]
    assert now - idle <= KEPT_BOUND_MIB, f"idle {idle:.0f} MiB, {held:.0f} with the connections open, " \
                                         f"{now:.0f} after they closed; the node's trims: {trims[-5:]}"
