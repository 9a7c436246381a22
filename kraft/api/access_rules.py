"""What each HTTP endpoint requires, in one table: (method, route) -> rule.

A rule is what Kafka's authorizer asks for the same work (docs/API.md, "Security"):
WRITE on a topic to produce, READ on the group to use a consumer instance, DESCRIBE to
see a topic, ALTER_CONFIGS to change configs, ALTER on the cluster to change ACLs and
users. OPEN routes need no credentials (readiness probes, the API description);
AUTHENTICATED ones need a user but no ACL (cluster and broker listings, as Kafka's
Metadata shows brokers to every client) or filter what they list themselves
(`visible`). Handlers whose resource is in the body (create topic, subscribe) check
it there. tests/unit/test_access_rules.py fails when a route has no entry.
"""

from __future__ import annotations

from typing import Callable, Final, Literal

from aiohttp import web

from kraft.api.context import node_of
from kraft.broker.access import Identity

IDENTITY_KEY = "kraft.identity"

Rule = Callable[[web.Request, Identity], None]
Marker = Literal["open", "internal"]  # the only strings a rule may be
OPEN: Final = "open"  # marker: no credentials asked
INTERNAL: Final = "internal"  # node-to-node: the cluster signature (kraft/internode/routes.py) instead


def authenticated(request: web.Request, who: Identity) -> None:
    """Any authenticated principal; what it sees may be filtered by the handler."""


def on_cluster(operation: str) -> Rule:
    def rule(request, who):
        node_of(request).access.check(who, operation, "CLUSTER")
    rule.need = (operation, "CLUSTER")  # type: ignore[attr-defined]  # for tests and docs
    return rule


def on_topic(operation: str) -> Rule:
    def rule(request, who):
        node_of(request).access.check(who, operation, "TOPIC", request.match_info["topic"])
    rule.need = (operation, "TOPIC")  # type: ignore[attr-defined]
    return rule


def on_group(operation: str) -> Rule:
    def rule(request, who):
        node_of(request).access.check(who, operation, "GROUP", request.match_info["group"])
    rule.need = (operation, "GROUP")  # type: ignore[attr-defined]
    return rule


def on_group_and_topic(operation: str) -> Rule:
    """A group's answer about one of its topics names that topic: both (Kafka asks
    DESCRIBE on the group and on every topic it shows)."""
    group_rule, topic_rule = on_group(operation), on_topic(operation)

    def rule(request, who):
        group_rule(request, who)
        topic_rule(request, who)
    rule.need = (operation, "GROUP")  # type: ignore[attr-defined]
    rule.needs = ((operation, "GROUP"), (operation, "TOPIC"))  # type: ignore[attr-defined]
    return rule


def produce(request, who) -> None:  # need: WRITE on the topic (+ CREATE to auto-create)
    """WRITE on the topic; a produce that would auto-create it also needs CREATE."""
    node = node_of(request)
    topic = request.match_info["topic"]
    node.access.check(who, "WRITE", "TOPIC", topic)
    if node.image.topic(topic) is None and node.config.cluster.auto_create_topics_enable:
        check_create_topic(request, who, topic)


def check_create_topic(request, who, topic: str) -> None:
    """Kafka: CREATE on the cluster, or on the topic's own name."""
    access = node_of(request).access
    if not access.allowed(who, "CREATE", "CLUSTER"):
        access.check(who, "CREATE", "TOPIC", topic)


def super_user(request, who) -> None:
    """Only a super user: the failure lab starts clusters and processes on this machine."""
    node_of(request).access.check_super_user(who, "start or stop a failure-lab run")


def idempotent_producer(request, who) -> None:
    """Kafka 3: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic (KIP-679)."""
    access = node_of(request).access
    if access.enabled and not access.allowed(who, "IDEMPOTENT_WRITE", "CLUSTER"):
        if not access.authorizer().any_allowed(who.principal, who.host, "WRITE", "TOPIC"):
            access.check(who, "IDEMPOTENT_WRITE", "CLUSTER")


def visible(request: web.Request, resource_type: str, names, operation: str = "DESCRIBE") -> list:
    """The names the caller may `operation` (AccessControl.allowed_names)."""
    return node_of(request).access.allowed_names(request.get(IDENTITY_KEY), operation, resource_type, names)


def check(request: web.Request, operation: str, resource_type: str, name: str) -> None:
    """For handlers whose resource is in the body."""
    access = node_of(request).access
    who = request.get(IDENTITY_KEY)
    if access.enabled and who is not None:
        access.check(who, operation, resource_type, name)


C = "/v3/clusters/{cluster_id}"
T = C + "/topics/{topic}"
P = T + "/partitions/{partition}"
G = C + "/consumer-groups/{group}"
I = "/consumers/{group}/instances/{instance}"  # noqa: E741
BC = C + "/brokers/{broker_id}/configs"
CC = C + "/broker-configs"

RULES: dict[tuple[str, str], Rule | Marker] = {
    ("GET", "/status/ready"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    # cluster and brokers
    ("GET", "/v3/clusters"): authenticated,
    ("GET", C): authenticated,
    ("GET", C + "/brokers"): authenticated,
    ("GET", C + "/brokers/{broker_id}"): authenticated,
    # taking a broker out and back (Kafka: UnregisterBroker needs ALTER on the cluster)
    ("DELETE", C + "/brokers/{broker_id}"): on_cluster("ALTER"),
    ("PUT", "/v1/brokers/{broker_id}/decommission"): on_cluster("ALTER"),
    ("PUT", "/v1/brokers/{broker_id}/recommission"): on_cluster("ALTER"),
    ("GET", "/v1/brokers/{broker_id}/decommission"): on_cluster("DESCRIBE"),
    # rebalancing (Kafka: AlterPartitionReassignments needs ALTER on the cluster)
    ("GET", "/v1/partitions/rebalance/plan"): on_cluster("DESCRIBE"),
    ("GET", "/v1/partitions/rebalance"): on_cluster("DESCRIBE"),
    ("POST", "/v1/partitions/rebalance"): on_cluster("ALTER"),
    ("DELETE", "/v1/partitions/rebalance"): on_cluster("ALTER"),
    ("GET", "/brokers"): authenticated,
    ("GET", C + "/quorum"): on_cluster("DESCRIBE"),
    # Kafka's AddRaftVoter / RemoveRaftVoter need ALTER on the cluster
    ("POST", C + "/quorum/voters"): on_cluster("ALTER"),
    ("DELETE", C + "/quorum/voters/{node_id}"): on_cluster("ALTER"),
    ("POST", C + "/producers"): idempotent_producer,
    ("GET", "/v1/cluster/health_overview"): on_cluster("DESCRIBE"),
    ("GET", "/v1/node/storage"): on_cluster("DESCRIBE"),
    ("GET", "/v1/cluster/storage"): on_cluster("DESCRIBE"),
    ("GET", "/metrics"): on_cluster("DESCRIBE"),
    # broker and cluster-wide configs
    ("GET", BC): on_cluster("DESCRIBE_CONFIGS"),
    ("GET", BC + "/{name}"): on_cluster("DESCRIBE_CONFIGS"),
    ("POST", BC + ":alter"): on_cluster("ALTER_CONFIGS"),
    ("PUT", BC + "/{name}"): on_cluster("ALTER_CONFIGS"),
    ("DELETE", BC + "/{name}"): on_cluster("ALTER_CONFIGS"),
    ("GET", CC): on_cluster("DESCRIBE_CONFIGS"),
    ("GET", CC + "/{name}"): on_cluster("DESCRIBE_CONFIGS"),
    ("POST", CC + ":alter"): on_cluster("ALTER_CONFIGS"),
    ("PUT", CC + "/{name}"): on_cluster("ALTER_CONFIGS"),
    ("DELETE", CC + "/{name}"): on_cluster("ALTER_CONFIGS"),
    ("GET", C + "/brokers/-/configs"): on_cluster("DESCRIBE_CONFIGS"),
    # cluster-wide listings: filtered per topic by the handler
    ("GET", C + "/topics/-/configs"): authenticated,
    ("GET", C + "/brokers/{broker_id}/partition-replicas"): authenticated,
    ("GET", C + "/topics/-/partitions/-/reassignment"): authenticated,
    ("GET", T + "/partitions/-/reassignment"): on_topic("DESCRIBE"),
    ("GET", P + "/reassignment"): on_topic("DESCRIBE"),
    ("POST", P + "/reassignment"): on_cluster("ALTER"),  # Kafka: AlterPartitionReassignments
    ("DELETE", P + "/reassignment"): on_cluster("ALTER"),
    ("GET", P + "/offset"): on_topic("DESCRIBE"),
    ("POST", P + "/records:delete"): on_topic("DELETE"),  # Kafka: DeleteRecords
    # topics
    ("GET", C + "/topics"): authenticated,
    ("POST", C + "/topics"): authenticated,  # CREATE checked on the body's topic_name
    ("GET", T): on_topic("DESCRIBE"),
    ("DELETE", T): on_topic("DELETE"),
    ("PATCH", T): on_topic("ALTER"),
    ("GET", T + "/partitions"): on_topic("DESCRIBE"),
    ("GET", P): on_topic("DESCRIBE"),
    ("GET", P + "/replicas"): on_topic("DESCRIBE"),
    ("GET", P + "/replicas/{broker}"): on_topic("DESCRIBE"),
    ("GET", T + "/configs"): on_topic("DESCRIBE_CONFIGS"),
    ("GET", T + "/configs/{name}"): on_topic("DESCRIBE_CONFIGS"),
    ("POST", T + "/configs:alter"): on_topic("ALTER_CONFIGS"),
    ("PUT", T + "/configs/{name}"): on_topic("ALTER_CONFIGS"),
    ("DELETE", T + "/configs/{name}"): on_topic("ALTER_CONFIGS"),
    ("GET", "/topics"): authenticated,
    ("GET", "/topics/{topic}"): on_topic("DESCRIBE"),
    ("GET", "/topics/{topic}/partitions"): on_topic("DESCRIBE"),
    ("GET", "/topics/{topic}/partitions/{partition}"): on_topic("DESCRIBE"),
    # produce and read
    ("POST", "/topics/{topic}"): produce,
    ("POST", "/topics/{topic}/partitions/{partition}"): produce,
    ("POST", T + "/records"): produce,
    ("POST", T + "/records:batch"): produce,
    ("GET", "/topics/{topic}/partitions/{partition}/records"): on_topic("READ"),
    ("GET", "/topics/{topic}/partitions/{partition}/offsets"): on_topic("DESCRIBE"),
    # REST consumer instances: READ on the group; topics checked where they are named
    ("POST", "/consumers/{group}"): on_group("READ"),
    ("DELETE", I): on_group("READ"),
    ("POST", I + "/subscription"): on_group("READ"),
    ("GET", I + "/subscription"): on_group("READ"),
    ("DELETE", I + "/subscription"): on_group("READ"),
    ("POST", I + "/assignments"): on_group("READ"),
    ("GET", I + "/assignments"): on_group("READ"),
    ("POST", I + "/positions"): on_group("READ"),
    ("POST", I + "/positions/beginning"): on_group("READ"),
    ("POST", I + "/positions/end"): on_group("READ"),
    ("GET", I + "/records"): on_group("READ"),
    ("POST", I + "/offsets"): on_group("READ"),
    ("GET", I + "/offsets"): on_group("READ"),
    # consumer groups (v3)
    ("GET", C + "/consumer-groups"): authenticated,  # filtered per group
    ("GET", G): on_group("DESCRIBE"),
    ("DELETE", G): on_group("DELETE"),  # Kafka: DeleteGroups
    ("POST", G + "/offsets:alter"): on_group("READ"),  # Kafka: OffsetCommit (+ READ on each topic)
    ("GET", G + "/consumers"): on_group("DESCRIBE"),
    ("GET", G + "/consumers/{consumer}"): on_group("DESCRIBE"),
    ("GET", G + "/consumers/{consumer}/assignments"): on_group("DESCRIBE"),
    ("GET", G + "/consumers/{consumer}/assignments/{topic}/partitions/{partition}"): on_group_and_topic("DESCRIBE"),
    ("GET", G + "/lag-summary"): on_group("DESCRIBE"),
    ("GET", G + "/lags"): on_group("DESCRIBE"),  # rows: only topics the caller may DESCRIBE
    ("GET", G + "/lags/{topic}/partitions/{partition}"): on_group_and_topic("DESCRIBE"),
    # ACLs and users
    ("GET", C + "/acls"): on_cluster("DESCRIBE"),
    ("POST", C + "/acls"): on_cluster("ALTER"),
    ("DELETE", C + "/acls"): on_cluster("ALTER"),
    ("POST", C + "/acls:batch"): on_cluster("ALTER"),
    ("GET", "/v1/client-quotas"): on_cluster("DESCRIBE_CONFIGS"),
    ("POST", "/v1/client-quotas"): on_cluster("ALTER_CONFIGS"),
    ("GET", "/v1/security/users"): on_cluster("DESCRIBE"),
    ("POST", "/v1/security/users"): on_cluster("ALTER"),
    ("PUT", "/v1/security/users/{user}"): on_cluster("ALTER"),
    ("DELETE", "/v1/security/users/{user}"): on_cluster("ALTER"),
    # the web console's files (the data it shows asks its own rules) and the failure lab
    ("GET", "/console"): OPEN,
    ("GET", "/console/{path}"): OPEN,
    ("GET", "/v1/lab/scenarios"): on_cluster("DESCRIBE"),
    ("GET", "/v1/lab/runs"): on_cluster("DESCRIBE"),
    ("POST", "/v1/lab/runs"): super_user,
    ("GET", "/v1/lab/runs/{run_id}"): on_cluster("DESCRIBE"),
    ("DELETE", "/v1/lab/runs/{run_id}"): super_user,
    ("GET", "/v1/lab/runs/{run_id}/report.html"): on_cluster("DESCRIBE"),
    ("GET", "/v1/lab/runs/{run_id}/report.json"): on_cluster("DESCRIBE"),
    ("GET", "/v1/lab/runs/{run_id}/output"): on_cluster("DESCRIBE"),
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
