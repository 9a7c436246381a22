"""`kraft topic create | list | describe | delete | config | reassign`: topics, as
kafka-topics.sh, kafka-configs.sh and kafka-reassign-partitions.sh manage them."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client, fail

NameArg = typer.Argument(..., help="the topic's name")


def register(app: typer.Typer) -> None:
    topic_app = typer.Typer(no_args_is_help=True, help="Topics: create, list, describe, delete, config, reassign.")
    app.add_typer(topic_app, name="topic")
    for name, command in (("create", topic_create), ("list", topic_list), ("describe", topic_describe),
                          ("delete", topic_delete), ("config", topic_config), ("reassign", topic_reassign)):
        topic_app.command(name)(command)


def parse_kv(items: list[str]) -> dict[str, str]:
    result = {}
    for item in items:
        if "=" not in item:
            fail(f"config {item!r} must be NAME=VALUE", 2)
        k, v = item.split("=", 1)
        result[k] = v
    return result


def _path(name: str) -> str:
    return f"/topics/{urllib.parse.quote(name, safe='')}"


def topic_create(name: str = NameArg,
                 partitions: Optional[int] = typer.Option(None, "--partitions", "-p", min=1,
                                                          help="partitions (default: the cluster's num.partitions)"),
                 replication_factor: Optional[int] = typer.Option(
                     None, "--replication-factor", "-r", min=1,
                     help="copies of each partition (default: the cluster's replication.factor)"),
                 config_kv: list[str] = typer.Option([], "--set", help="topic config NAME=VALUE, repeatable "
                                                     "(e.g. retention.ms=60000)"),
                 config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Create a topic (like kafka-topics.sh --create)."""
    body: dict[str, object] = {
        "topic_name": name, "configs": [{"name": k, "value": v} for k, v in parse_kv(config_kv).items()]}
    if partitions is not None:
        body["partitions_count"] = partitions
    if replication_factor is not None:
        body["replication_factor"] = replication_factor
    with admin_errors():
        t = client(config, bootstrap).v3("POST", "/topics", body)
    typer.echo(f"created topic {t['topic_name']} ({t['partitions_count']} partitions, "
               f"RF {t['replication_factor']})")


def topic_list(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Every topic's name, one a line (none: says so on stderr)."""
    with admin_errors():
        topics = client(config, bootstrap).v3("GET", "/topics")["data"]
    for t in topics:
        typer.echo(t["topic_name"])
    if not topics:
        typer.echo("no topics (`kraft topic create NAME` makes one)", err=True)


def topic_describe(name: str = NameArg, config: Optional[Path] = ConfigOpt,
                   bootstrap: Optional[str] = BootstrapOpt):
    """A topic's id, partitions (leader, replicas, ISR, ELR) and config overrides
    (like kafka-topics.sh --describe); for an Iceberg topic, its table and each
    partition's translated offset and lag."""
    from rich.table import Table

    from kraft.client.admin_client import AdminError
    from kraft.server import terminal
    with admin_errors():
        c = client(config, bootstrap)
        t = c.v3("GET", _path(name))
        parts = c.v3("GET", f"{_path(name)}/partitions")["data"]
        configs = c.v3("GET", f"{_path(name)}/configs")["data"]
        iceberg: dict | str | None = None
        if any(x["name"] == "iceberg.mode" and x["value"] != "disabled" for x in configs):
            try:
                iceberg = c.request("GET", f"/v1/topics/{urllib.parse.quote(name, safe='')}/iceberg")
            except AdminError as exc:  # (the table's metadata unreadable for a moment): the rest still shows
                iceberg = str(exc)
    overrides = ",".join(f"{x['name']}={x['value']}" for x in configs
                         if x["source"] == "DYNAMIC_TOPIC_CONFIG")
    out = terminal.console()
    out.print(f"Topic: {t['topic_name']}  TopicId: {t['topic_id']}  "
              f"PartitionCount: {t['partitions_count']}  "
              f"ReplicationFactor: {t['replication_factor']}  Configs: {overrides}", markup=False)
    table = Table("Partition", "Leader", "LeaderEpoch", "Replicas", "Isr", "Elr", "Unclean")
    for p in parts:
        table.add_row(str(p["partition_id"]), str(p["leader_id"] if p["leader_id"] is not None else "none"),
                      str(p["leader_epoch"]), ",".join(map(str, p["replica_ids"])),
                      ",".join(map(str, p["isr"])), ",".join(map(str, p["eligible_leader_replicas"])),
                      str(p["unclean_elections"]))
    out.print(table)
    if isinstance(iceberg, str):
        out.print(f"Iceberg: the translation cannot be shown now: {iceberg}", markup=False)
    elif iceberg is not None:
        _print_iceberg(out, iceberg)


def _print_iceberg(out, iceberg: dict) -> None:
    from rich.table import Table
    table_name = iceberg.get("table") or "none yet (made by the first round)"
    out.print(f"Iceberg: mode {iceberg['mode']}  table {table_name}", markup=False)
    lags = Table("Partition", "Translated", "LastStable", "Lag")
    for p in iceberg["partitions"]:
        lags.add_row(*(str(p[k]) if p[k] is not None else "-"
                       for k in ("partition_id", "translated_offset", "last_stable_offset", "lag")))
    out.print(lags)


def topic_delete(name: str = NameArg, config: Optional[Path] = ConfigOpt,
                 bootstrap: Optional[str] = BootstrapOpt):
    """Delete a topic and its records (like kafka-topics.sh --delete)."""
    with admin_errors():
        client(config, bootstrap).v3("DELETE", _path(name))
    typer.echo(f"deleted topic {name}")


def topic_reassign(name: str = NameArg,
                   partition: int = typer.Option(..., "--partition", "-p", help="the partition to move"),
                   replicas: Optional[str] = typer.Option(None, "--replicas", help="target broker ids, e.g. 2,3,4"),
                   cancel: bool = typer.Option(False, "--cancel", help="cancel the reassignment in progress"),
                   config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Move a partition's replicas (new ones catch up before old ones leave), like
    kafka-reassign-partitions.sh; without --replicas or --cancel, show its progress."""
    path = f"{_path(name)}/partitions/{partition}/reassignment"
    target: list[int] = []
    if replicas is not None:
        try:
            target = [int(b) for b in replicas.split(",") if b.strip()]
        except ValueError:
            fail(f"--replicas must be broker ids separated by commas, got {replicas!r}", 2)
    with admin_errors():
        c = client(config, bootstrap)
        if cancel:
            r = c.v3("DELETE", path)
        elif replicas is not None:
            r = c.v3("POST", path, {"replicas": target})
        else:
            r = c.v3("GET", path)
    if r["adding_replicas"] or r["removing_replicas"]:
        typer.echo(f"{name}-{partition}: reassigning, adding {r['adding_replicas']}, removing "
                   f"{r['removing_replicas']}")
    else:
        typer.echo(f"{name}-{partition}: no reassignment in progress")


def topic_config(name: str = NameArg,
                 set_kv: list[str] = typer.Option([], "--set", help="NAME=VALUE, repeatable"),
                 delete: list[str] = typer.Option([], "--delete", help="NAME (back to the default), repeatable"),
                 config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Show a topic's configs, or change them live with --set / --delete."""
    from rich.table import Table

    from kraft.server import terminal
    changes: list[dict[str, str]] = [{"name": k, "value": v} for k, v in parse_kv(set_kv).items()]
    changes += [{"name": k, "operation": "DELETE"} for k in delete]
    with admin_errors():
        c = client(config, bootstrap)
        if changes:
            c.v3("POST", f"{_path(name)}/configs:alter", {"data": changes})
        configs = c.v3("GET", f"{_path(name)}/configs")["data"]
    table = Table("Name", "Value", "Source")
    for x in configs:
        table.add_row(x["name"], x["value"], x["source"])
    terminal.console().print(table)
