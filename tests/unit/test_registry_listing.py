"""The registry's listing and guid reads and its modes beyond READWRITE/READONLY/IMPORT,
as Confluent answers them: GET /schemas with its filters, schemas by guid (Confluent's
MD5-made UUID), READONLY_OVERRIDE, and the global mode deleted back to the default."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from registry_fixtures import Registry, schema
from kraft.schemas.registry_errors import RegistryError
from kraft.schemas.registry_guids import guid_of
from kraft.schemas.registry_reads import (ids_of_guid, latest_with_metadata, page, schema_by_guid, schema_by_id,
                                          schemas_list, subjects_list, version_json, versions_list)
from kraft.schemas.registry_requests import (DeleteConfig, DeleteMode, DeleteVersion, Register, config_request,
                                             mode_request)


def code_of(call) -> int:
    with pytest.raises(RegistryError) as caught:
        call()
    return caught.value.error_code


def filled() -> Registry:
    r = Registry()
    r.register("orders-value", schema("a"))
    r.register("orders-value", schema("a", defaults=("b",)))
    r.register("orders-key", schema("k"))
    r.register("users-value", schema("u"))
    r.write(DeleteVersion("orders-value", 1))
    return r


def listed(r: Registry, prefix: str = "", deleted: bool = False, latest: bool = False, offset: int = 0,
           limit: int = -1) -> list[tuple[str, int]]:
    return [(v["subject"], v["version"]) for v in schemas_list(r.state, prefix, deleted, latest, offset, limit)]


def test_get_schemas_lists_every_live_version_subject_by_subject():
    r = filled()
    assert listed(r) == [("orders-key", 1), ("orders-value", 2), ("users-value", 1)]
    assert listed(r, deleted=True) == [("orders-key", 1), ("orders-value", 1), ("orders-value", 2), ("users-value", 1)]


def test_get_schemas_filters_by_prefix_latest_only_offset_and_limit():
    r = filled()
    assert listed(r, prefix="orders-", deleted=True, latest=True) == [("orders-key", 1), ("orders-value", 2)]
    assert listed(r, deleted=True, offset=1, limit=2) == [("orders-value", 1), ("orders-value", 2)]
    assert listed(r, offset=5) == []
    entry = schemas_list(r.state, "users", False, False, 0, -1)[0]
    assert entry["id"] == 4 and entry["schema"] and entry["guid"] == schema_by_id(r.state, 4)["guid"]


def test_a_guid_is_the_md5_of_the_schema_text_as_a_uuid_and_finds_the_schema():
    r = Registry()
    r.register("a", schema("x"))
    record = r.state.versions("a")[0]
    expected = str(uuid.UUID(bytes=hashlib.md5(record.schema.encode()).digest()))
    assert guid_of(record) == version_json(record)["guid"] == expected
    assert schema_by_guid(r.state, expected)["schema"] == record.schema
    assert ids_of_guid(r.state, expected.upper()) == [{"context": ".", "id": 1}]
    assert code_of(lambda: schema_by_guid(r.state, str(uuid.uuid4()))) == 40403


def test_other_metadata_is_another_guid_and_a_permanent_delete_forgets_it():
    r = Registry()
    r.register("a", schema("x"))
    r.write(Register("a", "AVRO", schema("x"), metadata='{"properties":{"o":"t"}}'))
    first, second = (guid_of(v) for v in r.state.versions("a"))
    assert first != second and schema_by_guid(r.state, second)["metadata"] == {"properties": {"o": "t"}}
    r.write(DeleteVersion("a", 2))
    r.write(DeleteVersion("a", 2, permanent=True))
    assert code_of(lambda: ids_of_guid(r.state, second)) == 40403


def test_readonly_override_refuses_writes_as_readonly_does():
    r = Registry()
    r.register("a", schema("x"))
    r.write(mode_request(None, {"mode": "readonly_override"}, None))
    assert r.state.mode("a") == "READONLY_OVERRIDE"
    assert code_of(lambda: r.register("a", schema("x", defaults=("y",)))) == 42205
    assert code_of(lambda: r.write(DeleteVersion("a", 1))) == 42205


def test_deleting_the_global_mode_answers_it_and_goes_back_to_readwrite():
    r = Registry()
    r.write(mode_request(None, {"mode": "READONLY"}, None))
    assert r.write(DeleteMode(None)) == {"mode": "READONLY"}
    assert r.state.mode(None) == "READWRITE"
    assert r.write(DeleteMode(None)) == {"mode": "READWRITE"}


def test_subject_and_version_lists_take_confluents_deleted_only_negative_offset_and_limit():
    r = filled()
    assert versions_list(r.state, "orders-value", False) == [2]
    assert versions_list(r.state, "orders-value", False, deleted_only=True) == [1]
    assert versions_list(r.state, "orders-value", False, negative=True) == [-1, 2]
    assert subjects_list(r.state, "", False, True) == ["orders-value"]
    assert subjects_list(r.state, "orders", False, False) == ["orders-key", "orders-value"]
    assert page(["a", "b", "c"], 1, 1) == ["b"] and page(["a", "b"], 0, -1) == ["a", "b"]


def test_the_latest_version_with_metadata_holding_every_pair_asked():
    r = Registry()
    for major, minor in (("1", "0"), ("1", "1"), ("2", "0")):
        r.write(Register("a", "AVRO", schema("x", defaults=(f"f{major}{minor}",)),
                         metadata=json.dumps({"properties": {"major": major, "minor": minor}}), force=True))
    assert latest_with_metadata(r.state, "a", {"major": "1"}, False).version == 2
    assert latest_with_metadata(r.state, "a", {"major": "1", "minor": "0"}, False).version == 1
    assert latest_with_metadata(r.state, "a", {}, False).version == 3
    assert code_of(lambda: latest_with_metadata(r.state, "a", {"major": "3"}, False)) == 40403
    assert code_of(lambda: latest_with_metadata(r.state, "b", {}, False)) == 40401


def test_configs_are_not_changed_in_a_read_only_mode_but_the_mode_is():
    r = Registry()
    r.write(mode_request("a", {"mode": "READONLY"}, None))
    assert code_of(lambda: r.write(config_request("a", {"compatibility": "NONE"}))) == 42205
    assert code_of(lambda: r.write(DeleteConfig("a"))) == 42205
    r.write(config_request("b", {"compatibility": "NONE"}))  # another subject: read-write
    assert r.write(mode_request("a", {"mode": "READWRITE"}, None)) == {"mode": "READWRITE"}
    r.write(config_request("a", {"compatibility": "NONE"}))


def test_get_schemas_pages_only_what_the_caller_may_read():
    r = filled()
    found = schemas_list(r.state, "", True, False, 0, 2, readable=lambda subject: subject != "orders-key")
    assert [(v["subject"], v["version"]) for v in found] == [("orders-value", 1), ("orders-value", 2)]
