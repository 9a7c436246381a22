"""Memory per TLS connection, and whether a node gives it back once the connections close.

Starts one node whose listeners serve TLS, reads its resident memory (VmRSS), opens
--connections TLS connections to its Kafka port (each completes the handshake and one
ApiVersions, all held open together, from several 127.0.0.x source addresses so that no
address passes max.connections.per.ip), reads the memory again, closes them all, waits
until the node's listener holds none of them (its open descriptors are back where they
were), and reads the memory a last time. Repeats that --rounds times: memory that a
closed connection leaves behind grows round after round, memory kept for reuse does not.

    .venv/bin/python bench/connection_memory.py                 # 1,000 connections, 3 rounds
    .venv/bin/python bench/connection_memory.py --connections 2000 --rounds 5

Prints one line per reading and a JSON summary (MiB) on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "cluster"))  # the tests' throwaway certificate authority

from certs import one_tls_node  # noqa: E402
from tls_burst import PER_SOURCE, close_all, open_descriptors, open_many, rss_mib, wait_for_descriptors  # noqa: E402

from kraft.server.local_cluster import default_first_address  # noqa: E402


def run(connections: int, rounds: int, settle_s: float, env: dict) -> dict:
    first = default_first_address()
    sources = [f"127.0.0.{first + 20 + i}" for i in range((connections + PER_SOURCE - 1) // PER_SOURCE)]
    with tempfile.TemporaryDirectory(prefix="kraft-connection-memory-") as folder, \
            one_tls_node(Path(folder) / "pki", cluster={"max.connections": connections + 100}, env=env) as c:
        pid, node = c.procs[1].pid, c.config.node(1)
        time.sleep(settle_s)
        readings = {"idle": rss_mib(pid)}
        baseline_fds = open_descriptors(pid)
        print(f"idle: {readings['idle']:.1f} MiB, {baseline_fds} descriptors", file=sys.stderr)
        for r in range(1, rounds + 1):
            async def one_round():
                writers = await open_many(node.host, node.kafka_port, connections, sources, c.tls)
                readings[f"open {r}"] = rss_mib(pid)
                await close_all(writers)
            asyncio.run(one_round())
            wait_for_descriptors(pid, baseline_fds + 5)
            time.sleep(settle_s)
            readings[f"closed {r}"] = rss_mib(pid)
            print(f"round {r}: {readings[f'open {r}']:.1f} MiB open, {readings[f'closed {r}']:.1f} MiB "
                  f"after closing", file=sys.stderr)
    return readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=8.0,
                        help="seconds before each reading (a node checks its memory every 5 s)")
    args = parser.parse_args()
    readings = run(args.connections, args.rounds, args.settle, dict(os.environ))
    kept = readings[f"closed {args.rounds}"] - readings["idle"]
    print(json.dumps({"connections": args.connections, "rss_mib": {k: round(v, 1) for k, v in readings.items()},
                      "kept_after_close_mib": round(kept, 1)}))


if __name__ == "__main__":
    main()
