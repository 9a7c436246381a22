"""Read-your-writes for metadata across nodes.

A topic created through node 1 is committed by the controller before node 1 answers,
but node 2 applies it a heartbeat later. A request that misses a topic therefore
asks the controller how far the metadata log has got, waits (briefly) for this
node's image to get there, and runs once more if the image moved. A topic that
really does not exist costs one small internal call before its 404.
"""

from __future__ import annotations

import functools

from aiohttp import web

from kraft.api.context import NODE_KEY
from kraft.errors import TopicNotFound

CATCH_UP_TIMEOUT_S = 2.0


@web.middleware
async def catch_up_on_unknown_topic(request: web.Request, handler):
    node = request.app[NODE_KEY]
    seen = node.image.offset
    try:
        return await handler(request)
    except TopicNotFound:
        await node.metadata_barrier(CATCH_UP_TIMEOUT_S)
        if node.image.offset == seen:
            raise
    return await handler(request)


def reads_latest_metadata(handler):
    """For config reads: a value changed through another node a moment ago is what the
    reader sees (one small internal call; rare admin reads, so worth it)."""
    @functools.wraps(handler)
    async def read(request: web.Request):
        await request.app[NODE_KEY].metadata_barrier(CATCH_UP_TIMEOUT_S)
        return await handler(request)
    return read
