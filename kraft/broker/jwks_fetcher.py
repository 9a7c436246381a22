"""Keeps an OAUTHBEARER validator's JWKS keys current (KIP-768's refreshing JWKS).

One task, owned by the node's TaskGroup (cancelled with it): fetch at start, retrying
with a doubling pause until a fetch succeeds, then again every
`sasl.oauthbearer.jwks.endpoint.refresh.ms`, and soon after a token names a key the
last document lacked (the provider rotated its keys), at most once per
UNKNOWN_KEY_REFETCH_S. Each fetch is bounded in time and size; a failed one keeps the
keys already held.
"""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import orjson

from kraft.security.signed_jwt import JwksKeys

log = logging.getLogger(__name__)
FETCH_TIMEOUT_S = 10.0
MAX_DOCUMENT_BYTES = 1 << 20
FIRST_RETRY_S, MAX_RETRY_S = 0.5, 30.0
UNKNOWN_KEY_REFETCH_S = 10.0


class JwksFetcher:
    def __init__(self, url: str, refresh_ms: int, keys: JwksKeys) -> None:
        self.url = url
        self._refresh_s = refresh_ms / 1000
        self._keys = keys
        self._wake = asyncio.Event()
        self._last_fetch = float("-inf")
        keys.on_unknown_key = self._unknown_key

    def _unknown_key(self) -> None:
        if time.monotonic() - self._last_fetch >= UNKNOWN_KEY_REFETCH_S:
            self._wake.set()

    async def run(self) -> None:
        retry_s = FIRST_RETRY_S
        timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                self._wake.clear()
                self._last_fetch = time.monotonic()
                if await self._fetch(http):
                    retry_s, pause = FIRST_RETRY_S, self._refresh_s
                else:
                    pause, retry_s = retry_s, min(MAX_RETRY_S, retry_s * 2)
                try:
                    await asyncio.wait_for(self._wake.wait(), pause)
                except TimeoutError:
                    pass

    async def _fetch(self, http: aiohttp.ClientSession) -> bool:
        try:
            async with http.get(self.url, headers={"Accept": "application/json"}) as response:
                if response.status != 200:
                    raise ValueError(f"HTTP {response.status}")
                body = await _bounded_body(response.content)
            count = self._keys.replace(orjson.loads(body))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:  # orjson's error is a ValueError
            log.warning("OAUTHBEARER: fetching the JWKS from %s failed (%s); %s", self.url,
                        exc or type(exc).__name__,
                        "keeping the keys held" if self._keys.loaded else "no token is accepted yet")
            return False
        log.info("OAUTHBEARER: %d signing key(s) from %s", count, self.url)
        return True


async def _bounded_body(content: aiohttp.StreamReader) -> bytes:
    """The whole body (read(n) returns one chunk, not n bytes), refused past the bound."""
    body = bytearray()
    while chunk := await content.read(MAX_DOCUMENT_BYTES + 1 - len(body)):
        body += chunk
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    return bytes(body)
