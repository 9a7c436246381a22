"""The metadata quorum's timers, after Kafka's `controller.quorum.*` settings.

Kafka's follower stands for election after `controller.quorum.fetch.timeout.ms` (2 s)
without a word from the leader, a candidate waits a random part of
`controller.quorum.election.timeout.ms` (1 s) more so two do not stand at once, and a
leader resigns after 1.5 fetch timeouts without a majority (check-quorum). pysyncobj has
one randomized timer for both roles and a leader fallback, set from the same two values.
Shorter timers do not fail over much faster on a quiet machine and elect anew whenever a
disk or the interpreter lock holds a node's Raft thread for a second (measured at 30,000
partitions: bench/README.md, "Partition scale").
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_QUORUM_FACTOR = 1.5  # Kafka's leader resigns after this many fetch timeouts without a majority


@dataclass(frozen=True)
class QuorumTimings:
    fetch_timeout_s: float = 2.0  # controller.quorum.fetch.timeout.ms
    election_timeout_s: float = 1.0  # controller.quorum.election.timeout.ms

    @property
    def follower_timeout_s(self) -> tuple[float, float]:
        """The range a voter's election timer is drawn from."""
        return self.fetch_timeout_s, self.fetch_timeout_s + self.election_timeout_s

    @property
    def leader_fallback_s(self) -> float:
        """A leader no majority answered for this long steps down."""
        return self.fetch_timeout_s * CHECK_QUORUM_FACTOR

    def syncobj_settings(self) -> dict[str, float]:
        low, high = self.follower_timeout_s
        # a connection silent for longer than a voter waits for its leader is dropped (the
        # library requires at least that: the leader writes every 0.1 s)
        return {"raftMinTimeout": low, "raftMaxTimeout": high, "leaderFallbackTimeout": self.leader_fallback_s,
                "connectionTimeout": max(high, 2.0)}
