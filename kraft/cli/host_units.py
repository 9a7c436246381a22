"""`kraft host units NAME`: the systemd units that run a [[hosts]] entry's processes as
one unit.

A target per host, `kraft-host-NAME.target`, wants each process's instance of the
templates in deploy/systemd (kraft-controller@ID for the host's controller, kraft-broker@ID
for the others), and a drop-in per instance, `<unit>.d/host.conf`, makes the instance
PartOf= the target, so `systemctl start|stop|restart kraft-host-NAME.target` acts on
all of them. The ids come from cluster.toml, which a target template's instance name
cannot carry: the target is written per host (docs/DEPLOY.md).

host_unit_files is the text alone (no file system); write_unit_files writes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import typer

from kraft.cli.connect import ConfigOpt, fail, load_config

if TYPE_CHECKING:
    from kraft.config.cluster import ClusterConfig

STATE_DIR = "/var/lib/kraft"  # the units' StateDirectory=: the one place they may write unless told more
DROP_IN = "host.conf"


@dataclass(frozen=True)
class Process:
    """One process of a host, as its unit needs it."""
    node_id: int
    controller: bool
    data_dir: str  # absolute


def unit_name(process: Process) -> str:
    template = "kraft-controller" if process.controller else "kraft-broker"
    return f"{template}@{process.node_id}.service"


def target_name(host: str) -> str:
    return f"kraft-host-{host}.target"


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def host_unit_files(host: str, processes: Sequence[Process], source: str = "cluster.toml") -> dict[str, str]:
    """Path (relative to the unit directory) -> text: the host's target, then a drop-in
    per process."""
    target = target_name(host)
    units = [unit_name(p) for p in processes]
    ids = ", ".join(str(p.node_id) for p in processes)
    made = f"# Made by `kraft host units {host}` from {source}; run it again when the host's entry changes."
    files = {target: "\n".join([
        f"# Host {host}'s kraft processes (nodes {ids}) as one unit:",
        f"#   systemctl enable --now {target}",
        "# stop and restart act on all of them (each unit is PartOf= this target).",
        made,
        "[Unit]",
        f"Description=kraft host {host} (nodes {ids})",
        # Wants=, not Requires=: one process that fails leaves the others running
        f"Wants={' '.join(units)}",
        # so that starting the target returns once every process says it is ready (Type=notify)
        f"After={' '.join(units)}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        ""])}
    for process, unit in zip(processes, units):
        lines = [f"# Node {process.node_id} is a process of host {host}: {target} starts, stops and restarts it.",
                 made, "[Unit]", f"PartOf={target}"]
        if not _under(process.data_dir, STATE_DIR):  # the unit's sandbox writes nowhere else unless told
            lines += ["", "[Service]", f"ReadWritePaths=-{process.data_dir}"]
        files[f"{unit}.d/{DROP_IN}"] = "\n".join(lines + [""])
    return files


def host_processes(config: ClusterConfig, host: str) -> list[Process]:
    """The processes of the [[hosts]] entry named `host`; LookupError names the hosts there are."""
    if not any(h.name == host for h in config.hosts):
        known = ", ".join(h.name for h in config.hosts) or "none"
        raise LookupError(f"no [[hosts]] entry named {host!r} in {config.file_name} (hosts: {known})")
    return [Process(n.id, n.is_controller, str(n.data_path)) for n in config.nodes if n.host_name == host]


def write_unit_files(files: dict[str, str], out: Path, host: str) -> tuple[list[Path], list[Path]]:
    """Write the files under `out`; remove the drop-ins of this host's target that a
    larger entry left (a process the host no longer has). (written, removed)."""
    written = []
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    removed = []
    marker = f"PartOf={target_name(host)}"
    for stale in sorted(out.glob(f"kraft-*@*.service.d/{DROP_IN}")):
        if str(stale.relative_to(out)) not in files and marker in stale.read_text().splitlines():
            stale.unlink()
            removed.append(stale)
    return written, removed


def units(name: str = typer.Argument(..., help="the host: its entry's name in cluster.toml"),
          config: Optional[Path] = ConfigOpt,
          out: Optional[Path] = typer.Option(None, "--out", help="write the files under this unit directory "
                                             "(e.g. /etc/systemd/system); default: print them")):
    """systemd units that run a host's processes as one: a target and a drop-in per process."""
    cfg, path = load_config(config)
    try:
        processes = host_processes(cfg, name)
    except LookupError as exc:
        fail(str(exc), 2)
    entry = next(h for h in cfg.hosts if h.name == name)
    if entry.processes == "cores":
        typer.echo(f'kraft: warning: host {name} says processes = "cores": these units are for the '
                   f"{len(processes)} cores here; in a file shared by machines write the number", err=True)
    files = host_unit_files(name, processes, str(path) if path else "the bundled cluster.toml")
    if out is None:
        for relative, text in files.items():
            typer.echo(f"### {relative}\n{text}")
        return
    written, removed = write_unit_files(files, out, name)
    for p in written:
        typer.echo(f"wrote {p}")
    for p in removed:
        typer.echo(f"removed {p} (host {name} has no such process now)")
    typer.echo(f"then: systemctl daemon-reload && systemctl enable --now {target_name(name)}")


def register(host_app: typer.Typer) -> None:
    host_app.command("units")(units)
