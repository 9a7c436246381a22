"""GET /v3/clusters/{cid}/quorum?local=1 (a node asking the Raft leader) answers the
node's own description through BrokerServices: the handler once handed the services to
a function that reads the node's quorum and controller, a 500 on every such request."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from kraft.api.cluster_routes import quorum
from kraft.api.context import NODE_KEY
from kraft.broker.services import BrokerServices


async def test_a_local_quorum_description_comes_from_the_node():
    described = {"leader_id": 1, "answered_by": 2, "voters": []}
    state = SimpleNamespace(quorum_local_description=lambda: described)
    unused = None  # the route reads none of the other services
    services = BrokerServices(
        node_id=2, cluster_id="c1", config=unused, topic_defaults={}, peer_key=b"", data_plane=unused,
        partition_reader=unused, groups=unused, shares=unused, share_coordinator=unused, share_leaders=unused, share_admin=unused,
        transactions=unused, txn_link=unused, access=unused,
        producer_ids=None,
        metrics_registry=unused, client_quotas=unused, iceberg_files=unused, node=state)
    app = web.Application()
    app[NODE_KEY] = services
    request = make_mocked_request("GET", "/v3/clusters/c1/quorum?local=1", match_info={"cluster_id": "c1"},
                                  app=app)
    response = await quorum(request)
    assert response.status == 200
    assert orjson.loads(response.body) == described
