"""Shared by the REST test modules: a client that retries as a Kafka client would, and
topic creation that waits until every node serves the topic."""

from __future__ import annotations

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

from kraft.server.local_cluster import http_json

RETRIABLE = {50003, 50301}
TOPIC_EXISTS = 40002  # HTTP 400, as Confluent's v3 answers a create of an existing topic  # docs/API.md: retriable (leader moving, no quorum answer yet)
NODES = (1, 2, 3)
V2_JSON = "application/vnd.kafka.json.v2+json"
V2_BINARY = "application/vnd.kafka.binary.v2+json"


def call(method, url, body=None, headers=None, raw=None, timeout=30.0, retry_s=10.0):
    """http_json, retried (bounded) while the answer is a retriable 5xx, as a client would:
    a leader or controller move under load must not fail a test about something else."""
    deadline = time.monotonic() + retry_s
    while True:
        status, answer = http_json(method, url, body=body, headers=headers, raw=raw,
                                   timeout=timeout)
        if not (isinstance(answer, dict) and answer.get("error_code") in RETRIABLE) \
                or time.monotonic() >= deadline:
            return status, answer
        time.sleep(0.2)


def brokers_unfenced(c) -> bool:
    status, body = http_json("GET", c.v3(1) + "/brokers")
    return status == 200 and len(body["data"]) == 3 and not any(b.get("fenced") for b in body["data"])


def create_topic(c, name, partitions=3, configs=None):
    doc = {"topic_name": name, "partitions_count": partitions, "replication_factor": 3}
    if configs:
        doc["configs"] = [{"name": k, "value": str(v)} for k, v in configs.items()]
    # RF 3 needs all three brokers: a broker fenced for a moment (a busy machine) is waited for
    c.wait_until(lambda: brokers_unfenced(c), 20, "all brokers unfenced")
    status, body = call("POST", c.v3(1) + "/topics", doc)
    # exists: an attempt that got a retriable answer had created it (names are unique)
    assert status == 201 or body.get("error_code") == TOPIC_EXISTS, body

    def ready():  # polled: no retries inside
        for node in NODES:
            if http_json("GET", f"{c.v3(node)}/topics/{name}")[0] != 200:
                return False
            for p in range(partitions):
                if http_json("GET", f"{c.url(node)}/topics/{name}/partitions/{p}/offsets")[0] != 200:
                    return False
        return True

    c.wait_until(ready, 15, f"topic {name} ready on every node")
    return name


def assert_envelope(status, body, code=None, codes=None):
    """An error answer: never a 5xx, the envelope, status = the code's first three digits."""
    assert status < 500, (status, body)
    assert isinstance(body, dict), (status, body)
    assert set(body) >= {"error_code", "message"}, body
    assert isinstance(body["error_code"], int), body
    assert isinstance(body["message"], str) and body["message"], body
    assert status == int(str(body["error_code"])[:3]), (status, body)
    if code is not None:
        assert body["error_code"] == code, (status, body)
    if codes is not None:
        assert body["error_code"] in codes, (status, body)


def padded_json_parts(head: bytes, tail: bytes, total: int, piece: int = 1024 * 1024):
    """A JSON document of exactly `total` bytes (head, a run of "x", tail), yielded in
    pieces of at most `piece`: for bodies over the size cap without holding them."""
    pad = total - len(head) - len(tail)
    yield head
    while pad > 0:
        n = min(piece, pad)
        yield b"x" * n
        pad -= n
    yield tail


def raw_http(base_url, method, path, headers, body_parts=(), timeout=30.0):
    """One request over a plain socket, body sent as given (the server may answer, e.g.
    413, before it is all sent); returns (status, parsed body)."""
    u = urlsplit(base_url)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    try:
        head = f"{method} {path} HTTP/1.1\r\nHost: {u.netloc}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        try:
            sock.sendall(head.encode())
            for part in body_parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        payload = resp.read()
        try:
            return resp.status, json.loads(payload) if payload else None
        except ValueError:
            return resp.status, payload.decode(errors="replace")
    finally:
        sock.close()
