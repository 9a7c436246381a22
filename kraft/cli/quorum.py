"""`kraft quorum status | add-voter ID | remove-voter ID` (kafka-metadata-quorum.sh) and
`kraft storage status` (each broker's damaged replicas, repairs, scrubber)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import BootstrapOpt, ConfigOpt, admin_errors, client

VOTER_CHANGE_WAIT_S = 45.0  # the controller waits up to 30 s for an observer to catch up


def register(app: typer.Typer) -> None:
    quorum_app = typer.Typer(no_args_is_help=True, help="Metadata quorum.")
    storage_app = typer.Typer(no_args_is_help=True, help="Stored data: damage, repairs, the scrubber.")
    app.add_typer(quorum_app, name="quorum")
    app.add_typer(storage_app, name="storage")
    quorum_app.command("status")(quorum_status)
    quorum_app.command("add-voter")(quorum_add_voter)
    quorum_app.command("remove-voter")(quorum_remove_voter)
    storage_app.command("status")(storage_status)


def quorum_status(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Like kafka-metadata-quorum.sh describe --status --replication."""
    from rich.table import Table

    from kraft.server import terminal
    with admin_errors():
        q = client(config, bootstrap).v3("GET", "/quorum")
    out = terminal.console()
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


def quorum_add_voter(node_id: int = typer.Argument(..., help="a controller following the quorum as an observer"),
                     config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Make an observer controller a voter (kafka-metadata-quorum.sh add-controller)."""
    with admin_errors():
        admin = client(config, bootstrap)
        admin.timeout_s = VOTER_CHANGE_WAIT_S
        answer = admin.v3("POST", "/quorum/voters", {"node_id": node_id})
    typer.echo(f"node {node_id} is a voter; voters: {', '.join(map(str, answer['voters']))}")


def quorum_remove_voter(node_id: int = typer.Argument(..., help="a voter"),
                        config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Take a voter out of the quorum (kafka-metadata-quorum.sh remove-controller)."""
    with admin_errors():
        admin = client(config, bootstrap)
        admin.timeout_s = VOTER_CHANGE_WAIT_S
        answer = admin.v3("DELETE", f"/quorum/voters/{node_id}")
    typer.echo(f"node {node_id} is no longer a voter; voters: {', '.join(map(str, answer['voters']))}")


def storage_status(config: Optional[Path] = ConfigOpt, bootstrap: Optional[str] = BootstrapOpt):
    """Each broker's damaged replicas, repairs and scrubber progress."""
    from rich.table import Table

    from kraft.server import terminal
    with admin_errors():
        nodes = client(config, bootstrap).request("GET", "/v1/cluster/storage")["nodes"]
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
    out = terminal.console()
    out.print(table)
    for problem in problems:
        out.print(f"[yellow]problem:[/] {problem}")
