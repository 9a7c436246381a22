"""Raw Kafka protocol frames for tests that need what no client sends on purpose:
pipelined requests, answers left unread, hostile bytes. Encoded by kio."""

from __future__ import annotations

import datetime
import io
import socket
import struct

from cluster_client import call


def kafka_socket(c, node=1) -> socket.socket:
    conf = c.config.node(node)
    return socket.create_connection((conf.host, conf.kafka_port), timeout=10)


def recv_frame(s: socket.socket) -> bytes:
    size = struct.unpack(">i", recv_exactly(s, 4))[0]
    return recv_exactly(s, size)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return out


def closed_by_broker(s: socket.socket) -> bool:
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True


def produce_frame(topic: str, partition: int, batch: bytes, correlation_id: int) -> bytes:
    """A Produce v9 request (acks=all) as a client puts it on the wire, encoded by kio."""
    from kio.schema.produce.v9.request import PartitionProduceData, ProduceRequest, RequestHeader, TopicProduceData
    from kio.serial import entity_writer
    buf = io.BytesIO()
    entity_writer(RequestHeader)(buf, RequestHeader(request_api_key=0, request_api_version=9,
                                                    correlation_id=correlation_id, client_id="test"))
    entity_writer(ProduceRequest)(buf, ProduceRequest(transactional_id=None, acks=-1, timeout=datetime.timedelta(seconds=5), topic_data=(
        TopicProduceData(name=topic, partition_data=(PartitionProduceData(index=partition, records=batch),)),)))
    return struct.pack(">i", buf.tell()) + buf.getvalue()


def produce_error_code(frame: bytes) -> int:
    from kio.schema.produce.v9.response import ProduceResponse
    from kio.serial import entity_reader
    answer, _ = entity_reader(ProduceResponse)(frame, 5)  # correlation id, then the empty tag buffer
    return int(answer.responses[0].partition_responses[0].error_code.value)


def leader_of(c, topic: str, partition: int) -> int:
    status, body = call("GET", f"{c.url(1)}/topics/{topic}/partitions/{partition}")
    assert status == 200, body
    return body["leader"]


def fetch_frame(topic: str, partition: int, correlation_id: int, max_bytes: int, offset: int = 0) -> bytes:
    """A Fetch v11 request from `offset`, encoded by kio."""
    from kio.schema.fetch.v11.request import FetchPartition, FetchRequest, FetchTopic, RequestHeader
    from kio.serial import entity_writer
    buf = io.BytesIO()
    entity_writer(RequestHeader)(buf, RequestHeader(request_api_key=1, request_api_version=11,
                                                    correlation_id=correlation_id, client_id="stalled"))
    entity_writer(FetchRequest)(buf, FetchRequest(
        replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=max_bytes, isolation_level=0,
        session_id=0, session_epoch=-1, rack_id="", forgotten_topics_data=(), topics=(FetchTopic(
            topic=topic, partitions=(FetchPartition(partition=partition, current_leader_epoch=-1, fetch_offset=offset,
                                                    log_start_offset=-1, partition_max_bytes=max_bytes),)),)))
    return struct.pack(">i", buf.tell()) + buf.getvalue()


def entity_frame(request, correlation_id: int = 1, client_id: str = "wire") -> bytes:
    """A kio request entity framed with its header (the version is the entity's own)."""
    from kio.serial import entity_writer
    header_cls = type(request).__header_schema__
    buf = io.BytesIO()
    entity_writer(header_cls)(buf, header_cls(request_api_key=int(request.__api_key__),
                                              request_api_version=int(request.__version__),
                                              correlation_id=correlation_id, client_id=client_id))
    entity_writer(type(request))(buf, request)
    return struct.pack(">i", buf.tell()) + buf.getvalue()


def wire_call(s: socket.socket, request, correlation_id: int = 1):
    """One kio request entity sent, its answer read back and decoded (the version is the
    entity's own)."""
    from kio.serial import entity_reader

    from kraft.kafka.wire.codec import response_class
    s.sendall(entity_frame(request, correlation_id))
    frame = recv_frame(s)
    cls = response_class(int(request.__api_key__), int(request.__version__))
    _, used = entity_reader(cls.__header_schema__)(frame, 0)
    answer, _ = entity_reader(cls)(frame, used)
    return answer


def sasl_plain(s: socket.socket, user: str, password: str) -> None:
    """SaslHandshake v1 + SaslAuthenticate v2 with PLAIN: the connection may then send anything."""
    from kio.schema.sasl_authenticate.v2.request import SaslAuthenticateRequest
    from kio.schema.sasl_handshake.v1.request import SaslHandshakeRequest
    assert int(wire_call(s, SaslHandshakeRequest(mechanism="PLAIN")).error_code.value) == 0
    answer = wire_call(s, SaslAuthenticateRequest(auth_bytes=b"\0" + user.encode() + b"\0" + password.encode()), 2)
    assert int(answer.error_code.value) == 0, answer


def request_frame(api_key: int, version: int, correlation_id: int, **fields) -> bytes:
    """Any request kio knows, framed with its header."""
    from kio.index import load_request_schema
    return entity_frame(load_request_schema(api_key, version)(**fields), correlation_id, "test")


def read_answer(api_key: int, version: int, frame: bytes):
    """The response entity of a frame from recv_frame."""
    from kio.index import load_response_schema
    from kio.serial import entity_reader
    cls = load_response_schema(api_key, version)
    _, used = entity_reader(cls.__header_schema__)(frame, 0)
    return entity_reader(cls)(frame, used)[0]


# fields whose zero would ask for something else than "nothing in particular"
_MINIMAL_INTS = {"replica_id": -1, "producer_id": -1, "producer_epoch": -1, "generation_id": -1,
                 "current_leader_epoch": -1, "log_start_offset": -1, "session_epoch": -1, "acks": -1,
                 "voter_id": -1, "endpoint_type": 1}


def minimal_request(api_key: int, version: int, **fields):
    """A request of any API and version kio knows, with every field not given at its
    emptiest: no topics, groups or partitions, empty or null strings, -1 for ids and
    epochs, zero durations."""
    from kio.index import load_request_schema
    return _minimal(load_request_schema(api_key, version), fields)


def _minimal(cls, given: dict):
    import dataclasses
    import uuid

    from kio.serial._introspect import EntityField, EntityTupleField, PrimitiveTupleField, classify_field, is_optional
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in given:
            kwargs[f.name] = given[f.name]
            continue
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        kind, kafka_type = classify_field(f), f.metadata.get("kafka_type", "")
        if isinstance(kind, (EntityTupleField, PrimitiveTupleField)):
            kwargs[f.name] = ()
        elif isinstance(kind, EntityField):
            kwargs[f.name] = _minimal(kind.type_, {})
        elif is_optional(f):
            kwargs[f.name] = None
        elif kafka_type.startswith("timedelta_"):
            kwargs[f.name] = datetime.timedelta(0)
        elif kafka_type == "string":
            kwargs[f.name] = ""
        elif kafka_type in ("bytes", "records"):
            kwargs[f.name] = b""
        elif kafka_type == "uuid":
            kwargs[f.name] = uuid.UUID(int=0)
        elif kafka_type == "bool":
            kwargs[f.name] = False
        elif kafka_type == "float64":
            kwargs[f.name] = 0.0
        else:
            kwargs[f.name] = _MINIMAL_INTS.get(f.name, 0)
    return cls(**kwargs)
