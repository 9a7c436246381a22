"""The JWKS fetcher against a real HTTP server on loopback: keys at start, a retry after a
failed fetch, a new fetch when a token names a key not held (a rotation), keys kept when
the endpoint fails, and cancellation ends it."""

from __future__ import annotations

import asyncio
import contextlib

import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from kraft.broker import jwks_fetcher
from kraft.broker.jwks_fetcher import JwksFetcher
from kraft.security.signed_jwt import JwksKeys


def jwks(kid: str) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    return {"keys": [{**RSAAlgorithm.to_jwk(key, as_dict=True), "kid": kid, "alg": "RS256", "use": "sig"}]}


class Provider:
    """A JWKS endpoint whose answer the test changes: a document, or an HTTP status."""

    def __init__(self) -> None:
        self.answer: dict | int = 503
        self.hits = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hits += 1
        if isinstance(self.answer, int):
            return web.Response(status=self.answer, text="down")
        return web.json_response(self.answer)


async def until(condition, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def serving(handler):
    """A loopback JWKS endpoint answered by handler: yields its URL."""
    app = web.Application()
    app.router.add_get("/jwks", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/jwks"
    finally:
        await runner.cleanup()


async def test_fetcher_loads_retries_follows_rotation_and_stops(monkeypatch):
    monkeypatch.setattr(jwks_fetcher, "FIRST_RETRY_S", 0.05)
    monkeypatch.setattr(jwks_fetcher, "UNKNOWN_KEY_REFETCH_S", 0.0)
    provider = Provider()
    async with serving(provider.handle) as url:
        await rotation_followed(provider, url)


async def rotation_followed(provider: Provider, url: str) -> None:
    keys = JwksKeys()
    task = asyncio.create_task(JwksFetcher(url, 3_600_000, keys).run())
    try:
        await until(lambda: provider.hits >= 2)  # down: retried soon, nothing loaded
        assert not keys.loaded
        provider.answer = jwks("k1")
        await until(lambda: keys.loaded)
        assert keys.key_for("k1", "RS256") is not None
        provider.answer = jwks("k2")  # rotated; the hourly refresh is far off
        hits = provider.hits
        assert keys.key_for("k2", "RS256") is None  # unknown: asks for a fetch
        await until(lambda: keys.key_for("k2", "RS256") is not None)
        assert provider.hits == hits + 1
        provider.answer = 500  # a failing endpoint keeps the keys held
        keys.key_for("k3", "RS256")
        await until(lambda: provider.hits >= hits + 2)
        assert keys.key_for("k2", "RS256") is not None
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert task.done()


async def test_a_document_sent_in_pieces_is_read_whole():
    # an identity provider's server may send the JWKS in several chunks
    document = orjson.dumps(jwks("k1"))

    async def in_pieces(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start in range(0, len(document), 100):
            await response.write(document[start:start + 100])
            await asyncio.sleep(0.01)
        await response.write_eof()
        return response

    keys = JwksKeys()
    async with serving(in_pieces) as url:
        task = asyncio.create_task(JwksFetcher(url, 3_600_000, keys).run())
        try:
            await until(lambda: keys.loaded)
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    assert keys.key_for("k1", "RS256") is not None
