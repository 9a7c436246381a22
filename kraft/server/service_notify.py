"""Tells a service manager (systemd's `Type=notify`) when the node is ready and when it stops.

systemd passes a datagram socket's address in NOTIFY_SOCKET; a service writes
"READY=1" there once it serves, "STOPPING=1" when it begins to stop, and "STATUS=..."
for `systemctl status`. Without NOTIFY_SOCKET (a node started by hand, by `kraft up` or a
test) nothing is sent. A node is ready when /status/ready would say 200: it has seen
the active controller and, as a broker, is registered and unfenced. So `systemctl start`
returns once the node can take requests, and a rolling restart can wait on it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable

log = logging.getLogger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
POLL_S = 0.2


def socket_address(value: str) -> str | bytes:
    """NOTIFY_SOCKET as a socket address: '@name' is Linux's abstract namespace."""
    return b"\0" + value[1:].encode() if value.startswith("@") else value


class ServiceNotifier:
    """One datagram socket to the service manager, or nothing when there is none."""

    def __init__(self, environ: dict | None = None):
        value = (os.environ if environ is None else environ).get(NOTIFY_SOCKET_ENV, "")
        self._address = socket_address(value) if value else None

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *fields: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto("\n".join(fields).encode(), self._address)
        except OSError as exc:  # the manager went away: the node keeps serving
            log.warning("cannot notify the service manager: %s", exc)


class ReadyNotice:
    """Owned by the node's task group: sends READY=1 once `readiness` says so, then keeps
    STATUS= in step with it (a node that loses its controller says why)."""

    def __init__(self, notifier: ServiceNotifier, readiness: Callable[[], tuple[bool, str]],
                 poll_s: float = POLL_S):
        self._notifier = notifier
        self._readiness = readiness
        self._poll_s = poll_s

    async def run(self) -> None:
        if not self._notifier.enabled:
            return
        announced = False
        last_status = None
        while True:
            ready, why = self._readiness()
            status = "serving" if ready else f"not ready: {why}"
            if ready and not announced:
                self._notifier.send("READY=1", f"STATUS={status}")
                announced = True
            elif status != last_status:
                self._notifier.send(f"STATUS={status}")
            last_status = status
            await asyncio.sleep(self._poll_s)
