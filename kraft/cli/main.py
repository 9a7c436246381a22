"""The `kraft` command. Exit 0 on success; errors go to stderr as one line."""

from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from kraft.server import terminal
from kraft.cli import broker as cli_broker
from kraft.cli import rebalance as cli_rebalance
from kraft.cli import certs as cli_certs
from kraft.cli import data as cli_data
from kraft.cli import group as cli_group
from kraft.cli import security as cli_security
from kraft.cli import profile_commands, profiles, target
from kraft.client.admin_client import AdminClient, AdminError, credentials_from_env
from kraft.config.cluster import ConfigFileError, load_cluster_config, load_cluster_config_text
from kraft.perf import cli as perf_cli
from kraft.scenario import cli as scenario_cli

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="kraft: a KRaft-style streaming cluster.")
quorum_app = typer.Typer(no_args_is_help=True, help="Metadata quorum.")
topic_app = typer.Typer(no_args_is_help=True, help="Topics.")
storage_app = typer.Typer(no_args_is_help=True, help="Stored data: damage, repairs, the scrubber.")
app.add_typer(quorum_app, name="quorum")
app.add_typer(storage_app, name="storage")
app.add_typer(topic_app, name="topic")
out = terminal.console()
VOTER_CHANGE_WAIT_S = 45.0  # the controller waits up to 30 s for an observer to catch up

ConfigOpt = typer.Option(None, "-c", "--config", help="cluster.toml (default: $KRAFT_CONFIG, then for a "
                         "running cluster the current profile, then ./cluster.toml, else the bundled default)")
BootstrapOpt = typer.Option(None, "--bootstrap", help="any node's HTTP address: HOST:PORT[,HOST:PORT] or a URL")


def fail(message: str, code: int = 1):
    typer.echo(f"kraft: {message}", err=True)
    raise typer.Exit(code)


def load_config(path: Optional[Path], embedded: bool = False):
    """A file command's cluster.toml (kraft.cli.target.file_config) and its path (None: bundled)."""
    choice = target.ConfigChoice(None, "--embedded-default") if embedded else target.file_config(path)
    return _load(choice)


def _load(choice: target.ConfigChoice):
    try:
        if choice.path is None:
            text = (importlib.resources.files("kraft") / "cluster.toml").read_text()
            return load_cluster_config_text(text, "cluster.toml (bundled)", Path.cwd()), None
        return load_cluster_config(choice.path), choice.path
    except ConfigFileError as exc:
        fail(f"{exc}" + ("" if choice.source == "-c" else f" (the config from {choice.source})"), 2)


def client(config: Optional[Path], bootstrap: Optional[str]) -> AdminClient:
    """Credentials, when the cluster asks for them, come from KRAFT_USER/KRAFT_PASSWORD;
    https nodes are checked against the CA the cluster's config (or profile) names, else KRAFT_CA."""
    auth = credentials_from_env()
    try:
        if bootstrap:
            https, ca = _profile_tls()
            ca = ca or target.ca_env()
            return AdminClient(target.bootstrap_urls(bootstrap, https or ca is not None), auth=auth, ca_file=ca,
                               unreachable_note=f"tried --bootstrap {bootstrap}")
        choice, profile = target.client_config(config)
    except (target.TargetError, profiles.ProfileError) as exc:
        fail(str(exc), 2)
    note = f"tried the nodes of {target.describe(choice)}; {target.OTHER_WAYS}"
    if profile is not None:  # a profile of bootstrap URLs
        return AdminClient(profile.bootstrap, auth=auth, ca_file=profile.ca,  # else KRAFT_CA
                           unreachable_note=f"tried {profile.describe()} ({choice.source}); {target.OTHER_WAYS}")
    cfg, _ = _load(choice)
    return AdminClient([n.http_url for n in cfg.nodes], auth=auth, ca_file=_config_ca(cfg),  # else KRAFT_CA
                       unreachable_note=note)


def _config_ca(cfg) -> Optional[Path]:
    security = cfg.security
    return cfg.path_of(security.tls_ca) if security is not None and security.tls_ca else None


def _profile_tls() -> tuple[bool, Optional[str]]:
    """(https?, CA file) of the current profile's cluster: what a bare --bootstrap host:port needs."""
    chosen = profiles.current()
    if chosen is None:
        return False, None
    profile = chosen[1]
    if not profile.config:
        return any(u.startswith("https://") for u in profile.bootstrap), profile.ca
    if profile.config == profiles.BUNDLED:
        return False, None
    try:
        cfg = load_cluster_config(Path(profile.config))
    except ConfigFileError:
        return False, None  # the file moved: the URL's own scheme, or http
    ca = _config_ca(cfg)
    return cfg.nodes[0].http_url.startswith("https://"), str(ca) if ca else None


@app.command()
def up(config: Optional[Path] = ConfigOpt,
       ready_timeout: float = typer.Option(60.0, help="seconds to wait for readiness")):
    """Start every node of the file on this machine; Ctrl-C stops them all."""
    from kraft.server.launcher import run_up
    cfg, path = load_config(config)

    def remember() -> None:  # later commands, from any shell, find this cluster without -c
        try:
            profiles.remember(cfg.cluster.name, profiles.Profile(config=str(path) if path else profiles.BUNDLED))
        except profiles.ProfileError as exc:
            typer.echo(f"kraft up: warning: {exc}", err=True)
    raise typer.Exit(run_up(cfg, path, ready_timeout, on_ready=remember))


@app.command()
def node(node_id: int = typer.Option(..., "--id", help="node id in the file"),
         config: Optional[Path] = ConfigOpt,
         embedded_default: bool = typer.Option(False, hidden=True)):
    """Run one node in the foreground."""
    from kraft.server.node_process import without_hypothesis_hooks
    without_hypothesis_hooks()
    from kraft.server.main import run_node
    cfg, _ = load_config(config, embedded_default)
    try:
        cfg.node(node_id)
    except ConfigFileError as exc:
        fail(str(exc), 2)
    raise typer.Exit(run_node(cfg, node_id))


@app.command("format")
def format_cmd(node_id: int = typer.Option(..., "--id"),
               config: Optional[Path] = ConfigOpt,
               cluster_id: Optional[str] = typer.Option(None, "--cluster-id"),
               raft_password: Optional[str] = typer.Option(None, "--raft-password")):
    """Write cluster id + node id into a node's data dir (refuses a formatted dir)."""
    from kraft.config.cluster import check_data_dirs
    from kraft.config.data_dir import (
        DataDirError,
        format_data_dir,
        new_cluster_id,
        new_raft_password,
    )
    cfg, _ = load_config(config)
    try:
        node_cfg = cfg.node(node_id)
        check_data_dirs(cfg, [node_id])
    except ConfigFileError as exc:
        fail(str(exc), 2)
    cid = cluster_id or cfg.cluster.id or new_cluster_id()
    password = raft_password or cfg.cluster.raft_password or new_raft_password()
    try:
        format_data_dir(node_cfg.data_path, cid, node_id, password)
    except DataDirError as exc:
        fail(str(exc), 2)
    typer.echo(f"formatted {node_cfg.data_path}: cluster.id={cid} node.id={node_id}")
    if not (raft_password or cfg.cluster.raft_password):
        typer.echo("generated a Raft password; format the other nodes with "
                   f"--raft-password {password}")


@quorum_app.command("status")
def quorum_status(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Like kafka-metadata-quorum.sh describe --status --replication."""
    try:
        q = client(config, bootstrap).v3("GET", "/quorum")
    except AdminError as exc:
        fail(str(exc))
    out.print(f"LeaderId: {q['leader_id']}  LeaderEpoch: {q['leader_epoch']}  "
              f"HighWatermark: {q['high_watermark']}  MetadataOffset: {q['metadata_offset']}")
    table = Table("NodeId", "LogEndOffset", "Lag", "LastCaughtUpAgeMs", "Status")
    for v in q["voters"]:
        status = "Leader" if v["node_id"] == q["leader_id"] else "Follower"
        table.add_row(str(v["node_id"]), str(v["log_end_offset"]), str(v["lag"]),
                      str(v.get("last_caught_up_age_ms")), status)
    for o in q["observers"]:
        if o.get("kind") == "controller":  # a controller following the Raft log, not yet a voter
            table.add_row(str(o["node_id"]), str(o["log_end_offset"]), str(o["lag"]),
                          str(o.get("last_caught_up_age_ms")), "Observer (controller)")
        else:
            table.add_row(str(o["node_id"]), str(o["metadata_offset"]), str(o["lag"]),
                          str(o.get("last_heartbeat_age_ms")), "Observer")
    out.print(table)
    if q.get("voter_change_pending"):
        out.print("[yellow]a voter change is in progress[/]")
    for problem in q.get("problems", []):
        out.print(f"[yellow]problem:[/] {problem}")


@quorum_app.command("add-voter")
def quorum_add_voter(node_id: int = typer.Argument(..., help="a controller following the quorum as an observer"),
                     config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Make an observer controller a voter (kafka-metadata-quorum.sh add-controller)."""
    try:
        admin = client(config, bootstrap)
        admin.timeout_s = VOTER_CHANGE_WAIT_S
        answer = admin.v3("POST", "/quorum/voters", {"node_id": node_id})
    except AdminError as exc:
        fail(str(exc))
    typer.echo(f"node {node_id} is a voter; voters: {', '.join(map(str, answer['voters']))}")


@quorum_app.command("remove-voter")
def quorum_remove_voter(node_id: int = typer.Argument(..., help="a voter"),
                        config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Take a voter out of the quorum (kafka-metadata-quorum.sh remove-controller)."""
    try:
        admin = client(config, bootstrap)
        admin.timeout_s = VOTER_CHANGE_WAIT_S
        answer = admin.v3("DELETE", f"/quorum/voters/{node_id}")
    except AdminError as exc:
        fail(str(exc))
    typer.echo(f"node {node_id} is no longer a voter; voters: {', '.join(map(str, answer['voters']))}")


@storage_app.command("status")
def storage_status(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Each broker's damaged replicas, repairs and scrubber progress."""
    try:
        nodes = client(config, bootstrap).request("GET", "/v1/cluster/storage")["nodes"]
    except AdminError as exc:
        fail(str(exc))
    table = Table("NodeId", "Damaged", "NoHealthyCopy", "Repairs", "ScrubbedMB", "Segments", "Passes", "Scrubbing")
    problems = []
    for view in nodes:
        if "unreachable" in view:
            table.add_row(str(view["node_id"]), "?", "?", "?", "?", "?", "?", "unreachable")
            continue
        scrub = view["scrubber"]
        damaged = view["damaged_replicas"]
        table.add_row(str(view["node_id"]), str(len(damaged)),
                      str(sum(1 for d in damaged if not d["healthy_copy"])), str(view["repairs_done"]),
                      f"{scrub['bytes_checked'] / 1e6:.1f}", str(scrub["segments_checked"]),
                      str(scrub["passes"]), scrub["current"] or "-")
        for d in damaged:
            state = "repairing" if d["healthy_copy"] else "NO HEALTHY COPY"
            problems.append(f"node {view['node_id']}: {d['topic']}-{d['partition']} damaged from offset "
                            f"{d['damaged_from']} ({d['reason']}): {state}")
    out.print(table)
    for problem in problems:
        out.print(f"[yellow]problem:[/] {problem}")


def _parse_kv(items: list[str]) -> dict:
    result = {}
    for item in items:
        if "=" not in item:
            fail(f"config {item!r} must be NAME=VALUE", 2)
        k, v = item.split("=", 1)
        result[k] = v
    return result


@topic_app.command("create")
def topic_create(name: str, partitions: Optional[int] = typer.Option(None, "--partitions", "-p"),
                 replication_factor: Optional[int] = typer.Option(None, "--replication-factor", "-r"),
                 config_kv: list[str] = typer.Option([], "--set", help="topic config NAME=VALUE, repeatable"),
                 config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    body: dict[str, object] = {
        "topic_name": name, "configs": [{"name": k, "value": v} for k, v in _parse_kv(config_kv).items()]}
    if partitions is not None:
        body["partitions_count"] = partitions
    if replication_factor is not None:
        body["replication_factor"] = replication_factor
    try:
        t = client(config, bootstrap).v3("POST", "/topics", body)
    except AdminError as exc:
        fail(str(exc))
    typer.echo(f"created topic {t['topic_name']} ({t['partitions_count']} partitions, "
               f"RF {t['replication_factor']})")


@topic_app.command("list")
def topic_list(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    try:
        topics = client(config, bootstrap).v3("GET", "/topics")["data"]
    except AdminError as exc:
        fail(str(exc))
    for t in topics:
        typer.echo(t["topic_name"])


@topic_app.command("describe")
def topic_describe(name: str, config: Optional[Path] = ConfigOpt,
                   bootstrap: Optional[str] = BootstrapOpt):
    try:
        c = client(config, bootstrap)
        t = c.v3("GET", f"/topics/{name}")
        parts = c.v3("GET", f"/topics/{name}/partitions")["data"]
        configs = c.v3("GET", f"/topics/{name}/configs")["data"]
    except AdminError as exc:
        fail(str(exc))
    overrides = ",".join(f"{x['name']}={x['value']}" for x in configs
                         if x["source"] == "DYNAMIC_TOPIC_CONFIG")
    out.print(f"Topic: {t['topic_name']}  TopicId: {t['topic_id']}  "
              f"PartitionCount: {t['partitions_count']}  "
              f"ReplicationFactor: {t['replication_factor']}  Configs: {overrides}")
    table = Table("Partition", "Leader", "LeaderEpoch", "Replicas", "Isr", "Elr", "Unclean")
    for p in parts:
        table.add_row(str(p["partition_id"]), str(p["leader_id"] if p["leader_id"] is not None else "none"),
                      str(p["leader_epoch"]), ",".join(map(str, p["replica_ids"])),
                      ",".join(map(str, p["isr"])), ",".join(map(str, p["eligible_leader_replicas"])),
                      str(p["unclean_elections"]))
    out.print(table)


@topic_app.command("delete")
def topic_delete(name: str, config: Optional[Path] = ConfigOpt,
                 bootstrap: Optional[str] = BootstrapOpt):
    try:
        client(config, bootstrap).v3("DELETE", f"/topics/{name}")
    except AdminError as exc:
        fail(str(exc))
    typer.echo(f"deleted topic {name}")


@topic_app.command("reassign")
def topic_reassign(name: str, partition: int = typer.Option(..., "--partition", "-p"),
                   replicas: Optional[str] = typer.Option(None, "--replicas", help="target broker ids, e.g. 2,3,4"),
                   cancel: bool = typer.Option(False, "--cancel", help="cancel the reassignment in progress"),
                   config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Move a partition's replicas (new ones catch up before old ones leave), like
    kafka-reassign-partitions.sh; without --replicas or --cancel, show its progress."""
    path = f"/topics/{name}/partitions/{partition}/reassignment"
    try:
        c = client(config, bootstrap)
        if cancel:
            r = c.v3("DELETE", path)
        elif replicas is not None:
            try:
                target = [int(b) for b in replicas.split(",") if b.strip()]
            except ValueError:
                fail(f"--replicas must be broker ids separated by commas, got {replicas!r}", 2)
            r = c.v3("POST", path, {"replicas": target})
        else:
            r = c.v3("GET", path)
    except AdminError as exc:
        fail(str(exc))
    if r["adding_replicas"] or r["removing_replicas"]:
        typer.echo(f"{name}-{partition}: reassigning, adding {r['adding_replicas']}, removing "
                   f"{r['removing_replicas']}")
    else:
        typer.echo(f"{name}-{partition}: no reassignment in progress")


@topic_app.command("config")
def topic_config(name: str,
                 set_kv: list[str] = typer.Option([], "--set", help="NAME=VALUE, repeatable"),
                 delete: list[str] = typer.Option([], "--delete", help="NAME, repeatable"),
                 config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Show a topic's configs, or change them live with --set / --delete."""
    try:
        c = client(config, bootstrap)
        changes = [{"name": k, "value": v} for k, v in _parse_kv(set_kv).items()]
        changes += [{"name": k, "operation": "DELETE"} for k in delete]
        if changes:
            c.v3("POST", f"/topics/{name}/configs:alter", {"data": changes})
        configs = c.v3("GET", f"/topics/{name}/configs")["data"]
    except AdminError as exc:
        fail(str(exc))
    table = Table("Name", "Value", "Source")
    for x in configs:
        table.add_row(x["name"], x["value"], x["source"])
    out.print(table)


cli_broker.register(app, lambda config, bootstrap: client(config, bootstrap), fail)
cli_rebalance.register(app, lambda config, bootstrap: client(config, bootstrap), fail)
cli_certs.register(app, load_config, fail)
cli_data.register(app, lambda config, bootstrap: client(config, bootstrap), fail)
cli_group.register(app, lambda config, bootstrap: client(config, bootstrap), fail)
cli_security.register(app, lambda config, bootstrap: client(config, bootstrap), fail)
profile_commands.register(app, load_config, fail)
perf_cli.register(app)
scenario_cli.register(app)


def main() -> None:
    try:
        app()
    except AdminError as exc:  # a command that let one through still says it in one line
        typer.echo(f"kraft: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
