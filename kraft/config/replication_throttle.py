"""Kafka's replication throttle rates: broker configs set live, per broker or for every
broker at once (cluster-wide), in bytes per second. Pure.

`leader.replication.throttled.rate` bounds what a broker sends, as leader, to replicas
that are catching up in a reassignment; `follower.replication.throttled.rate` what it
fetches as such a replica. Kafka throttles the replicas listed in
`leader/follower.replication.throttled.replicas`; kraft throttles exactly the replicas
being added by reassignments in progress (a rebalance's and a decommission's moves
included), so in-sync followers are never slowed.
"""

from __future__ import annotations

from kraft.config.topic_configs import ConfigError

LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
THROTTLE_RATES = (LEADER_RATE, FOLLOWER_RATE)
UNLIMITED = 2**63 - 1  # Kafka's default (Long.MAX_VALUE): no throttle
DOC = {
    LEADER_RATE: "Bytes per second this broker sends, as leader, to replicas being added by a reassignment.",
    FOLLOWER_RATE: "Bytes per second this broker fetches for its replicas being added by a reassignment.",
}


def parse_rate(name: str, raw: object) -> str:
    """The canonical value of a throttle rate, or ConfigError."""
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise ConfigError(name, f"must be a whole number of bytes per second, got {raw!r}")
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= UNLIMITED:
        raise ConfigError(name, f"must be a whole number of bytes per second, 1..{UNLIMITED}, got {raw!r}")
    return str(int(text))
