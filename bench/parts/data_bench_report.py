"""bench/data_bench.py's summary: one rich table on stdout, a row (or two) per section with
its target's verdict, then what went wrong along the way (a crashed section, a node that
exited, a trial after which the topic did not recover)."""

from __future__ import annotations

from collections.abc import Callable

from parts.data_bench_common import BOUND_S, TARGETS, out
from rich.table import Table

Row = Callable[..., None]  # row(name, value, detail, target, check_key=None, ok=None)


def verdict(ok: bool | None) -> str:
    if ok is None:
        return "[red]FAIL (no data)[/red]"
    return "[green]PASS[/green]" if ok else "[red]FAIL[/red]"


def fmt(v, digits: int = 1, unit: str = "") -> str:
    return "-" if v is None else f"{v:,.{digits}f}{unit}"


def throughput_rows(row: Row, tp: dict) -> None:
    modes = tp.get("modes", {})
    if tp:
        c = tp["ceiling_mb_per_s"]
        row("ceiling MB/s", fmt(c["median"]), f"{fmt(c['min'])}..{fmt(c['max'])} over {c['n']} runs", "")
    for mode, key in (("all", "ratio_acks_all"), ("1", "ratio_acks_1"), ("0", "ratio_acks_0")):
        m = modes.get(mode)
        if not m:
            row(f"acks={mode} / ceiling", "-", "not run", f">= {TARGETS[key]:.0%}", key, None)
            continue
        mb, ra = m["mb_per_s"], m["ratio"]
        row(f"acks={mode} MB/s", fmt(mb["median"]), f"{fmt(mb['min'])}..{fmt(mb['max'])}, "
            f"{fmt(m['records_per_s']['median'], 0)} rec/s, p99 {fmt(m['p99_ms']['median'])} ms, "
            f"{fmt(m['cpu_ms_per_mb']['median'])} CPU-ms/MB, {fmt(m['kernel_ms_per_mb']['median'])} of it "
            f"kernel (ceiling {fmt(m['ceiling_cpu_ms_per_mb']['median'])}, "
            f"{fmt(m['ceiling_kernel_ms_per_mb']['median'])} kernel)"
            + (f", {m['failed_records']} failed" if m["failed_records"] else ""), "")
        row(f"acks={mode} / ceiling", fmt(100 * ra["median"], 1, " %"),
            f"{fmt(100 * ra['min'], 1)}..{fmt(100 * ra['max'], 1)} % over {ra['n']} pairs",
            f">= {TARGETS[key]:.0%}", key, ra["median"] is not None and ra["median"] >= TARGETS[key])


def consume_rows(row: Row, cons: dict | None) -> None:
    if cons:
        row("consume MB/s (from 0)", fmt(cons["mb_per_s"]), f"{cons['records']:,} records, "
            f"{fmt(cons['records_per_s'], 0)} rec/s, {fmt((cons['vs_acks_1'] or 0) * 100, 0)} % of acks=1",
            ">= acks=1 produce", "consume_vs_acks_1",
            cons["vs_acks_1"] is not None and cons["vs_acks_1"] >= TARGETS["consume_vs_acks_1"])
    else:
        row("consume MB/s (from 0)", "-", "not run", ">= acks=1 produce", "consume_vs_acks_1", None)


def latency_rows(row: Row, lat: dict | None) -> None:
    if lat:
        row("acks=all p99 at 20 % load", fmt(lat["produce_p99_ms"], 1, " ms"),
            f"{fmt(lat['produce']['records_per_s'], 0)} rec/s; p50 {fmt(lat['produce']['latency_ms']['p50'])} ms",
            "<= 25 ms", "produce_p99_ms",
            lat["produce_p99_ms"] is not None and lat["produce_p99_ms"] <= TARGETS["produce_p99_ms"])
        row("end-to-end p99", fmt(lat["e2e_p99_ms"], 1, " ms"),
            f"p50 {fmt(lat['e2e_ms']['p50'])} ms, {lat['e2e_ms']['n']:,} records", "<= 50 ms", "e2e_p99_ms",
            lat["e2e_p99_ms"] is not None and lat["e2e_p99_ms"] <= TARGETS["e2e_p99_ms"])
    else:
        row("acks=all p99 at 20 % load", "-", "not run", "<= 25 ms", "produce_p99_ms", None)
        row("end-to-end p99", "-", "not run", "<= 50 ms", "e2e_p99_ms", None)


def disruption_rows(row: Row, fo: dict | None, sd: dict | None) -> None:
    """Leader failover (kill -9) and controlled shutdown (SIGTERM)."""
    if fo:
        s = fo["time_to_first_ok_s"]
        row("leader failover (kill -9)", fmt(s["median"], 2, " s"),
            "trials: " + ", ".join((fmt(x["time_to_first_ok_s"], 2) if x["time_to_first_ok_s"] is not None
                                    else f">{BOUND_S:.0f}") + ("(C)" if x["was_controller"] else "")
                                   for x in fo["trials"]) + "; (C) = the killed leader was also the active controller",
            "median <= 3 s", "failover_median_s",
            s["median"] is not None and s["median"] <= TARGETS["failover_median_s"])
    else:
        row("leader failover (kill -9)", "-", "not run", "median <= 3 s", "failover_median_s", None)
    if sd:
        w = sd["window_s"]
        row("controlled shutdown window", fmt(w["median"], 3, " s"),
            "trials: " + ", ".join(fmt(x["max_gap_s"], 3) if x["max_gap_s"] is not None else f">{BOUND_S:.0f}"
                                   for x in sd["trials"]) + f" (max {fmt(w['max'], 3)}); "
            f"{sum(v['records'] for x in sd['trials'] for v in x['errors'].values())} records failed "
            f"({', '.join(sorted({c for x in sd['trials'] for c in x['errors']})) or 'none'})",
            "< 1 s", "shutdown_window_s", w["median"] is not None and w["median"] < TARGETS["shutdown_window_s"])
    else:
        row("controlled shutdown window", "-", "not run", "< 1 s", "shutdown_window_s", None)


def memory_rows(row: Row, mem: dict | None, mem_write_s: float) -> None:
    if mem:
        row("data written for memory test", fmt((mem["log_bytes_on_leader"] or 0) / 2**30, 2, " GiB"),
            f"{mem['written_records']:,} records in ~{mem_write_s:.0f} s, "
            f"{fmt(mem['write_mb_per_s'])} MB/s", "")
        v = mem["read_rss_max_mb"]
        row("leader max RSS while reading all", fmt(v, 0, " MB"),
            f"read {mem['read_records']:,} records at {fmt(mem['read_mb_per_s'])} MB/s; "
            f"write max {fmt(mem['rss_max_mb'].get('write'), 0)} MB, idle {fmt(mem['rss_max_mb'].get('idle'), 0)} MB",
            "< 300 MB", "read_rss_mb", v is not None and v < TARGETS["read_rss_mb"])
    else:
        row("leader max RSS while reading all", "-", "not run", "< 300 MB", "read_rss_mb", None)


def print_incidents(res: dict) -> None:
    for name in ("failover", "shutdown"):
        for i, x in enumerate((res.get(name) or {}).get("trials", [])):
            if not x.get("restored", True):
                node = x.get("killed", x.get("stopped"))
                out.print(f"[yellow]{name} trial {i + 1}: after node {node} was restarted, topic 'bench' "
                          "did not get a leader and a full ISR (3) for every partition within 60 s[/yellow]")
    for name, v in res.items():
        if isinstance(v, dict) and v.get("error"):
            out.print(f"[red]section {name} crashed:[/red] {v['error'].splitlines()[-1]}")
    for d in res.get("node_exits", []):
        out.print(f"[red]node {d['node']} exited on its own (rc {d['returncode']}) before/during "
                  f"section {d['found_before']}; restarted. Last log line: {d['last_line']}[/red]")


def report(res: dict) -> dict:
    checks: dict[str, bool | None] = {}
    t = Table(title="Data path benchmark (1 KiB records, 100 per request)", show_lines=False)
    for col, j in (("measure", "left"), ("value", "right"), ("spread / detail", "left"),
                   ("target", "left"), ("", "left")):
        t.add_column(col, justify=j)

    def row(name, value, detail, target, check_key=None, ok=None):
        if check_key:
            checks[check_key] = ok
        t.add_row(name, value, detail, target, verdict(ok) if check_key else "")

    def sec(name):
        v = res.get(name)
        return v if isinstance(v, dict) and "error" not in v else None

    throughput_rows(row, sec("throughput") or {})
    consume_rows(row, sec("consume"))
    latency_rows(row, sec("latency"))
    disruption_rows(row, sec("failover"), sec("shutdown"))
    memory_rows(row, sec("memory"), res["config"]["mem_write_s"])
    out.print(t)
    print_incidents(res)
    return checks
