"""`kraft bench produce|consume`: load generators like kafka-producer/consumer-perf-test.

The logic lives in kraft.perf.produce_load / consume_load (callable from Python);
this module only parses options, shows a rich progress bar on stderr and prints the
summary table (and, with --json, one JSON line) on stdout.
"""

from __future__ import annotations

import json
import sys
import time

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kraft.server import terminal
from kraft.client.target import TargetError, bootstrap_urls
from kraft.perf.stats import LoadResult, latency_summary

out = terminal.console()
err = terminal.console(stderr=True)


def _fail(message: str) -> None:
    typer.echo(f"kraft: {message}", err=True)
    raise typer.Exit(1)


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=err, transient=False, refresh_per_second=8)


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def result_table(title: str, res: LoadResult, with_latency: bool = True) -> Table:
    t = Table(title=title)
    for col in ("records", "elapsed s", "records/s", "MB/s", "requests"):
        t.add_column(col, justify="right")
    cells = [f"{res.records:,}", _fmt(res.elapsed_s), _fmt(res.records_per_s, 1),
             _fmt(res.mb_per_s), f"{res.requests:,}"]
    if with_latency:
        lat = latency_summary(res.latencies_s)
        for col in ("lat avg ms", "p50", "p95", "p99", "max"):
            t.add_column(col, justify="right")
        cells += [_fmt(lat["avg"]), _fmt(lat["p50"]), _fmt(lat["p95"]), _fmt(lat["p99"]), _fmt(lat["max"])]
    t.add_row(*cells)
    return t


def error_table(res: LoadResult) -> Table | None:
    if not res.errors.total:
        return None
    t = Table(title="errors by error_code")
    t.add_column("error_code")
    t.add_column("records", justify="right")
    t.add_column("example message")
    for code, n in res.errors.counts.most_common():
        t.add_row(code, f"{n:,}", res.errors.examples.get(code, ""))
    return t


def _transport_errors(fn):
    # imported here, not at the top: every `kraft` command loads this module, and aiohttp
    # alone doubled the start-up time of the ones that never use it
    import aiohttp

    from kraft.perf import meta
    try:
        return fn()
    except (TimeoutError, meta.MetadataError, aiohttp.ClientError, OSError) as exc:
        _fail(f"{type(exc).__name__}: {exc}")


def _one_url(bootstrap: str) -> str:
    """--bootstrap as the other commands take it (HOST:PORT or a URL); the first address."""
    try:
        return bootstrap_urls(bootstrap, https=False)[0]
    except TargetError as exc:
        _fail(str(exc))
        raise


def register(app: typer.Typer) -> None:
    bench = typer.Typer(no_args_is_help=True, help="Benchmarks (like kafka-*-perf-test).")
    app.add_typer(bench, name="bench")
    bench.command("produce")(produce)
    bench.command("consume")(consume)


def produce(topic: str = typer.Argument(..., help="topic to produce to (must exist)"),
            bootstrap: str = typer.Option(..., "--bootstrap", help="any node's HTTP address: HOST:PORT or a URL"),
            records: int = typer.Option(100_000, "--records", min=1, help="records to send"),
            record_size: int = typer.Option(1024, "--record-size", min=0, help="bytes per record value"),
            batch: int = typer.Option(100, "--batch", min=1, help="records per request"),
            acks: str = typer.Option("all", "--acks", help="all | 1 | 0"),
            concurrency: int = typer.Option(8, "--concurrency", min=1, help="requests in flight"),
            throughput: float = typer.Option(-1, "--throughput",
                                             help="records/s cap; -1 = as fast as possible"),
            partition: int = typer.Option(None, "--partition", help="one partition (default: server picks)"),
            duration: float = typer.Option(None, "--duration", help="also stop after this many seconds"),
            partition_aware: bool = typer.Option(False, "--partition-aware",
                                                 help="send each request to its partition's leader "
                                                      "(no forwarding) instead of spreading over all nodes"),
            json_out: bool = typer.Option(False, "--json", help="also print one JSON line")):
    """Send v2 JSON produce requests to every node and report throughput and latency."""
    from kraft.perf.produce_load import ProduceSpec, run_produce
    bootstrap = _one_url(bootstrap)
    if acks not in ("all", "-1", "1", "0"):
        _fail(f"--acks must be all, 1 or 0, got {acks!r}")
    if throughput == 0 or throughput < -1:
        _fail("--throughput must be > 0, or -1 for no cap")
    spec = ProduceSpec(topic=topic, records=records, duration_s=duration, record_size=record_size,
                       batch=batch, acks=acks, concurrency=concurrency, throughput=throughput,
                       partition=partition)
    with _progress() as bar:
        task = bar.add_task(f"produce {topic} acks={acks}", total=records, rate="")
        state = {"n": 0}
        t0 = time.perf_counter()

        def tick(n: int) -> None:
            state["n"] += n
            dt = time.perf_counter() - t0
            rate = f"{state['n'] / dt:,.0f} rec/s" if dt > 0 else ""
            bar.update(task, advance=n, rate=rate)

        res = _transport_errors(lambda: run_produce(bootstrap, spec, progress=tick,
                                                    partition_aware=partition_aware))
    out.print(result_table(f"produce {topic}: {record_size} B records, batch {batch}, acks={acks}, "
                           f"concurrency {concurrency}, {len(res.extra.get('urls', []))} nodes"
                           + (", partition-aware" if partition_aware else ""), res))
    et = error_table(res)
    if et is not None:
        out.print(et)
    if json_out:
        print(json.dumps({"produce": res.to_json()}))
    sys.stdout.flush()


def consume(topic: str = typer.Argument(..., help="topic to read"),
            bootstrap: str = typer.Option(..., "--bootstrap", help="any node's HTTP address: HOST:PORT or a URL"),
            records: int = typer.Option(None, "--records", min=1,
                                        help="records to read (default: all there are now)"),
            max_bytes: int = typer.Option(1024 * 1024, "--max-bytes", min=1, help="max_bytes per fetch"),
            timeout: float = typer.Option(300.0, "--timeout", help="overall bound in seconds"),
            json_out: bool = typer.Option(False, "--json", help="also print one JSON line")):
    """Read every partition from offset 0, from its leader, and report MB/s and records/s."""
    from kraft.perf.consume_load import run_consume
    bootstrap = _one_url(bootstrap)
    with _progress() as bar:
        task = bar.add_task(f"consume {topic}", total=records, rate="")
        state = {"n": 0}
        t0 = time.perf_counter()

        def goal(n: int) -> None:
            bar.update(task, total=records or n)

        def tick(n: int) -> None:
            state["n"] += n
            dt = time.perf_counter() - t0
            bar.update(task, advance=n, rate=f"{state['n'] / dt:,.0f} rec/s" if dt > 0 else "")

        res = _transport_errors(lambda: run_consume(bootstrap, topic, records, max_bytes=max_bytes,
                                                    timeout_s=timeout, progress=tick, on_goal=goal))
    out.print(result_table(f"consume {topic}: {res.extra.get('partitions')} partitions from offset 0, "
                           f"max_bytes {max_bytes} (latency = per fetch)", res))
    et = error_table(res)
    if et is not None:
        out.print(et)
    if not res.extra.get("complete", True):
        err.print(f"note: read {res.records:,} of {res.extra.get('goal_records'):,} records "
                  "before the time bound")
    if json_out:
        print(json.dumps({"consume": res.to_json()}))
