"""Many TLS connections to a node's Kafka port at once, for the memory checks (the cluster
test and bench/connection_memory.py): each completes its handshake and one ApiVersions."""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
import time
from pathlib import Path

PER_SOURCE = 200  # connections from one source address: under max.connections.per.ip (250)
API_VERSIONS_V3 = struct.pack(">hhih", 18, 3, 1, 5) + b"bench" + b"\x00" + b"\x06bench\x021" + b"\x00"
# ApiVersions v3 (flexible): header key/version/correlation/client id, tagged fields; body
# client_software_name and _version as compact strings, tagged fields


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _one_connection(host: str, port: int, source: str, context: ssl.SSLContext):
    reader, writer = await asyncio.open_connection(host, port, ssl=context, local_addr=(source, 0),
                                                   server_hostname=host)
    writer.write(struct.pack(">i", len(API_VERSIONS_V3)) + API_VERSIONS_V3)
    (size,) = struct.unpack(">i", await reader.readexactly(4))
    await reader.readexactly(size)
    return writer


async def open_many(host: str, port: int, count: int, sources: list[str], context: ssl.SSLContext):
    """count connections, each past its handshake and its ApiVersions answer; 50 at a time
    (a burst of thousands overflows the listen backlog)."""
    gate = asyncio.Semaphore(50)

    async def one(i: int):
        async with gate:
            async with asyncio.timeout(60):
                return await _one_connection(host, port, sources[i // PER_SOURCE], context)

    return await asyncio.gather(*(one(i) for i in range(count)))


async def close_all(writers) -> None:
    for writer in writers:
        writer.close()
    await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)


def wait_for_descriptors(pid: int, at_most: int, bound_s: float = 120.0) -> None:
    """Until the node's listener has let go of the closed connections (bounded)."""
    deadline = time.monotonic() + bound_s
    while open_descriptors(pid) > at_most:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the node still holds {open_descriptors(pid)} descriptors (at most {at_most})")
        time.sleep(0.2)
