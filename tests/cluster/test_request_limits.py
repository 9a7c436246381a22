"""A node's memory stays bounded whatever clients send: records per request, request
bodies held at once, and bodies that never finish arriving (413, 429, 408)."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest

from cluster_client import create_topic
from kraft.server.local_cluster import LocalCluster, http_json

pytestmark = pytest.mark.cluster
V2_JSON = {"Content-Type": "application/vnd.kafka.json.v2+json"}
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(3, env={"KRAFT_BODY_READ_TIMEOUT_MS": "3000"}) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        create_topic(c, "limits", partitions=1)
        yield c


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM"))


def _v2_body(n: int) -> bytes:
    return b'{"records":[' + b",".join([b'{"value":1}'] * n) + b"]}"


def test_too_many_records_is_413_and_nothing_is_written(cluster):
    url = cluster.url(1)
    before = http_json("GET", url + "/topics/limits/partitions/0/offsets")[1]["end_offset"]
    status, body = http_json("POST", url + "/topics/limits", body=None, raw=_v2_body(1_300_000),
                             headers=V2_JSON, timeout=60)
    assert status == 413 and body["error_code"] == 413, body
    assert "at most 10000 records" in body["message"]
    # the bound: parsing the body is all it costs, not gigabytes of records
    assert _peak_rss_mb(cluster.procs[1].pid) < 1500
    status, body = http_json("POST", url + "/topics/limits", raw=_v2_body(10_000), headers=V2_JSON, timeout=60)
    assert status == 200 and len(body["offsets"]) == 10_000
    after = http_json("GET", url + "/topics/limits/partitions/0/offsets")[1]["end_offset"]
    assert after == before + 10_000


def test_v3_streaming_and_batch_are_bounded_too(cluster):
    url = cluster.url(2)
    cid = cluster.get(2, "/v3/clusters")[1]["data"][0]["cluster_id"]
    stream = b"".join(b'{"value":{"type":"JSON","data":1}}' for _ in range(10_001))
    status, body = http_json("POST", url + f"/v3/clusters/{cid}/topics/limits/records", raw=stream,
                             headers={"Content-Type": "application/json"}, timeout=60)
    assert status == 413 and "at most 10000 records" in body["message"], body
    entries = b",".join(b'{"id":"%d","value":{"type":"JSON","data":1}}' % i for i in range(10_001))
    status, body = http_json("POST", url + f"/v3/clusters/{cid}/topics/limits/records:batch",
                             raw=b'{"entries":[' + entries + b"]}", headers={"Content-Type": "application/json"},
                             timeout=60)
    assert status == 413 and "at most 10000 records" in body["message"], body


def _stalled_upload(base_url: str, path: str, sent: int) -> socket.socket:
    """A chunked upload that sends `sent` bytes and then nothing more."""
    u = urlsplit(base_url)
    sock = socket.create_connection((u.hostname, u.port), timeout=10)
    head = (f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: application/vnd.kafka.json.v2+json\r\n\r\n")
    sock.sendall(head.encode())
    chunk = b" " * MiB
    for _ in range(sent // MiB):
        sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
    return sock


def _answer(sock: socket.socket) -> int:
    data = b""
    deadline = time.monotonic() + 15
    while b"\r\n" not in data and time.monotonic() < deadline:
        part = sock.recv(4096)
        if not part:
            break
        data += part
    return int(data.split(b" ")[1]) if data.startswith(b"HTTP/1.1") else -1


def test_stalled_uploads_are_refused_then_timed_out(cluster):
    url = cluster.url(3)
    held = [_stalled_upload(url, "/topics/limits", 15 * MiB) for _ in range(4)]  # 60 MiB held
    try:
        time.sleep(0.5)  # let the node read what was sent
        more = _stalled_upload(url, "/topics/limits", 8 * MiB)
        assert _answer(more) == 429  # over the node's 64 MiB of bodies at once
        more.close()
        # the node still serves small requests meanwhile
        status, body = http_json("POST", url + "/topics/limits", raw=b'{"records":[{"value":"ok"}]}',
                                 headers=V2_JSON)
        assert status == 200, body
        # the stalled ones are answered 408 once their time is up, and the budget comes back
        assert [_answer(s) for s in held] == [408] * 4
    finally:
        for s in held:
            s.close()
    status, body = http_json("POST", url + "/topics/limits", raw=_v2_body(5000), headers=V2_JSON, timeout=60)
    assert status == 200, body
