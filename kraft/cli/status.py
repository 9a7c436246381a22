"""`kraft status` (one screen: nodes, controller, brokers, partitions, problems) and
`kraft health` (healthy or not, and why; exit 1 when not). They ask the cluster (kraft.cli.
connect) and each node's /status/ready; kraft.cli.cluster_summary judges."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional

import typer

from kraft.cli import cluster_summary as summary
from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, connect

PROBE_TIMEOUT_S = 3.0


def register(app: typer.Typer) -> None:
    app.command("status")(status)
    app.command("health")(health)


def status(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """One screen: each node (roles, address, ready, broker state, metadata lag; its host
    when brokers belong to [[hosts]] entries), the controller, the partitions (led, without
    a leader, under-replicated), a line per host and every problem.
    Exits 0 whenever the cluster answered; `kraft health` judges."""
    from rich.table import Table

    from kraft.server import terminal
    s = summary.summarize(gather(config, bootstrap))
    out = terminal.console()
    out.print(s.headline, markup=False, highlight=False)
    table = Table(*s.columns)
    for row in s.rows:
        table.add_row(*row)
    out.print(table)
    out.print(s.partitions, markup=False, highlight=False)
    for line in s.hosts:
        out.print(line, markup=False, highlight=False)
    for note in s.notes:
        out.print(f"note: {note}", markup=False, highlight=False)
    if s.healthy:
        out.print("[green]healthy[/]")
    else:
        out.print("[red]unhealthy:[/]")
        for problem in s.problems:
            out.print(f"  {problem}", markup=False, highlight=False)


def health(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Healthy or not: exit 0 and one line when healthy, else exit 1 and each problem (a
    node down or not ready, no controller, partitions without a leader, under-replicated
    or refusing acks=all writes, a damaged replica with no healthy copy)."""
    s = summary.summarize(gather(config, bootstrap))
    for line in summary.verdict(s):
        typer.echo(line)
    raise typer.Exit(0 if s.healthy else 1)


def gather(config: Optional[Path], bootstrap: Optional[str]) -> summary.Answers:
    """Everything the summary needs, asked of any node that answers, and each node's readiness."""
    from kraft.client.admin_client import AdminError
    connection = connect(config, bootstrap)
    admin = connection.client
    with admin_errors():
        cluster = admin.v3("GET", "")
        health_overview = admin.request("GET", "/v1/cluster/health_overview")
        brokers = admin.v3("GET", "/brokers")["data"]
        topics = admin.v3("GET", "/topics")["data"]
    quorum, quorum_error = None, ""
    try:
        quorum = admin.v3("GET", "/quorum")
    except AdminError as exc:
        quorum_error = str(exc)
    addresses = summary.node_addresses(connection.nodes, brokers, summary.scheme_of(admin.bootstrap[0]))
    answers = summary.Answers(cluster, health_overview, brokers, topics, quorum, quorum_error,
                              addresses=addresses)
    ids = summary.node_ids(answers)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(ids)))) as pool:
        probed = pool.map(lambda n: probe(addresses.get(n), admin.ca_file), ids)
        answers.ready.update(zip(ids, probed))
    return answers


def probe(url: Optional[str], ca_file: Any) -> summary.Readiness:
    """A node's /status/ready (open to all: no credentials sent)."""
    from kraft.client.admin_client import tls_context
    if url is None:
        return summary.Readiness(summary.UNKNOWN)
    try:
        with urllib.request.urlopen(url + "/status/ready", timeout=PROBE_TIMEOUT_S,
                                    context=tls_context(ca_file)) as resp:
            resp.read()
        return summary.Readiness(summary.READY)
    except urllib.error.HTTPError as exc:
        try:
            reason = json.loads(exc.read()).get("reason") or f"HTTP {exc.code}"
        except (ValueError, AttributeError):
            reason = f"HTTP {exc.code}"
        return summary.Readiness(summary.NOT_READY, str(reason))
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return summary.Readiness(summary.UNREACHABLE, str(getattr(reason, "strerror", None) or reason))
