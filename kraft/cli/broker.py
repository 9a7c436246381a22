"""`kraft broker list | decommission ID | recommission ID | status ID`: take a broker out
of the cluster for good (its replicas move to the others first), or bring it back."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client

BrokerArg = typer.Argument(..., help="the broker's node id")


def register(app: typer.Typer) -> None:
    broker_app = typer.Typer(no_args_is_help=True, help="Brokers: list, decommission, recommission.")
    app.add_typer(broker_app, name="broker")
    config_opt, bootstrap_opt = ConfigOpt, BootstrapOpt

    def call(config, bootstrap, method: str, path: str):
        with admin_errors():
            return client(config, bootstrap).request(method, path)

    @broker_app.command("list")
    def broker_list(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt):
        """The registered brokers."""
        from rich.table import Table
        with admin_errors():
            brokers = client(config, bootstrap).v3("GET", "/brokers")["data"]
        table = Table("BrokerId", "Host", "Port", "Rack", "Fenced", "Decommissioning")
        for b in brokers:
            table.add_row(str(b["broker_id"]), str(b["host"]), str(b["port"]), b.get("rack") or "-",
                          str(b["fenced"]), str(b.get("decommissioning", False)))
        _console().print(table)

    @broker_app.command("decommission")
    def broker_decommission(broker_id: int = BrokerArg, config: Optional[Path] = config_opt,
                            bootstrap: Optional[str] = bootstrap_opt):
        """Move every replica off the broker (new copies catch up before old ones leave),
        then unregister it; it may be shut down once `status` says decommissioned."""
        show(call(config, bootstrap, "PUT", f"/v1/brokers/{broker_id}/decommission"))

    @broker_app.command("recommission")
    def broker_recommission(broker_id: int = BrokerArg, config: Optional[Path] = config_opt,
                            bootstrap: Optional[str] = bootstrap_opt):
        """Stop a decommission: moves under way are cancelled, the broker takes replicas again."""
        result = call(config, bootstrap, "PUT", f"/v1/brokers/{broker_id}/recommission")
        typer.echo(f"broker {broker_id}: recommissioned, {result.get('moves_cancelled', 0)} moves cancelled")
        show(result)

    @broker_app.command("status")
    def broker_status(broker_id: int = BrokerArg, config: Optional[Path] = config_opt,
                      bootstrap: Optional[str] = bootstrap_opt):
        """A decommission's progress: partitions left, moving, and any no broker can take."""
        show(call(config, bootstrap, "GET", f"/v1/brokers/{broker_id}/decommission"))


def _console():
    from kraft.server import terminal
    return terminal.console()


def show(s: dict) -> None:
    from rich.table import Table
    out = _console()
    typer.echo(f"broker {s['broker_id']}: {s['state']}, {s['replicas_left']} partitions left "
               f"({s['moves_in_flight']} moving), {s['partitions_done']} moved")
    if s["partitions"]:
        table = Table("Topic", "Partition", "State", "MovingTo")
        for p in s["partitions"]:
            table.add_row(p["topic"], str(p["partition"]), p["state"], ",".join(map(str, p["moving_to"])) or "-")
        out.print(table)
    for f in s["allocation_failures"]:
        out.print(f"[yellow]problem:[/] {f['topic']}-{f['partition']}: {f['reason']}")
