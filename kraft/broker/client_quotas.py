"""Kafka's client quotas on this broker: each request's bytes or handler time counted
against the quota that applies to it (kraft/metadata/client_quotas.py picks it), and how long
the client must then wait.

As in Kafka (ClientQuotaManager), a quota's usage is a rate over a window of
`quota.window.num` samples of `quota.window.size.seconds`; early on the rate is taken
over the whole window, so a new client may use about one window's budget at once. A
request that takes the rate over the quota is still served; its answer carries the
throttle time, the time at which the rate falls back to the quota, and the client
waits that long: the Kafka door stops reading the connection (KIP-219), the HTTP door
answers 429 with Retry-After until then. Quotas are per broker, as in Kafka.

Pure apart from the clock it is given.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from kraft.broker.access import Identity
from kraft.metadata.client_quotas import Quotas, applicable

PRUNE_AT = 10_000  # sensors kept before idle ones are dropped
ANONYMOUS = "ANONYMOUS"  # Kafka's user name for an unauthenticated principal


def quota_user(identity: Identity | None) -> str:
    """The user name a request's quotas are looked up by: its principal's name."""
    if identity is None:
        return ANONYMOUS
    return identity.principal.split(":", 1)[1] if ":" in identity.principal else identity.principal


class RateSensor:
    """A sum per sample over the last `samples` samples of `sample_s` seconds each."""

    def __init__(self, samples: int, sample_s: float):
        self._samples_max = samples
        self._sample_s = sample_s
        self._samples: deque[list[float]] = deque()  # [start, total]

    def record(self, amount: float, now: float) -> None:
        self._expire(now)
        if not self._samples or now - self._samples[-1][0] >= self._sample_s:
            self._samples.append([now, 0.0])
        self._samples[-1][1] += amount

    def elapsed_s(self, now: float) -> float:
        """The time the rate is taken over: since the oldest sample, and at least the
        window less one sample (Kafka's Rate)."""
        oldest = self._samples[0][0] if self._samples else now
        return max(now - oldest, (self._samples_max - 1) * self._sample_s)

    def rate(self, now: float) -> float:
        self._expire(now)
        return sum(total for _, total in self._samples) / self.elapsed_s(now)

    def idle(self, now: float) -> bool:
        self._expire(now)
        return not self._samples

    def window_s(self) -> float:
        return self._samples_max * self._sample_s

    def _expire(self, now: float) -> None:
        horizon = now - self._samples_max * self._sample_s
        while self._samples and self._samples[0][0] + self._sample_s <= horizon:
            self._samples.popleft()


class ClientQuotaManager:
    def __init__(self, quotas: Callable[[], Quotas], samples: int = 11, sample_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self._quotas = quotas
        self._samples = samples
        self._sample_s = sample_s
        self._clock = clock
        self._sensors: dict[tuple, RateSensor] = {}
        self._blocked_until: dict[tuple, float] = {}

    def record(self, user: str, client_id: str, key: str, amount: float) -> int:
        """Count `amount` for this client; the throttle time in ms (0: within its quota)."""
        found = applicable(self._quotas(), user, client_id, key)
        if found is None:
            return 0
        bound, bucket = found
        now = self._clock()
        sensor = self._sensors.get(bucket)
        if sensor is None:
            if len(self._sensors) >= PRUNE_AT:
                self._prune(now)
            sensor = self._sensors[bucket] = RateSensor(self._samples, self._sample_s)
        sensor.record(amount, now)
        rate = sensor.rate(now)
        if rate <= bound:
            return 0
        # the time at which the rate, with nothing more sent, is back at the bound
        throttle_s = min((rate - bound) / bound * sensor.elapsed_s(now), sensor.window_s())
        self._blocked_until[bucket] = max(self._blocked_until.get(bucket, 0.0), now + throttle_s)
        return int(throttle_s * 1000)

    def wait_s(self, user: str, client_id: str, key: str) -> float:
        """How long this client must still wait after an earlier throttle (0: none)."""
        found = applicable(self._quotas(), user, client_id, key)
        if found is None:
            return 0.0
        return max(0.0, self._blocked_until.get(found[1], 0.0) - self._clock())

    def _prune(self, now: float) -> None:
        """Forget clients that sent nothing for a whole window (Kafka expires their sensors)."""
        for bucket in [b for b, sensor in self._sensors.items() if sensor.idle(now)]:
            del self._sensors[bucket]
            self._blocked_until.pop(bucket, None)
