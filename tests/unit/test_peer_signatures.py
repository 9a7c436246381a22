"""Node-to-node requests are signed, and the Raft password never travels: a real
aiohttp server records what a real Peers client sends."""

from __future__ import annotations

import time

from aiohttp import web

from kraft.internode.peers import SIGNATURE_HEADER, Peers
from kraft.config.cluster_keys import peer_key, raft_key, request_signature, signature_valid
from kraft.config.data_dir import DataDirIdentity

ME = DataDirIdentity("MkU3OEVBNTcwNTJENDM2Qk", 1, "the-raft-password")
OTHER_CLUSTER = DataDirIdentity("AAAAAAAAAAAAAAAAAAAAAA", 1, "the-raft-password")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_keys_differ_by_purpose_and_by_cluster():
    assert peer_key(ME) != peer_key(OTHER_CLUSTER)
    assert raft_key(ME) != raft_key(OTHER_CLUSTER)
    assert ME.raft_password not in raft_key(ME)
    assert peer_key(ME).hex() != raft_key(ME)


def test_a_signature_covers_method_path_body_and_time():
    key, t = peer_key(ME), now_ms()
    sig = request_signature(key, "POST", "/internal/v1/produce?topic=a", b"batch", t)
    assert signature_valid(key, sig, "POST", "/internal/v1/produce?topic=a", b"batch", t)
    assert not signature_valid(key, sig, "POST", "/internal/v1/produce?topic=b", b"batch", t)
    assert not signature_valid(key, sig, "POST", "/internal/v1/produce?topic=a", b"other", t)
    assert not signature_valid(key, sig, "GET", "/internal/v1/produce?topic=a", b"batch", t)
    assert not signature_valid(peer_key(OTHER_CLUSTER), sig, "POST", "/internal/v1/produce?topic=a", b"batch", t)
    assert not signature_valid(key, sig, "POST", "/internal/v1/produce?topic=a", b"batch", t + 61_000)  # replay
    assert not signature_valid(key, "garbage", "POST", "/", b"", t)
    assert not signature_valid(key, "", "POST", "/", b"", t)


async def test_what_peers_send_is_signed_and_carries_no_password():
    seen = []

    async def record(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), request.raw_path, await request.read()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    peers = Peers(peer_key(ME), lambda node_id: f"http://127.0.0.1:{port}", "127.0.0.1")
    await peers.open()
    try:
        await peers.call_json(2, "POST", "/internal/v1/produce", data=b"batch-bytes",
                              params={"topic": "a b", "partition": "0"}, timeout_s=5)
        await peers.request(2, "GET", "/internal/v1/metadata?after=3", timeout_s=5)
    finally:
        await peers.close()
        await runner.cleanup()
    assert len(seen) == 2
    for headers, raw_path, body in seen:
        assert not any(ME.raft_password in v for v in headers.values())
        assert signature_valid(peer_key(ME), headers[SIGNATURE_HEADER], "POST" if body else "GET",
                               raw_path, body, now_ms())
        assert not signature_valid(peer_key(OTHER_CLUSTER), headers[SIGNATURE_HEADER],
                                   "POST" if body else "GET", raw_path, body, now_ms())
