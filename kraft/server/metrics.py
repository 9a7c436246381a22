"""Prometheus metrics with Kafka-like names, one registry per node.

Gauges are computed from the metadata image at scrape time (no bookkeeping on hot
paths); request latency is a histogram fed by an aiohttp middleware. The per-host gauges
(kraft_host_*) take one more walk over the partitions per scrape, as the partition counts
do; the process's own CPU and memory are prometheus_client's process_* series.
"""

from __future__ import annotations

import time
from typing import Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from kraft.broker.data_plane import DataPlane
from kraft.config.cluster import ClusterConfig
from kraft.errors import KraftError
from kraft.metadata import host_summary
from kraft.metadata.image import MetadataImage, host_key
from kraft.metadata.partition_tallies import TALLIES
from kraft.kafka.connection.listener import KafkaListener
from kraft.replication.replica_manager import ReplicaManager
from kraft.broker.iceberg_tables import IcebergTables
from kraft.share.share_broker import ShareBroker
from kraft.storage import descriptors


class MetricsSource(Protocol):
    """What the gauges read of the node (node.py, which builds the metrics)."""

    @property
    def node_id(self) -> int: ...
    @property
    def config(self) -> ClusterConfig: ...
    @property
    def image(self) -> MetadataImage: ...
    @property
    def data_plane(self) -> DataPlane | None: ...  # None until the node runs
    @property
    def replica_manager(self) -> ReplicaManager | None: ...  # None on a controller-only node

    def is_active_controller(self) -> bool: ...
    def raft_term(self) -> int | None: ...


class _ImageCollector:
    def __init__(self, node: MetricsSource):
        self._node = node

    def collect(self):
        node = self._node
        image = node.image
        tally = TALLIES.of(image)
        fenced = sum(1 for b in image.brokers.values() if b.fenced)
        yield _gauge("kafka_controller_kafkacontroller_activecontrollercount",
                     "1 on the active controller", 1 if node.is_active_controller() else 0)
        yield _gauge("kafka_controller_kafkacontroller_offlinepartitionscount",
                     "partitions without a leader", tally.offline)
        yield _gauge("kafka_server_replicamanager_underreplicatedpartitions",
                     "partitions whose ISR is smaller than the replica set", tally.under_replicated)
        yield _gauge("kafka_controller_kafkacontroller_fencedbrokercount",
                     "registered brokers currently fenced", fenced)
        yield _gauge("kafka_controller_kafkacontroller_globalpartitioncount",
                     "partitions in the cluster", tally.partitions)
        yield _gauge("kafka_controller_kafkacontroller_globaltopiccount",
                     "topics in the cluster", len(image.topics))
        yield _gauge("kraft_metadata_offset", "last applied metadata offset", image.offset)
        yield _gauge("kraft_controller_epoch", "controller epoch (Raft term of the controller)",
                     image.controller_epoch)
        unclean = CounterMetricFamily(
            "kafka_controller_controllerstats_uncleanleaderelections",
            "leader elections from outside the ISR")
        unclean.add_metric([], tally.unclean_elections)
        yield unclean
        plane = node.data_plane  # None until the node runs
        if plane is not None:
            lost = CounterMetricFamily(
                "kraft_produce_acks0_failed_writes",
                "acks=0 batches whose write failed after they were answered (they are lost)")
            lost.add_metric([], plane.unacked.failed)
            yield lost
            for name, doc, value in (
                    ("kafka_server_brokertopicmetrics_messagesin", "client records appended as leader",
                     plane.traffic.messages_in),
                    ("kafka_server_brokertopicmetrics_bytesin", "client record bytes appended as leader",
                     plane.traffic.bytes_in),
                    ("kafka_server_brokertopicmetrics_bytesout", "record bytes served to consumers "
                     "(REST reads, Kafka fetches; replication apart)", plane.traffic.bytes_out)):
                counter = CounterMetricFamily(name, doc)
                counter.add_metric([], value)
                yield counter
        replicas = node.replica_manager  # None on a controller-only node
        if replicas is not None:
            yield from _storage_metrics(replicas)
        term = node.raft_term()
        if term is not None:
            yield _gauge("kraft_raft_term", "current Raft term of this controller", term)
        yield from _host_metrics(node)


def _host_metrics(node: MetricsSource):
    """This node's host (to join its own series with the kraft_host_* ones), and every
    host's brokers, leaders, replicas and under-replicated partitions (counted on their
    leader's host); a broker outside any [[hosts]] entry is host "broker=<id>"."""
    image = node.image
    reg = image.brokers.get(node.node_id)
    configured = node.config.node_or_none(node.node_id)
    own = reg.host_name if reg is not None else configured.host_name if configured is not None else None
    info = GaugeMetricFamily("kraft_node_host_info", "1, labelled with this node's host", labels=["host"])
    info.add_metric([host_key(node.node_id, own)], 1)
    yield info
    rows = host_summary.broker_rows(host_summary.registered_hosts(image), host_summary.partition_counts(image), {})
    hosts = host_summary.host_rows(rows)
    for name, doc, value in (
            ("kraft_host_brokers", "registered brokers of the host", lambda h: len(h["brokers"])),
            ("kraft_host_fenced_brokers", "brokers of the host fenced now",
             lambda h: sum(1 for b in h["brokers"] if image.brokers[b].fenced)),
            ("kraft_host_leaders", "partitions led by a broker of the host", lambda h: h["leaders"]),
            ("kraft_host_replicas", "replicas the host's brokers hold", lambda h: h["replicas"]),
            ("kraft_host_under_replicated_partitions", "under-replicated partitions led by a broker of the host",
             lambda h: h["under_replicated"])):
        family = GaugeMetricFamily(name, doc, labels=["host"])
        for host in hosts:
            family.add_metric([host["host"]], value(host))
        yield family


def _storage_metrics(replicas):
    repairs, scrub = replicas.repairs, replicas.scrubber.progress
    hosted = replicas.hosted
    yield _gauge("kafka_server_replicamanager_partitioncount", "replicas this broker hosts", len(hosted))
    yield _gauge("kafka_server_replicamanager_leadercount", "replicas this broker leads",
                 sum(1 for r in hosted if r.leader is not None))
    isr = replicas.alter_partition
    for name, doc, value in (
            ("kraft_isr_change_requests", "AlterPartition requests this broker sent as a leader",
             isr.requests_sent),
            ("kraft_isr_changes_sent", "ISR changes in them (many per request: every one pending)",
             isr.changes_sent)):
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], value)
        yield counter
    yield _gauge("kafka_log_logmanager_offlinelogdirectorycount",
                 "1 while this broker's data dir takes no writes (e.g. disk full)", int(replicas.disk.failed))
    yield _gauge("kraft_storage_damaged_replicas", "replicas holding damaged data, under repair",
                 len(repairs.pending))
    yield _gauge("kraft_storage_damaged_replicas_without_healthy_copy",
                 "damaged replicas no other in-sync replica can repair", len(repairs.unrepairable))
    for name, doc, value in (
            ("kraft_storage_damaged_ranges_found", "damaged offset ranges found", repairs.found),
            ("kraft_storage_replica_repairs", "damaged replicas cut and refetched", repairs.repaired),
            ("kraft_storage_scrubber_bytes_checked", "bytes whose CRCs the scrubber checked",
             scrub.bytes_checked),
            ("kraft_storage_scrubber_segments_checked", "closed segments the scrubber walked",
             scrub.segments_checked),
            ("kraft_storage_scrubber_passes", "scrubber passes finished", scrub.passes),
            ("kraft_storage_scrubber_damaged_found", "damaged ranges the scrubber found",
             scrub.damaged_found)):
        counter = CounterMetricFamily(name, doc)
        counter.add_metric([], value)
        yield counter


class _ShareCollector:
    """KIP-1226's share-group lag and the records in flight by state, for each
    share-partition this node leads (where Kafka's share-partition metrics live too)."""

    def __init__(self, shares: ShareBroker, replicas: ReplicaManager):
        self._shares = shares
        self._replicas = replicas

    def collect(self):
        labels = ["group", "topic", "partition"]
        lag = GaugeMetricFamily("kraft_share_partition_lag", "records from the share-partition's start up to the "
                                "high watermark not yet acknowledged or archived (KIP-1226)", labels=labels)
        records = GaugeMetricFamily("kraft_share_partition_records", "records in flight in the share-partition, "
                                    "by state", labels=[*labels, "state"])
        for (group, topic, index), held in list(self._shares.partitions.items()):
            replica = self._replicas.replica(topic, index)
            if replica is None or not replica.is_leader or replica.leader_epoch != held.leader_epoch:
                continue  # led elsewhere now: that leader reports it
            try:
                _, high_watermark = replica.readable_range()
            except KraftError:
                continue
            where = [group, topic, str(index)]
            lag.add_metric(where, held.partition.lag(high_watermark))
            for state, count in held.partition.counts().items():
                records.add_metric([*where, state], count)
        yield lag
        yield records


class _IcebergCollector:
    """Iceberg topics' translation at this node, for each partition it leads (docs/ICEBERG.md)."""

    def __init__(self, iceberg: IcebergTables):
        self._iceberg = iceberg

    def collect(self):
        labels = ["topic", "partition"]
        translated = GaugeMetricFamily("kraft_iceberg_translated_offset", "the offset up to which the partition's "
                                       "records are rows of its topic's table", labels=labels)
        lag = GaugeMetricFamily("kraft_iceberg_translation_lag_records", "committed records (below the last stable "
                                "offset) not yet rows of the table, at the latest round", labels=labels)
        for (topic, partition), (done, stable) in list(self._iceberg.progress.items()):
            translated.add_metric([topic, str(partition)], done)
            lag.add_metric([topic, str(partition)], max(0, stable - done))
        yield translated
        yield lag


def _gauge(name, doc, value):
    g = GaugeMetricFamily(name, doc)
    g.add_metric([], value)
    return g


class NodeMetrics:
    def __init__(self, node: MetricsSource):
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_ImageCollector(node))
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes, ...
        self.request_latency = Histogram(
            "kafka_network_requestmetrics_totaltimems",
            "HTTP request latency in seconds, by route and method",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )

        # saturation: how late the event loop runs what is due, and how many Kafka requests
        # wait for their answer (read and not yet answered; the listener stops reading a
        # connection with 16 of them, so past the knee the backlog stays bounded here)
        self.event_loop_lag = Histogram(
            "kraft_event_loop_lag_seconds",
            "how much later than due the node's event loop woke a timer (sampled every 0.25 s)",
            registry=self.registry,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        # liveness: a broker whose heartbeats are this far apart for a whole session is fenced
        self.heartbeat_gap = Histogram(
            "kraft_broker_heartbeat_gap_seconds",
            "time between the sending of one heartbeat the controller accepted and the next",
            registry=self.registry,
            buckets=(0.5, 0.75, 1, 1.5, 2, 3, 4.5, 6, 9, 15, 30),
        )
        self.kafka_requests_in_flight = Gauge(
            "kraft_kafka_requests_in_flight", "Kafka requests from clients read and not yet answered, all connections",
            registry=self.registry)
        # the logs' open-file budget (storage/descriptors.py): files open, and closed for room
        self.log_descriptors = Gauge(
            "kraft_log_descriptors_open", "log and index files this node holds open, within its budget",
            registry=self.registry)
        self.log_descriptors.set_function(lambda: descriptors.BUDGET.held)
        self.log_descriptors_closed = Gauge(
            "kraft_log_descriptors_closed_for_room",
            "log and index files closed to stay within the open-file budget since start (opened again when used)",
            registry=self.registry)
        self.log_descriptors_closed.set_function(lambda: descriptors.BUDGET.closed_for_room)
        # the listener's limits (max.connections, per address): how full, and who gave way
        self.kafka_connections = Gauge(
            "kraft_kafka_connections", "client connections the Kafka listener holds, TLS handshakes included",
            registry=self.registry)
        self.kafka_connections_refused = Gauge(
            "kraft_kafka_connections_refused", "connections closed at once over a connection limit since start",
            registry=self.registry)
        self.kafka_connections_evicted = Gauge(
            "kraft_kafka_connections_evicted",
            "connections not served yet closed to let a newcomer into a full listener since start",
            registry=self.registry)
        # incremental fetch sessions (KIP-227), as Kafka's FetchSessionCache metrics count them
        self.kafka_fetch_sessions = Gauge(
            "kraft_kafka_fetch_sessions", "incremental fetch sessions this broker keeps", registry=self.registry)
        self.kafka_fetch_session_partitions = Gauge(
            "kraft_kafka_fetch_session_partitions", "partitions in this broker's incremental fetch sessions",
            registry=self.registry)
        self.kafka_fetch_session_evictions = Gauge(
            "kraft_kafka_fetch_session_evictions", "fetch sessions evicted to make room for new ones since start",
            registry=self.registry)

    def watch_kafka(self, listener: KafkaListener) -> None:
        """The Kafka listener's gauges: clients' requests in flight (other brokers' are left
        out: a follower's fetch always waits at its leader), and its fetch sessions."""
        self.kafka_requests_in_flight.set_function(lambda: listener.requests_in_flight)
        self.kafka_connections.set_function(lambda: listener.connections)
        self.kafka_connections_refused.set_function(lambda: listener.refused_connections)
        self.kafka_connections_evicted.set_function(lambda: listener.evicted_connections)
        sessions = listener.fetch_sessions
        self.kafka_fetch_sessions.set_function(lambda: len(sessions))
        self.kafka_fetch_session_partitions.set_function(sessions.cached_partitions)
        self.kafka_fetch_session_evictions.set_function(lambda: sessions.evictions)

    def watch_shares(self, shares: ShareBroker, replicas: ReplicaManager, iceberg: IcebergTables | None) -> None:
        """Share-partition and Iceberg translation gauges, once the broker's coordinators exist."""
        self.registry.register(_ShareCollector(shares, replicas))
        if iceberg is not None:
            self.registry.register(_IcebergCollector(iceberg))

    def middleware(self):
        histogram = self.request_latency

        @web.middleware
        async def measure(request, handler):
            start = time.perf_counter()
            response = None
            try:
                response = await handler(request)
                return response
            finally:
                if not isinstance(response, web.WebSocketResponse):  # a stream's life is no latency
                    route = request.match_info.route.resource
                    name = route.canonical if route is not None else "unmatched"
                    histogram.labels(name, request.method).observe(time.perf_counter() - start)

        return measure
