"""The bundled producer client (sync): idempotent by default, so retries never duplicate.

Like Kafka's producer with enable.idempotence: it gets a producer id from the cluster
(POST /v3/clusters/{cid}/producers), picks each record's partition itself (murmur2 of
the key as the server would; keyless records stick to one partition per send call,
round-robin between calls), keeps a sequence number per partition, and sends each
partition's records as one v2 request carrying producer_id, producer_epoch, sequence.
A retriable answer (50003), a timeout or a lost connection is retried, on the next
bootstrap node, with the SAME sequence: the partition leader answers a batch it already
has with its original offsets instead of writing it again.

When it gives up on a batch whose outcome is unknown it takes a fresh producer id, so
the next batch can never be mistaken for that one. Without idempotence only requests
that certainly never arrived (connection refused) are retried.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import orjson

from kraft.client.admin_client import AdminError, basic_auth_header, credentials_hint, tls_context
from kraft.errors import ERROR_CLASS_HEADER
from kraft.broker.partitioner import RoundRobin, partition_for_key

V2_JSON = "application/vnd.kafka.json.v2+json"
RETRIABLE = {50003, 50301}
TOPIC_NOT_FOUND, TOPIC_EXISTS = 40401, 40002
SEQUENCE_MODULUS = 2**31


class ProduceError(AdminError):
    """One line for stderr: the server's message and code, or why retries ran out."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class ProducerClient:
    def __init__(self, bootstrap: list[str], *, acks: str = "all", timeout_ms: int = 30_000,
                 idempotent: bool = True, attempts: int = 10, backoff_s: float = 0.25,
                 auth: tuple[str, str] | None = None, ca_file=None):
        """auth: (user, password) for HTTP Basic; ca_file: checks https nodes (KRAFT_CA
        when None)."""
        self.bootstrap = [u.rstrip("/") for u in bootstrap]
        self.auth = auth
        self._authorization = basic_auth_header(*auth) if auth else None
        self._tls = tls_context(ca_file)
        self.acks, self.timeout_ms = acks, timeout_ms
        self.idempotent = idempotent
        self.attempts, self.backoff_s = max(1, attempts), backoff_s
        self.producer: tuple[int, int] | None = None  # (producer_id, producer_epoch)
        self.retries = 0  # requests sent again (diagnostics)
        self._node = 0  # index of the bootstrap node asked first
        self._sequences: dict[tuple[str, int], int] = {}
        self._partition_counts: dict[str, int] = {}
        self._round_robin = RoundRobin()
        self._cluster_id: str | None = None

    # -- what callers use ---------------------------------------------------------------------
    def send(self, topic: str, records: list[dict], partition: int | None = None) -> list[tuple[int, int]]:
        """records: v2 JSON records {"key"?, "value", "headers"?, "timestamp"?}. Returns
        (partition, offset) per record, in order (offset -1 with acks=0)."""
        chosen = self._choose(topic, records, partition)
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(chosen):
            groups.setdefault(p, []).append(i)
        out: list = [None] * len(records)
        for p, indexes in groups.items():
            batch = [{k: v for k, v in records[i].items() if k != "partition"} for i in indexes]
            first = self._send_partition(topic, p, batch)
            for n, i in enumerate(indexes):
                out[i] = (p, -1 if first < 0 else first + n)
        return out

    # -- partitions ---------------------------------------------------------------------------
    def _choose(self, topic: str, records: list[dict], partition: int | None) -> list[int]:
        if partition is not None:
            return [partition] * len(records)
        count = self._partition_count(topic)
        sticky = None
        out = []
        for record in records:
            key = record.get("key")
            if key is not None:  # the bytes the server stores for a v2 JSON key
                out.append(partition_for_key(orjson.dumps(key), count))
            else:
                sticky = self._round_robin.next(count) if sticky is None else sticky
                out.append(sticky)
        return out

    def _partition_count(self, topic: str) -> int:
        if topic not in self._partition_counts:
            topic_path = f"/v3/clusters/{self._cluster()}/topics/{urllib.parse.quote(topic, safe='')}"
            try:
                body = self._call("GET", topic_path)
            except ProduceError as exc:
                if exc.code != TOPIC_NOT_FOUND or not self._create_missing(topic):
                    raise
                body = self._call("GET", topic_path)
            self._partition_counts[topic] = body["partitions_count"]
        return self._partition_counts[topic]

    def _create_missing(self, topic: str) -> bool:
        """A Kafka producer's metadata request creates a missing topic when the cluster has
        auto.create.topics.enable; this client picks partitions itself, so it asks for the
        setting and creates the topic with the cluster's defaults. False: left missing."""
        cluster = f"/v3/clusters/{self._cluster()}"
        broker = self._call("GET", f"{cluster}/brokers")["data"][0]["broker_id"]
        setting = self._call("GET", f"{cluster}/brokers/{broker}/configs/auto.create.topics.enable")
        if setting["value"] != "true":
            return False
        try:
            self._call("POST", f"{cluster}/topics", {"topic_name": topic})
        except ProduceError as exc:
            if exc.code != TOPIC_EXISTS:  # another producer created it first: fine
                raise
        return True

    # -- producing ----------------------------------------------------------------------------
    def _send_partition(self, topic: str, partition: int, records: list[dict]) -> int:
        path = f"/topics/{urllib.parse.quote(topic, safe='')}/partitions/{partition}"
        problem = "no attempt made"
        for attempt in range(self.attempts):
            query = {"acks": self.acks, "timeout_ms": self.timeout_ms}
            if self.idempotent:
                pid, epoch = self._producer()
                query.update(producer_id=pid, producer_epoch=epoch,
                             sequence=self._sequences.get((topic, partition), 0))
            try:
                status, body = self._request("POST", f"{path}?{urllib.parse.urlencode(query)}",
                                             {"records": records}, V2_JSON)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                problem = f"{self.bootstrap[self._node]}: {getattr(exc, 'reason', exc)}"
                if not self.idempotent and not _never_sent(exc):
                    raise ProduceError(f"{problem}; outcome unknown (idempotence is off, so "
                                       "not retried)") from None
            else:
                code, message, first = _outcome(status, body)
                error_class = _error_class(body)
                if code is None:
                    if self.idempotent:
                        key = (topic, partition)
                        self._sequences[key] = (self._sequences.get(key, 0) + len(records)) \
                            % SEQUENCE_MODULUS
                    return first
                problem = f"{message} (error_code {code}){credentials_hint(status, self.auth)}"
                if self.idempotent and attempt == 0 and error_class == "UnknownProducerId":
                    self._new_producer()  # the partition forgot us; this batch was never sent before
                    continue
                if code not in RETRIABLE or not self.idempotent:
                    raise ProduceError(problem)
            self.retries += 1
            self._node = (self._node + 1) % len(self.bootstrap)
            time.sleep(self.backoff_s)
        if self.idempotent:
            self._new_producer()  # the lost batch's sequence must never be reused
        raise ProduceError(f"gave up after {self.attempts} attempts, outcome unknown: {problem}")

    def _producer(self) -> tuple[int, int]:
        if self.producer is None:
            body = self._call("POST", f"/v3/clusters/{self._cluster()}/producers", {})
            self.producer = (body["producer_id"], body["producer_epoch"])
        return self.producer

    def _new_producer(self) -> None:
        self.producer = None
        self._sequences.clear()

    def _cluster(self) -> str:
        if self._cluster_id is None:
            self._cluster_id = self._call("GET", "/v3/clusters")["data"][0]["cluster_id"]
        return self._cluster_id

    # -- HTTP ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body=None) -> dict:
        """A request that is safe to repeat: retried on any node while retriable."""
        problem = ""
        for _ in range(self.attempts):
            try:
                status, answer = self._request(method, path, body)
            except (OSError, ValueError, http.client.HTTPException) as exc:
                problem = f"{self.bootstrap[self._node]}: {getattr(exc, 'reason', exc)}"
            else:
                if status < 300:
                    return answer
                code, message, _ = _outcome(status, answer)
                problem = f"{message} (error_code {code}){credentials_hint(status, self.auth)}"
                if code not in RETRIABLE:
                    raise ProduceError(problem, code)
            self._node = (self._node + 1) % len(self.bootstrap)
            time.sleep(self.backoff_s)
        raise ProduceError(f"no node answered: {problem}")

    def _request(self, method: str, path: str, body=None, content_type="application/json"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.bootstrap[self._node] + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header(ERROR_CLASS_HEADER, "1")
        if self._authorization:
            req.add_header("Authorization", self._authorization)
        timeout = self.timeout_ms / 1000 + 10  # the server answers 50003 at timeout_ms
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self._tls) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, {"error_code": exc.code, "message": f"HTTP {exc.code}"}


def _error_class(body) -> str | None:
    """The class name a v2 answer gives for its (first) failed record, or for the request."""
    if isinstance(body, dict):
        for slot in body.get("offsets") or []:
            if isinstance(slot, dict) and slot.get("error_class"):
                return slot["error_class"]
        return body.get("error_class")
    return None


def _outcome(status: int, body) -> tuple[int | None, str, int]:
    """(error code or None, message, first offset) of a v2 produce answer or an error."""
    if status == 200 and isinstance(body, dict) and "offsets" in body:
        failed = [o for o in body["offsets"] if o.get("error_code") is not None]
        if not failed:
            return None, "", body["offsets"][0]["offset"]
        return failed[0]["error_code"], failed[0].get("error") or "", -1
    if isinstance(body, dict):
        return body.get("error_code", status), body.get("message", ""), -1
    return status, f"HTTP {status}", -1


def _never_sent(exc: Exception) -> bool:
    return isinstance(getattr(exc, "reason", exc), ConnectionRefusedError)
