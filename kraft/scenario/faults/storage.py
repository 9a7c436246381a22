"""Storage faults on a running node's files: bytes changed inside a closed segment.

What a failing disk or a stray write does: the node keeps running, the file keeps its
length, a few bytes inside one batch's CRC-covered body are different. Nothing tells
the node; its reads, the scrubber and the repair must notice.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from kraft.scenario.faults.process import PARTITIONS_DIR, Action
from kraft.server import small_disks
from kraft.storage.record_batch import ATTRIBUTES_POS, iter_batches


def corrupt_segment(cluster, node: int, topic: str, partition: int, rng: random.Random,
                    count: int = 6) -> Action:
    """Change `count` bytes inside one batch of a closed segment (not the newest) of the
    node's replica of topic-partition; skipped when it has no closed segment yet."""
    directory = Path(cluster.config.node(node).data_path) / PARTITIONS_DIR / f"{topic}-{partition}"
    closed = sorted(directory.glob("*.log"))[:-1]
    if not closed:
        return Action("corrupt", [], f"skipped: node {node} has no closed segment of {topic}-{partition}",
                      [node])
    path = rng.choice(closed)
    data = path.read_bytes()
    batches = [(pos, h) for pos, h in iter_batches(data) if h.size - ATTRIBUTES_POS > count]
    if not batches:
        return Action("corrupt", [], f"skipped: {path.name} holds no batch to damage", [node])
    pos, header = rng.choice(batches)
    at = pos + rng.randrange(ATTRIBUTES_POS, header.size - count)
    changed = bytes(b ^ rng.randrange(1, 256) for b in data[at:at + count])  # every byte differs
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, changed, at)
    finally:
        os.close(fd)
    return Action("corrupt", [node], f"{count} bytes at byte {at} of {topic}-{partition}/{path.name} "
                                     f"(batch at offsets {header.base_offset}..{header.last_offset})")


def disk_full(cluster, node: int) -> Action:
    """Fill the node's partition filesystem (LocalCluster(partitions_fs_mb=...))."""
    path = cluster.disk_mounts.get(node)
    if path is None:
        return Action("disk-full", [], f"skipped: node {node}'s partitions are not on a small disk", [node])
    return Action("disk-full", [node], f"{small_disks.fill(path) / 1e6:.1f} MB filler written; disk full")


def power_cut(cluster, nodes: list[int]) -> Action:
    """Cut these nodes' power at once: killed, and their data dirs keep only what was
    fsynced (LocalCluster(lazy_fs=True)). They stay down until started."""
    if not cluster.lazy_disks:
        return Action("power-cut", [], "skipped: the nodes' data dirs are not on the lazy filesystem", nodes)
    dropped = cluster.power_cut(nodes)
    parts = []
    for node, d in dropped.items():
        if "error" in d:
            parts.append(f"node {node}: {d['error']}")
        else:
            parts.append(f"node {node} lost {d['unsynced_bytes']} unsynced bytes in {d['unsynced_files']} files")
    return Action("power-cut", list(dropped), "power cut: " + "; ".join(parts))


def disk_free(cluster, node: int) -> Action:
    path = cluster.disk_mounts.get(node)
    if path is None:
        return Action("disk-free", [], f"skipped: node {node}'s partitions are not on a small disk", [node])
    return Action("disk-free", [node], f"{small_disks.free(path) / 1e6:.1f} MB filler deleted")
