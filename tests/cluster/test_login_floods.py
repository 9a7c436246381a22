"""Authentication back-off on a real 3-node cluster with security on, on both doors.

A flood of wrong passwords from one address (several connections at once, bounded in
count and time) is slowed: its failures are answered about one per
connection.failed.authentication.delay.ms (100 ms) for that address and user. Without
the back-off a failure is answered in a few ms, hundreds in the same window. Meanwhile
the administrator's correct login, from the attacked address and from another, is
answered at once. Random user names from one address are slowed the same way.

Each client binds its own loopback source address (127.0.1.x), so the node sees the
attacker and the administrator as the addresses the test means. Last, on the same
secured cluster: a signature header whose time stamp is of digits int() refuses is 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import secrets
import socket
import threading
import time

import pytest
from kafka_wire import wire_call

from kraft.server.local_cluster import LocalCluster, http_json, security_toml

pytestmark = pytest.mark.cluster

SECURITY = security_toml({"admin": "admin-password", "bob": "bob-password"})
ADMIN_HTTP = {"Authorization": "Basic " + base64.b64encode(b"admin:admin-password").decode()}
ATTACKER, ATTACKER_2, ELSEWHERE = "127.0.1.10", "127.0.1.11", "127.0.1.20"
CONNECTIONS = 8  # the attacker's concurrent connections
GUESSES = 1000  # the attacker stops after this many answers, or at the window's end
WINDOW_S = 2.5
# at 100 ms per answer for one key: 25 in the window, plus one held answer per connection;
# with no back-off a failure is answered in milliseconds (hundreds in the window: over 300
# SCRAM logins, the 1000 HTTP guesses, measured here with the delay set to 0)
MOST_ANSWERED = 55
LOGIN_BOUND_S = 5.0  # the correct login's socket timeout: generous, a failure is held up to 10 s


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(nodes=3, extra_toml=SECURITY, headers=ADMIN_HTTP) as c:
        c.start().wait_ready(timeout_s=60)
        yield c


# -- the Kafka door: SCRAM-SHA-256 over raw frames --------------------------------------

def kafka_connection(c, source: str, timeout_s: float) -> socket.socket:
    node = c.config.node(1)
    return socket.create_connection((node.host, node.kafka_port), timeout=timeout_s, source_address=(source, 0))


def scram_login(s: socket.socket, user: str, password: str, salted: dict) -> bool:
    """One SCRAM-SHA-256 login on an open connection (RFC 5802); whether it succeeded.
    `salted` remembers SaltedPassword per (password, salt), so guessing costs the attacker
    no hashing of its own."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    assert int(wire_call(s, SaslHandshakeRequest(mechanism="SCRAM-SHA-256")).error_code.value) == 0
    bare = f"n={user},r={secrets.token_hex(12)}"
    answer = wire_call(s, SaslAuthenticateRequest(auth_bytes=b"n,," + bare.encode()), 2)
    if int(answer.error_code.value) != 0:
        return False
    server_first = bytes(answer.auth_bytes).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salt, iterations = base64.b64decode(fields["s"]), int(fields["i"])
    key = (password, salt, iterations)
    if key not in salted:
        salted[key] = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted[key], b"Client Key", "sha256")
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    signature = hmac.digest(hashlib.sha256(client_key).digest(), auth_message, "sha256")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature))).decode()
    final = wire_call(s, SaslAuthenticateRequest(auth_bytes=f"{without_proof},p={proof}".encode()), 3)
    return int(final.error_code.value) == 0


SALTED: dict = {}  # the attacker's SaltedPassword per salt: its guesses cost it nothing


def kafka_guess(c, source: str, user: str) -> bool:
    with kafka_connection(c, source, 15) as s:
        return scram_login(s, user, "wrong-password", SALTED)


# -- the HTTP door: Basic ----------------------------------------------------------------

def basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def http_status(c, source: str, headers: dict, timeout_s: float) -> int:
    node = c.config.node(1)
    conn = http.client.HTTPConnection(node.host, node.http_port, timeout=timeout_s, source_address=(source, 0))
    try:
        conn.request("GET", f"/v3/clusters/{c.cluster_id}", headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


# -- the flood ---------------------------------------------------------------------------

class Flood:
    """CONNECTIONS threads each repeating `guess` until GUESSES were answered or the window
    ends; `answered` counts the failures the node answered within the window."""

    def __init__(self, guess) -> None:
        self._guess = guess
        self._lock = threading.Lock()
        self.answered = 0
        self.succeeded = 0
        self._end = 0.0
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CONNECTIONS)]

    def __enter__(self) -> Flood:
        self._end = time.monotonic() + WINDOW_S
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        for t in self._threads:  # each guess ends within its socket timeout
            t.join(WINDOW_S + 30)
        assert not any(t.is_alive() for t in self._threads)

    def _run(self) -> None:
        while time.monotonic() < self._end and self.answered < GUESSES:
            ok = self._guess()
            with self._lock:
                if time.monotonic() < self._end:
                    self.answered += 1
                    self.succeeded += ok


def test_kafka_scram_flood_slows_the_attacker_not_the_administrator(cluster):
    salted: dict = {}

    def admin_logs_in(source: str) -> bool:
        with kafka_connection(cluster, source, LOGIN_BOUND_S) as s:
            return scram_login(s, "admin", "admin-password", salted)
    with Flood(lambda: kafka_guess(cluster, ATTACKER, "admin")) as flood:
        time.sleep(1.0)  # the flood is under way
        assert admin_logs_in(ATTACKER)
        assert admin_logs_in(ELSEWHERE)
    assert flood.succeeded == 0
    assert 0 < flood.answered <= MOST_ANSWERED, flood.answered


def test_http_basic_flood_slows_the_attacker_not_the_administrator(cluster):
    guess = basic("admin", "wrong-password")
    with Flood(lambda: http_status(cluster, ATTACKER, guess, 15) == 200) as flood:
        time.sleep(1.0)
        assert http_status(cluster, ATTACKER, ADMIN_HTTP, LOGIN_BOUND_S) == 200
        assert http_status(cluster, ELSEWHERE, ADMIN_HTTP, LOGIN_BOUND_S) == 200
        assert http_status(cluster, ATTACKER, basic("bob", "bob-password"), LOGIN_BOUND_S) == 200
    assert flood.succeeded == 0
    assert 0 < flood.answered <= MOST_ANSWERED, flood.answered


def test_http_basic_with_random_user_names_is_slowed_per_address(cluster):
    def random_user() -> bool:
        return http_status(cluster, ATTACKER_2, basic("u" + secrets.token_hex(6), "x"), 15) == 200
    with Flood(random_user) as flood:
        time.sleep(1.0)
        assert http_status(cluster, ATTACKER_2, ADMIN_HTTP, LOGIN_BOUND_S) == 200
    assert flood.succeeded == 0
    assert 0 < flood.answered <= MOST_ANSWERED, flood.answered


def test_kafka_random_user_names_are_slowed_per_address(cluster):
    with Flood(lambda: kafka_guess(cluster, ATTACKER_2, "u" + secrets.token_hex(6))) as flood:
        pass
    assert flood.succeeded == 0
    assert 0 < flood.answered <= MOST_ANSWERED, flood.answered
    assert http_json("GET", cluster.v3(1), headers=ADMIN_HTTP)[0] == 200


# -- a signature header of digits int() refuses ------------------------------------------

@pytest.mark.parametrize("header, value", [
    ("X-Kraft-Signature", "²"), ("X-Kraft-Signature", "¹²³.00ff"),
    ("X-Kraft-On-Behalf-Of", "User:admin\t127.0.0.1\t².00ff")])
@pytest.mark.parametrize("path", ["/v3/clusters", "/internal/v1/metadata/offset"])
def test_a_signature_of_digits_int_refuses_is_401(cluster, header, value, path):
    """'²' is a digit to str.isdigit() and not to int(): sent as UTF-8, as a client would."""
    node = cluster.config.node(2)
    conn = http.client.HTTPConnection(node.host, node.http_port, timeout=10)
    try:
        conn.putrequest("GET", path)
        conn.putheader(header, value.encode())
        conn.endheaders()
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 401, body
    assert b"Traceback" not in body
