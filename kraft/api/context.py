"""Where route handlers find the broker's services (kraft/broker/services.py)."""

from aiohttp import web

from kraft.broker.services import BrokerServices

NODE_KEY = web.AppKey("broker_services", BrokerServices)


def node_of(request: web.Request) -> BrokerServices:
    return request.app[NODE_KEY]
