"""Where route handlers find their node."""

from aiohttp import web

NODE_KEY = web.AppKey("node", object)


def node_of(request: web.Request):
    return request.app[NODE_KEY]
