"""What the Jepsen-style workloads ask their clients to do, one op at a time. Pure: a
seeded RNG and a counter in, op requests out (docs/SCENARIOS.md, "Jepsen's workloads").

An op request is what a history's invoke line holds: {"f": ..., "value": ...}.

- queue: `send` (one unique integer to one key) or `poll`, now and then an `assign`
  (a random non-empty set of keys) or a `subscribe` (the topic: every key, the group
  decides which the client gets), and rarely a `crash` (the client process is killed
  and replaced).
- txn: `txn`, a transaction of several sends to several keys with polls among them
  (with `abort_share`, some marked to be aborted by the client after its sends);
  assign, subscribe and crash as above.

A key names one partition of the scenario's topic: "<topic>-<partition>". Values are
unique in a run: one counter for every client.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

QUEUE, TXN = "queue", "txn"
MODES = (QUEUE, TXN)


@dataclass(frozen=True)
class Mix:
    """How often each kind of op comes; the rest of the queue's ops are sends."""

    poll_share: float = 0.5  # queue: polls among sends and polls
    reassign_share: float = 0.01  # assign or subscribe
    subscribe_share: float = 0.5  # of those, subscribe (the rest assign)
    crash_share: float = 0.0005  # the client process is killed and replaced
    txn_sends: tuple[int, int] = (2, 4)  # sends per transaction, inclusive
    txn_polls: tuple[int, int] = (1, 2)  # polls per transaction, inclusive
    abort_share: float = 0.0  # txn: transactions the client aborts on purpose (a negative control's)


def key_of(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def partition_of(key: str) -> int:
    return int(key.rsplit("-", 1)[1])


class OpGenerator:
    """Every client's ops, from one seeded RNG and one value counter (a single event
    loop asks for them, one at a time)."""

    def __init__(self, mode: str, topic: str, partitions: int, rng: random.Random, mix: Mix = Mix()):
        if mode not in MODES:
            raise ValueError(f"unknown Jepsen workload {mode!r}; known: {', '.join(MODES)}")
        self.mode, self.rng, self.mix = mode, rng, mix
        self.keys = [key_of(topic, p) for p in range(partitions)]
        self._value = 0

    def value(self) -> int:
        self._value += 1
        return self._value

    def first(self) -> dict:
        """A new client's first op: it has no partitions yet."""
        return self._reassign()

    def next(self) -> dict:
        r = self.rng.random()
        if r < self.mix.crash_share:
            return {"f": "crash", "value": None}
        if r < self.mix.crash_share + self.mix.reassign_share:
            return self._reassign()
        if self.mode == TXN:
            return self._txn()
        if self.rng.random() < self.mix.poll_share:
            return {"f": "poll", "value": [["poll"]]}
        return {"f": "send", "value": [["send", self.rng.choice(self.keys), self.value()]]}

    def _reassign(self) -> dict:
        if self.rng.random() < self.mix.subscribe_share:
            return {"f": "subscribe", "value": list(self.keys)}
        k = self.rng.randint(1, len(self.keys))
        return {"f": "assign", "value": sorted(self.rng.sample(self.keys, k), key=partition_of)}

    def _txn(self) -> dict:
        sends = self.rng.randint(*self.mix.txn_sends)
        polls = self.rng.randint(*self.mix.txn_polls)
        mops: list[list] = [["send", self.rng.choice(self.keys), self.value()] for _ in range(sends)]
        for _ in range(polls):
            mops.insert(self.rng.randint(0, len(mops)), ["poll"])
        op: dict = {"f": "txn", "value": mops}
        if self.mix.abort_share and self.rng.random() < self.mix.abort_share:
            op["abort"] = True  # the client's instruction; the history's invoke shows the micro-ops only
        return op
