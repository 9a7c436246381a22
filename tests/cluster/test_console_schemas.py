"""The console's Schemas page and message browser with the schema registry, in Debian's
Chromium (Playwright, as tests/cluster/test_console.py): subjects with their latest version
and level, a version's text and the diff between two versions, a level set from the page
and a version soft- then hard-deleted (each confirmed) as the registry's API then answers
them; a record confluent-kafka's AvroSerializer and JSONSerializer framed shows decoded, with its
subjects."""

from __future__ import annotations

import base64
import json
import re
import urllib.request
import uuid

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kraft.server.local_cluster import http_json
from test_console import WAIT_MS, browser, open_page, shoot, text_of  # noqa: F401  (browser: a fixture)

pytestmark = pytest.mark.cluster

V1 = {"type": "record", "name": "Order", "namespace": "shop", "fields": [{"name": "id", "type": "long"}]}
KEY = {"type": "object", "properties": {"region": {"type": "string"}}}
V2 = {**V1, "fields": V1["fields"] + [{"name": "note", "type": ["null", "string"], "default": None}]}


@pytest.fixture(scope="module")
def setup(shared_cluster):
    """A subject with two Avro versions and a topic holding one record framed with the second,
    its key framed with a JSON Schema."""
    c = shared_cluster
    name = f"console-{uuid.uuid4().hex[:6]}"
    registry = SchemaRegistryClient({"url": c.config.node(1).schema_registry_url})
    for version in (V1, V2):
        registry.register_schema(f"{name}-value", Schema(json.dumps(version), "AVRO"))
    serializer = AvroSerializer(registry, json.dumps(V2), conf={"auto.register.schemas": False, "use.latest.version": True})
    value = serializer({"id": 42, "note": "first"}, SerializationContext(name, MessageField.VALUE))
    key = JSONSerializer(json.dumps(KEY), registry)({"region": "eu"}, SerializationContext(name, MessageField.KEY))
    status, body = http_json("POST", c.v3(1) + "/topics", {"topic_name": name, "partitions_count": 1})
    assert status == 201, body
    status, body = http_json("POST", c.v3(1) + f"/topics/{name}/records",
                             {"key": {"type": "BINARY", "data": base64.b64encode(key).decode()},
                              "value": {"type": "BINARY", "data": base64.b64encode(value).decode()}})
    assert status == 200, body
    return c, name, f"{name}-value"


@pytest.fixture(scope="module")
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def registry_get(cluster, path: str):
    with urllib.request.urlopen(cluster.config.node(1).schema_registry_url + path, timeout=10) as answer:
        return json.loads(answer.read())


def test_the_message_browser_shows_a_framed_record_decoded_with_its_subjects(page, setup):
    cluster, topic, subject = setup
    open_page(page, cluster, f"topics/{topic}")
    decoded = page.locator("#messages pre.value.decoded").first
    decoded.wait_for(timeout=WAIT_MS)
    assert json.loads(decoded.inner_text()) == {"id": 42, "note": {"string": "first"}}
    assert page.locator("#messages a", has_text=f"{subject} v2").count() == 1
    assert json.loads(page.locator("#messages pre.key.decoded").inner_text()) == {"region": "eu"}
    assert "key (json)" in text_of(page, "#messages .kv") and "value (avro)" in text_of(page, "#messages .kv")
    shoot(page, "topic-decoded")


def test_the_schemas_page_lists_subjects_with_latest_version_and_level(page, setup):
    cluster, _, subject = setup
    open_page(page, cluster, "schemas")
    page.locator("#subject-search").fill(subject)
    row = page.locator("tr", has_text=subject)
    row.wait_for(timeout=WAIT_MS)
    assert [c.strip() for c in row.locator("td").all_inner_texts()][1:3] == ["AVRO", "2"]
    assert "BACKWARD (global)" in row.inner_text()
    shoot(page, "schemas")


def test_a_subject_shows_its_versions_text_and_the_diff_between_them(page, setup):
    cluster, _, subject = setup
    open_page(page, cluster, f"schemas/{subject}")
    page.locator("#schema-text").wait_for(timeout=WAIT_MS)
    assert json.loads(text_of(page, "#schema-text"))["fields"][1]["name"] == "note"
    assert re.fullmatch(r"\d+ lines? added, \d+ lines? removed", text_of(page, "#diff-summary"))
    added = "".join(page.locator("#schema-diff .add").all_inner_texts())
    assert '"note"' in added and '"note"' not in "".join(page.locator("#schema-diff .del").all_inner_texts())
    page.locator("#schema-version").select_option("1")
    assert "note" not in text_of(page, "#schema-text")
    shoot(page, "subject")


def test_the_line_diff_keeps_common_lines_and_marks_only_the_changed_ones(page, setup):
    open_page(page, setup[0], "schemas")
    diff = "(a, b) => import('/console/js/diff.js').then((m) => m.lineDiff(a, b).map((l) => l.op + l.text))"
    assert page.evaluate(f"({diff})('a\\nb\\nc\\nd', 'a\\nc\\nx\\nd')") == [" a", "-b", " c", "+x", " d"]
    assert page.evaluate(f"({diff})('same', 'same')") == [" same"]
    assert page.evaluate(f"({diff})('', 'x')") == ["-", "+x"]


def test_level_and_deletes_made_on_the_page_are_the_registrys(page, setup):
    cluster, _, subject = setup
    open_page(page, cluster, f"schemas/{subject}")
    page.locator("#subject-level-select").select_option("FULL")
    page.locator("#subject-level").get_by_role("button", name="Save").click()
    page.locator("#subject-result", has_text="FULL").wait_for(timeout=WAIT_MS)
    assert registry_get(cluster, f"/config/{subject}")["compatibilityLevel"] == "FULL"
    row = page.locator("tr", has=page.locator("td", has_text="live")).first
    row.get_by_role("button", name="Soft-delete").click()
    page.locator("#confirm-ok").click()
    page.locator("#subject-result", has_text="Soft-deleted version 1").wait_for(timeout=WAIT_MS)
    assert registry_get(cluster, f"/subjects/{subject}/versions") == [2]
    page.get_by_role("button", name="Delete permanently").click()
    page.locator("#confirm-ok").click()
    page.locator("#subject-result", has_text="Permanently deleted version 1").wait_for(timeout=WAIT_MS)
    assert registry_get(cluster, f"/subjects/{subject}/versions?deleted=true") == [2]


def test_decode_refuses_what_is_not_base64_and_passes_unframed_values_as_null(setup):
    cluster = setup[0]
    status, body = http_json("POST", cluster.url(1) + "/v1/console/decode", {"values": ["***"]})
    assert (status, body["error_code"]) == (400, 400) and "base64" in body["message"], body
    status, body = http_json("POST", cluster.url(1) + "/v1/console/decode",
                             {"values": [base64.b64encode(b"plain").decode(), None]})
    assert (status, body) == (200, {"values": [None, None]})


def test_on_a_phone_the_schema_pages_do_not_scroll_sideways(browser, setup):  # noqa: F811
    cluster, topic, subject = setup
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    phone = context.new_page()
    try:
        for route, ready in (("schemas", "#subject-search"), (f"schemas/{subject}", "#schema-diff"),
                             (f"topics/{topic}", "#messages pre.decoded")):
            open_page(phone, cluster, route)
            phone.locator(ready).first.wait_for(timeout=WAIT_MS)
            wide = phone.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, f"#/{route} is {wide} px wide on a 390 px phone"
    finally:
        context.close()
