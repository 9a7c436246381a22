"""`kraft rebalance plan | execute | show | cancel`: even replicas and preferred leaders
over the live brokers (kraft/controller/rebalance_planner.py), moving as few replicas as
it can, as reassignments run by the controller a bounded number at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client

PATH = "/v1/partitions/rebalance"


def _console():
    from kraft.server import terminal
    return terminal.console()


def register(app: typer.Typer) -> None:
    rebalance_app = typer.Typer(no_args_is_help=True, help="Spread partitions evenly over the brokers.")
    app.add_typer(rebalance_app, name="rebalance")
    config_opt, bootstrap_opt = ConfigOpt, BootstrapOpt

    def call(config, bootstrap, method: str, path: str, body=None):
        with admin_errors():
            return client(config, bootstrap).request(method, path, body)

    @rebalance_app.command("plan")
    def rebalance_plan(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt):
        """What a rebalance would move now (nothing changes)."""
        planned = call(config, bootstrap, "GET", PATH + "/plan")
        show_counts(planned)
        if planned["moves"]:
            from rich.table import Table
            table = Table("Topic", "Partition", "Replicas", "Target")
            for m in planned["moves"]:
                table.add_row(m["topic"], str(m["partition"]), ",".join(map(str, m["replicas"])),
                              ",".join(map(str, m["target"])))
            _console().print(table)

    @rebalance_app.command("execute")
    def rebalance_execute(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt,
                          max_moves: int = typer.Option(4, "--max-moves-in-flight", min=1,
                                                        help="partitions moving at once")):
        """Plan and start: the controller moves the partitions, a bounded number at a time
        (throttled by leader/follower.replication.throttled.rate where set)."""
        started = call(config, bootstrap, "POST", PATH, {"max_moves_in_flight": max_moves})
        show_counts(started)
        show_status(started["status"])

    @rebalance_app.command("show")
    def rebalance_show(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt):
        """The latest rebalance's progress: moves done, in flight, left."""
        show_status(call(config, bootstrap, "GET", PATH), moves=True)

    @rebalance_app.command("cancel")
    def rebalance_cancel(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt):
        """Start no more moves; the moves under way are reverted (Kafka's cancel)."""
        result = call(config, bootstrap, "DELETE", PATH)
        typer.echo(f"cancelled: {result['moves_reverted']} moves under way reverted")
        show_status(result)


def show_counts(s: dict) -> None:
    from rich.table import Table
    typer.echo(f"{s['replicas_to_move']} replicas to move, {s['leaders_to_move']} preferred leaders to change")
    table = Table("Broker", "Replicas", "After", "PreferredLeaders", "After")
    for b in s["brokers"]:
        now, after = s["before"][str(b)], s["after"][str(b)]
        table.add_row(str(b), str(now["replicas"]), str(after["replicas"]), str(now["preferred_leaders"]),
                      str(after["preferred_leaders"]))
    _console().print(table)


def show_status(s: dict, moves: bool = False) -> None:
    if s["rebalance_id"] is None:
        typer.echo("no rebalance has run")
        return
    typer.echo(f"{s['rebalance_id']}: {s['state']}, {s['moves_done']} done, {s['moves_in_flight']} in flight, "
               f"{s['moves_left']} left, {s['moves_skipped']} skipped of {s['moves_total']} moves")
    if moves and s["moves"]:
        from rich.table import Table
        table = Table("Topic", "Partition", "Replicas", "Target", "State")
        for m in s["moves"]:
            table.add_row(str(m["topic"]), str(m["partition"]), ",".join(map(str, m["replicas"])),
                          ",".join(map(str, m["target"])), m["state"])
        _console().print(table)
