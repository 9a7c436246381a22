"""A Kafka request's context: who asks (its connection), what they may (the ACL table both
doors use), each decision made once per request."""

from __future__ import annotations

import pytest

from kraft.api.access_rules import RULES
from kraft.broker.access import Identity
from kraft.broker.acl_needs import NEEDS
from kraft.errors import TopicAuthorizationFailed, TransactionalIdAuthorizationFailed
from kraft.kafka.wire.codec import RequestHead
from kraft.kafka.connection.request_context import RequestContext
from kraft.kafka.connection.session import Session

PRODUCE_V9 = RequestHead(0, 9, 1, "client-1")


class CountingAccess:
    """An AccessControl stand-in: allows what `allowed` names, counts the questions."""

    enabled = True

    def __init__(self, allowed: set[tuple[str, str, str]]) -> None:
        self._allowed = allowed
        self.asked: list[tuple[str, str, str]] = []

    def allowed(self, who, operation, resource_type, name):
        self.asked.append((operation, resource_type, name))
        return (operation, resource_type, name) in self._allowed


def context(access: CountingAccess, identity: Identity | None = Identity("User:alice", "10.0.0.1")) -> RequestContext:
    connection = Session("10.0.0.1", identity, "SASL_PLAINTEXT", access)  # type: ignore[arg-type]
    return RequestContext(PRODUCE_V9, connection)


def test_a_context_carries_the_principal_listener_and_client_id():
    ctx = context(CountingAccess(set()))
    assert (ctx.principal, ctx.listener, ctx.client_id, ctx.api_version) == ("User:alice", "SASL_PLAINTEXT",
                                                                              "client-1", 9)


def test_each_decision_is_made_once_per_request():
    access = CountingAccess({("WRITE", "TOPIC", "t")})
    ctx = context(access)
    for _ in range(5):  # a Produce naming five partitions of one topic
        ctx.check("produce", "t")
    assert access.asked == [("WRITE", "TOPIC", "t")]
    context(access).check("produce", "t")  # the next request asks again (ACLs change)
    assert len(access.asked) == 2


def test_a_denial_is_answered_in_the_doors_shared_words():
    ctx = context(CountingAccess(set()))
    with pytest.raises(TopicAuthorizationFailed, match="User:alice may not WRITE topic 't'"):
        ctx.check("produce", "t")
    with pytest.raises(TransactionalIdAuthorizationFailed):
        ctx.check("transactional_write", "tx")


def test_without_a_connection_or_before_login_nothing_is_refused():
    assert RequestContext(PRODUCE_V9).allowed("alter_cluster")
    access = CountingAccess(set())
    assert context(access, identity=None).allowed("produce", "t") and access.asked == []


def test_the_rest_doors_rules_ask_the_same_table():
    needs = {getattr(rule, "need", None) for rule in RULES.values()} - {None}
    assert needs <= {tuple(need) for need in NEEDS.values()}
    assert RULES[("GET", "/topics/{topic}/partitions/{partition}/records")].need == tuple(NEEDS["consume"])


def open_cluster_context(identity: Identity, connection: Session | None = None, api_key: int = 27) -> RequestContext:
    from kraft.broker.access import AccessControl
    from kraft.metadata.image import MetadataImage
    if connection is None:
        connection = Session("10.0.0.1", identity, "PLAINTEXT", AccessControl(None, MetadataImage))
    return RequestContext(RequestHead(api_key, 1, 7, "x" * 10_000), connection)


def test_on_an_open_cluster_only_a_broker_is_a_cluster_member_and_refusals_are_logged_once(caplog):
    anonymous = Identity("User:ANONYMOUS", "10.0.0.1")
    assert open_cluster_context(anonymous).allowed("cluster_action")  # every client operation is allowed
    connection = open_cluster_context(anonymous).connection
    with caplog.at_level("WARNING", logger="kraft.kafka.connection.request_context"):
        for api_key in (27, 27, 27, 85, 85):  # a flood of two APIs on one connection
            assert not open_cluster_context(anonymous, connection, api_key).is_cluster_member()
    assert [r.getMessage()[:16] for r in caplog.records] == ["refused API 27 v", "refused API 85 v"]
    assert all(len(r.getMessage()) < 300 for r in caplog.records)  # a huge client id is cut short
    assert open_cluster_context(Identity("User:kraft-broker", "10.0.0.2", broker=True)).is_cluster_member()
    assert RequestContext(RequestHead(27, 1, 7, None)).is_cluster_member()  # the broker asking itself
