"""Kafka's auto.create.topics.enable: a produce naming a missing topic creates it.

The topic gets the cluster's topic defaults, as a Kafka broker creates it on a producer's
Metadata request. With the setting false, a missing topic stays a 40401. Names the
create would refuse (internal, invalid) are refused as such, never created.
"""

from __future__ import annotations

from kraft.broker.services import BrokerServices
from kraft.controller import commands as controller_requests
from kraft.errors import TopicAlreadyExists, TopicNotFound
from kraft.config.topic_names import is_internal_topic


async def topic_for_produce(node: BrokerServices, name: str):
    """The topic's image, after creating it when it is missing and the cluster allows."""
    try:
        return node.data_plane.topic_or_404(name)
    except TopicNotFound:
        if not node.config.cluster.auto_create_topics_enable or is_internal_topic(name):
            raise
    try:
        result = await node.controller_call(controller_requests.CreateTopic(name=name))
        await node.wait_metadata(result["metadata_offset"])
    except TopicAlreadyExists:  # another producer's create got there first
        await node.metadata_barrier(2.0)
    return node.data_plane.topic_or_404(name)
