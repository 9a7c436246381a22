"""`kraft up [--host NAME]`, `kraft node --id N`, `kraft format --id N`: the commands that
act on a cluster.toml and the nodes it names on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kraft.client import profiles
from kraft.cli.connect import ConfigOpt, fail, load_config


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("node")(node)
    app.command("format")(format_cmd)


def up(config: Optional[Path] = ConfigOpt,
       ready_timeout: float = typer.Option(60.0, help="seconds to wait for readiness"),
       host: list[str] = typer.Option([], "--host", metavar="NAME", help="start only this host's processes "
                                      "(repeat it, or a comma list); the other hosts run on other machines")):
    """Start every node of the file on this machine; Ctrl-C stops them all.

    Prints the API's address once every node is ready and an acks=all write would
    succeed; later commands, from any shell, find this cluster (its profile). With
    --host, only those hosts' processes, as one unit: ready once each of them is."""
    from kraft.server.launcher import run_up
    cfg, path = load_config(config)

    def remember() -> None:  # later commands, from any shell, find this cluster without -c
        try:
            profiles.remember(cfg.cluster.name, profiles.Profile(config=str(path) if path else profiles.BUNDLED))
        except profiles.ProfileError as exc:
            typer.echo(f"kraft up: warning: {exc}", err=True)
    raise typer.Exit(run_up(cfg, path, ready_timeout, on_ready=remember, hosts=tuple(host)))


def node(node_id: int = typer.Option(..., "--id", help="node id in the file"),
         config: Optional[Path] = ConfigOpt,
         embedded_default: bool = typer.Option(False, hidden=True)):
    """Run one node in the foreground."""
    from kraft.server.node_process import without_hypothesis_hooks
    without_hypothesis_hooks()
    from kraft.config.cluster import ConfigFileError
    from kraft.server.main import run_node
    cfg, _ = load_config(config, embedded_default)
    try:
        cfg.node(node_id)
    except ConfigFileError as exc:
        fail(str(exc), 2)
    raise typer.Exit(run_node(cfg, node_id))


def format_cmd(node_id: int = typer.Option(..., "--id", help="node id in the file"),
               config: Optional[Path] = ConfigOpt,
               cluster_id: Optional[str] = typer.Option(None, "--cluster-id", help="the cluster's id (default: "
                                                        "[cluster] id in the file, else a new one)"),
               raft_password: Optional[str] = typer.Option(None, "--raft-password", help="the password the "
                                                           "controllers share (default: the file's, else a new one)")):
    """Write cluster id + node id into a node's data dir (refuses a formatted dir)."""
    from kraft.config.cluster import ConfigFileError, check_data_dirs
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
