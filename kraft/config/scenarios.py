"""A failure-lab scenario file (TOML): cluster shape, topic, workload, fault schedule,
expectations.

The built-in library is such files, shipped in kraft/scenario/builtin/. A user writes their
own the same way and runs it with `kraft scenario run path/to/file.toml`. The model sits
with the other file formats, below the node: the node's lab routes (kraft/api/console/)
list the library, the lab itself (kraft/scenario/) runs it.
"""

from __future__ import annotations

import importlib.resources
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# the abuse of the hostile scenario (hostile_abuse.py), each a fault kind on the timeline
HOSTILE_KINDS = ("hostile-frames", "hostile-fetch-below-start", "hostile-huge-batch", "hostile-idle-connections",
                 "hostile-slow-frames", "hostile-wrong-passwords", "hostile-internal-topic",
                 "hostile-share-acks", "hostile-redos", "hostile-transitive", "hostile-wide-read",
                 "hostile-broker-apis", "hostile-share-hijack")

CHECK_NAMES = ("lost_writes", "duplicates", "inconsistent_offsets", "replica_divergence", "order",
               "aborted_reads", "monotonic", "unclean_accounting", "liveness", "access",
               "group_offsets", "group_delivery", "compaction",
               "served", "nodes_alive", "unfenced", "hostile_answers")  # the last four: check_hostile.py
FAULT_KINDS = ("kill", "stop", "pause", "restart", "rolling-restart", "wipe", "corrupt", "disk-full", "disk-free", "power-cut",
               "isolate", "isolate-with-clients", "partition", "one_way", "ring", "lossy", "slow", "netem", "random",
               "add-broker", "decommission", "rebalance",  # these three: membership_faults.py
               *HOSTILE_KINDS)
UNDO_KINDS = ("start", "resume", "heal", "end-abuse")  # timeline events that end a fault
# Jepsen's anomalies, in report order (kraft/scenario/jepsen/checks.py defines and checks them)
ANOMALY_NAMES = ("lost-write", "duplicate", "inconsistent-offsets", "G1a", "precommitted-read",
                 "nonmonotonic-send", "int-nonmonotonic-send", "int-send-skip", "nonmonotonic-poll",
                 "int-nonmonotonic-poll", "poll-skip", "int-poll-skip", "G0", "G1c", "G-single")
# the share workload's anomalies (kraft/scenario/share/checks.py defines and checks them)
SHARE_ANOMALY_NAMES = ("lost", "accepted-twice", "redelivered-after-accept", "over-limit", "bad-dead-letter",
                       "dead-letter-missing")
Verdict = Literal["pass", "fail", "any"]
AnomalyExpectation = Literal["none", "found", "any"]  # a Jepsen anomaly: absent, found, unjudged


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClusterShape(_Model):
    nodes: int = Field(default=3, ge=1, le=9)
    controllers: int | None = Field(default=None, ge=1, le=9)
    timeouts: dict[str, int] = Field(default_factory=dict)
    storage: dict[str, float] = Field(default_factory=dict)  # [storage] of cluster.toml (the scrubber)
    partitions_fs_mb: int | None = Field(default=None, ge=16, le=4096)  # small disks for disk-full (root)
    security: bool = False  # users and ACLs on; an intruder probes every node (lab_security)
    # broker-only nodes in the file but not started at first: an add-broker event starts one
    spare_brokers: int = Field(default=0, ge=0, le=4)
    # more partitions the cluster hosts beside the workload's topic (topics of 100, RF 3,
    # idle): recovery at the partition counts of a real deployment
    ballast_partitions: int = Field(default=0, ge=0, le=30_000)
    # [[hosts]] entries instead of nodes: `hosts` machines of `processes_per_host` broker
    # processes each, a host's processes on one address, the first a controller
    # (`controllers`: only the first hosts'); the host is the failure domain
    hosts: int = Field(default=0, ge=0, le=9)
    processes_per_host: int = Field(default=1, ge=1, le=8)

    @model_validator(mode="after")
    def _hosts(self):
        if not self.hosts:
            if self.processes_per_host != 1:
                raise ValueError("processes_per_host needs hosts (the number of [[hosts]] entries)")
            return self
        if "nodes" in self.model_fields_set:
            raise ValueError("give nodes or hosts, not both: a host's processes are its nodes")
        if self.spare_brokers:
            raise ValueError("spare_brokers are [[nodes]] entries: not with hosts")
        if self.controllers is not None and self.controllers > self.hosts:
            raise ValueError(f"controllers: at most one per host, and there are {self.hosts} hosts")
        return self

    @property
    def node_count(self) -> int:
        """The node processes the cluster starts with (spare brokers aside)."""
        return self.hosts * self.processes_per_host if self.hosts else self.nodes


class TopicSpec(_Model):
    name: str = "t"
    partitions: int = Field(default=1, ge=1, le=64)
    replication_factor: int = Field(default=3, ge=1, le=9)
    configs: dict[str, str | int | bool] = Field(default_factory=dict)


class Workload(_Model):
    producers: int = Field(default=2, ge=0, le=32)
    consumers: bool = True
    acks: Literal["0", "1", "all"] = "all"
    rate: float = Field(default=40.0, gt=0, le=5000)  # writes per second, all producers together
    duration: float = Field(default=25.0, gt=0, le=3600)  # seconds with faults
    recovery: float = Field(default=8.0, ge=1, le=600)  # seconds of writes after healing
    timeout_ms: int = Field(default=3000, ge=100, le=60000)
    admin_rate: float = Field(default=0.0, ge=0, le=50)  # topic creations per second (metadata writes)
    client: Literal["rest", "kafka"] = "rest"  # kafka: confluent-kafka producers on the Kafka listeners
    group_members: int = Field(default=0, ge=0, le=8)  # confluent-kafka consumers in one group: poll, commit
    compacted_keys: int = Field(default=0, ge=0, le=10_000)  # >0: keyed writes to a compacted topic too
    compacted_rate: float = Field(default=50.0, gt=0, le=2000)  # its writes per second
    # Jepsen's Kafka workloads (jepsen_workload.py): client processes doing ops instead
    # of the producers and consumers above; the history goes to <scenario>.history.jsonl
    jepsen: Literal["queue", "txn", "share"] | None = None
    clients: int = Field(default=12, ge=1, le=64)  # client processes at a time
    poll_share: float = Field(default=0.5, ge=0, le=1)  # queue: polls among sends and polls
    poll_ms: int = Field(default=20, ge=1, le=10_000)  # a poll waits this long for a first record
    poll_max: int = Field(default=500, ge=1, le=100_000)  # records per poll, at most
    reassign_share: float = Field(default=0.01, ge=0, le=1)  # ops that assign or subscribe
    crash_share: float = Field(default=0.0005, ge=0, le=1)  # ops that kill the client process
    # what the Jepsen clients' consumers see: read_uncommitted shows aborted transactions' records
    isolation: Literal["read_committed", "read_uncommitted"] = "read_committed"
    abort_share: float = Field(default=0.0, ge=0, le=1)  # txn: transactions the client aborts on purpose
    # where an assigned key's reading starts: right after this process's last read (as
    # Kafka's consumer keeps a position), or always the group's committed offset
    assign_resume: Literal["last-read", "committed"] = "last-read"
    # share (share_workload.py): `producers` send, `clients` share consumers acknowledge each
    # record, releasing or rejecting these shares of them (the rest accepted); crash_share is
    # the share of polls with records after which the consumer is killed holding them
    release_share: float = Field(default=0.1, ge=0, le=1)
    reject_share: float = Field(default=0.05, ge=0, le=1)
    share_lock_ms: int = Field(default=3000, ge=1000, le=60_000)  # the group's share.record.lock.duration.ms
    share_delivery_limit: int = Field(default=5, ge=2, le=10)  # its share.delivery.count.limit
    share_dead_letters: bool = True  # a dead-letter topic for the group (off: a negative control's)

    @model_validator(mode="after")
    def _check(self):
        if self.jepsen in ("txn", "share") and self.acks != "all":
            raise ValueError(f"the {self.jepsen} workload's idempotent producers need acks = \"all\"")
        if self.release_share + self.reject_share > 1:
            raise ValueError("release_share + reject_share is more than every record")
        return self

    @property
    def needs_kafka_client(self) -> bool:
        return (self.client == "kafka" or self.group_members > 0 or self.compacted_keys > 0
                or self.jepsen is not None)


class FaultSpec(_Model):
    fault: str
    target: str = "random"
    at: float | None = Field(default=None, ge=0)  # seconds after the workload starts
    every: tuple[float, float] | None = None  # (min, max) seconds between repeats
    duration: float | None = Field(default=None, gt=0)  # undo after this long (else at heal)
    choices: tuple[str, ...] = ()  # for fault = "random"
    params: dict[str, float | str] = Field(default_factory=dict)
    # A power cut of one node is skipped until every node cut earlier has registered again
    # and is back in every ISR: with min.insync.replicas 2 of 3 the design survives one
    # replica losing its unsynced tail at a time (KIP-966), not overlapping losses
    # (power-cut-all shows those).
    one_unsynced_loss_at_a_time: bool = False

    @model_validator(mode="after")
    def _check(self):
        if self.fault not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.fault!r}; known: {', '.join(FAULT_KINDS)}")
        if (self.at is None) == (self.every is None):
            raise ValueError("give exactly one of 'at' or 'every'")
        if self.fault == "random" and not self.choices:
            raise ValueError("fault = 'random' needs 'choices'")
        return self


class Expectations(_Model):
    checks: dict[str, Verdict] = Field(default_factory=dict)  # default "pass" for each
    errors_seen: tuple[str, ...] = ()  # some write failed with each of these texts
    unclean_elections: Literal["none", "some", "any"] = "none"
    offline_seen: bool | None = None  # some sample showed the partition without leader
    max_unavailability_s: float | None = None  # longest gap between ok writes
    max_recovery_s: float = 15.0  # liveness bound after healing
    # Raft elections over the run (the controller epoch's rise, first sample to last)
    max_elections: int | None = Field(default=None, ge=0)
    # under abuse: the longest stretch without a successful workload operation (check_hostile)
    max_service_gap_s: float | None = Field(default=None, gt=0)
    # Jepsen's anomalies (a Jepsen workload): default "none" for each
    anomalies: dict[str, AnomalyExpectation] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self):
        unknown = set(self.checks) - set(CHECK_NAMES)
        if unknown:
            raise ValueError(f"unknown checks {sorted(unknown)}; known: {', '.join(CHECK_NAMES)}")
        known = ANOMALY_NAMES + SHARE_ANOMALY_NAMES
        unknown = set(self.anomalies) - set(known)
        if unknown:
            raise ValueError(f"unknown anomalies {sorted(unknown)}; known: {', '.join(known)}")
        return self

    def verdict(self, check: str) -> str:
        return self.checks.get(check, "pass")

    def anomaly(self, name: str) -> str:
        return self.anomalies.get(name, "none")


class Scenario(_Model):
    name: str
    description: str = ""
    cluster: ClusterShape = ClusterShape()
    topic: TopicSpec = TopicSpec()
    workload: Workload = Workload()
    faults: tuple[FaultSpec, ...] = ()
    expect: Expectations = Expectations()

    @model_validator(mode="after")
    def _clients_on_sides(self):
        if self.workload.jepsen is None and self.needs_client_sides:
            raise ValueError("fault 'isolate-with-clients' needs a Jepsen workload ([workload] jepsen): "
                             "its client processes are what go with the node")
        return self

    @property
    def needs_client_sides(self) -> bool:
        return any(f.fault == "isolate-with-clients" or "isolate-with-clients" in f.choices for f in self.faults)

    @property
    def has_abuse(self) -> bool:
        return any(f.fault in HOSTILE_KINDS for f in self.faults)

    @property
    def needs_netem(self) -> bool:
        return any(f.fault == "netem" or "netem" in f.choices for f in self.faults)

    @property
    def needs_power_cuts(self) -> bool:
        return any(f.fault == "power-cut" or "power-cut" in f.choices for f in self.faults)

    @property
    def needs_network(self) -> bool:
        net = {"isolate", "isolate-with-clients", "partition", "one_way", "ring", "lossy", "slow", "netem"}
        return any(f.fault in net or net & set(f.choices) for f in self.faults)


class ScenarioError(Exception):
    pass


def load_scenario_text(text: str, origin: str) -> Scenario:
    try:
        return Scenario.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: invalid TOML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ScenarioError(f"{origin}: {where}: {first['msg']}") from None


def builtin_names() -> list[str]:
    root = importlib.resources.files("kraft.scenario") / "builtin"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def load_scenario(name_or_path: str) -> Scenario:
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        return load_scenario_text(path.read_text(), str(path))
    res = importlib.resources.files("kraft.scenario") / "builtin" / f"{name_or_path}.toml"
    if not res.is_file():
        raise ScenarioError(f"no scenario named {name_or_path!r}; `kraft scenario list` shows "
                            "the library, or give a path to a .toml file")
    return load_scenario_text(res.read_text(), f"{name_or_path} (built-in)")
