"""slow_disk / heal_disk, observed through a real producer: a write that must reach a slow
disk misses a delivery timeout far below the disk's delay, and makes it once healed."""

import pytest
from confluent_kafka import KafkaError, Producer

from kraft.testing import Cluster, DiskFaultsUnavailable

pytestmark = pytest.mark.cluster
CLIENT_BOUND_S = 60
SLOW_MS = 8_000       # each write of the node's log waits this long ...
DELIVERY_MS = 3_000   # ... far longer than this producer waits for its record


def deliver(c: Cluster, topic: str, timeout_ms: int) -> KafkaError | None:
    """One record, acks=all; the delivery error (None: delivered)."""
    p = Producer({**c.client_config(), "acks": "all", "message.timeout.ms": timeout_ms,
                  "request.timeout.ms": timeout_ms})
    outcome: list = []
    p.produce(topic, b"r", on_delivery=lambda err, _msg: outcome.append(err))
    p.flush(CLIENT_BOUND_S)
    assert outcome, "no delivery report"
    return outcome[0]


@pytest.mark.skipif(not Cluster.disk_faults_available()[0], reason=Cluster.disk_faults_available()[1])
def test_slow_disk_delays_writes_until_healed():
    with Cluster(nodes=1, lazy_fs=True) as c:
        topic = c.new_topic()
        assert deliver(c, topic, CLIENT_BOUND_S * 1000) is None
        c.slow_disk(1, SLOW_MS)
        error = deliver(c, topic, DELIVERY_MS)
        assert error is not None and error.code() == KafkaError._MSG_TIMED_OUT, error
        c.heal_disk(1)
        # the write held up by the slow disk may still be finishing: the next one gets through
        assert deliver(c, topic, CLIENT_BOUND_S * 1000) is None


def test_slow_disk_needs_the_lazy_filesystem():
    with Cluster(nodes=1) as c:
        with pytest.raises(DiskFaultsUnavailable, match="lazy_fs=True"):
            c.slow_disk(1, 100)
        with pytest.raises(ValueError, match="0..60000"):
            c.slow_disk(1, -1)
