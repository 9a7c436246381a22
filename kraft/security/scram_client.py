"""The client side of a SCRAM exchange (RFC 5802), sans-IO: what a broker sends when it
logs in to another (kraft/security/broker_login.py). scram.py holds the server side."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from kraft.errors import AuthenticationFailed
from kraft.security.scram import MAX_ITERATIONS, MECHANISMS, MIN_ITERATIONS, salted_password

_NO_CHANNEL_BINDING = "biws"  # base64 of the gs2 header "n,,"


class ScramClient:
    """first() -> the server's first message -> final(it) -> the server's last -> verify(it)."""

    def __init__(self, mechanism: str, user: str, password: str) -> None:
        self._hash = MECHANISMS[mechanism]
        self._mechanism = mechanism
        self._user = user.replace("=", "=3D").replace(",", "=2C")
        self._password = password
        self._nonce = secrets.token_urlsafe(18)
        self._bare = f"n={self._user},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> bytes:
        return f"n,,{self._bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        try:
            attrs = dict(part.split("=", 1) for part in server_first.decode().split(","))
            nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"], validate=True), int(attrs["i"])
        except (UnicodeDecodeError, ValueError, KeyError):
            raise AuthenticationFailed("malformed SCRAM server-first message") from None
        if not nonce.startswith(self._nonce) or not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise AuthenticationFailed("SCRAM server-first message refused (nonce or iterations)")
        salted = salted_password(self._password, salt, iterations, self._mechanism)
        without_proof = f"c={_NO_CHANNEL_BINDING},r={nonce}"
        auth_message = f"{self._bare},{server_first.decode()},{without_proof}".encode()
        client_key = hmac.digest(salted, b"Client Key", self._hash)
        signature = hmac.digest(hashlib.new(self._hash, client_key).digest(), auth_message, self._hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = hmac.digest(hmac.digest(salted, b"Server Key", self._hash), auth_message,
                                             self._hash)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final: bytes) -> None:
        """The server proved it knows the credential too (else a node impersonates one)."""
        expected = b"v=" + base64.b64encode(self._server_signature)
        if not self._server_signature or not hmac.compare_digest(bytes(server_final), expected):
            raise AuthenticationFailed("the server's SCRAM signature does not match")
