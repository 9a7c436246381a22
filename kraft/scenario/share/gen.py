"""What the share workload asks its clients to do (docs/SCENARIOS.md, "The share-group
workload"). Pure: a seeded RNG and a counter in, op requests out.

- producers: `send`, one unique integer to one key, as the queue workload's sends
  (the same micro-ops, so the lab's checkers judge them as Writes);
- share consumers: `poll` (the records the group hands this consumer, each now held
  under a lock), then `ack`: one acknowledgement per record delivered, decided here
  (ACCEPT, or RELEASE / REJECT for their shares), sent in one commit. Now and then
  (`crash_share` of the polls that returned records) a `crash` instead: the process is
  killed while it holds them, and only their locks running out frees them.
"""

from __future__ import annotations

import random

from kraft.scenario.jepsen.gen import Mix, key_of

ACCEPT, RELEASE, REJECT = "accept", "release", "reject"
KINDS = (ACCEPT, RELEASE, REJECT)


def deliveries(reply: dict) -> list[list]:
    """A poll's completed value -> [[key, offset, value, delivery count], ...]."""
    out: list[list] = []
    for mop in reply.get("value") or []:
        if mop[0] == "poll" and len(mop) > 1:
            for key, records in sorted(mop[1].items()):
                out.extend([key, *r] for r in records)
    return out


class ShareOps:
    """Every client's ops, from one seeded RNG and one value counter (a single event loop
    asks for them, one at a time)."""

    def __init__(self, topic: str, partitions: int, rng: random.Random, mix: Mix = Mix(),
                 release_share: float = 0.1, reject_share: float = 0.05):
        self.rng, self.mix = rng, mix
        self.release_share, self.reject_share = release_share, reject_share
        self.keys = [key_of(topic, p) for p in range(partitions)]
        self._value = 0

    def send(self) -> dict:
        self._value += 1
        return {"f": "send", "value": [["send", self.rng.choice(self.keys), self._value]]}

    @staticmethod
    def poll(wait_s: float | None = None) -> dict:
        return {"f": "poll", "value": [["poll"]], **({"wait_s": wait_s} if wait_s is not None else {})}

    def after_poll(self, delivered: list[list], accept_all: bool = False) -> dict | None:
        """The op after a poll: None when it returned nothing, else an ack of every record
        it returned (accept_all: the final drain's), or now and then a crash."""
        if not delivered:
            return None
        if not accept_all and self.rng.random() < self.mix.crash_share:
            return {"f": "crash", "value": None}
        return {"f": "ack", "value": [[k, offset, value, ACCEPT if accept_all else self._kind()]
                                      for k, offset, value, _count in delivered]}

    def _kind(self) -> str:
        r = self.rng.random()
        if r < self.reject_share:
            return REJECT
        return RELEASE if r < self.reject_share + self.release_share else ACCEPT
