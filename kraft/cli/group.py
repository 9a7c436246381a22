"""`kraft group list | describe GROUP`: consumer groups, their members and lag."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client


def register(app: typer.Typer) -> None:
    group_app = typer.Typer(no_args_is_help=True, help="Consumer groups: list, describe.")
    app.add_typer(group_app, name="group")
    config_opt, bootstrap_opt = ConfigOpt, BootstrapOpt

    @group_app.command("list")
    def group_list(config: Optional[Path] = config_opt, bootstrap: Optional[str] = bootstrap_opt):
        """Every consumer group with members or committed offsets."""
        from rich.table import Table

        from kraft.server import terminal
        with admin_errors():
            groups = client(config, bootstrap).v3("GET", "/consumer-groups")["data"]
        if not groups:
            typer.echo("no consumer groups (a consumer with a group.id makes one)", err=True)
            return
        table = Table("Group", "State", "Assignor", "Coordinator")
        for g in groups:
            table.add_row(g["consumer_group_id"], g["state"], g["partition_assignor"] or "-",
                          g["coordinator"]["related"].rsplit("/", 1)[-1])
        terminal.console().print(table)

    @group_app.command("describe")
    def group_describe(group: str = typer.Argument(..., help="the group's id"), config: Optional[Path] = config_opt,
                       bootstrap: Optional[str] = bootstrap_opt):
        """Members, assignments, committed offsets and lag per partition."""
        from rich.table import Table

        from kraft.server import terminal
        base = f"/consumer-groups/{urllib.parse.quote(group, safe='')}"
        with admin_errors():
            c = client(config, bootstrap)
            g = c.v3("GET", base)
            members = c.v3("GET", base + "/consumers")["data"]
            for m in members:  # each member links its assignments
                m["assigned"] = _assignments(c, base, m["consumer_id"])
            lags = c.v3("GET", base + "/lags")["data"]
        out = terminal.console()
        out.print(f"Group: {g['consumer_group_id']}  State: {g['state']}  Generation: {g['generation_id']}  "
                  f"Assignor: {g['partition_assignor'] or '-'}  "
                  f"Coordinator: {g['coordinator']['related'].rsplit('/', 1)[-1]}")
        table = Table("Instance", "Consumer id", "Assignments")
        for m in members:
            table.add_row(m["instance_id"], m["consumer_id"] or "-",
                          ",".join(f"{a['topic_name']}-{a['partition_id']}" for a in m["assigned"]) or "-")
        out.print(table)
        table = Table("Topic", "Partition", "Committed", "Log end", "Lag", "Owner")
        for row in lags:
            table.add_row(row["topic_name"], str(row["partition_id"]), _offset(row["current_offset"]),
                          _offset(row["log_end_offset"]), _offset(row["lag"]), row["instance_id"] or "-")
        out.print(table)


def _offset(value: int) -> str:
    return "-" if value < 0 else str(value)


def _assignments(c, base: str, consumer_id: str) -> list[dict]:
    from kraft.client.admin_client import AdminError
    try:
        return c.v3("GET", f"{base}/consumers/{urllib.parse.quote(consumer_id, safe='')}/assignments")["data"]
    except AdminError:  # the member left between the two calls
        return []
