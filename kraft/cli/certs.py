"""`kraft certs`: a CA and the certificates a cluster's TLS needs, named from cluster.toml.

The files go where the file's [security] tls_cert / tls_key / tls_ca point, else into
certs/ beside it (and the command prints the [security] lines to add). An existing CA
(its certificate and key) is kept, so running it again after adding a node or a name
renews the node certificate under the same CA and clients keep trusting it.

Keys are mode 0600, so only their owner reads them: run as root for a node that runs as
another user (deploy/systemd's `kraft`), --owner hands the node's files to that user.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path
from typing import Optional

import typer

from kraft.cli.connect import fail, load_config
from kraft.config.cluster import ClusterConfig, ConfigFileError
from kraft.security.certificates import Pem, certificate_names, client_certificate, new_authority, node_certificate

ALWAYS_NAMED = ("127.0.0.1", "localhost")  # what a client on a node's own machine dials


def register(app: typer.Typer) -> None:
    @app.command("certs")
    def certs(config: Optional[Path] = typer.Option(None, "-c", "--config", help="cluster.toml (default: "
                                                    "./cluster.toml, else the bundled 3-node default)"),
              host: list[str] = typer.Option([], "--host", help="another name or address the nodes are "
                                             "dialled by (repeatable), e.g. a DNS name or a NAT address"),
              node: list[int] = typer.Option([], "--node", help="instead of one certificate for all nodes, "
                                             "one naming only this node's host (repeatable), for its machine"),
              user: list[str] = typer.Option([], "--user", help="also a client certificate for this user "
                                             "(repeatable): its common name is the principal"),
              days: int = typer.Option(825, "--days", min=1, max=3650, help="validity of the new certificates"),
              owner: Optional[str] = typer.Option(None, "--owner", help="the user the node runs as (e.g. kraft): "
                                                  "the node certificates and keys become its (root only)")):
        """Make a CA (or keep the one there) and a node certificate naming every node's
        host, 127.0.0.1 and localhost (or, with --node, one per node naming its own);
        optionally client certificates for users."""
        cfg, config_path = load_config(config)
        paths = _paths(cfg)
        try:
            wanted = [cfg.node(node_id) for node_id in node]
        except ConfigFileError as exc:
            fail(str(exc), 2)
        extra = list(ALWAYS_NAMED) + list(host)
        owner_ids = _owner_ids(owner) if owner is not None else None
        try:
            authority, made = _authority(paths["ca"], paths["ca_key"])
            made_nodes: dict[Optional[int], tuple[Path, Path, Pem]]
            if wanted:  # files named like the shared ones, with the node's id: node-2.pem
                made_nodes = {n.id: (_numbered(paths["cert"], n.id), _numbered(paths["key"], n.id),
                                     node_certificate(authority, [n.host, *extra], days)) for n in wanted}
            else:
                made_nodes = {None: (paths["cert"], paths["key"],
                                     node_certificate(authority, [n.host for n in cfg.nodes] + extra, days))}
            for cert_path, key_path, pem in made_nodes.values():
                _write(cert_path, key_path, pem)
                if owner_ids is not None:
                    for path in (cert_path, key_path):
                        os.chown(path, *owner_ids)
            clients = {name: client_certificate(authority, name, days) for name in user}
            for name, pem in clients.items():
                _write(paths["ca"].parent / f"{name}.pem", paths["ca"].parent / f"{name}.key", pem)
        except (OSError, ValueError) as exc:
            fail(f"cannot write the certificates: {exc}")
        typer.echo(f"CA: {paths['ca']} ({'new' if made else 'kept'}; its key {paths['ca_key']} signs, keep it private)")
        for node_id, (cert_path, key_path, pem) in made_nodes.items():
            whose = "node certificate" if node_id is None else f"node {node_id}'s certificate"
            typer.echo(f"{whose}: {cert_path} and key {key_path}, for "
                       f"{', '.join(certificate_names(pem.certificate)[1])}")
            if node_id is not None:
                typer.echo(f"  on node {node_id}'s machine, put them at tls_cert and tls_key "
                           f"({os.path.relpath(paths['cert'], cfg.base_dir)}, "
                           f"{os.path.relpath(paths['key'], cfg.base_dir)}), beside the CA's certificate")
        for name in clients:
            typer.echo(f"client certificate for User:{name}: {paths['ca'].parent / (name + '.pem')} "
                       f"and key {paths['ca'].parent / (name + '.key')}")
        _advise(cfg, bool(user), owner)
        if cfg.security is None or cfg.security.tls_cert is None:
            rel = {k: os.path.relpath(v, cfg.base_dir) for k, v in paths.items()}
            where = (f"the [security] table of {config_path}" if config_path is not None else
                     "the [security] table of a ./cluster.toml (a copy of the bundled one, which kraft "
                     "commands and ./dev up then read)")
            typer.echo(f"to serve TLS, add to {where}:\n"
                       f"tls_cert = \"{rel['cert']}\"\ntls_key = \"{rel['key']}\"\ntls_ca = \"{rel['ca']}\"")


def _owner_ids(owner: str) -> tuple[int, int]:
    """(uid, gid) of a user name, its own group; refuses an unknown user."""
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        fail(f"--owner {owner}: no such user (create it first: useradd --system kraft)", 2)
    return entry.pw_uid, entry.pw_gid


def _advise(cfg: ClusterConfig, clients: bool, owner: Optional[str]) -> None:
    """What the files alone do not make work: a node asking for client certificates,
    and keys a node running as another user can read."""
    if clients and (cfg.security is None or cfg.security.tls_client_auth == "none"):
        typer.echo('client certificates log in only where nodes ask for them: add tls_client_auth = "requested" '
                   "(or \"required\") to [security]")
    if owner is None and hasattr(os, "geteuid") and os.geteuid() == 0:
        typer.echo("the keys are root's, mode 0600: for a node that runs as another user (deploy/systemd: kraft), "
                   "run again with --owner kraft, or chown its node key to that user")


def _numbered(path: Path, node_id: int) -> Path:
    return path.with_name(f"{path.stem}-{node_id}{path.suffix}")


def _paths(cfg: ClusterConfig) -> dict[str, Path]:
    security = cfg.security
    folder = cfg.base_dir / "certs"
    cert = cfg.path_of(security.tls_cert) if security and security.tls_cert else folder / "node.pem"
    key = cfg.path_of(security.tls_key) if security and security.tls_key else folder / "node.key"
    ca = cfg.path_of(security.tls_ca) if security and security.tls_ca else cert.parent / "ca.pem"
    return {"ca": ca, "ca_key": ca.with_suffix(".key"), "cert": cert, "key": key}


def _authority(ca: Path, ca_key: Path) -> tuple[Pem, bool]:
    if ca.exists() and ca_key.exists():
        return Pem(ca.read_bytes(), ca_key.read_bytes()), False
    if ca.exists():
        fail(f"{ca} exists but its key {ca_key} does not: certificates can only be signed with the CA's "
             f"key; move {ca} aside to make a new CA")
    authority = new_authority()
    _write(ca, ca_key, authority)
    return authority, True


def _write(cert_path: Path, key_path: Path, pem: Pem) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # never readable by others
    with os.fdopen(fd, "wb") as out:
        out.write(pem.key)
    os.chmod(key_path, 0o600)  # an existing file keeps its mode through O_CREAT
    cert_path.write_bytes(pem.certificate)
