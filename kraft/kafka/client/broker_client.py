"""A broker's Kafka connection to another broker (Kafka's NetworkClient between brokers).

Brokers are Kafka clients of each other: a follower's fetches go over this connection to
its leader's Kafka listener. It dials the address the other broker registered (its
advertised host and kafka_port, from the metadata image), leaves from this node's own
address (network faults single a node out by it), speaks TLS when the cluster does, and
logs in first as the brokers' own user (SCRAM-SHA-256, kraft/security/broker_login.py),
checking the other side's proof as well. One request at
a time, owned by one task: an answer always belongs to the last request, and after any
failure or timeout the connection is dropped and the next request dials again, so a
late answer is never taken for the next one's. A login with a lifetime (KIP-368) is
renewed by dialing again before it runs out.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
import time
from collections.abc import Callable

from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
from kio.serial.errors import SerialError

from kraft.config.cluster import is_ipv4_literal
from kraft.errors import AuthenticationFailed, KraftError, error_from_code
from kraft.kafka.wire.codec import decode_response, encode_request
from kraft.kafka.wire.lazy_deadline import LazyDeadline
from kraft.security.broker_login import BROKER_MECHANISM, BROKER_USER
from kraft.security.scram_client import ScramClient

MAX_ANSWER_BYTES = 128 * 1024 * 1024  # a fetch answer is at most max_bytes plus one whole batch
CONNECT_TIMEOUT_S = 5.0
RENEW_AT = 0.8  # of a login's lifetime: dial again before the listener stops serving it


def refusal(code, what: str, message: str | None = None) -> KraftError | None:
    """The error a Kafka answer's code stands for (None: no error), in the answer's own
    words when it has them, else named with what it was about: the one rule for every
    answer another broker gives this one."""
    if code.value == 0:
        return None
    return error_from_code(code.value, message or f"{code.name}: {what}")


class BrokerUnreachable(ConnectionError):
    """No answer from the other broker: not registered with a Kafka port, refused, reset,
    timed out, or it refused this broker's login."""


class BrokerConnection:
    def __init__(self, address: Callable[[], tuple[str, int] | None], client_id: str,
                 tls: ssl.SSLContext | None = None, password: str | None = None,
                 source_host: str | None = None) -> None:
        """address(): where the other broker listens now (None: nowhere known).
        password: the brokers' login (None: none; only a test connects without it)."""
        self._address = address
        self._client_id = client_id
        self._tls = tls
        self._password = password
        self._source_host = source_host
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._correlation = 0
        self._renew_by: float | None = None
        self._deadline: LazyDeadline | None = None  # the requesting task's; one timer, not one per request

    @property
    def closed_by_peer(self) -> bool:
        """The other broker ended the connection (it restarted, or dropped an idle one): a
        request sent on it now would be lost with no answer, so it is not reused."""
        if self._streams is None:
            return False
        reader, writer = self._streams
        return reader.at_eof() or writer.is_closing()

    async def request(self, entity, timeout_s: float):
        """The answer entity to one kio request entity (at the entity's own version)."""
        deadline = self._deadline
        if deadline is None or deadline.task is not asyncio.current_task():  # another task's turn now
            if deadline is not None:
                deadline.close()
            deadline = self._deadline = LazyDeadline()
        try:
            with deadline.until(time.monotonic() + timeout_s):
                if self._streams is None or self.closed_by_peer or (
                        self._renew_by is not None and time.monotonic() > self._renew_by):
                    await self.close()
                    await self._dial()
                return await self._exchange(entity)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, AuthenticationFailed, ValueError,
                SerialError, IndexError, struct.error) as exc:
            await self.close()
            raise BrokerUnreachable(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            await self.close()
            raise

    async def _dial(self) -> None:
        address = self._address()
        if address is None:
            raise OSError("the broker has no Kafka listener registered")
        host, port = address
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            self._streams = await asyncio.open_connection(
                host, port, ssl=self._tls, server_hostname=host if self._tls is not None else None,
                local_addr=(self._source_host, 0) if self._source_host and is_ipv4_literal(self._source_host)
                else None)
        self._renew_by = None
        if self._password is not None:
            await self._log_in(self._password)

    async def _log_in(self, password: str) -> None:
        handshake = await self._exchange(SaslHandshakeRequest(mechanism=BROKER_MECHANISM))
        if handshake.error_code.value != 0:
            raise AuthenticationFailed(f"the broker does not take {BROKER_MECHANISM} ({handshake.error_code.name})")
        scram = ScramClient(BROKER_MECHANISM, BROKER_USER, password)
        first = await self._exchange(SaslAuthenticateRequest(auth_bytes=scram.first()))
        if first.error_code.value != 0:
            raise AuthenticationFailed(f"broker login refused: {first.error_message}")
        final = await self._exchange(SaslAuthenticateRequest(auth_bytes=scram.final(first.auth_bytes)))
        if final.error_code.value != 0:
            raise AuthenticationFailed(f"broker login refused: {final.error_message}")
        scram.verify(final.auth_bytes)
        lifetime_s = final.session_lifetime.total_seconds()
        self._renew_by = time.monotonic() + RENEW_AT * lifetime_s if lifetime_s > 0 else None

    async def _exchange(self, entity):
        assert self._streams is not None
        reader, writer = self._streams
        self._correlation = (self._correlation + 1) % 2**31
        writer.write(encode_request(entity, self._correlation, self._client_id))
        await writer.drain()
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        if not 4 <= size <= MAX_ANSWER_BYTES:  # bounded before anything is read into memory
            raise ValueError(f"an answer of {size} bytes is not one")
        payload = await reader.readexactly(size)
        (correlation,) = struct.unpack_from(">i", payload)
        if correlation != self._correlation:
            raise ValueError(f"answer to request {correlation}, not {self._correlation}")
        return decode_response(int(entity.__api_key__), int(entity.__version__), payload)

    async def close(self) -> None:
        if self._deadline is not None:
            self._deadline.close()
        streams, self._streams = self._streams, None
        if streams is not None:
            streams[1].close()
            try:
                async with asyncio.timeout(1.0):  # a paused peer never acknowledges the close
                    await streams[1].wait_closed()
            except (OSError, TimeoutError, ssl.SSLError):
                pass
