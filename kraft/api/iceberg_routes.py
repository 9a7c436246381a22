"""The Iceberg REST catalog at /iceberg: a client's catalog `uri` is
http://<node>:<http_port>/iceberg (DuckDB's ENDPOINT, pyiceberg's and Spark's uri).

One namespace, `kraft`; a table per Iceberg topic (docs/ICEBERG.md), readable by whoever
may read the topic. Read-only here: only kraft's translators commit to these tables.
Errors take the catalog's form ({"error": {"message", "type", "code"}}), which clients
of the Iceberg REST API parse.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from kraft.api.access_rules import visible
from kraft.api.context import node_of
from kraft.api.http_body import json_response
from kraft.broker.table_coordinator import stand_in, table_coordinator
from kraft.iceberg.names import DLQ, pointer_key, table_names
from kraft.iceberg.warehouse import Warehouse
from kraft.errors import KraftError, RetriableError, TopicNotFound

NAMESPACE = "kraft"
MAX_METADATA_BYTES = 64 * 1024 * 1024  # a table's metadata file; larger is refused, not read
PREFIX = "/iceberg/v1"


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PREFIX + "/config", config)
    r.add_get(PREFIX + "/namespaces", namespaces)
    r.add_get(PREFIX + "/namespaces/{namespace}", namespace)
    r.add_get(PREFIX + "/namespaces/{namespace}/tables", tables)
    r.add_get(PREFIX + "/namespaces/{namespace}/tables/{topic}", load_table)
    r.add_get("/v1/topics/{topic}/iceberg", translation)
    for path in ("/namespaces/{namespace}/tables/{topic}", "/namespaces/{namespace}/tables",
                 "/namespaces", "/namespaces/{namespace}"):
        r.add_route("POST", PREFIX + path, read_only)
        r.add_route("DELETE", PREFIX + path, read_only)


def error(status: int, kind: str, message: str) -> web.Response:
    return json_response({"error": {"message": message, "type": kind, "code": status}}, status)


def _no_namespace(name: str) -> web.Response:
    return error(404, "NoSuchNamespaceException", f"namespace {name!r} does not exist; kraft's tables are in "
                                                  f"{NAMESPACE!r}")


async def config(request):
    return json_response({"defaults": {}, "overrides": {}})


async def namespaces(request):
    parent = request.query.get("parent")
    return json_response({"namespaces": [] if parent else [[NAMESPACE]]})


async def namespace(request):
    name = request.match_info["namespace"]
    if name != NAMESPACE:
        return _no_namespace(name)
    return json_response({"namespace": [NAMESPACE], "properties": {}})


async def tables(request):
    name = request.match_info["namespace"]
    if name != NAMESPACE:
        return _no_namespace(name)
    names = table_names(node_of(request).image)
    readable = set(visible(request, "consume", sorted({n.removesuffix(DLQ) for n in names})))
    return json_response({"identifiers": [{"namespace": [NAMESPACE], "name": t} for t in names
                                          if t.removesuffix(DLQ) in readable]})


async def load_table(request):
    name, topic = request.match_info["namespace"], request.match_info["topic"]
    if name != NAMESPACE:
        return _no_namespace(name)
    image = node_of(request).image
    key = pointer_key(image, topic)
    location = image.iceberg_tables.get(key) if key is not None else None
    if location is None:
        return error(404, "NoSuchTableException",
                     f"no table {NAMESPACE}.{topic}: no such topic, iceberg.mode is disabled, or no "
                     f"record has been translated yet")
    files = _warehouse(request)
    try:
        metadata = await asyncio.to_thread(_read_metadata, files, location)
    except (OSError, ValueError):
        return error(503, "ServiceUnavailableException",
                     f"the metadata of table {NAMESPACE}.{topic} cannot be read now; retry")
    # where a reader finds the files (an object store's endpoint and region); its
    # credentials are its own
    return json_response({"metadata-location": location, "metadata": metadata, "config": files.io_properties()})


def _warehouse(request) -> Warehouse:
    return node_of(request).iceberg_files


def _read_metadata(files: Warehouse, location: str) -> dict:
    parsed = orjson.loads(files.read(location, MAX_METADATA_BYTES))
    if not isinstance(parsed, dict):
        raise ValueError("metadata file is not an object")
    return parsed


async def translation(request):
    """kraft's own view of a topic's table: where it is, and each partition's translated
    offset against its last stable offset (the lag), from any node."""
    node, topic = node_of(request), request.match_info["topic"]
    image = node.image
    described = image.topic(topic)
    if described is None:
        raise TopicNotFound(f"topic {topic!r} not found")
    mode = image.topic_configs.get(topic, {}).get("iceberg.mode", "disabled")
    location = image.iceberg_tables.get(described.topic_id)
    snapshot: dict = {}
    files = _warehouse(request)
    if location is not None:
        try:
            snapshot = _current_snapshot(await asyncio.to_thread(_read_metadata, files, location))
        except (OSError, ValueError):
            raise RetriableError(f"the metadata of table {NAMESPACE}.{topic} cannot be read now; retry") from None
    translated = orjson.loads(snapshot.get("summary", {}).get("kraft.offsets", "{}"))

    async def one(index: int) -> dict:
        done = translated.get(str(index))
        try:
            start, stable = await node.partition_reader.offsets(topic, index, stable=True)
        except KraftError:  # its leader is moving: the lag is unknown for now
            return {"partition_id": index, "translated_offset": done, "last_stable_offset": None, "lag": None}
        # never translated: from the log start on (what retention removed is no lag)
        lag = stable - (done if done is not None else start)
        return {"partition_id": index, "translated_offset": done, "last_stable_offset": stable, "lag": lag}

    partitions = await asyncio.gather(*(one(i) for i in range(len(described.partitions))))
    committer = table_coordinator(image, topic)
    if committer is None:
        committer = stand_in(image, topic)
    return json_response({
        "topic_name": topic, "mode": mode,
        "table": f"{NAMESPACE}.{topic}" if location is not None else None,
        "metadata_location": location, "snapshot_id": snapshot.get("snapshot-id"),
        "last_commit_ms": snapshot.get("timestamp-ms"), "partitions": partitions,
        # the node committing it: its coordinator, or the node standing in while it has none
        "coordinator": committer if mode != "disabled" else None,
        # where readers find the files: a directory they must see, or an object store
        "warehouse": "directory" if files.local else files.scheme})


def _current_snapshot(metadata: dict) -> dict:
    current = metadata.get("current-snapshot-id")
    for snapshot in metadata.get("snapshots") or ():
        if isinstance(snapshot, dict) and snapshot.get("snapshot-id") == current:
            return snapshot
    return {}


async def read_only(request):
    # the Iceberg REST spec's answer for an operation a catalog does not support
    return error(406, "UnsupportedOperationException",
                 "kraft's catalog is read-only: its tables are written by kraft from their topics; "
                 "set iceberg.mode on a topic to make one")
