"""The client side of SCRAM (kraft/security/scram_client.py) against kraft's own server
side, as one broker logs in to another: the brokers' derived credential lets the right
password in, a wrong one out, and a server that does not know the credential is caught."""

from __future__ import annotations

import base64

import pytest

from kraft.errors import AuthenticationFailed
from kraft.security.broker_login import BROKER_MECHANISM, BROKER_USER, broker_credential, broker_password
from kraft.security.scram import ScramExchange
from kraft.security.scram_client import ScramClient

KEY = b"k" * 32


def exchange(password: str, server_key: bytes = KEY) -> None:
    credential = broker_credential(server_key)
    server = ScramExchange(BROKER_MECHANISM, lambda user: credential if user == BROKER_USER else None)
    client = ScramClient(BROKER_MECHANISM, BROKER_USER, password)
    client.verify(server.final(client.final(server.first(client.first()))))


def test_the_derived_password_logs_in_and_every_node_derives_the_same():
    exchange(broker_password(KEY))
    assert broker_credential(KEY) == broker_credential(KEY)  # no node-local randomness
    assert broker_password(KEY) != broker_password(b"j" * 32)  # another cluster, another login


def test_a_wrong_password_is_refused():
    with pytest.raises(AuthenticationFailed):
        exchange("a-guess")


def test_a_server_without_the_credential_cannot_pass_for_a_broker():
    """A node that does not know the credential can answer the first message, but it can
    neither check the client's proof nor sign its last message: both sides refuse."""
    impostor = ScramExchange(BROKER_MECHANISM, lambda user: broker_credential(b"x" * 32))
    client = ScramClient(BROKER_MECHANISM, BROKER_USER, broker_password(KEY))
    client_final = client.final(impostor.first(client.first()))
    with pytest.raises(AuthenticationFailed):
        impostor.final(client_final)
    for made_up in (b"", b"v=" + base64.b64encode(bytes(32))):
        with pytest.raises(AuthenticationFailed):
            client.verify(made_up)
