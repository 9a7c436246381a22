"""What each HTTP endpoint requires, in one table: (method, route) -> rule.

A rule names the client operation the route does; which ACL that needs is the table
both doors use (broker/acl_needs.py), as Kafka's authorizer asks it for the same work
(docs/API.md, "Security"): `produce` is WRITE on the topic, `use_group` READ on the
group, `describe_topic` DESCRIBE on the topic, `alter_cluster` ALTER on the cluster.
OPEN routes need no credentials (readiness probes, the API description); AUTHENTICATED
ones need a user but no ACL (cluster and broker listings, as Kafka's Metadata shows
brokers to every client) or filter what they list themselves (`visible`). Handlers
whose resource is in the body (create topic, subscribe) check it there. The security
middleware runs a route's rule once per request. tests/unit/test_access_rules.py fails
when a route has no entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Callable, Final, Literal

from aiohttp import web

from kraft.api.context import node_of
from kraft.broker.access import Identity
from kraft.broker.acl_needs import NEEDS, ClientOperation
from kraft.security.acls import CLUSTER_RESOURCE

IDENTITY_KEY = web.RequestKey("kraft.identity", Identity)  # who the request was authenticated as

Rule = Callable[[web.Request, Identity], None]
Marker = Literal["open", "internal"]  # the only strings a rule may be
OPEN: Final = "open"  # marker: no credentials asked
INTERNAL: Final = "internal"  # node-to-node: the cluster signature (kraft/server/internode_routes.py) instead
# the path parameter naming a route's resource, by resource type (the cluster has one)
_NAMED_BY = {"TOPIC": "topic", "GROUP": "group"}


def reads_table(request: web.Request, who: Identity) -> None:
    """An Iceberg table's: READ on its topic (a dead-letter table `<topic>~dlq`'s too)."""
    node_of(request).access.require(who, "consume", request.match_info["topic"].removesuffix("~dlq"))


reads_table.need = tuple(NEEDS["consume"])  # type: ignore[attr-defined]  # for tests and docs


def authenticated(request: web.Request, who: Identity) -> None:
    """Any authenticated principal; what it sees may be filtered by the handler."""


def _resource_name(request: web.Request, operation: ClientOperation) -> str:
    parameter = _NAMED_BY.get(NEEDS[operation].resource_type)
    return CLUSTER_RESOURCE if parameter is None else request.match_info[parameter]


def does(operation: ClientOperation) -> Rule:
    """The route does the client operation, on the resource its path names."""
    def rule(request, who):
        node_of(request).access.require(who, operation, _resource_name(request, operation))
    rule.need = tuple(NEEDS[operation])  # type: ignore[attr-defined]  # for tests and docs
    return rule


def does_both(first: ClientOperation, second: ClientOperation) -> Rule:
    """A group's answer about one of its topics names that topic: both (Kafka asks
    DESCRIBE on the group and on every topic it shows)."""
    first_rule, second_rule = does(first), does(second)

    def rule(request, who):
        first_rule(request, who)
        second_rule(request, who)
    rule.need = tuple(NEEDS[first])  # type: ignore[attr-defined]
    rule.needs = (tuple(NEEDS[first]), tuple(NEEDS[second]))  # type: ignore[attr-defined]
    return rule


def produce(request, who) -> None:  # need: WRITE on the topic (+ CREATE to auto-create)
    """WRITE on the topic; a produce that would auto-create it also needs CREATE."""
    node = node_of(request)
    topic = request.match_info["topic"]
    node.access.require(who, "produce", topic)
    if node.image.topic(topic) is None and node.config.cluster.auto_create_topics_enable:
        check_create_topic(request, who, topic)


def check_create_topic(request, who, topic: str) -> None:
    """Kafka: CREATE on the cluster, or on the topic's own name (AccessControl.may_create_topic)."""
    access = node_of(request).access
    if not access.may_create_topic(who, topic):
        access.require(who, "create_topic", topic)


def super_user(request, who) -> None:
    """Only a super user: the failure lab starts clusters and processes on this machine."""
    node_of(request).access.check_super_user(who, "start or stop a failure-lab run")


def idempotent_producer(request, who) -> None:
    """Kafka 3: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (KIP-679)."""
    access = node_of(request).access
    if not access.may_get_producer_id(who):
        access.require(who, "idempotent_write")


def visible(request: web.Request, operation: ClientOperation, names: Iterable[str]) -> list:
    """The names the caller may `operation` (AccessControl.allowed_names)."""
    return node_of(request).access.may_see(request.get(IDENTITY_KEY), operation, names)


def check(request: web.Request, operation: ClientOperation, name: str) -> None:
    """For handlers whose resource is in the body."""
    access = node_of(request).access
    who = request.get(IDENTITY_KEY)
    if access.enabled and who is not None:
        access.require(who, operation, name)


C = "/v3/clusters/{cluster_id}"
ICE = "/iceberg/v1"
T = C + "/topics/{topic}"
P = T + "/partitions/{partition}"
G = C + "/consumer-groups/{group}"
I = "/consumers/{group}/instances/{instance}"  # noqa: E741
S = "/share-consumers/{group}/instances/{instance}"
BC = C + "/brokers/{broker_id}/configs"
CC = C + "/broker-configs"

RULES: dict[tuple[str, str], Rule | Marker] = {
    ("GET", "/status/ready"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    # the Iceberg REST catalog (api/iceberg_routes.py): a table is its topic, READ to load it
    ("GET", ICE + "/config"): authenticated,
    ("GET", ICE + "/namespaces"): authenticated,
    ("GET", ICE + "/namespaces/{namespace}"): authenticated,
    ("GET", ICE + "/namespaces/{namespace}/tables"): authenticated,  # filtered: tables whose topic it may read
    ("GET", ICE + "/namespaces/{namespace}/tables/{topic}"): reads_table,
    ("GET", "/v1/topics/{topic}/iceberg"): does("describe_topic"),  # the translation's lag
    **{(method, ICE + path): authenticated for method in ("POST", "DELETE")
       for path in ("/namespaces", "/namespaces/{namespace}", "/namespaces/{namespace}/tables",
                    "/namespaces/{namespace}/tables/{topic}")},  # refused: the catalog is read-only
    # cluster and brokers
    ("GET", "/v3/clusters"): authenticated,
    ("GET", C): authenticated,
    ("GET", C + "/brokers"): authenticated,
    ("GET", C + "/brokers/{broker_id}"): authenticated,
    # taking a broker out and back (Kafka: UnregisterBroker needs ALTER on the cluster)
    ("DELETE", C + "/brokers/{broker_id}"): does("alter_cluster"),
    ("PUT", "/v1/brokers/{broker_id}/decommission"): does("alter_cluster"),
    ("PUT", "/v1/brokers/{broker_id}/recommission"): does("alter_cluster"),
    ("GET", "/v1/brokers/{broker_id}/decommission"): does("describe_cluster"),
    # rebalancing (Kafka: AlterPartitionReassignments needs ALTER on the cluster)
    ("GET", "/v1/partitions/rebalance/plan"): does("describe_cluster"),
    ("GET", "/v1/partitions/rebalance"): does("describe_cluster"),
    ("POST", "/v1/partitions/rebalance"): does("alter_cluster"),
    ("DELETE", "/v1/partitions/rebalance"): does("alter_cluster"),
    ("GET", "/brokers"): authenticated,
    ("GET", C + "/quorum"): does("describe_cluster"),
    # Kafka's AddRaftVoter / RemoveRaftVoter need ALTER on the cluster
    ("POST", C + "/quorum/voters"): does("alter_cluster"),
    ("DELETE", C + "/quorum/voters/{node_id}"): does("alter_cluster"),
    ("POST", C + "/producers"): idempotent_producer,
    ("GET", "/v1/cluster/health_overview"): does("describe_cluster"),
    ("GET", "/v1/node/storage"): does("describe_cluster"),
    ("GET", "/v1/cluster/storage"): does("describe_cluster"),
    ("GET", "/metrics"): does("describe_cluster"),
    # broker and cluster-wide configs
    ("GET", BC): does("describe_cluster_configs"),
    ("GET", BC + "/{name}"): does("describe_cluster_configs"),
    ("POST", BC + ":alter"): does("alter_cluster_configs"),
    ("PUT", BC + "/{name}"): does("alter_cluster_configs"),
    ("DELETE", BC + "/{name}"): does("alter_cluster_configs"),
    ("GET", CC): does("describe_cluster_configs"),
    ("GET", CC + "/{name}"): does("describe_cluster_configs"),
    ("POST", CC + ":alter"): does("alter_cluster_configs"),
    ("PUT", CC + "/{name}"): does("alter_cluster_configs"),
    ("DELETE", CC + "/{name}"): does("alter_cluster_configs"),
    ("GET", C + "/brokers/-/configs"): does("describe_cluster_configs"),
    # cluster-wide listings: filtered per topic by the handler
    ("GET", C + "/topics/-/configs"): authenticated,
    ("GET", C + "/brokers/{broker_id}/partition-replicas"): authenticated,
    ("GET", C + "/topics/-/partitions/-/reassignment"): authenticated,
    ("GET", T + "/partitions/-/reassignment"): does("describe_topic"),
    ("GET", P + "/reassignment"): does("describe_topic"),
    ("POST", P + "/reassignment"): does("alter_cluster"),  # Kafka: AlterPartitionReassignments
    ("DELETE", P + "/reassignment"): does("alter_cluster"),
    ("GET", P + "/offset"): does("describe_topic"),
    ("POST", P + "/records:delete"): does("delete_records"),  # Kafka: DeleteRecords
    # topics
    ("GET", C + "/topics"): authenticated,
    ("POST", C + "/topics"): authenticated,  # CREATE checked on the body's topic_name
    ("GET", T): does("describe_topic"),
    ("DELETE", T): does("delete_topic"),
    ("PATCH", T): does("alter_topic"),
    ("GET", T + "/partitions"): does("describe_topic"),
    ("GET", P): does("describe_topic"),
    ("GET", P + "/replicas"): does("describe_topic"),
    ("GET", P + "/replicas/{broker}"): does("describe_topic"),
    ("GET", T + "/configs"): does("describe_topic_configs"),
    ("GET", T + "/configs/{name}"): does("describe_topic_configs"),
    ("POST", T + "/configs:alter"): does("alter_topic_configs"),
    ("PUT", T + "/configs/{name}"): does("alter_topic_configs"),
    ("DELETE", T + "/configs/{name}"): does("alter_topic_configs"),
    ("GET", "/topics"): authenticated,
    ("GET", "/topics/{topic}"): does("describe_topic"),
    ("GET", "/topics/{topic}/partitions"): does("describe_topic"),
    ("GET", "/topics/{topic}/partitions/{partition}"): does("describe_topic"),
    # produce and read
    ("POST", "/topics/{topic}"): produce,
    ("POST", "/topics/{topic}/partitions/{partition}"): produce,
    ("POST", T + "/records"): produce,
    ("POST", T + "/records:batch"): produce,
    ("GET", "/topics/{topic}/partitions/{partition}/records"): does("consume"),
    ("GET", "/topics/{topic}/partitions/{partition}/offsets"): does("describe_topic"),
    # REST consumer instances: READ on the group; topics checked where they are named
    ("POST", "/consumers/{group}"): does("use_group"),
    ("DELETE", I): does("use_group"),
    ("POST", I + "/subscription"): does("use_group"),
    ("GET", I + "/subscription"): does("use_group"),
    ("DELETE", I + "/subscription"): does("use_group"),
    ("POST", I + "/assignments"): does("use_group"),
    ("GET", I + "/assignments"): does("use_group"),
    ("POST", I + "/positions"): does("use_group"),
    ("POST", I + "/positions/beginning"): does("use_group"),
    ("POST", I + "/positions/end"): does("use_group"),
    ("GET", I + "/records"): does("use_group"),
    ("POST", I + "/offsets"): does("use_group"),
    ("GET", I + "/offsets"): does("use_group"),
    # REST share consumers (ext): READ on the group; topics checked where they are named
    ("POST", "/share-consumers/{group}"): does("use_group"),
    ("DELETE", S): does("use_group"),
    ("POST", S + "/subscription"): does("use_group"),
    ("GET", S + "/subscription"): does("use_group"),
    ("GET", S + "/records"): does("use_group"),
    ("POST", S + "/acknowledgements"): does("use_group"),
    # share groups (ext, v3 shapes)
    ("GET", C + "/share-groups"): authenticated,  # filtered per group
    ("GET", C + "/share-groups/{group}"): does("describe_group"),
    ("DELETE", C + "/share-groups/{group}"): does("delete_group"),  # Kafka: DeleteGroups
    ("POST", C + "/share-groups/{group}/offsets:alter"): does("use_group"),  # AlterShareGroupOffsets (+ topics)
    # consumer groups (v3)
    ("GET", C + "/consumer-groups"): authenticated,  # filtered per group
    ("GET", G): does("describe_group"),
    ("DELETE", G): does("delete_group"),  # Kafka: DeleteGroups
    ("POST", G + "/offsets:alter"): does("use_group"),  # Kafka: OffsetCommit (+ READ on each topic)
    ("GET", G + "/consumers"): does("describe_group"),
    ("GET", G + "/consumers/{consumer}"): does("describe_group"),
    ("GET", G + "/consumers/{consumer}/assignments"): does("describe_group"),
    ("GET", G + "/consumers/{consumer}/assignments/{topic}/partitions/{partition}"):
        does_both("describe_group", "describe_topic"),
    ("GET", G + "/lag-summary"): does("describe_group"),
    ("GET", G + "/lags"): does("describe_group"),  # rows: only topics the caller may DESCRIBE
    ("GET", G + "/lags/{topic}/partitions/{partition}"): does_both("describe_group", "describe_topic"),
    # ACLs and users
    ("GET", C + "/acls"): does("describe_cluster"),
    ("POST", C + "/acls"): does("alter_cluster"),
    ("DELETE", C + "/acls"): does("alter_cluster"),
    ("POST", C + "/acls:batch"): does("alter_cluster"),
    ("GET", "/v1/client-quotas"): does("describe_cluster_configs"),
    ("POST", "/v1/client-quotas"): does("alter_cluster_configs"),
    ("GET", "/v1/security/users"): does("describe_cluster"),
    ("POST", "/v1/security/users"): does("alter_cluster"),
    ("PUT", "/v1/security/users/{user}"): does("alter_cluster"),
    ("DELETE", "/v1/security/users/{user}"): does("alter_cluster"),
    # the web console's files (the data it shows asks its own rules) and the failure lab
    ("GET", "/console"): OPEN,
    ("GET", "/console/{path}"): OPEN,
    ("GET", "/v1/lab/scenarios"): does("describe_cluster"),
    ("GET", "/v1/lab/runs"): does("describe_cluster"),
    ("POST", "/v1/lab/runs"): super_user,
    ("GET", "/v1/lab/runs/{run_id}"): does("describe_cluster"),
    ("DELETE", "/v1/lab/runs/{run_id}"): super_user,
    ("GET", "/v1/lab/runs/{run_id}/report.html"): does("describe_cluster"),
    ("GET", "/v1/lab/runs/{run_id}/report.json"): does("describe_cluster"),
    ("GET", "/v1/lab/runs/{run_id}/output"): does("describe_cluster"),
    # the console's schema pages: where the registry is; keys and values the caller already
    # read, decoded (kraft/api/console/schema_routes.py)
    ("GET", "/v1/console/schema-registry"): does("describe_cluster"),
    ("POST", "/v1/console/decode"): does("describe_cluster"),
    # the console's group page: why its REST instances left (kraft/api/console/group_departures.py)
    ("GET", "/v1/console/consumer-groups/{group}/departures"): does("describe_group"),
}


def rule_for(request: web.Request) -> Rule | Marker | None:
    """The route's rule; None for a path no route matched (answered 404/405 as usual)."""
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    template = resource.canonical
    if template.startswith("/internal/"):
        return INTERNAL
    if request.method == "HEAD":
        return RULES.get(("GET", template))
    return RULES.get((request.method, template))
