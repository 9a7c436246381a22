"""KIP-392: which replica a leader sends a consumer to (its preferred read replica). Pure.

Kafka's rule (ReplicaManager.findPreferredReadReplica with RackAwareReplicaSelector):
the candidates are the leader and the in-sync followers whose log holds the fetch
offset (their log start at or below it, their log end at or above it, as their last
fetches told the leader) on a broker with a Kafka endpoint. A consumer that names no
rack, or whose rack holds the leader or no candidate, stays on the leader. Otherwise
the most caught-up candidate in its rack: the highest log end, then the one caught up
most recently (kraft breaks a remaining tie by the lowest broker id, so the answer
does not change from fetch to fetch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

NO_PREFERENCE = -1  # Fetch's preferred_read_replica when the consumer should stay


@dataclass(frozen=True)
class ReplicaView:
    broker_id: int
    log_start_offset: int  # -1: not yet told (a follower that has not fetched)
    log_end_offset: int
    ms_since_caught_up: int  # 0 for the leader


def can_serve(view: ReplicaView, fetch_offset: int) -> bool:
    return 0 <= view.log_start_offset <= fetch_offset <= view.log_end_offset


def rack_aware_choice(client_rack: str | None, leader_id: int, in_sync_followers: Iterable[ReplicaView],
                      fetch_offset: int, rack_of: Callable[[int], str | None]) -> int:
    """The broker id the consumer should fetch from, or NO_PREFERENCE (the leader).
    rack_of: a broker's rack, None for no rack or no Kafka endpoint (never chosen)."""
    if not client_rack:
        return NO_PREFERENCE
    if rack_of(leader_id) == client_rack:
        return NO_PREFERENCE
    same_rack = [view for view in in_sync_followers if rack_of(view.broker_id) == client_rack
                 and can_serve(view, fetch_offset)]
    if not same_rack:
        return NO_PREFERENCE
    best = min(same_rack, key=lambda v: (-v.log_end_offset, v.ms_since_caught_up, v.broker_id))
    return best.broker_id
