"""Kafka's ACL semantics (deny wins, prefixes, wildcards, implied DESCRIBE, super users,
the no-ACL default), ACL filters, and ACLs and users through the metadata log."""

from __future__ import annotations

import pytest

from kraft.controller import security_control
from kraft.errors import BadRequest, InvalidAcl, InvalidValue, NotFound, UserAlreadyExists
from kraft.metadata.image_codec import image_from_dict, image_to_dict
from kraft.metadata.records import MetadataBatch, encode_batch
from kraft.metadata.state_machine import MetadataStateMachine
from kraft.security.acls import AclBinding, AclFilter, binding_from, filter_from
from kraft.security.authorizer import Authorizer
from kraft.security.scram import make_credential, password_matches


def acl(rtype="TOPIC", name="orders", pattern="LITERAL", principal="User:alice", host="*",
        op="READ", permission="ALLOW") -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op, permission)


def allowed(acls, op="READ", rtype="TOPIC", name="orders", principal="User:alice", host="10.0.0.1",
            **kw) -> bool:
    return Authorizer(acls, **kw).authorize(principal, host, op, rtype, name)


def test_no_acl_means_deny_unless_the_setting_says_allow():
    assert not allowed([])
    assert allowed([], allow_if_no_acl=True)
    # an ACL on the resource for someone else: no longer "no ACL found"
    assert not allowed([acl(principal="User:bob")], allow_if_no_acl=True)


def test_allow_names_the_operation_or_all():
    assert allowed([acl(op="READ")])
    assert not allowed([acl(op="READ")], op="WRITE")
    assert allowed([acl(op="ALL")], op="WRITE")


def test_deny_wins_over_allow():
    acls = [acl(op="ALL"), acl(op="WRITE", permission="DENY")]
    assert allowed(acls, op="READ")
    assert not allowed(acls, op="WRITE")
    assert not allowed([acl(op="READ"), acl(principal="User:*", op="ALL", permission="DENY")])


def test_read_write_delete_alter_imply_describe_and_alter_configs_implies_describe_configs():
    for op in ("READ", "WRITE", "DELETE", "ALTER"):
        assert allowed([acl(op=op)], op="DESCRIBE")
    assert allowed([acl(op="ALTER_CONFIGS")], op="DESCRIBE_CONFIGS")
    assert not allowed([acl(op="DESCRIBE")], op="READ")
    # a DENY of READ does not deny DESCRIBE
    assert allowed([acl(op="DESCRIBE"), acl(op="READ", permission="DENY")], op="DESCRIBE")


def test_prefixed_and_wildcard_resources():
    prefixed = [acl(name="ord", pattern="PREFIXED")]
    assert allowed(prefixed, name="orders") and allowed(prefixed, name="ord")
    assert not allowed(prefixed, name="payments")
    assert allowed([acl(name="*")], name="anything")
    assert not allowed([acl(name="*")], rtype="GROUP", name="anything")


def test_principal_and_host_must_match():
    assert allowed([acl(principal="User:*")], principal="User:carol")
    assert not allowed([acl()], principal="User:carol")
    assert allowed([acl(host="10.0.0.1")])
    assert not allowed([acl(host="10.0.0.2")])


def test_super_users_pass_every_check_even_a_deny():
    acls = [acl(principal="User:admin", op="ALL", permission="DENY")]
    assert allowed(acls, principal="User:admin", super_users=["admin"])
    assert allowed([], op="ALTER", rtype="CLUSTER", name="kafka-cluster", principal="User:admin",
                   super_users=["User:admin"])


def test_bindings_are_validated_with_the_names_kafka_uses():
    good = binding_from({"resource_type": "topic", "resource_name": "t", "pattern_type": "prefixed",
                         "principal": "User:alice", "host": "*", "operation": "write",
                         "permission": "allow"})
    assert good == AclBinding("TOPIC", "t", "PREFIXED", "User:alice", "*", "WRITE", "ALLOW")
    base = good.to_dict()
    for change in ({"operation": "FLY"}, {"resource_type": "DELEGATION"}, {"principal": "alice"},
                   {"resource_type": "CLUSTER", "resource_name": "c"}, {"pattern_type": "MATCH"},
                   {"resource_name": "*", "pattern_type": "PREFIXED"}, {"host": ""}, {"host": 5}):
        with pytest.raises(InvalidAcl):
            binding_from({**base, **change})


def test_filters_match_like_kafkas_binding_filters():
    lit, pre, wild = acl(name="orders"), acl(name="ord", pattern="PREFIXED"), acl(name="*")
    everything = [lit, pre, wild, acl(rtype="GROUP", name="g1")]
    assert [b for b in everything if AclFilter().matches(b)] == everything
    assert [b for b in everything if filter_from({"resource_type": "TOPIC"}).matches(b)] == [lit, pre, wild]
    match = filter_from({"resource_type": "TOPIC", "resource_name": "orders", "pattern_type": "MATCH"})
    assert [b for b in everything if match.matches(b)] == [lit, pre, wild]
    literal = filter_from({"resource_name": "orders", "pattern_type": "LITERAL"})
    assert [b for b in everything if literal.matches(b)] == [lit]
    assert filter_from({"operation": "ANY", "permission": "any"}) == AclFilter()
    with pytest.raises(BadRequest):
        filter_from({"operation": "FLY"})
    with pytest.raises(BadRequest):
        filter_from({}, required=("resource_type",))


def replay(sm: MetadataStateMachine, records) -> None:
    result = sm.apply(encode_batch(MetadataBatch(controller_epoch=sm.image.controller_epoch,
                                                 records=tuple(records))))
    assert result.ok, result.error


def test_acls_and_users_replay_into_the_image_and_survive_a_snapshot():
    sm = MetadataStateMachine()
    image = sm.image
    grant = [acl(), acl(op="WRITE", permission="DENY")]
    records, answer = security_control.create_acls(image, grant + [acl()])
    assert answer == {"created": 2}
    replay(sm, records)
    assert sm.image.acls == frozenset(grant)
    assert security_control.create_acls(sm.image, grant)[0] == []  # adding twice is a no-op

    credential = make_credential("alice-pw")
    records, answer = security_control.set_user_credential(sm.image, "alice", credential, "create")
    assert answer["created"]
    replay(sm, records)
    with pytest.raises(UserAlreadyExists):
        security_control.set_user_credential(sm.image, "alice", credential, "create")
    with pytest.raises(NotFound):
        security_control.set_user_credential(sm.image, "bob", credential, "update")

    restored = image_from_dict(image_to_dict(sm.image))
    assert restored.acls == sm.image.acls
    assert password_matches(restored.scram_credentials["alice"]["SCRAM-SHA-256"], "alice-pw")

    records, answer = security_control.delete_acls(sm.image, filter_from({"permission": "DENY"}))
    assert [d["operation"] for d in answer["deleted"]] == ["WRITE"]
    replay(sm, records)
    assert sm.image.acls == frozenset([acl()])

    replay(sm, security_control.delete_user(sm.image, "alice")[0])
    assert "alice" not in sm.image.scram_credentials
    with pytest.raises(NotFound):
        security_control.delete_user(sm.image, "alice")


def test_bootstrap_users_are_written_once_and_a_changed_password_stays():
    sm = MetadataStateMachine()
    first = {"admin": make_credential("from-the-file")}
    replay(sm, security_control.bootstrap_users(sm.image, first))
    changed = make_credential("changed-later")
    replay(sm, security_control.set_user_credential(sm.image, "admin", changed, "update")[0])
    assert security_control.bootstrap_users(sm.image, {"admin": make_credential("from-the-file")}) == []
    assert password_matches(sm.image.scram_credentials["admin"]["SCRAM-SHA-256"], "changed-later")


@pytest.mark.parametrize("name", ["", "a:b", "tab\there", "x" * 257, None])
def test_unusable_user_names_are_refused(name):
    with pytest.raises(InvalidValue):
        security_control.set_user_credential(MetadataStateMachine().image, name, make_credential("pw"))
