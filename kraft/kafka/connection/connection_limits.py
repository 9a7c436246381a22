"""How many Kafka connections a listener holds, in all and per client address, and which
one gives way to a newcomer when it is full (sans-IO).

Kafka's rules and names: `max.connections` for the listener, `max.connections.per.ip` for
any one address, `max.connections.per.ip.overrides` ("host:count,host:count") for named
addresses. A connection over its address's limit is closed at once, as Kafka's acceptor
closes it. The per-address limit sits well below the listener's, so no single address can
take every slot.

A few addresses together still can, with connections that never send a request. So a
connection is "unserved" until its first request is read (after the login, where SASL is
on), and a newcomer to a full listener takes the slot of the oldest unserved connection,
which is closed. Kafka's acceptor, in the same spot, closes its least recently used
connection (KIP-402's protected listener); here a served client is never the one closed,
and only when nothing unserved is left is the newcomer refused.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # what names a connection to its listener


@dataclass(frozen=True)
class Admission(Generic[K]):
    refused: str | None = None  # set: the newcomer is closed, and why
    evicted: K | None = None  # set: this connection is closed to make room for the newcomer


@dataclass
class ConnectionLimits(Generic[K]):
    total: int       # max.connections
    per_address: int  # max.connections.per.ip
    overrides: dict[str, int] = field(default_factory=dict)  # max.connections.per.ip.overrides
    _held: Counter = field(default_factory=Counter, repr=False)  # address -> its connections
    _hosts: dict[K, str] = field(default_factory=dict, repr=False)  # each connection counted -> its address
    _unserved: dict[K, None] = field(default_factory=dict, repr=False)  # those not served yet, oldest first

    @property
    def held(self) -> int:  # every address's
        return len(self._hosts)

    @property
    def unserved(self) -> int:
        return len(self._unserved)

    def limit_for(self, host: str) -> int:
        return self.overrides.get(host, self.per_address)

    def admit(self, host: str, connection: K) -> Admission[K]:
        """Counts `connection` (unserved) unless refused; with the listener full, the oldest
        unserved connection is released here and named, for the caller to close."""
        if self._held[host] >= self.limit_for(host):
            return Admission(refused=f"{host} already holds {self._held[host]} connections "
                                     f"(max.connections.per.ip {self.limit_for(host)})")
        evicted = None
        if self.held >= self.total:
            if not self._unserved:
                return Admission(refused=f"the listener holds {self.held} connections, all served "
                                         f"(max.connections {self.total})")
            evicted = next(iter(self._unserved))
            self.release(evicted)
        self._held[host] += 1
        self._hosts[connection] = host
        self._unserved[connection] = None
        return Admission(evicted=evicted)

    def served(self, connection: K) -> None:
        """The connection has been served: no newcomer takes its slot from now on."""
        self._unserved.pop(connection, None)

    def release(self, connection: K) -> None:
        """Uncounted; a connection already released (evicted) is no more."""
        host = self._hosts.pop(connection, None)
        if host is None:
            return
        self._unserved.pop(connection, None)
        self._held[host] -= 1
        if self._held[host] <= 0:
            del self._held[host]  # addresses come and go: keep only the ones connected

    def held_by(self, host: str) -> int:
        return self._held[host]
