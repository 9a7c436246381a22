"""Data contracts in the registry's state, as Confluent Schema Registry keeps them: a
schema's metadata and rule set stored in its record and returned by every read, a part of
what makes two registrations one schema, filled in from the previous version and the
config's defaults and overrides, `compatibilityGroup` narrowing the check, and what kraft
does not serve refused with Confluent's codes."""

from __future__ import annotations

import json

import pytest

from registry_fixtures import Registry, schema
from kraft.schemas import registry_codec as codec
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_reads import compatibility, find_version, lookup, schema_by_id, subject_config
from kraft.schemas.registry_requests import config_request, from_json, register_request, to_json
from kraft.schemas.registry_state import RegistryState

OWNER = {"properties": {"owner": "team-a"}, "tags": {"User.email": ["PII"]}}
RULES = {"domainRules": [{"name": "checkAge", "kind": "CONDITION", "mode": "WRITE", "type": "CEL",
                          "expr": "message.age >= 0", "onFailure": "DLQ"}]}
RULE_JSON = {"domainRules": [{"name": "checkAge", "kind": "CONDITION", "mode": "WRITE", "type": "CEL",
                              "expr": "message.age >= 0", "onFailure": "DLQ", "disabled": False}]}


def code_of(call) -> int:
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value.error_code


def register(r: Registry, subject: str, text: str, **body):
    return r.write(register_request(subject, {"schema": text, **body}, None))


def configure(r: Registry, subject: str | None, **body):
    return r.write(config_request(subject, body))


def test_metadata_and_rule_set_are_stored_and_returned_by_every_read():
    r = Registry()
    assert register(r, "a", schema("x"), metadata=OWNER, ruleSet=RULES) == {"id": 1, "version": 1}
    version = codec.api_json(find_version(r.state, "a", 1))
    assert version["metadata"] == OWNER and version["ruleSet"] == RULE_JSON
    assert schema_by_id(r.state, 1)["metadata"] == OWNER and schema_by_id(r.state, 1)["ruleSet"] == RULE_JSON
    found = lookup(r.state, r.parser, "a", {"schema": schema("x"), "metadata": OWNER, "ruleSet": RULES}, False, False)
    assert found["id"] == 1 and found["ruleSet"] == RULE_JSON


def test_the_stored_record_carries_them_and_a_state_rebuilt_from_the_topic_has_them():
    r = Registry()
    register(r, "a", schema("x"), metadata=OWNER, ruleSet=RULES)
    stored = json.loads(r.log[0][1])
    assert stored["metadata"] == OWNER and stored["ruleSet"] == RULE_JSON
    assert r.rebuilt().subjects == r.state.subjects


def test_a_record_written_before_contracts_still_loads_without_them():
    state = RegistryState()
    state.apply(b'{"keytype":"SCHEMA","subject":"t","version":1,"magic":1}',
                b'{"subject":"t","version":1,"id":3,"schema":"\\"string\\"","deleted":false}', 0)
    record = state.versions("t")[0]
    assert (record.id, record.metadata, record.rule_set) == (3, None, None)
    assert "metadata" not in codec.api_json(record)


def test_other_metadata_makes_a_new_version_and_id_and_the_same_returns_the_existing_one():
    r = Registry()
    register(r, "a", schema("x"), metadata=OWNER)
    other = {"properties": {"owner": "team-b"}}
    assert register(r, "a", schema("x"), metadata=other) == {"id": 2, "version": 2}
    before = len(r.log)
    assert register(r, "a", schema("x"), metadata=other) == {"id": 2, "version": 2}
    assert len(r.log) == before
    assert register(r, "a", schema("x"), ruleSet=RULES)["version"] == 3  # rules alone differ too


def test_a_registration_without_metadata_inherits_the_latest_versions():
    r = Registry()
    register(r, "a", schema("x"), metadata=OWNER)
    before = len(r.log)
    found = register(r, "a", schema("x"))  # the same schema, found: nothing written
    assert (found["id"], found["version"], found["metadata"], len(r.log)) == (1, 1, OWNER, before)
    answer = register(r, "a", schema("x", defaults=("y",)))
    assert answer["version"] == 2 and answer["metadata"] == OWNER  # filled in: the whole version answered
    assert register(r, "a", schema("x", defaults=("z",)), metadata={}).keys() == {"id", "version"}


def test_config_defaults_apply_when_none_is_sent_and_overrides_merge_over_what_is_sent():
    r = Registry()
    configure(r, None, defaultMetadata={"properties": {"owner": "platform", "tier": "1"}},
              overrideMetadata={"properties": {"tier": "0"}}, defaultRuleSet=RULES)
    register(r, "a", schema("x"))
    record = find_version(r.state, "a", 1)
    assert codec.api_json(record)["metadata"] == {"properties": {"owner": "platform", "tier": "0"}}
    assert codec.api_json(record)["ruleSet"] == RULE_JSON
    register(r, "b", schema("x"), metadata={"properties": {"owner": "me", "tier": "5"}})
    assert codec.api_json(find_version(r.state, "b", 1))["metadata"] == {"properties": {"owner": "me", "tier": "0"}}


def test_override_rules_replace_rules_of_the_same_name():
    r = Registry()
    override = {"domainRules": [{"name": "checkAge", "mode": "READ", "type": "CEL", "expr": "true"}]}
    configure(r, "a", overrideRuleSet=override)
    register(r, "a", schema("x"), ruleSet=RULES)
    rules = codec.api_json(find_version(r.state, "a", 1))["ruleSet"]["domainRules"]
    assert [(x["name"], x["mode"], x["kind"]) for x in rules] == [("checkAge", "READ", "TRANSFORM")]


def test_compatibility_group_checks_only_versions_with_the_same_property_value():
    r = Registry()
    configure(r, None, compatibilityGroup="major")
    register(r, "a", schema("x"), metadata={"properties": {"major": "1"}})
    # a field without default breaks BACKWARD, but in another group there is nothing to break
    assert register(r, "a", schema("y"), metadata={"properties": {"major": "2"}})["version"] == 2
    assert code_of(lambda: register(r, "a", schema("z"), metadata={"properties": {"major": "2"}})) == 409
    assert subject_config(r.state, None, False)["compatibilityGroup"] == "major"


def test_config_contracts_are_returned_partially_updated_and_cleared_by_null():
    r = Registry()
    assert configure(r, "a", compatibility="FULL", defaultMetadata=OWNER) == {
        "compatibility": "FULL", "defaultMetadata": OWNER}
    configure(r, "a", overrideRuleSet=RULES)
    got = subject_config(r.state, "a", False)
    assert got["compatibilityLevel"] == "FULL" and got["defaultMetadata"] == OWNER
    assert got["overrideRuleSet"] == RULE_JSON
    configure(r, "a", defaultMetadata=None)
    assert "defaultMetadata" not in subject_config(r.state, "a", False)
    assert r.rebuilt().configs == r.state.configs


@pytest.mark.parametrize("rules, why", [
    ({"domainRules": [{"name": "r", "type": "CEL"}, {"name": "r", "type": "CEL"}]}, "duplicate"),
    ({"domainRules": [{"name": "9r", "type": "CEL"}]}, "initial character"),
    ({"domainRules": [{"name": "r"}]}, "Missing rule type"),
    ({"migrationRules": [{"name": "r", "type": "JSONATA", "mode": "WRITE"}]}, "Migration rules"),
    ({"domainRules": [{"name": "r", "type": "CEL", "mode": "WRITE", "onFailure": "DLQ,NONE"}]}, "Multiple"),
    ({"domainRules": [{"name": "r", "type": "CEL", "mode": "SIDEWAYS"}]}, "mode"),
])
def test_a_rule_set_confluent_refuses_is_42210_at_registration_and_in_config(rules, why):
    r = Registry()
    with pytest.raises(RegistryError) as caught:
        register(r, "a", schema("x"), ruleSet=rules)
    assert caught.value.error_code == 42210 and why in caught.value.message
    assert code_of(lambda: configure(r, None, defaultRuleSet=rules)) == 42210


def test_malformed_metadata_is_42201_and_what_kraft_does_not_serve_is_refused():
    r = Registry()
    assert code_of(lambda: register(r, "a", schema("x"), metadata={"properties": {"n": 1}})) == 42201
    assert code_of(lambda: register(r, "a", schema("x"), schemaTagsToAdd=[{"entityPath": "x"}])) == 42201
    for key, value in (("alias", "other"), ("validateFields", True), ("compatibilityPolicy", "LOGICAL")):
        assert code_of(lambda key=key, value=value: configure(r, None, **{key: value})) == 42203
    assert configure(r, None, compatibility="NONE", validateFields=False) == {"compatibility": "NONE"}


def test_contract_requests_cross_between_nodes_unchanged():
    for request in (register_request("s", {"schema": "{}", "metadata": OWNER, "ruleSet": RULES}, None),
                    config_request("s", {"defaultMetadata": OWNER, "overrideRuleSet": RULES,
                                         "compatibilityGroup": None})):
        assert from_json(json.loads(json.dumps(to_json(request)))) == request


def test_a_compatibility_check_compares_within_the_group_a_registration_would_fill_in():
    r = Registry()
    configure(r, "a", compatibilityGroup="major")
    register(r, "a", schema("x"), metadata={"properties": {"major": "1"}})
    # no metadata sent: the latest's (major 1) is filled in, so version 1 is compared and breaks
    assert compatibility(r.state, r.parser, "a", None, {"schema": schema("y")}, False, False) == {
        "is_compatible": False}
    other = {"schema": schema("y"), "metadata": {"properties": {"major": "2"}}}
    assert compatibility(r.state, r.parser, "a", None, other, False, False) == {"is_compatible": True}


def test_force_registers_an_incompatible_schema_as_confluent_does():
    r = Registry()
    register(r, "a", schema("x"))
    assert code_of(lambda: register(r, "a", schema("y"))) == 409
    assert r.write(register_request("a", {"schema": schema("y")}, None, "true")) == {"id": 2, "version": 2}
