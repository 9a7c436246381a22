"""bench/metadata_bench.py's summary: a rich table per section on stdout, and each
target's verdict (the `checks` of the JSON line)."""

from __future__ import annotations

from rich.table import Table

from kraft.perf.stats import percentile
from parts.metadata_bench_common import TARGETS, fmt, out, passed, verdict


def report(res: dict) -> dict:
    checks = {}
    if "create" in res:
        c = res["create"]
        t = Table(title=f"1. Topic creation latency (sequential POST, 1 partition, RF 3, "
                        f"n={c['direct']['requests']} per series, keep-alive)")
        for col in ("series", "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "max ms",
                    "p50<=20", "p99<=100"):
            t.add_column(col, justify="right" if col != "series" else "left")
        for key, label in (("direct", f"to controller (node {c['controller']})"),
                           ("forwarded", f"to node {c['forwarded']['node']} (forwarded)")):
            s = c[key]["latency_ms"]
            t.add_row(label, str(c[key]["ok"]), str(sum(c[key]["errors"].values())),
                      fmt(s["p50"], 2), fmt(s["p90"], 2), fmt(s["p99"], 2), fmt(s["max"], 2),
                      verdict(s["p50"], TARGETS["create_p50_ms"]),
                      verdict(s["p99"], TARGETS["create_p99_ms"]))
            checks[f"create_{key}_p50"] = passed(s["p50"], TARGETS["create_p50_ms"])
            checks[f"create_{key}_p99"] = passed(s["p99"], TARGETS["create_p99_ms"])
        out.print(t)
        for key in ("direct", "forwarded"):
            for e, cnt in c[key]["errors"].items():
                out.print(f"  [yellow]{key} error x{cnt}:[/yellow] {e}", markup=True, highlight=False)
    if "failover" in res:
        f = res["failover"]
        s = f["failover_s"]
        t = Table(title=f"2. Controller failover (SIGKILL Raft leader -> first 201 from a survivor), "
                        f"{f['succeeded']}/{f['trials']} trials")
        for col in ("median s", "min s", "p90 s", "max s", "median<=1.5 s"):
            t.add_column(col, justify="right")
        t.add_row(fmt(s["p50"], 3), fmt(s["min"], 3), fmt(s["p90"], 3), fmt(s["max"], 3),
                  verdict(s["p50"], TARGETS["failover_median_s"]))
        checks["failover_median"] = passed(s["p50"], TARGETS["failover_median_s"]) \
            and f["succeeded"] == f["trials"]
        out.print(t)
        t = Table(title="failover trials")
        for col in ("trial", "killed", "sent to", "new leader", "failover s", "attempts",
                    "errors", "restart ready s"):
            t.add_column(col, justify="right")
        for r in f["per_trial"]:
            t.add_row(str(r["trial"]), str(r.get("killed")), str(r.get("sent_to")),
                      str(r.get("new_leader")), fmt(r.get("failover_s"), 3), str(r.get("attempts")),
                      str(len(r["errors"])), fmt(r.get("restart_ready_s"), 2))
        out.print(t)
        for e, cnt in f["distinct_errors"].items():
            out.print(f"  [yellow]failover error x{cnt}:[/yellow] {e}", highlight=False)
    if "partitions" in res:
        p = res["partitions"]
        t = Table(title=f"3. {p['partitions']} partitions ({p['topics']} topics x "
                        f"{p['partitions_per_topic']}, RF 3) on 3 nodes")
        t.add_column("measure")
        t.add_column("value", justify="right")
        t.add_column("target", justify="right")
        t.add_row("partitions created (201 answers)",
                  f"{p['partitions_created_201']}/{p['partitions']}", "")
        t.add_row("create requests done (s)", fmt(p["created_s"], 3), "")
        t.add_row("create request p50 / max (ms)",
                  f"{fmt(percentile(p['create_requests_ms'], 50), 1)} / "
                  f"{fmt(max(p['create_requests_ms']) if p['create_requests_ms'] else None, 1)}", "")
        t.add_row("all partitions have a leader on every node (s)", fmt(p["all_leaders_s"], 3),
                  "<=10 s " + verdict(p["all_leaders_s"], TARGETS["partitions_all_leaders_s"]))
        t.add_row("all ISRs full (3) on every node (s, info)", fmt(p["all_isr_full_s"], 3), "")
        checks["partitions_all_leaders"] = passed(p["all_leaders_s"], TARGETS["partitions_all_leaders_s"])
        out.print(t)
        for e, cnt in {**p["create_errors"], **p["poll_errors"]}.items():
            out.print(f"  [yellow]error x{cnt}:[/yellow] {e}", highlight=False)
        t = Table(title="idle CPU per node process (% of one core, utime+stime from /proc)")
        for col in ("node", "empty cluster %", f"{p['partitions']} partitions %",
                    "max 1 s window %", "<10 %"):
            t.add_column(col, justify="right")
        for n in sorted(p["idle_cpu_loaded"]):
            lo, em = p["idle_cpu_loaded"][n], p["idle_cpu_empty"][n]
            t.add_row(n, fmt(em["pct_one_core"], 2), fmt(lo["pct_one_core"], 2),
                      fmt(lo["max_1s_pct"], 1),
                      verdict(lo["pct_one_core"], TARGETS["idle_cpu_pct"], strict=True))
            checks[f"idle_cpu_node_{n}"] = passed(lo["pct_one_core"], TARGETS["idle_cpu_pct"], strict=True)
        out.print(t)
    return checks
