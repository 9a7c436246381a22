"""`kraft host list | restart NAME | decommission NAME | recommission NAME | units NAME`:
a [[hosts]] entry of cluster.toml (one machine's broker processes) as one unit.

`list` reads the file and asks each process whether it is ready; decommission and
recommission ask the cluster once per broker of the host, as `kraft broker` does;
restart asks the `kraft up` supervising the host on this machine (kraft.server.
host_supervision) and waits until each restarted process is ready again; units writes
systemd units (kraft.cli.host_units), whose target restarts a host that systemd runs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer

from kraft.cli.connect import ConfigOpt, client, fail, load_config

if TYPE_CHECKING:
    from kraft.config.cluster import ClusterConfig
    from kraft.config.host_config import HostConfig

HostArg: Any = typer.Argument(..., help="the host's name (its entry's name in cluster.toml)")
POLL_S = 0.2


def register(app: typer.Typer) -> None:
    host_app = typer.Typer(no_args_is_help=True, help="Hosts (one machine's processes as one unit): list, restart, "
                                                      "decommission, recommission, units.")
    app.add_typer(host_app, name="host")
    host_app.command("list")(host_list)
    host_app.command("restart")(host_restart)
    host_app.command("decommission")(host_decommission)
    host_app.command("recommission")(host_recommission)
    add_units_command(host_app)


def add_units_command(host_app: typer.Typer) -> None:
    """`kraft host units NAME`: the systemd units that run a host as one unit."""
    from kraft.cli import host_units
    host_units.register(host_app)


def _one_host(cfg: ClusterConfig, name: str) -> HostConfig:
    from kraft.server.host_supervision import HostSelectionError, select_hosts
    try:
        return select_hosts(cfg, [name])[0]
    except HostSelectionError as exc:
        fail(str(exc), 2)


def _ca(cfg: ClusterConfig) -> Optional[Path]:
    security = cfg.security
    return cfg.path_of(security.tls_ca) if security is not None and security.tls_ca else None


def _readiness(cfg: ClusterConfig, node_ids: list[int]) -> dict[int, Any]:
    """node id -> kraft.cli.cluster_summary.Readiness, each asked at once."""
    from kraft.cli.status import probe
    ca = _ca(cfg)
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(node_ids)))) as pool:
        return dict(zip(node_ids, pool.map(lambda n: probe(cfg.node(n).http_url, ca), node_ids)))


def _brokers(config: Optional[Path]) -> dict[int, dict] | None:
    """The registered brokers by id; None when the cluster does not answer."""
    from kraft.client.admin_client import AdminError
    try:
        return {b["broker_id"]: b for b in client(config, None).v3("GET", "/brokers")["data"]}
    except AdminError:
        return None


def host_list(config: Optional[Path] = ConfigOpt):
    """Each host of the file and its processes, each ready or not.

    Each process's node id, roles, ports and data dir from the file; whether it is ready
    and, where the cluster answers, how its broker is registered."""
    from rich.markup import escape
    from rich.table import Table

    from kraft.server import terminal
    from kraft.server.host_supervision import host_dir, supervisor
    cfg, _ = load_config(config)
    ready = _readiness(cfg, [n.id for n in cfg.nodes])
    brokers = _brokers(config)
    table = Table("Host", "Node", "Roles", "Kafka", "HTTP", "Raft", "DataDir", "State", "Broker")
    for node in cfg.nodes:
        row = (node.host_name or "-", str(node.id), ",".join(node.roles), node.kafka_address or "-",
               node.http_url, node.raft_address or "-", str(node.data_path), _said(ready[node.id]),
               _broker_state(brokers, node.id) if node.is_broker else "-")
        table.add_row(*map(escape, row))
    out = terminal.console()
    out.print(table)
    if brokers is None:
        out.print("note: the cluster did not answer: no broker registrations shown", markup=False)
    for host in cfg.hosts:
        if (pid := supervisor(host_dir(cfg, host))) is not None:
            out.print(f"host {host.name}: supervised by kraft up (pid {pid}) on this machine", markup=False)


def _said(readiness: Any) -> str:
    """A process's readiness in words: ready, not ready or down, and why."""
    from kraft.cli import cluster_summary as summary
    words = {summary.READY: "ready", summary.NOT_READY: "not ready", summary.UNREACHABLE: "down"}
    return words.get(readiness.state, readiness.state) + (f": {readiness.reason}" if readiness.reason else "")


def _broker_state(brokers: dict[int, dict] | None, node_id: int) -> str:
    if brokers is None:
        return "?"
    b = brokers.get(node_id)
    if b is None:
        return "not registered"
    return "decommissioning" if b.get("decommissioning") else ("fenced" if b["fenced"] else "registered")


def host_decommission(name: str = HostArg, config: Optional[Path] = ConfigOpt):
    """Decommission every broker of the host (their replicas move to other hosts).

    `kraft broker decommission` for each; stop the host once each says decommissioned."""
    _each_broker(name, config, "decommission")


def host_recommission(name: str = HostArg, config: Optional[Path] = ConfigOpt):
    """Recommission every broker of the host: moves under way are cancelled, they take replicas again."""
    _each_broker(name, config, "recommission")


def _each_broker(name: str, config: Optional[Path], action: str) -> None:
    """One call per broker of the host, each decommission naming the host's others as
    leaving with it (none of them may take its replicas), so the cluster refuses the
    first one when the host cannot go whole. A refusal later on (the cluster changed
    meanwhile) is taken back for those already asked."""
    from kraft.cli.broker import show
    from kraft.client.admin_client import AdminError
    cfg, _ = load_config(config)
    host = _one_host(cfg, name)
    admin = client(config, None)
    done: list[int] = []
    for broker_id in host.node_ids:
        try:
            others = ",".join(str(b) for b in host.node_ids if b != broker_id)
            query = f"?together={others}" if action == "decommission" and others else ""
            result = admin.request("PUT", f"/v1/brokers/{broker_id}/{action}{query}")
        except AdminError as exc:
            fail(f"broker {broker_id}: {exc}{_take_back(admin, done, action, name)}")
        done.append(broker_id)
        if action == "recommission":
            typer.echo(f"broker {broker_id}: recommissioned, {result.get('moves_cancelled', 0)} moves cancelled")
        show(result)


def _take_back(admin: Any, done: list[int], action: str, name: str) -> str:
    """After a refusal: recommission the brokers a host decommission already asked for;
    what to tell the user about them."""
    from kraft.client.admin_client import AdminError
    if not done:
        return ""
    if action != "decommission":
        return f" (brokers {', '.join(map(str, done))} were recommissioned)"
    kept = []
    for broker_id in done:
        try:
            admin.request("PUT", f"/v1/brokers/{broker_id}/recommission")
        except AdminError:
            kept.append(broker_id)
    if kept:
        return (f"; brokers {', '.join(map(str, kept))} are still decommissioning: "
                f"`kraft host recommission {name}` takes them back")
    return f"; host {name} stays: brokers {', '.join(map(str, done))} recommissioned again"


def host_restart(name: str = HostArg, config: Optional[Path] = ConfigOpt,
                 timeout: float = typer.Option(180.0, help="seconds to wait until every process is ready again")):
    """Restart every process of the host as one unit; wait until each is ready again.

    The `kraft up` supervising the host on this machine stops them all, then starts them."""
    from kraft.cli import cluster_summary as summary
    from kraft.server import host_supervision as hs
    cfg, _ = load_config(config)
    host = _one_host(cfg, name)
    directory = hs.host_dir(cfg, host)
    pid = hs.supervisor(directory)
    if pid is None:
        fail(f"no kraft up on this machine supervises host {name} (none runs it here, or systemd does: "
             f"systemctl restart kraft-host-{name}.target)")
    deadline = time.monotonic() + timeout
    request = hs.request_restart(directory)
    while (pids := hs.restarted(directory, request)) is None:
        if hs.supervisor(directory) is None:
            hs.withdraw(directory, request)
            fail(f"kraft up (pid {pid}) stopped before it restarted host {name}")
        if time.monotonic() > deadline:
            hs.withdraw(directory, request)
            fail(f"kraft up (pid {pid}) did not restart host {name} within {timeout:.0f}s")
        time.sleep(POLL_S)
    typer.echo(f"host {name}: kraft up (pid {pid}) restarted nodes {', '.join(map(str, sorted(pids)))}")
    ready = _readiness(cfg, sorted(pids))
    while not all(r.state == summary.READY for r in ready.values()) and time.monotonic() < deadline:
        time.sleep(POLL_S * 5)
        ready = _readiness(cfg, sorted(pids))
    for node_id, said in sorted(ready.items()):
        typer.echo(f"node {node_id}: pid {pids[node_id]}, {_said(said)}")
    if not all(r.state == summary.READY for r in ready.values()):
        fail(f"host {name} not ready {timeout:.0f}s after the restart was asked")
