"""The registry's state machine and its decisions, as Confluent Schema Registry behaves:
ids and versions, compatibility levels, modes, soft and permanent deletes, references,
config and mode per subject and global, and a state rebuilt from the topic alone."""

from __future__ import annotations

import json

import pytest

from registry_fixtures import Registry, schema
from kraft.schemas import registry_codec as codec
from kraft.schemas.format_table import FORMATS
from kraft.schemas.formats import SchemaReference
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_reads import compatibility, find_version, lookup, schema_by_id, subject_config
from kraft.schemas.registry_requests import (LATEST, DeleteMode, DeleteSubject, DeleteVersion, SetConfig, SetMode,
                                             config_request, from_json, mode_request, parse_version,
                                             register_request, to_json)
from kraft.schemas.registry_state import RegistryState


def code_of(call) -> int:
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value.error_code


def test_first_schema_gets_id_1_and_version_1():
    assert Registry().register("a", schema("x")) == {"id": 1, "version": 1}


def test_same_schema_again_in_the_subject_keeps_its_version_and_id_and_writes_nothing():
    r = Registry()
    r.register("a", schema("x"))
    before = len(r.log)
    assert r.register("a", schema("x")) == {"id": 1, "version": 1}
    assert len(r.log) == before


def test_same_canonical_text_is_the_same_schema():
    r = Registry()
    r.register("a", '{"fields": {"x": {}}}')
    assert r.register("a", '{ "fields" : { "x" : { } } }') == {"id": 1, "version": 1}


def test_same_schema_in_another_subject_keeps_its_id_with_version_1_there():
    r = Registry()
    r.register("a", schema("x"))
    r.register("a", schema("x", defaults=("y",)))
    assert r.register("b", schema("x")) == {"id": 1, "version": 1}


def test_a_new_schema_gets_the_next_id_and_next_version():
    r = Registry()
    r.register("a", schema("x"))
    r.register("b", schema("q"))
    assert r.register("a", schema("x", defaults=("y",))) == {"id": 3, "version": 2}


def test_backward_is_the_default_level_and_refuses_a_field_without_default():
    r = Registry()
    r.register("a", schema("x"))
    assert code_of(lambda: r.register("a", schema("x", "y"))) == 409


def test_the_subject_level_wins_over_the_global_one():
    r = Registry()
    r.write(SetConfig(None, "FULL"))
    r.write(SetConfig("a", "NONE"))
    r.register("a", schema("x"))
    assert r.register("a", schema("x", "y"))["version"] == 2
    assert r.state.level("b") == "FULL"


def test_backward_checks_only_the_latest_version_and_transitive_checks_all():
    r = Registry()
    r.write(SetConfig("a", "NONE"))
    r.register("a", schema("x"))
    r.register("a", schema("y"))
    r.write(SetConfig("a", "BACKWARD"))
    assert r.register("a", schema("y", defaults=("x",)))["version"] == 3
    r.write(SetConfig("a", "BACKWARD_TRANSITIVE"))
    assert code_of(lambda: r.register("a", schema("y", "z", defaults=("x",)))) == 409


def test_forward_asks_the_latest_to_read_the_new_schemas_data():
    r = Registry()
    r.write(SetConfig("a", "FORWARD"))
    r.register("a", schema("x"))
    assert code_of(lambda: r.register("a", schema("y"))) == 409  # the old reader needs x
    assert r.register("a", schema("x", "y"))["version"] == 2


def test_soft_deleted_versions_are_left_out_of_compatibility():
    r = Registry()
    r.register("a", schema("x"))
    r.write(DeleteVersion("a", 1))
    assert r.register("a", schema("y"))["version"] == 2


def test_versions_continue_after_a_soft_delete_and_the_schema_keeps_its_id():
    r = Registry()
    r.register("a", schema("x"))
    r.write(DeleteSubject("a"))
    assert r.register("a", schema("x")) == {"id": 1, "version": 2}


def test_invalid_schema_is_42201_and_unknown_type_too():
    r = Registry()
    assert code_of(lambda: r.register("a", "{nope")) == 42201
    assert code_of(lambda: r.write(register_request("a", {"schema": "{}", "schemaType": "XML"}, None))) == 42201


def test_empty_or_missing_schema_is_42201():
    assert code_of(lambda: register_request("a", {}, None)) == 42201
    assert code_of(lambda: register_request("a", {"schema": 5}, None)) == 42201
    assert code_of(lambda: register_request("a", ["x"], None)) == 42201


def test_a_huge_schema_is_42201():
    assert code_of(lambda: register_request("a", {"schema": "x" * 600_000}, None)) == 42201


def test_versions_outside_1_to_2_31_or_latest_are_42202():
    assert parse_version("latest") == LATEST and parse_version("-1") == LATEST and parse_version("7") == 7
    for bad in ("0", "-2", "abc", str(2**31), "1.5"):
        assert code_of(lambda: parse_version(bad)) == 42202


def test_unknown_compatibility_level_is_42203_and_unknown_mode_42204():
    assert code_of(lambda: config_request(None, {"compatibility": "SIDEWAYS"})) == 42203
    assert config_request("s", {"compatibility": "full"}).level == "FULL"
    assert code_of(lambda: mode_request(None, {"mode": "READ"}, None)) == 42204


def test_readonly_refuses_registration_and_deletes_with_42205():
    r = Registry()
    r.register("a", schema("x"))
    r.write(SetMode("a", "READONLY"))
    assert code_of(lambda: r.register("a", schema("x", defaults=("y",)))) == 42205
    assert code_of(lambda: r.write(DeleteVersion("a", 1))) == 42205
    assert r.register("b", schema("x"))["id"] == 1  # other subjects are READWRITE


def test_an_explicit_id_is_refused_in_readwrite():
    assert code_of(lambda: Registry().register("a", schema("x"), id=7)) == 42205


def test_import_mode_takes_explicit_ids_and_versions_and_later_ids_go_above_them():
    r = Registry()
    r.write(SetMode(None, "IMPORT"))
    assert r.register("a", schema("x"), id=100, version=5) == {"id": 100, "version": 5}
    assert r.register("a", schema("y"), id=50, version=6) == {"id": 50, "version": 6}  # no compatibility check
    r.write(SetMode(None, "READWRITE"))
    assert r.register("b", schema("z")) == {"id": 101, "version": 1}


def test_import_refuses_an_id_that_holds_another_schema():
    r = Registry()
    r.write(SetMode(None, "IMPORT"))
    r.register("a", schema("x"), id=3)
    assert code_of(lambda: r.register("b", schema("y"), id=3)) == 42207


def test_import_mode_needs_an_empty_registry_unless_forced():
    r = Registry()
    r.register("a", schema("x"))
    assert code_of(lambda: r.write(SetMode(None, "IMPORT"))) == 42205
    assert r.write(SetMode(None, "IMPORT", force=True)) == {"mode": "IMPORT"}


def test_soft_delete_hides_a_version_and_permanent_removes_it():
    r = Registry()
    r.register("a", schema("x"))
    r.register("a", schema("x", defaults=("y",)))
    assert r.write(DeleteVersion("a", 1)) == 1
    assert [v.version for v in r.state.versions("a")] == [2]
    assert code_of(lambda: find_version(r.state, "a", 1)) == 40402
    assert find_version(r.state, "a", 1, deleted=True).deleted
    assert code_of(lambda: r.write(DeleteVersion("a", 1))) == 40406
    assert r.write(DeleteVersion("a", 1, permanent=True)) == 1
    assert [v.version for v in r.state.versions("a", deleted=True)] == [2]


def test_permanent_delete_needs_a_soft_delete_first():
    r = Registry()
    r.register("a", schema("x"))
    assert code_of(lambda: r.write(DeleteVersion("a", 1, permanent=True))) == 40407
    assert code_of(lambda: r.write(DeleteSubject("a", permanent=True))) == 40405


def test_subject_delete_soft_then_permanent_then_versions_restart_under_a_new_id():
    r = Registry()
    r.register("a", schema("x"))
    r.register("a", schema("x", defaults=("y",)))
    assert r.write(DeleteSubject("a")) == [1, 2]
    assert r.state.subject_names() == [] and r.state.subject_names(deleted=True) == ["a"]
    assert code_of(lambda: r.write(DeleteSubject("a"))) == 40404
    assert r.write(DeleteSubject("a", permanent=True)) == [1, 2]
    assert r.state.subject_names(deleted=True) == []
    assert code_of(lambda: r.write(DeleteSubject("a"))) == 40401
    assert r.register("a", schema("x")) == {"id": 3, "version": 1}  # ids are never given twice


def test_a_soft_deleted_schema_is_still_found_by_id():
    r = Registry()
    r.register("a", schema("x"))
    r.write(DeleteSubject("a"))
    assert json.loads(schema_by_id(r.state, 1)["schema"]) == json.loads(schema("x"))


def test_unknown_subject_version_and_id_are_40401_40402_40403():
    r = Registry()
    r.register("a", schema("x"))
    assert code_of(lambda: find_version(r.state, "b", 1)) == 40401
    assert code_of(lambda: find_version(r.state, "a", 2)) == 40402
    assert code_of(lambda: schema_by_id(r.state, 9)) == 40403


def test_references_resolve_and_are_listed_in_referencedby():
    r = Registry()
    r.register("base", schema("x"))
    refs = (SchemaReference("Base", "base", 1),)
    answer = r.register("user", schema("u", uses=("Base",)), references=refs)
    assert r.state.referenced_by("base", 1) == [answer["id"]]
    assert find_version(r.state, "user", LATEST).references == refs


def test_a_missing_reference_is_42201():
    r = Registry()
    refs = (SchemaReference("Base", "base", 1),)
    assert code_of(lambda: r.register("user", schema("u", uses=("Base",)), references=refs)) == 42201


def test_a_referenced_version_cannot_be_deleted():
    r = Registry()
    r.register("base", schema("x"))
    r.register("user", schema("u", uses=("Base",)), references=(SchemaReference("Base", "base", 1),))
    assert code_of(lambda: r.write(DeleteVersion("base", 1))) == 42206
    assert code_of(lambda: r.write(DeleteSubject("base"))) == 42206


def test_lookup_finds_the_version_or_answers_40403():
    r = Registry()
    r.register("a", schema("x"))
    assert lookup(r.state, r.parser, "a", {"schema": schema("x")}, False, False)["version"] == 1
    assert code_of(lambda: lookup(r.state, r.parser, "a", {"schema": schema("y")}, False, False)) == 40403
    assert code_of(lambda: lookup(r.state, r.parser, "b", {"schema": schema("x")}, False, False)) == 40401


def test_compatibility_check_answers_with_messages_when_verbose():
    r = Registry()
    r.register("a", schema("x"))
    bad = compatibility(r.state, r.parser, "a", LATEST, {"schema": schema("x", "y")}, False, True)
    assert bad["is_compatible"] is False and bad["messages"]
    good = compatibility(r.state, r.parser, "a", 1, {"schema": schema("x", defaults=("y",))}, False, False)
    assert good == {"is_compatible": True}


def test_subject_config_without_default_to_global_is_40408():
    r = Registry()
    assert code_of(lambda: subject_config(r.state, "a", False)) == 40408
    assert subject_config(r.state, "a", True) == {"compatibilityLevel": "BACKWARD"}


def test_deleting_a_subject_mode_that_is_not_set_is_40409():
    assert code_of(lambda: Registry().write(DeleteMode("a"))) == 40409


def test_the_state_rebuilt_from_the_topic_alone_is_the_same():
    r = Registry()
    r.write(SetConfig(None, "FULL"))
    r.register("a", schema("x"))
    r.register("a", schema("x", defaults=("y",)))
    r.register("b", schema("q"))
    r.write(DeleteVersion("a", 1))
    r.write(DeleteSubject("b"))
    r.write(DeleteSubject("b", permanent=True))
    r.write(SetMode("a", "READONLY"))
    rebuilt = r.rebuilt()
    assert (rebuilt.subjects, rebuilt.configs, rebuilt.modes, rebuilt.max_id) == \
        (r.state.subjects, r.state.configs, r.state.modes, r.state.max_id)


def test_records_are_confluents_key_and_value_json():
    r = Registry()
    r.register("a", schema("x"))
    key, value = r.log[0]
    assert json.loads(key) == {"keytype": "SCHEMA", "subject": "a", "version": 1, "magic": 1}
    assert json.loads(value) == {"subject": "a", "version": 1, "id": 1, "schema": json.dumps(
        json.loads(schema("x")), sort_keys=True, separators=(",", ":")), "deleted": False}


def test_confluent_written_records_are_applied_and_unknown_ones_skipped():
    state = RegistryState()
    state.apply(b'{"keytype":"NOOP","magic":0}', None, 0)
    state.apply(b'{"keytype":"SCHEMA","subject":"t-value","version":1,"magic":1}',
                b'{"subject":"t-value","version":1,"id":21,"schemaType":"PROTOBUF","schema":"syntax = \\"proto3\\";",'
                b'"deleted":false}', 1)
    state.apply(b'{"keytype":"CONFIG","subject":null,"magic":0}', b'{"compatibilityLevel":"NONE"}', 2)
    state.apply(b"not json", b"{}", 3)
    state.apply(b'{"keytype":"FUTURE","magic":7}', b"{}", 4)
    assert state.versions("t-value")[0].schema_type == "PROTOBUF"
    assert state.level("x") == "NONE" and state.max_id == 21 and state.skipped == 1 and state.applied == 5


def test_write_requests_cross_between_nodes_unchanged():
    request = register_request("s", {"schema": "{}", "references": [{"name": "n", "subject": "o", "version": 2}]},
                               "true")
    assert from_json(json.loads(json.dumps(to_json(request)))) == request


def test_codec_round_trips_a_schema_value_with_references():
    record = codec.SchemaRecord("s", 2, 5, "JSON", "{}", (SchemaReference("n", "o", 1),), True)
    assert codec.decode_schema_value(codec.encode_schema_value(record)) == record


# -- with the real formats ----------------------------------------------------------------
def avro(fields: list[dict], name: str = "User", **extra) -> str:
    return json.dumps({"type": "record", "name": name, "fields": fields, **extra})


def test_avro_texts_with_one_canonical_form_are_one_schema():
    r = Registry(FORMATS)
    first = r.register("a", avro([{"name": "n", "type": "string"}]))
    again = r.register("b", '{"fields": [{"type": {"type": "string"}, "name": "n"}], "name": "User", "type": "record"}')
    assert again["id"] == first["id"]


def test_avro_backward_refuses_a_field_without_default_and_takes_one_with():
    r = Registry(FORMATS)
    r.register("a", avro([{"name": "n", "type": "string"}]))
    assert code_of(lambda: r.register("a", avro([{"name": "n", "type": "string"}, {"name": "m", "type": "int"}]))) \
        == 409
    assert r.register("a", avro([{"name": "n", "type": "string"},
                                 {"name": "m", "type": "int", "default": 0}]))["version"] == 2


def test_avro_reference_to_a_named_type_in_another_subject():
    r = Registry(FORMATS)
    r.register("address", avro([{"name": "city", "type": "string"}], name="Address", namespace="shop"))
    refs = (SchemaReference("shop.Address", "address", 1),)
    answer = r.register("customer", avro([{"name": "home", "type": "Address"}], name="Customer",
                                         namespace="shop"), references=refs)
    assert r.state.referenced_by("address", 1) == [answer["id"]]
    assert code_of(lambda: r.register("other", avro([{"name": "home", "type": "shop.Address"}]))) == 42201


def test_a_config_that_sets_only_normalize_keeps_the_level_and_normalizes_registrations():
    r = Registry(FORMATS)
    r.write(SetConfig("a", "FULL"))
    assert r.write(config_request("a", {"normalize": True})) == {"compatibility": "FULL", "normalize": True}
    assert r.state.level("a") == "FULL" and r.state.normalize_by_default("a")
    assert subject_config(r.state, "a", False) == {"compatibilityLevel": "FULL", "normalize": True}
    assert code_of(lambda: config_request("a", {})) == 42203


def test_a_subject_config_with_only_normalize_takes_the_global_level():
    r = Registry()
    r.write(SetConfig(None, "NONE"))
    r.write(config_request("a", {"normalize": False}))
    assert r.state.level("a") == "NONE"
