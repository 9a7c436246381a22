"""`kraft share-group list | describe GROUP | delete GROUP`: share groups (KIP-932) over
the REST API's /v3/clusters/{id}/share-groups (kraft/api/share_group_routes.py), as
kafka-share-groups.sh --list / --describe / --delete / --reset-offsets."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client, fail

GroupArg = typer.Argument(..., help="the share group's id (its consumers' group.id)")


def register(app: typer.Typer) -> None:
    share_app = typer.Typer(no_args_is_help=True, help="Share groups (KIP-932): list, describe, delete.")
    app.add_typer(share_app, name="share-group")
    share_app.command("list")(share_group_list)
    share_app.command("describe")(share_group_describe)
    share_app.command("delete")(share_group_delete)
    share_app.command("reset-offsets")(share_group_reset_offsets)


def _path(group: str) -> str:
    return f"/share-groups/{urllib.parse.quote(group, safe='')}"


def share_group_list(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Every share group: with members (STABLE) or only stored state (EMPTY)."""
    from rich.table import Table

    from kraft.server import terminal
    with admin_errors():
        groups = client(config, bootstrap).v3("GET", "/share-groups")["data"]
    if not groups:
        typer.echo("no share groups (a share consumer, e.g. confluent_kafka's ShareConsumer, makes one)", err=True)
        return
    table = Table("Group", "State", "Members")
    for g in groups:
        table.add_row(g["share_group_id"], g["state"], str(g["members_count"]))
    terminal.console().print(table)


def in_flight_text(counts: dict[str, int]) -> str:
    """{"available": 3, "acquired": 0, "acknowledged": 2} -> "available=3 acknowledged=2" ("-": none)."""
    return " ".join(f"{state}={n}" for state, n in counts.items() if n) or "-"


def _value(v: object) -> str:
    return "-" if v is None else str(v)


def share_group_describe(group: str = GroupArg, config: Optional[Path] = ConfigOpt,
                         bootstrap: Optional[str] = BootstrapOpt):
    """Members and their assignments, and per partition the start offset, lag and the
    records in flight by state (as kafka-share-groups.sh --describe --members / --offsets)."""
    from rich.table import Table

    from kraft.server import terminal
    with admin_errors():
        g = client(config, bootstrap).v3("GET", _path(group))
    out = terminal.console()
    out.print(f"Group: {g['share_group_id']}  State: {g['state']}  Epoch: {g['group_epoch']}  "
              f"Coordinator: {g['coordinator_id']}  DeadLetterTopic: {g.get('dead_letter_topic') or '-'}",
              markup=False)
    if g["members"]:
        members = Table("Member", "Client", "Epoch", "Subscribed", "Assignments")
        for m in g["members"]:
            members.add_row(m["member_id"], m["client_id"] or "-", str(m["member_epoch"]),
                            ",".join(m["subscribed_topics"]) or "-",
                            ",".join(f"{a['topic_name']}-{a['partition_id']}" for a in m["assignments"]) or "-")
        out.print(members)
    else:
        typer.echo("no members")
    partitions = Table("Topic", "Partition", "StartOffset", "Lag", "InFlight")
    for p in g["partitions"]:
        partitions.add_row(p["topic_name"], str(p["partition_id"]), _value(p["start_offset"]), _value(p["lag"]),
                           in_flight_text(p["in_flight"]))
    out.print(partitions)


def share_group_delete(group: str = GroupArg, config: Optional[Path] = ConfigOpt,
                       bootstrap: Optional[str] = BootstrapOpt):
    """Delete an empty share group's stored state (start offsets, records in flight);
    refused while it has members (stop its consumers first)."""
    with admin_errors():
        client(config, bootstrap).v3("DELETE", _path(group))
    typer.echo(f"deleted share group {group}")


def share_group_reset_offsets(group: str = GroupArg,
                              topic: str = typer.Option(..., "--topic", help="the topic whose partitions restart"),
                              partition: Optional[int] = typer.Option(None, "--partition", "-p", min=0,
                                                                      help="only this partition (default: all)"),
                              to_offset: Optional[int] = typer.Option(None, "--to-offset", min=0,
                                                                      help="restart at this offset"),
                              to_earliest: bool = typer.Option(False, "--to-earliest",
                                                               help="restart at each partition's first record"),
                              to_latest: bool = typer.Option(False, "--to-latest",
                                                             help="restart after each partition's last record"),
                              config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Make an empty share group start reading a topic's partitions at an offset (what was
    in flight is forgotten), as kafka-share-groups.sh --reset-offsets; refused while it has
    members."""
    if (to_offset is not None) + to_earliest + to_latest != 1:
        fail("give one of --to-offset N, --to-earliest, --to-latest", 2)
    quoted = urllib.parse.quote(topic, safe="")
    with admin_errors():
        admin = client(config, bootstrap)
        partitions = ([partition] if partition is not None
                      else list(range(admin.v3("GET", f"/topics/{quoted}")["partitions_count"])))
        offsets = {}
        for p in partitions:
            if to_offset is not None:
                offsets[p] = to_offset
            else:
                o = admin.request("GET", f"/topics/{quoted}/partitions/{p}/offsets")
                offsets[p] = o["beginning_offset"] if to_earliest else o["end_offset"]
        admin.v3("POST", f"{_path(group)}/offsets:alter",
                 {"offsets": [{"topic_name": topic, "partition_id": p, "offset": o} for p, o in offsets.items()]})
    typer.echo(f"share group {group} starts {topic} at "
               + ", ".join(f"{topic}-{p}: {o}" for p, o in offsets.items()))
