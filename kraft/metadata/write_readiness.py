"""Would an acks=all write succeed now? The cluster-wide half of `kraft up`'s "ready". Pure.

A node's own readiness (/status/ready) says it can serve; a cluster whose nodes are all
ready can still refuse acks=all writes: after a restart every partition's ISR holds only
the replica that stopped last until the others catch up, and a new topic with the default
settings needs as many usable brokers as its replication factor. A partition that cannot
reach its min.insync.replicas with the brokers alive now (its other replicas are on nodes
that are down) is not waited for: no wait would make it writable.
"""

from __future__ import annotations

from kraft.config.topic_configs import topic_default
from kraft.metadata.effective_configs import TopicSettings
from kraft.metadata.image import MetadataImage

NAMED_AT_MOST = 5  # partitions named in a problem; the count says the rest


def acks_all_problems(image: MetadataImage, defaults: dict[str, str], named: bool = True) -> list[str]:
    """Why an acks=all write with the default topic settings, or to an existing partition
    that could take one, would fail now; empty when none would. named=False: the
    partitions are counted, not named (for an answer to anyone)."""
    problems = []
    # counted by host: a partition puts one replica on a host at most ([[hosts]]; a
    # broker outside any is a host of its own, so without host entries these are brokers)
    usable = {image.host_of(b) for b in image.brokers if image.takes_new_replicas(b)}
    staying = {image.host_of(b) for b in image.brokers if b not in image.decommissioning}
    what = "brokers" if len(staying) == sum(1 for b in image.brokers if b not in image.decommissioning) else "hosts"
    # its min.insync.replicas is capped at rf, so rf hosts are enough; a cluster with fewer
    # than that (one node for development) is not waited for: no wait would help
    needed = min(int(topic_default(defaults, "replication.factor")), len(staying))
    if len(usable) < needed:
        problems.append(f"{len(usable)} of {len(staying)} {what} usable, a topic with the default "
                        f"settings needs {needed}")
    below = []
    settings = TopicSettings(image, defaults)
    for topic, index, part in image.all_partitions():
        need = settings.min_isr(topic.name)
        alive = sum(1 for b in part.replicas if image.is_usable(b))
        if len(part.isr) < need <= alive or (not part.online and alive):
            below.append(f"{topic.name}-{index}")
    if below:
        said = f"{len(below)} partition(s) below min.insync.replicas while their replicas catch up"
        if named:
            more = len(below) - NAMED_AT_MOST
            said += ": " + ", ".join(below[:NAMED_AT_MOST]) + (f" and {more} more" if more > 0 else "")
        problems.append(said)
    return problems
