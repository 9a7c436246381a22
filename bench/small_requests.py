"""Many small requests, open loop: how many produce requests a second the cluster takes.

The issue: the cluster saturates at about 1,500-2,000 produce requests a second. This
benchmark finds where, with latencies measured the open-loop way (the schedule decides
when each record is sent, not the client's speed, so a slow server shows as latency and
not as a politely slower client; see kraft/perf/open_loop.py).

On one fresh 3-node LocalCluster shaped like the bundled cluster.toml (every node a
controller and a broker, min.insync.replicas 2), into a 3-partition RF-3 topic per
setting, 1 KiB records:

  wire    a confluent-kafka producer per sender process (--producers), for every
          linger.ms in --linger and acks in --acks (enable.idempotence false unless
          --idempotence: librdkafka's idempotent producer spins while it waits for
          acks, bench/README.md), stepping through --rates records/s, --step-seconds
          each; the sender waits for each record's scheduled time in producer.poll(),
          then produce() and poll(0)
  REST    one record per POST /v3/clusters/{cid}/topics/{t}/records, --rest-concurrency
          keep-alive connections over the three nodes, a task per scheduled record
  ceiling the wire steps against bench/kafka_ceiling.py (one process, no replication),
          per linger, in the same run: the knee ratio kraft / ceiling
  replicated  with --replicated-ceiling, the wire steps (the ceiling's rates, acks=all)
          against bench/replicated_ceiling.py (three processes, RF 3, each leading a
          partition and following the others'; node CPU counts all three), per linger:
          the knee ratio kraft / replicated

Per step: delivery latency (delivery report or HTTP answer - scheduled time) and
end-to-end latency (a consumer process, read_uncommitted, assigned at the end of each
partition, receives the record - scheduled time; --no-consumer leaves it out, and with it
the nodes' work of serving it): p50 / p99 / p99.9 / max; achieved
rate (answers received within the step / its length); Produce requests a second
(librdkafka's statistics; one per record for REST); node CPU-ms per request (the three
node processes' /proc CPU from the step's start until its last answer, idle duties
included); the sender processes' CPU (getrusage) in % of one core; records awaiting an
answer when the schedule ended, and whether the step kept up (kraft.perf.open_loop.
kept_up). The knee of a setting is the highest rate that kept up with p99 delivery <=
--p99-limit-ms (50).

With --profile DIR, the first wire setting gets an extra step at the first rate that
missed, and py-spy records the leader of partition 0 and one other node for 5 s in it
(collapsed stacks in DIR, a summary printed); --profile-rest DIR does the same for the
REST setting. `--linger ""` leaves the wire settings out.

    .venv/bin/python bench/small_requests.py --quick              # ~2 minutes
    .venv/bin/python bench/small_requests.py --json out.json --profile /tmp/small-profile
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka_ceiling import KafkaCeiling  # noqa: E402
from replicated_ceiling import ReplicatedCeiling  # noqa: E402

from kraft.perf import open_loop_clients  # noqa: E402
from kraft.perf.open_loop import kept_up, knee_rate, latency_ms, misses_below_knee  # noqa: E402
from kraft.perf.profile_summary import report, summarise  # noqa: E402
from kraft.perf.stats import cpu_seconds  # noqa: E402
from kraft.server.local_cluster import LocalCluster  # noqa: E402

PARTITIONS = 3
RECORD = 1024
SPAWN = multiprocessing.get_context("spawn")
START_LEAD_S = 0.3  # a step's start time is sent this far ahead, so every sender starts on it


def csv(kind):
    return lambda text: [kind(x) for x in text.split(",") if x]


def node_cpu(pids) -> float:
    return sum(cpu_seconds(p) or 0.0 for p in pids)


class Workers:
    """Load processes of one kind, each at the end of a Pipe."""

    def __init__(self, target, specs: list[dict]):
        self.conns, self.procs = [], []
        for spec in specs:
            ours, theirs = SPAWN.Pipe()
            proc = SPAWN.Process(target=target, args=(theirs, spec), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    def receive(self, timeout_s: float) -> list:
        out = []
        for conn, proc in zip(self.conns, self.procs):
            if not conn.poll(timeout_s):
                raise RuntimeError(f"load process {proc.pid} silent for {timeout_s:.0f} s")
            out.append(conn.recv())
        return out

    def send(self, message) -> None:
        for conn in self.conns:
            conn.send(message)

    def close(self) -> None:
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


def create_topic(cluster: LocalCluster, topic: str) -> None:
    body = json.dumps({"topic_name": topic, "partitions_count": PARTITIONS, "replication_factor": 3}).encode()
    req = urllib.request.Request(cluster.v3(1) + "/topics", body, {"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()

    def led_everywhere() -> bool:
        for node in cluster.procs:
            status, answer = cluster.get(node, f"/v3/clusters/{cluster.cluster_id}/topics/{topic}/partitions")
            if status != 200 or any(p.get("leader_id") is None for p in answer["data"]) \
                    or len(answer["data"]) != PARTITIONS:
                return False
        return True
    cluster.wait_until(led_everywhere, 30, f"leaders of {topic} on every node")


def leader_of(cluster: LocalCluster, topic: str, partition: int) -> int:
    _status, answer = cluster.get(1, f"/v3/clusters/{cluster.cluster_id}/topics/{topic}/partitions/{partition}")
    return int(answer["leader_id"])


class PySpy:
    """py-spy record of some processes, started `delay_s` into a step, in threads."""

    def __init__(self, targets: dict[str, int], out_dir: Path, delay_s: float, seconds: int = 5):
        self.out = {name: out_dir / f"{name}.txt" for name in targets}
        self.results: dict[str, str] = {}
        self.threads = [threading.Thread(target=self._record, args=(name, pid, delay_s, seconds))
                        for name, pid in targets.items()]
        for t in self.threads:
            t.start()

    def _record(self, name: str, pid: int, delay_s: float, seconds: int) -> None:
        time.sleep(delay_s)
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        done = subprocess.run([py_spy, "record", "--native", "--threads", "-d", str(seconds), "-r", "100",
                               "--format", "raw", "-o", str(self.out[name]), "--pid", str(pid)],
                              capture_output=True, text=True, timeout=seconds + 60)
        self.results[name] = done.stderr[-500:] if done.returncode else "ok"

    def summaries(self) -> dict[str, str]:
        for t in self.threads:
            t.join()
        out = {}
        for name, path in self.out.items():
            if path.exists():
                out[name] = report(summarise(path.read_text()), f"{name} ({path})")
            else:
                out[name] = f"{name}: py-spy failed: {self.results.get(name)}"
        return out


def run_steps(senders: Workers, node_pids: list[int], rates: list[float], seconds: float, label: dict,
              consumer_step_base: int, drain_s: float, profile=None) -> list[dict]:
    """Every rate in turn through the ready senders; one result per step (the consumer's
    end-to-end latencies are added later, by step number)."""
    steps = []
    for i, rate in enumerate(rates):
        step_no = consumer_step_base + i
        start = time.monotonic() + START_LEAD_S
        senders.send({"rate": rate, "seconds": seconds, "start": start, "step": step_no})
        time.sleep(max(0.0, start - time.monotonic()))
        cpu_before, wall_before = node_cpu(node_pids), time.monotonic()
        spy = profile(rate) if profile is not None else None
        parts = senders.receive(seconds + drain_s + 60)
        node_cpu_s, wall = node_cpu(node_pids) - cpu_before, time.monotonic() - wall_before
        step = merge(parts, rate, seconds, label, step_no, node_cpu_s, wall)
        if spy is not None:
            step["profile"] = spy.summaries()
        steps.append(step)
        print(one_line(step), file=sys.stderr)
        time.sleep(0.5)  # the previous step's stragglers (replication, fetches) settle
    return steps


def merge(parts: list[dict], rate: float, seconds: float, label: dict, step_no: int, node_cpu_s: float,
          wall: float) -> dict:
    latencies = [x for p in parts for x in p["latencies_s"]]
    errors: dict[str, int] = {}
    for p in parts:
        for k, v in p["errors"].items():
            errors[k] = errors.get(k, 0) + v
    requests = sum(p["produce_requests"] or 0 for p in parts)
    pending = sum(p["pending_at_end"] for p in parts)
    behind = max(p["behind_at_end_s"] for p in parts)
    undelivered = sum(p["undelivered"] for p in parts) + sum(errors.values())
    queue = [sum(s) for s in zip(*(p["queue_samples"] for p in parts))]
    return {**label, "step": step_no, "rate": rate, "seconds": seconds,
            "achieved_per_s": sum(p["delivered_in_step"] for p in parts) / seconds,
            "delivery_ms": latency_ms(latencies), "errors": errors,
            # the requests of the step and of its drain, over the time they took
            "produce_requests": requests, "requests_per_s": requests / max(seconds, wall),
            "node_cpu_s": node_cpu_s, "node_cpu_window_s": wall,
            "node_cpu_ms_per_request": 1000 * node_cpu_s / requests if requests else None,
            "node_cpu_pct": 100 * node_cpu_s / wall if wall > 0 else None,  # of one core, nodes summed
            "client_cpu_pct": 100 * sum(p["client_cpu_s"] for p in parts) / seconds,
            "pending_at_end": pending, "queue_samples": queue, "behind_at_end_s": behind,
            "max_behind_s": max(p["max_behind_s"] for p in parts), "undelivered": undelivered,
            "kept_up": kept_up(rate, pending, behind, undelivered)}


def fmt(v, digits=1) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def lat(summary: dict | None) -> str:
    if not summary or not summary.get("n"):
        return "-"
    return "/".join(fmt(summary[k]) for k in ("p50", "p99", "p999", "max"))


def name_of(step: dict) -> str:
    if step["door"] == "rest":
        return f"REST acks={step['acks']}"
    return f"{step['door']} l={step['linger_ms']} acks={step['acks']}"


def one_line(step: dict) -> str:
    return (f"{name_of(step):<22} {step['rate']:>6.0f}/s: got {step['achieved_per_s']:.0f}/s, "
            f"deliver ms {lat(step['delivery_ms'])}, req/s {step['requests_per_s']:.0f}, node CPU-ms/req "
            f"{fmt(step['node_cpu_ms_per_request'], 2)}, client {step['client_cpu_pct']:.0f} %, "
            f"pending {step['pending_at_end']}, {'kept up' if step['kept_up'] else 'BEHIND'}"
            + (f", errors {step['errors']}" if step["errors"] else ""))


def table(steps: list[dict]) -> str:
    head = ("| setting | rate/s | got/s | delivery ms p50/p99/p99.9/max | end-to-end ms p50/p99/p99.9/max "
            "| req/s | node CPU-ms/req | node CPU % | client CPU % | pending at end | kept up |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in steps:
        lines.append(f"| {name_of(s)} | {s['rate']:.0f} | {s['achieved_per_s']:.0f} | {lat(s['delivery_ms'])} | "
                     f"{lat(s.get('e2e_ms'))} | {s['requests_per_s']:.0f} | "
                     f"{fmt(s['node_cpu_ms_per_request'], 2)} | {fmt(s['node_cpu_pct'], 0)} | "
                     f"{s['client_cpu_pct']:.0f} | "
                     f"{s['pending_at_end']} | {'yes' if s['kept_up'] else 'NO'} |")
    return "\n".join(lines)


def setting_run(args, cluster, node_pids, door: str, topic: str, bootstrap: str, rates, linger, acks,
                step_base: int, with_consumer: bool, profile=None) -> list[dict]:
    """One setting: its senders (and consumer) started and warmed, every rate stepped."""
    label = {"door": door, "linger_ms": linger, "acks": acks, "producers": args.producers}
    consumer = None
    if with_consumer:
        consumer = Workers(open_loop_clients.consumer, [{"bootstrap": bootstrap, "topic": topic,
                                                         "partitions": PARTITIONS}])
        consumer.receive(60)
    if door == "rest":
        specs = [{"urls": [cluster.url(n) for n in sorted(cluster.procs)], "cluster_id": cluster.cluster_id,
                  "topic": topic, "size": RECORD, "acks": acks, "concurrency": args.rest_concurrency,
                  "sender": i, "senders": args.producers, "drain_s": args.drain} for i in range(args.producers)]
        target = open_loop_clients.rest_sender
    else:
        specs = [{"bootstrap": bootstrap, "topic": topic, "partitions": PARTITIONS, "size": RECORD,
                  "linger_ms": linger, "acks": acks, "idempotence": args.idempotence, "sender": i,
                  "senders": args.producers, "drain_s": args.drain} for i in range(args.producers)]
        target = open_loop_clients.wire_sender
    senders = Workers(target, specs)
    try:
        senders.receive(60)
        steps = run_steps(senders, node_pids, rates, args.step_seconds, label, step_base, args.drain)
        if profile is not None:
            steps += profile(senders, label, step_base + len(rates), steps)
        senders.send(None)
    finally:
        senders.close()
    if consumer is not None:
        time.sleep(1.0)  # the last records reach the consumer
        consumer.send(None)
        (got,) = consumer.receive(60)
        consumer.close()
        for step in steps:
            step["e2e_ms"] = latency_ms(got["per_step"].get(step["step"], []))
            step["consumer_cpu_s"] = got["cpu_s"] if step is steps[-1] else None
    return steps


def cpu_floors(steps: list[dict]) -> list[str]:
    """Per kraft wire setting and rate: its CPU per request over 3 x the ceiling's (the
    issue's floor, replication factor x one process) and over the replicated ceiling's."""
    cpu = {(name_of(s), s["rate"]): s["node_cpu_ms_per_request"] for s in steps if not s.get("profiled")}
    out = []
    for (name, rate), kraft in cpu.items():
        if not name.startswith("wire") or kraft is None:
            continue
        rest = name.split(" ", 1)[1]
        ceiling, replicated = cpu.get((f"ceiling {rest}", rate)), cpu.get((f"replicated {rest}", rate))
        parts = [f"{name} at {rate:.0f}/s: {kraft:.2f}"]
        if ceiling:
            parts.append(f"/ (3 x {ceiling:.2f}) = {kraft / (3 * ceiling):.2f}")
        if replicated:
            parts.append(f"/ replicated {replicated:.2f} = {kraft / replicated:.2f}"
                         + (f" (replicated / (3 x ceiling) = {replicated / (3 * ceiling):.2f})" if ceiling else ""))
        if len(parts) > 1:
            out.append(" ".join(parts))
    return out


def profiler(args, cluster, node_pids, topic, out_dir: str):
    """The extra profiled step of a setting: at the first rate that missed."""
    def run(senders, label, step_no, steps):
        knee = knee_rate(steps, args.p99_limit_ms)
        above = [s["rate"] for s in steps if knee is None or s["rate"] > knee]  # the first rate past it
        rate = min(above) if above else max(s["rate"] for s in steps)
        leader = leader_of(cluster, topic, 0)
        other = next(n for n in sorted(cluster.procs) if n != leader)
        targets = {f"node{leader}-leader-p0": cluster.procs[leader].pid, f"node{other}": cluster.procs[other].pid}
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        seconds = max(args.step_seconds, 8.0)
        print(f"profiling at {rate:.0f}/s: {targets}", file=sys.stderr)
        profiled = run_steps(senders, node_pids, [rate], seconds, {**label, "profiled": True}, step_no,
                             args.drain, profile=lambda _rate: PySpy(targets, out, delay_s=1.5))
        for text in profiled[0].get("profile", {}).values():
            print(text, file=sys.stderr)
        return profiled
    return run


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=csv(float), default=[500, 1000, 2000, 4000, 8000])
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--linger", type=csv(int), default=[0, 1, 5])
    parser.add_argument("--acks", type=csv(str), default=["1", "all"])
    parser.add_argument("--idempotence", action="store_true", help="enable.idempotence true (default false)")
    parser.add_argument("--producers", type=int, default=1, help="sender processes per setting")
    parser.add_argument("--rest-rates", type=csv(float), default=[250, 500, 1000, 2000])
    parser.add_argument("--rest-acks", default="all")
    parser.add_argument("--rest-concurrency", type=int, default=16, help="keep-alive connections per REST sender")
    parser.add_argument("--ceiling-rates", type=csv(float), default=None, help="default: --rates")
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--replicated-ceiling", action="store_true",
                        help="also the wire steps against bench/replicated_ceiling.py (3 processes, RF 3, acks=all)")
    parser.add_argument("--skip-rest", action="store_true")
    parser.add_argument("--no-consumer", action="store_true",
                        help="no end-to-end consumer: the nodes' CPU is the producers' alone (no end-to-end latency)")
    parser.add_argument("--p99-limit-ms", type=float, default=50.0)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds a step's answers may take after it")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the first wire setting past its knee")
    parser.add_argument("--profile-rest", metavar="DIR", help="py-spy the REST setting past its knee")
    parser.add_argument("--first-address", type=int, default=150,
                        help="nodes on 127.0.0.N from here (away from the test suites' ranges)")
    parser.add_argument("--json", metavar="FILE")
    parser.add_argument("--quick", action="store_true",
                        help="linger 0 and 5, acks all, 1000/2000/4000/8000 records/s, REST 500/1000/2000, 3 s steps")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.step_seconds, args.linger, args.acks = [1000, 2000, 4000, 8000], 3.0, [0, 5], ["all"]
        args.rest_rates, args.drain = [500, 1000, 2000], 15.0
    return args


def measure_cluster(args) -> list[dict]:
    """The wire settings (every linger and acks) and the REST one, on one fresh cluster."""
    steps: list[dict] = []
    with LocalCluster(nodes=3, first_address=args.first_address) as cluster:
        cluster.start().wait_ready(timeout_s=60)
        node_pids = [cluster.procs[n].pid for n in sorted(cluster.procs)]
        for linger in args.linger:
            for acks in args.acks:
                topic = f"small-l{linger}-a{acks}"
                create_topic(cluster, topic)
                prof = profiler(args, cluster, node_pids, topic, args.profile) if args.profile and not steps else None
                steps += setting_run(args, cluster, node_pids, "wire", topic, cluster.bootstrap_servers,
                                     args.rates, linger, acks, len(steps), not args.no_consumer, prof)
        if not args.skip_rest and args.rest_rates:
            create_topic(cluster, "small-rest")
            prof = profiler(args, cluster, node_pids, "small-rest", args.profile_rest) if args.profile_rest else None
            steps += setting_run(args, cluster, node_pids, "rest", "small-rest", cluster.bootstrap_servers,
                                 args.rest_rates, None, args.rest_acks, len(steps), not args.no_consumer, prof)
    return steps


def measure_ceilings(args, steps: list[dict]) -> None:
    """The wire steps against the one-process ceiling and, with --replicated-ceiling, the
    replicated one; appended to `steps`."""
    ceiling_rates = args.ceiling_rates or args.rates
    if not args.skip_ceiling:
        for linger in args.linger:
            ceiling = KafkaCeiling(partitions=PARTITIONS).start()
            try:
                steps.extend(setting_run(args, None, [ceiling.proc.pid], "ceiling", "ceiling", ceiling.bootstrap,
                                         ceiling_rates, linger, "all", len(steps), False))
            finally:
                ceiling.stop()
    if args.replicated_ceiling:
        for linger in args.linger:
            replicated = ReplicatedCeiling(partitions=PARTITIONS).start()
            try:
                steps.extend(setting_run(args, None, replicated.pids, "replicated", "ceiling",
                                         replicated.bootstrap, ceiling_rates, linger, "all", len(steps), False))
            finally:
                replicated.stop()


def knees_of(steps: list[dict], p99_limit_ms: float) -> tuple[dict, dict, dict, dict]:
    """(knee per setting, misses below it, kraft / ceiling knees, kraft / replicated knees)."""
    knees: dict[str, float | None] = {}
    misses: dict[str, list[float]] = {}
    for name in dict.fromkeys(name_of(s) for s in steps if not s.get("profiled")):
        of_setting = [s for s in steps if name_of(s) == name and not s.get("profiled")]
        knees[name] = knee_rate(of_setting, p99_limit_ms)
        misses[name] = misses_below_knee(of_setting, p99_limit_ms)
    ratios: dict[str, float] = {}
    replicated_ratios: dict[str, float] = {}
    for name, knee in knees.items():
        if name.startswith("wire"):
            for door, out in (("ceiling", ratios), ("replicated", replicated_ratios)):
                ceiling_knee = knees.get(f"{door} {name.split(' ')[1]} acks=all")
                if knee is not None and ceiling_knee:
                    out[name] = knee / ceiling_knee
    return knees, misses, ratios, replicated_ratios


def print_summary(args, config: dict, steps: list[dict], knees: dict, misses: dict, ratios: dict,
                  replicated_ratios: dict) -> None:
    load_start = config["loadavg_start"]
    print(f"\n{RECORD} B records, {args.step_seconds:.0f} s steps, {args.producers} sender process(es), "
          f"idempotence {'on' if args.idempotence else 'off'}; load average {load_start[0]:.1f} at the start, "
          f"{config['loadavg_end'][0]:.1f} at the end; {config['seconds']} s in all\n")
    print(table([s for s in steps if not s.get("profiled")]))
    print(f"\nknee (highest rate that kept up with p99 delivery <= {args.p99_limit_ms:.0f} ms; '-': not even the "
          "lowest rate; a knee at the highest rate tried is a lower bound):")
    for name, knee in knees.items():
        ratio = f"  kraft / ceiling {ratios[name]:.2f}" if name in ratios else ""
        ratio += f"  kraft / replicated {replicated_ratios[name]:.2f}" if name in replicated_ratios else ""
        missed = f"  (missed at {', '.join(f'{r:.0f}' for r in misses[name])} below it)" if misses[name] else ""
        print(f"  {name:<24} {fmt(knee, 0):>6}{ratio}{missed}")
    floors = cpu_floors(steps)
    if floors:
        print("\nnode CPU-ms per request against the floors at the same rate (3 x the one-process ceiling's; "
              "the replicated ceiling's):")
        for line in floors:
            print("  " + line)
    for s in steps:
        if s.get("profiled"):
            print(f"\nprofiled step: {one_line(s)}")
            for text in s.get("profile", {}).values():
                print(text)


def main() -> int:
    args = parse_args()
    started = time.time()
    load_start = os.getloadavg()
    steps = measure_cluster(args)
    measure_ceilings(args, steps)
    knees, misses, ratios, replicated_ratios = knees_of(steps, args.p99_limit_ms)
    config = {"started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
              "seconds": round(time.time() - started), "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
              "cpus": os.cpu_count(), "argv": sys.argv[1:], "record_bytes": RECORD, "partitions": PARTITIONS,
              "idempotence": args.idempotence, "producers": args.producers, "p99_limit_ms": args.p99_limit_ms}
    print_summary(args, config, steps, knees, misses, ratios, replicated_ratios)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config, "steps": steps, "knees": knees, "misses_below_knee": misses,
                       "ratios": ratios, "replicated_ratios": replicated_ratios}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
