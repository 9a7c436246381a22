"""The transaction coordinator's settings, with Kafka's broker config names. Pure.

The wiring builds them from cluster.toml (`TransactionSettings.from_kafka_names`) and
hands them to the coordinator; every field has Kafka's default, except the state log's
segment size (see `state_log_segment_bytes`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kraft.config.suggestion import did_you_mean

DAY_MS = 86_400_000


class UnknownSetting(ValueError):
    """A name that is not one of Kafka's transaction settings."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = name, reason


@dataclass(frozen=True)
class TransactionSettings:
    # the longest transaction.timeout.ms a producer may ask for
    max_timeout_ms: int = 900_000
    # partitions of __transaction_state when the coordinator creates it (first use)
    state_log_partitions: int = 50
    # its replicas at creation, capped by the live brokers then
    state_log_replication_factor: int = 3
    # its min.insync.replicas, capped by its replication factor
    state_log_min_isr: int = 2
    # Kafka's default is 100 MiB; here 10 MiB, as for __consumer_offsets: only closed
    # segments are compacted, and a new coordinator replays the rest
    state_log_segment_bytes: int = 10 * 1024 * 1024
    # a transactional id idle (no transaction, no InitProducerId) this long is forgotten
    transactional_id_expiration_ms: int = 7 * DAY_MS
    # how often open transactions are checked against their timeouts
    abort_timed_out_interval_ms: int = 10_000
    # how often idle transactional ids are looked for
    remove_expired_interval_ms: int = 3_600_000
    # the Kafka names cluster.toml set (the others have their defaults): what the
    # broker's configs show as STATIC_BROKER_CONFIG rather than DEFAULT_CONFIG
    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, kafka_name in KAFKA_NAMES.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{kafka_name} must be a positive integer, got {value!r}")
        if self.state_log_partitions > 1000:
            raise ValueError(f"{KAFKA_NAMES['state_log_partitions']} must be at most 1000, "
                             f"got {self.state_log_partitions}")

    @classmethod
    def from_kafka_names(cls, configs: Mapping[str, int]) -> TransactionSettings:
        """From Kafka's names (transaction.max.timeout.ms, ...); names not given keep
        their defaults, names not known are refused (ValueError)."""
        by_kafka = {kafka: field for field, kafka in KAFKA_NAMES.items()}
        unknown = sorted(set(configs) - set(by_kafka))
        if unknown:
            raise UnknownSetting(unknown[0], f"unknown key{did_you_mean(unknown[0], by_kafka)}")
        return cls(**{by_kafka[name]: value for name, value in configs.items()}, given=frozenset(configs))


# field -> Kafka's broker config name
KAFKA_NAMES: dict[str, str] = {
    "max_timeout_ms": "transaction.max.timeout.ms",
    "state_log_partitions": "transaction.state.log.num.partitions",
    "state_log_replication_factor": "transaction.state.log.replication.factor",
    "state_log_min_isr": "transaction.state.log.min.isr",
    "state_log_segment_bytes": "transaction.state.log.segment.bytes",
    "transactional_id_expiration_ms": "transactional.id.expiration.ms",
    "abort_timed_out_interval_ms": "transaction.abort.timed.out.transaction.cleanup.interval.ms",
    "remove_expired_interval_ms": "transaction.remove.expired.transaction.cleanup.interval.ms",
}
