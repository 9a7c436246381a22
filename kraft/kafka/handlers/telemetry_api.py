"""GetTelemetrySubscriptions (key 71, KIP-714): an empty subscription.

Java clients 3.7+ ask every broker for the metrics it wants pushed. kraft wants none:
the answer requests no metrics, so a client asks again after the push interval and never
sends PushTelemetry (its close skips the final push too while it has no subscription),
which is therefore not served. A client without an instance id (the zero UUID) is given
one, as the KIP says; one that has an id gets it back.
"""

from __future__ import annotations

import uuid

from kraft.broker.services import BrokerServices
from kraft.kafka.wire import error_codes
from kraft.kafka.connection.request_context import RequestContext

PUSH_INTERVAL_MS = 300_000  # Kafka's interval when no subscription matches a client
SUBSCRIPTION_ID = 0  # the one (empty) subscription set there is
# what the client could compress a push with; none is ever sent, but the field is a promise
ACCEPTED_COMPRESSION = (4, 3, 1, 2)  # zstd, lz4, gzip, snappy (kraft opens each)
TELEMETRY_MAX_BYTES = 1024 * 1024


async def get_subscriptions(node: BrokerServices, ctx: RequestContext, request) -> dict:
    asked = request.client_instance_id
    instance = asked if asked is not None and asked.int != 0 else uuid.uuid4()
    return {"throttle_time": 0, "error_code": error_codes.NONE, "client_instance_id": instance,
            "subscription_id": SUBSCRIPTION_ID, "accepted_compression_types": list(ACCEPTED_COMPRESSION),
            "push_interval": PUSH_INTERVAL_MS, "telemetry_max_bytes": TELEMETRY_MAX_BYTES,
            "delta_temporality": True, "requested_metrics": []}
