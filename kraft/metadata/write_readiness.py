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
from kraft.metadata.changes import MetadataChanges
from kraft.metadata.image import MetadataImage, PartitionRegistration, TopicImage

NAMED_AT_MOST = 5  # partitions named in a problem; the count says the rest


def acks_all_problems(image: MetadataImage, defaults: dict[str, str], named: bool = True,
                      below: BelowMinIsr | None = None) -> list[str]:
    """Why an acks=all write with the default topic settings, or to an existing partition
    that could take one, would fail now; empty when none would. named=False: the
    partitions are counted, not named (for an answer to anyone). below: the partitions
    below min.insync.replicas kept up to date with the images (used when it has followed
    this very image; else they are found by a walk over every partition)."""
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
    if below is None or below.image is not image:
        below = BelowMinIsr(defaults)
        below.follow(image, None)
    if len(below):
        said = f"{len(below)} partition(s) below min.insync.replicas while their replicas catch up"
        if named:
            more = len(below) - NAMED_AT_MOST
            said += ": " + ", ".join(below.names(NAMED_AT_MOST)) + (f" and {more} more" if more > 0 else "")
        problems.append(said)
    return problems


class BelowMinIsr:
    """The partitions whose ISR is below their min.insync.replicas although enough of
    their replicas are alive to reach it (or that have no leader while one is alive),
    followed image by image: a change looks again at the partitions it names, so a
    readiness probe costs what changed, not every partition. A change of a topic's
    configs or of its partition 0 (whose replica count caps an inherited
    min.insync.replicas) looks at the whole topic; a broker's or a cluster-wide config's
    change at all of them (rare, and any partition may hang on it)."""

    def __init__(self, defaults: dict[str, str]):
        self.defaults = defaults
        self.image: MetadataImage | None = None
        self._below: dict[tuple[str, int], str] = {}  # (topic id, index) -> "<topic>-<index>"

    def __len__(self) -> int:
        return len(self._below)

    def names(self, at_most: int) -> list[str]:
        """Up to at_most of the partitions, `<topic>-<index>`, in name order."""
        return sorted(self._below.values())[:at_most]

    def follow(self, image: MetadataImage, changes: MetadataChanges | None) -> None:
        settings = TopicSettings(image, self.defaults)
        if changes is None or changes.everything or self.image is None or changes.brokers \
                or changes.cluster_configs:
            self._below = {}
            for topic, index, part in image.all_partitions():
                self._look(image, settings, topic, index, part)
        else:
            gone = {t for t in changes.topics if t not in image.topics}
            for key in [k for k in self._below if k[0] in gone]:
                del self._below[key]
            whole = {t for t, index in changes.partitions if index == 0}  # partition 0's replicas cap
            whole |= {image.topic_ids[n] for n in changes.topic_configs if n in image.topic_ids}  # an inherited min ISR
            for topic_id, index in changes.partitions:
                changed = image.topics.get(topic_id)
                if topic_id not in whole and changed is not None and index < len(changed.partitions):
                    self._look(image, settings, changed, index, changed.partitions[index])
            for topic_id in whole:  # every partition's min.insync.replicas may have changed
                configured = image.topics.get(topic_id)
                if configured is not None:
                    for index, part in enumerate(configured.partitions):
                        self._look(image, settings, configured, index, part)
        self.image = image

    def _look(self, image: MetadataImage, settings: TopicSettings, topic: TopicImage, index: int,
              part: PartitionRegistration) -> None:
        need = settings.min_isr(topic.name)
        alive = sum(1 for b in part.replicas if image.is_usable(b))
        if len(part.isr) < need <= alive or (not part.online and alive):
            self._below[(topic.topic_id, index)] = f"{topic.name}-{index}"
        else:
            self._below.pop((topic.topic_id, index), None)
