"""One scenario run: fresh cluster, workload, faults, heal, final read, checks.

Phases: start a cluster of real processes (own temp dir, 127.0.0.N per node), create
the topic, run the workload while the fault schedule plays, heal everything, keep
writing for the recovery period, read every partition to its end, stop the cluster
cleanly, read the replicas' logs from disk, run the checkers. The cluster and the
network rules are torn down whatever happens, Ctrl-C included.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import aiohttp

from kraft.server.local_cluster import LocalCluster, http_json
from kraft.scenario import compacted_writer, group_members, iceberg_table, lab_security
from kraft.scenario.hostile import abuse as hostile_abuse
from kraft.scenario.checks.liveness import recovered
from kraft.scenario.checks.checkers import checks_for
from kraft.scenario.faults.actions import FaultActions, fault_event, schedule
from kraft.scenario.history import OK, History
from kraft.scenario.jepsen.findings import JepsenReport
from kraft.scenario.jepsen.gen import Mix
from kraft.scenario.jepsen.workload import JepsenWorkload
from kraft.scenario.share.workload import share_workload
from kraft.scenario.owner_watch import owner_pid
from kraft.scenario.live_events import LiveFeed, emit_phase
from kraft.scenario.node_watch import NodeWatch
from kraft.server import lazy_disks, small_disks
from kraft.scenario.faults.network import NetworkFaults
from kraft.config.scenarios import UNDO_KINDS, Scenario
from kraft.scenario.verdict import Verdict, judge
from kraft.scenario.workload import V2, Workload
from kraft.storage.log_inspect import control_offsets, partition_dirs, producer_batches, read_records

FINAL_READ_BOUND_S = 60.0
TAIL_EMPTY_READS = 2  # empty answers below the end offset: only markers (or nothing) are left
GROUP_CATCH_UP_S = 30.0  # after the final read, for the group members to read to the end too


@dataclass
class RunOptions:
    duration: float | None = None
    rate: float | None = None
    seed: int = 0
    nodes: int | None = None
    progress: object = None  # callable(str) for the live line
    events: Callable[[dict], None] | None = None  # the live feed (live_events.py), e.g. the console's lab
    report_dir: Path | None = None  # a Jepsen workload's history goes here (else a temp dir)
    recovery: float | None = None  # seconds of writes after healing, instead of the scenario's


@dataclass
class RunResult:
    scenario: Scenario
    skipped: str | None = None
    history: History | None = None
    checks: list = field(default_factory=list)
    verdict: Verdict | None = None
    facts: dict = field(default_factory=dict)
    jepsen: JepsenReport | None = None  # a Jepsen workload's checks
    history_path: Path | None = None  # its history (JSON lines)

    @property
    def passed(self) -> bool:
        """Every expectation held. A skipped scenario proved nothing: not passed."""
        return self.skipped is None and self.verdict is not None and self.verdict.ok


def run_scenario(scenario: Scenario, opts: RunOptions) -> RunResult:
    net_hosts = None
    if scenario.needs_network:
        ok, reason = NetworkFaults({1: "127.0.0.2"}).available()
        if not ok:
            return RunResult(scenario, skipped=f"needs network faults: {reason}")
        net_hosts = True
    if scenario.needs_netem:
        ok, reason = NetworkFaults.netem_available()
        if not ok:
            return RunResult(scenario, skipped=f"needs netem: {reason}")
    if scenario.cluster.partitions_fs_mb is not None:
        ok, reason = small_disks.available()
        if not ok:
            return RunResult(scenario, skipped=f"needs small disks for disk-full: {reason}")
    if scenario.needs_power_cuts:
        ok, reason = lazy_disks.available()
        if not ok:
            return RunResult(scenario, skipped=f"needs the lazy filesystem for power cuts: {reason}")
    if (why := iceberg_table.cannot_check(scenario)) is not None:  # and a Kafka client's workload
        return RunResult(scenario, skipped=why)
    shape = scenario.cluster  # with hosts, their processes are the nodes (--nodes does not apply)
    nodes = shape.node_count if shape.hosts else opts.nodes or shape.nodes
    voters = shape.hosts or nodes  # at most one controller per host
    controllers = min(shape.controllers or voters, voters)
    restore = _interrupt_on_signals()
    cluster = network = None
    try:
        secured = shape.security
        cluster = LocalCluster(nodes + shape.spare_brokers, controllers, timeouts=shape.timeouts,
                               storage=shape.storage, partitions_fs_mb=shape.partitions_fs_mb,
                               lazy_fs=scenario.needs_power_cuts,
                               extra_toml=lab_security.CLUSTER_TOML if secured else "",
                               headers=lab_security.LAB if secured else None,
                               own_sessions=owner_pid() is None,  # a lab run's nodes die with its group
                               host_entries=shape.hosts, processes_per_host=shape.processes_per_host)
        network = NetworkFaults(cluster.hosts) if net_hosts else _NoNetwork()
        emit_phase(opts.events, "starting cluster")
        cluster.start(list(range(1, nodes + 1))).wait_ready(timeout_s=60)  # the spares join later
        return asyncio.run(_run(scenario, opts, cluster, network))
    finally:  # also on Ctrl-C / SIGTERM: no node and no rule outlives the run
        if network is not None:
            network.close()
        if cluster is not None:
            cluster.close()
        restore()


def _interrupt_on_signals():
    """SIGTERM (and SIGINT, even where a shell made it ignored) raise KeyboardInterrupt,
    so the run unwinds through its cleanup instead of dying with nodes still up."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    old = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    return lambda: [signal.signal(sig, handler) for sig, handler in old.items()]


BALLAST_PER_TOPIC = 100


async def _run(scenario: Scenario, opts: RunOptions, cluster, network) -> RunResult:
    topic = scenario.topic
    await _create_topic(cluster, topic.name, topic.partitions, topic.replication_factor, topic.configs, "scenario")
    ballast = scenario.cluster.ballast_partitions
    for i in range(0, ballast, BALLAST_PER_TOPIC):
        await _create_topic(cluster, f"ballast-{i // BALLAST_PER_TOPIC}", min(BALLAST_PER_TOPIC, ballast - i), 3, {},
                            "ballast")
    secured = scenario.cluster.security
    if secured:
        status, out = await asyncio.to_thread(http_json, "POST", cluster.v3(1) + "/acls:batch",
                                              {"data": lab_security.writer_acls(topic.name)}, cluster.headers)
        if status != 201:
            raise RuntimeError(f"could not grant the workload's ACLs: {status} {out}")
    await asyncio.to_thread(_wait_serving, cluster, topic.name, topic.partitions)
    await asyncio.to_thread(iceberg_table.wait_coordinator, cluster, topic.name, topic.configs)
    wl = scenario.workload
    if wl.compacted_keys:
        name = f"{topic.name}-compacted"
        await _create_topic(cluster, name, 1, 3, compacted_writer.TOPIC_CONFIGS, "compacted")
        await asyncio.to_thread(_wait_serving, cluster, name, 1)

    duration = opts.duration or wl.duration
    rate = opts.rate or wl.rate
    h = History(topic.name, topic.partitions)
    t0 = time.monotonic()
    now_s = lambda: time.monotonic() - t0  # noqa: E731
    jepsen = _jepsen_workload(scenario, opts, h, cluster.bootstrap_servers, t0)

    def record(kind: str, nodes: list[int], detail: str) -> None:
        h.faults.append(fault_event(now_s() * 1000, kind, nodes, detail))
        if jepsen is not None:  # in its history too, as the nemesis's lines
            jepsen.nemesis(now_s() * 1000, kind, nodes, detail)
    rng = random.Random(opts.seed)
    abuse = None
    if scenario.has_abuse:  # from an address of its own, so per-address limits spare the workload
        abuse = hostile_abuse.Abuse(hostile_abuse.Ctx(cluster, h, lambda: now_s() * 1000,
                                                      *hostile_abuse.source_addresses(cluster), secured, opts.seed))
    actions = FaultActions(cluster, network, rng, record, topic.name,
                           client_groups=jepsen.slot_groups() if jepsen is not None else None, abuse=abuse)
    # clients know the nodes the cluster started with, as their bootstrap lists do
    workload = Workload(h, {n: cluster.url(n) for n in cluster.procs}, cluster.cluster_id,
                        wl.acks, rate, wl.producers if jepsen is None else 0, wl.timeout_ms, t0, wl.admin_rate,
                        kafka_bootstrap=cluster.bootstrap_servers if wl.needs_kafka_client else None,
                        headers=lab_security.WRITER if secured else None, kafka_producers=wl.client == "kafka",
                        group_members=wl.group_members, compacted_keys=wl.compacted_keys,
                        compacted_rate=wl.compacted_rate, seed=opts.seed)
    plan = schedule(scenario.faults, duration, rng)
    try:
        await _run_phases(scenario, h, cluster, network, actions, workload, jepsen, plan, duration,
                          opts, now_s, record)
    finally:
        if abuse is not None:  # an abuse still running (the run failed early) ends here
            await abuse.close()
        if jepsen is not None:
            await jepsen.close()
    return await _finish(scenario, h, cluster, jepsen, opts.events)


def _jepsen_workload(scenario: Scenario, opts: RunOptions, h: History, bootstrap: str,
                     t0: float) -> JepsenWorkload | None:
    wl = scenario.workload
    if wl.jepsen is None:
        return None
    where = opts.report_dir or Path(tempfile.mkdtemp(prefix="kraft-jepsen-"))
    mix = Mix(poll_share=wl.poll_share, reassign_share=wl.reassign_share, crash_share=wl.crash_share,
              abort_share=wl.abort_share)
    if wl.jepsen == "share":
        return share_workload(wl, h, bootstrap, t0, opts.seed, where / f"{scenario.name}.history.jsonl", mix,
                              scenario.needs_client_sides)
    return JepsenWorkload(wl.jepsen, h, bootstrap, wl.clients, t0, opts.seed,
                          where / f"{scenario.name}.history.jsonl", timeout_ms=max(wl.timeout_ms, 10_000),
                          mix=mix, poll_max=wl.poll_max, poll_ms=wl.poll_ms, acks=wl.acks, isolation=wl.isolation,
                          assign_resume=wl.assign_resume,
                          client_groups=scenario.needs_client_sides)


async def _run_phases(scenario: Scenario, h: History, cluster, network, actions: FaultActions, workload: Workload,
                      jepsen: JepsenWorkload | None, plan, duration: float, opts: RunOptions, now_s,
                      record) -> None:
    """The workload under the fault schedule, healing, recovery, the final reads."""
    wl, secured = scenario.workload, scenario.cluster.security
    probes_stop = asyncio.Event()
    async with asyncio.TaskGroup() as tg:
        wl_task = tg.create_task(workload.run(wl.consumers and jepsen is None))
        if jepsen is not None:
            jepsen_task = tg.create_task(jepsen.run())
        if secured:
            probes = lab_security.IntruderProbes(h, {n: cluster.url(n) for n in cluster.hosts}, cluster.cluster_id,
                                                 cluster.running, lambda: now_s() * 1000, opts.seed)
            tg.create_task(probes.run(probes_stop))
        if scenario.has_abuse:
            tg.create_task(NodeWatch(cluster, h, lambda: now_s() * 1000).run(probes_stop))
        progress = tg.create_task(_progress(h, opts.progress, now_s, "faults", jepsen))
        live = tg.create_task(LiveFeed(h, opts.events).run(now_s))
        emit_phase(opts.events, "faults")
        try:
            for at, spec in plan:
                while now_s() < at:
                    await actions.undo_due(now_s())
                    await asyncio.sleep(min(0.1, max(0.0, at - now_s())))
                await actions.apply(spec, now_s())
            while now_s() < duration:
                await actions.undo_due(now_s())
                await asyncio.sleep(0.1)
        finally:
            await actions.undo_due(now_s(), everything=True)
            network.heal()
        h.heal_ms = now_s() * 1000
        record("heal", [], "all faults healed")
        emit_phase(opts.events, "recovery")
        await asyncio.to_thread(_wait_ready_quietly, cluster, 60)
        await asyncio.sleep(wl.recovery if opts.recovery is None else opts.recovery)
        await _until_recovered(scenario, h, now_s)
        await workload.writes_finished()  # the final read must see every acknowledged write
        if jepsen is not None:
            await jepsen.writes_finished()
        emit_phase(opts.events, "final read")
        await _final_read(h, cluster)
        if jepsen is not None:  # Jepsen's final polls: a client reads every key to the end
            await jepsen.final_polls(h.final_end_offsets, FINAL_READ_BOUND_S)
            await jepsen_task
        if wl.group_members:  # at least once: the members get to read to the end first
            deadline = time.monotonic() + GROUP_CATCH_UP_S
            while not workload.group_caught_up(h.final_end_offsets) and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        if wl.compacted_keys:
            await asyncio.to_thread(compacted_writer.read_all, cluster.bootstrap_servers, h)
        workload.stop_all.set()
        probes_stop.set()
        progress.cancel()
        live.cancel()
        await wl_task


async def _finish(scenario: Scenario, h: History, cluster, jepsen: JepsenWorkload | None,
                  events: Callable[[dict], None] | None = None) -> RunResult:
    """After the workload: the cluster's final state, a clean stop, the logs on disk, the checks."""
    topic, wl = scenario.topic, scenario.workload
    if wl.group_members:  # the members have left: what the coordinator kept
        h.group_final_committed = await asyncio.to_thread(group_members.final_committed, cluster.bootstrap_servers,
                                                          topic.name, topic.partitions)
    oks = [w.complete_ms for w in h.writes if w.outcome == OK and w.complete_ms is not None
           and h.heal_ms is not None and w.complete_ms >= h.heal_ms]
    h.first_ok_after_heal_ms = min(oks) if oks else None
    status, parts = await asyncio.to_thread(http_json, "GET",
                                            cluster.v3(_any_running(cluster)) + f"/topics/{topic.name}/partitions",
                                            None, cluster.headers)
    h.final_isr = {p["partition_id"]: p["isr"] for p in parts["data"]} if status == 200 else {}
    status, topics = await asyncio.to_thread(http_json, "GET", cluster.v3(_any_running(cluster)) + "/topics",
                                             None, cluster.headers)
    h.final_topics = [t["topic_name"] for t in topics["data"]] if status == 200 else []
    if h.topics_created:
        status, configs = await asyncio.to_thread(http_json, "GET", cluster.v3(_any_running(cluster))
                                                  + "/topics/-/configs", None, cluster.headers)
        h.final_retention_ms = {c["topic_name"]: c["value"] for c in configs["data"]
                                if c["name"] == "retention.ms"} if status == 200 else {}
    await iceberg_table.gather(h, cluster, topic, lambda: emit_phase(events, "iceberg table"))  # while nodes serve
    await asyncio.to_thread(cluster.stop_all)
    h.replica_logs = _replica_logs(cluster, topic.name, topic.partitions)
    h.producer_batches = _producer_batches(cluster, topic.name, topic.partitions)
    h.control_offsets = _control_offsets(cluster, topic.name, topic.partitions)
    _tail_of_markers(h)
    emit_phase(events, "checks")
    gap_s = scenario.expect.max_service_gap_s
    served_gap_ms = gap_s * 1000 if gap_s is not None else None
    checks = []
    for name, fn in checks_for(h):  # a topic's own check (iceberg) only where the topic asks for it
        result = fn(h, bound_ms=scenario.expect.max_recovery_s * 1000, served_gap_ms=served_gap_ms)
        checks.append(result)
        if events is not None:  # each checker's verdict as it comes
            events({"event": "check", "name": result.name, "ok": result.ok, "ran": result.ran,
                    "summary": result.summary})
    report = jepsen.check() if jepsen is not None else None
    verdict, facts = judge(scenario.expect, checks, h, report, jepsen.final_complete if jepsen else None)
    if jepsen is not None:
        facts.update(jepsen.facts())
    return RunResult(scenario, history=h, checks=checks, verdict=verdict, facts=facts, jepsen=report,
                     history_path=jepsen.history_path if jepsen else None)


async def _create_topic(cluster, name: str, partitions: int, replication_factor: int, configs: dict,
                        what: str) -> None:
    body = {"topic_name": name, "partitions_count": partitions, "replication_factor": replication_factor,
            "configs": [{"name": k, "value": _config_text(v)} for k, v in configs.items()]}
    status, out = await asyncio.to_thread(http_json, "POST", cluster.v3(1) + "/topics", body, cluster.headers)
    if status != 201:
        raise RuntimeError(f"could not create the {what} topic: {status} {out}")


def _config_text(v) -> str:
    return str(v).lower() if isinstance(v, bool) else str(v)


def _any_running(cluster) -> int:
    return next(n for n in cluster.hosts if cluster.running(n))


def _wait_serving(cluster, topic: str, partitions: int) -> None:
    def serving():
        n = _any_running(cluster)
        return all(http_json("GET", cluster.url(n) + f"/topics/{topic}/partitions/{p}/offsets",
                             timeout=2, headers=cluster.headers)[0] == 200 for p in range(partitions))
    cluster.wait_until(serving, 30, f"topic {topic} served")


async def _until_recovered(scenario: Scenario, h: History, now_s) -> None:
    """After the recovery period, writing goes on until a write after healing was
    acknowledged and every partition's ISR is whole (what liveness and the replica
    comparison look at), at most until the liveness bound after healing."""
    until_s = (h.heal_ms or 0) / 1000 + scenario.expect.max_recovery_s
    while now_s() < until_s and not recovered(h, scenario.topic.replication_factor):
        await asyncio.sleep(0.25)


def _wait_ready_quietly(cluster, timeout_s: float) -> None:
    try:
        cluster.wait_ready(timeout_s=timeout_s)
    except TimeoutError:
        pass  # liveness will say it


async def _final_read(h: History, cluster) -> None:
    """Every partition read over REST to the end offset it has now. Transaction markers
    are never shown, so a log ending in markers answers nothing from the last record on:
    after TAIL_EMPTY_READS empty answers there, each while the leader's high watermark
    was at or past the end (so nothing below it was still to come), the read stops, its
    place kept in h.final_read_tail, and _finish counts it complete when the disk shows
    only markers from there to the end."""
    deadline = time.monotonic() + FINAL_READ_BOUND_S
    urls = [cluster.url(n) for n in cluster.hosts if cluster.running(n)]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10), headers=cluster.headers) as session:
        for p in range(h.partitions):
            h.final_reads[p], h.final_read_complete[p] = [], False
            end, offset, turn, empty = None, 0, 0, 0
            while time.monotonic() < deadline:
                url = urls[turn % len(urls)]
                try:
                    if end is None:
                        end = await _end_offset(session, url, h.topic, p)
                        if end is None:
                            turn += 1
                            await asyncio.sleep(0.2)
                            continue
                        h.final_end_offsets[p] = end
                    if offset >= end:
                        h.final_read_complete[p] = True
                        break
                    async with session.get(f"{url}/topics/{h.topic}/partitions/{p}/records"
                                           f"?offset={offset}&timeout=1000",
                                           headers={"Accept": V2}) as r:
                        if r.status != 200:
                            turn += 1
                            await asyncio.sleep(0.2)
                            continue
                        records = [rec for rec in json.loads(await r.read()) if rec["offset"] < end]
                        for rec in records:
                            h.final_reads[p].append((rec["offset"], str(rec["value"])))
                            offset = rec["offset"] + 1
                    if records:
                        empty = 0
                        continue
                    now_end = await _end_offset(session, url, h.topic, p)
                    if now_end is None or now_end < end:  # a leader that has not caught up yet
                        empty = 0
                        await asyncio.sleep(0.2)
                        continue
                    empty += 1
                    if empty >= TAIL_EMPTY_READS:
                        h.final_read_tail[p] = offset
                        break
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    turn += 1
                    await asyncio.sleep(0.2)


async def _end_offset(session: aiohttp.ClientSession, url: str, topic: str, partition: int) -> int | None:
    """The partition's high watermark, as its leader answers through url, or None."""
    async with session.get(f"{url}/topics/{topic}/partitions/{partition}/offsets") as r:
        return (await r.json())["end_offset"] if r.status == 200 else None


def _tail_of_markers(h: History) -> None:
    """A final read that stopped where only transaction markers follow is complete."""
    for p, at in h.final_read_tail.items():
        end = h.final_end_offsets.get(p)
        markers = set(h.control_offsets.get(p, ()))
        if end is not None and all(o in markers for o in range(at, end)):
            h.final_read_complete[p] = True


def _replica_logs(cluster, topic: str, partitions: int) -> dict:
    out: dict[int, dict[int, list[tuple[int, int, str]]]] = {}  # partition -> node -> (offset, epoch, value)
    for p in range(partitions):
        out[p] = {}
        for n in cluster.hosts:
            for d in partition_dirs(cluster.config.node(n).data_path, topic, p):
                out[p][n] = [(o, e, _value(v)) for o, e, _, v in read_records(d)]
    return out


def _producer_batches(cluster, topic: str, partitions: int) -> dict:
    out = {}
    for p in range(partitions):
        seen = set()
        for n in cluster.hosts:
            for d in partition_dirs(cluster.config.node(n).data_path, topic, p):
                seen.update(producer_batches(d))
        out[p] = sorted(seen)
    return out


def _control_offsets(cluster, topic: str, partitions: int) -> dict[int, list[int]]:
    out = {}
    for p in range(partitions):
        seen: set[int] = set()
        for n in cluster.hosts:
            for d in partition_dirs(cluster.config.node(n).data_path, topic, p):
                seen.update(control_offsets(d))
        out[p] = sorted(seen)
    return out


def _value(raw: bytes | None) -> str:
    if raw is None:
        return "null"
    try:
        return str(json.loads(raw))
    except ValueError:
        return raw.decode(errors="replace")


async def _progress(h: History, show, now_s, phase: str, jepsen: JepsenWorkload | None = None) -> None:
    if show is None:
        return
    while jepsen is not None:
        faults = sum(1 for f in h.faults if f.kind not in UNDO_KINDS)
        show(f"{now_s():6.1f}s  {jepsen.progress()}  faults={faults}")
        await asyncio.sleep(0.5)
    while True:
        ok = sum(1 for w in h.writes if w.outcome == OK)
        fail = sum(1 for w in h.writes if w.outcome == "fail")
        unknown = sum(1 for w in h.writes if w.outcome == "unknown")
        faults = sum(1 for f in h.faults if f.kind not in UNDO_KINDS)
        show(f"{now_s():6.1f}s  writes ok={ok} fail={fail} unknown={unknown}  "
             f"reads={len(h.reads)}  faults={faults}")
        await asyncio.sleep(0.5)


class _NoNetwork:
    def heal(self):
        pass

    def close(self):
        pass

    def describe(self):
        return ""
