"""How many Kafka connections a listener holds, in all and per client address (sans-IO).

Kafka's rules and names: `max.connections` for the listener, `max.connections.per.ip` for
any one address, `max.connections.per.ip.overrides` ("host:count,host:count") for named
addresses. A connection over either limit is closed at once, as Kafka's acceptor closes
it. The per-address limit sits well below the listener's, so no single address can take
every slot and lock the others out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field



@dataclass
class ConnectionLimits:
    total: int       # max.connections
    per_address: int  # max.connections.per.ip
    overrides: dict[str, int] = field(default_factory=dict)  # max.connections.per.ip.overrides
    _held: Counter = field(default_factory=Counter, repr=False)
    held: int = 0  # every address's

    def limit_for(self, host: str) -> int:
        return self.overrides.get(host, self.per_address)

    def admit(self, host: str) -> str | None:
        """None: the connection is counted; else why it must be closed."""
        if self._held[host] >= self.limit_for(host):
            return f"{host} already holds {self._held[host]} connections (max.connections.per.ip " \
                   f"{self.limit_for(host)})"
        if self.held >= self.total:
            return f"the listener holds {self.held} connections (max.connections {self.total})"
        self._held[host] += 1
        self.held += 1
        return None

    def release(self, host: str) -> None:
        self._held[host] -= 1
        self.held -= 1
        if self._held[host] <= 0:
            del self._held[host]  # addresses come and go: keep only the ones connected

    def held_by(self, host: str) -> int:
        return self._held[host]
