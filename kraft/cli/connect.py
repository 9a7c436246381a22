"""What every command shares: the one-line failure, the cluster.toml a file command reads,
and the HTTP client a command talking to a running cluster gets (kraft.client.target says
which cluster). Light to import: the config parser and the HTTP client load when a
command first needs them, so `kraft --help` never does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, NoReturn, Optional

import typer

from kraft.client import profiles, target

if TYPE_CHECKING:
    from kraft.client.admin_client import AdminClient
    from kraft.config.cluster import ClusterConfig

CONFIG_HELP = ("cluster.toml (default: $KRAFT_CONFIG, then for a running cluster the current profile, "
               "then ./cluster.toml, else the bundled default)")
BOOTSTRAP_HELP = "any node's HTTP address: HOST:PORT[,HOST:PORT] or a URL (instead of -c or a profile)"
ConfigOpt: Any = typer.Option(None, "-c", "--config", help=CONFIG_HELP)
BootstrapOpt: Any = typer.Option(None, "--bootstrap", help=BOOTSTRAP_HELP)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"kraft: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def admin_errors() -> Iterator[None]:
    """An error from the cluster (or no answer) ends the command with its one line."""
    from kraft.client.admin_client import AdminError
    try:
        yield
    except AdminError as exc:
        fail(str(exc))


def load_config(path: Optional[Path], embedded: bool = False) -> tuple[ClusterConfig, Optional[Path]]:
    """A file command's cluster.toml (kraft.client.target.file_config) and its path (None: bundled)."""
    choice = target.ConfigChoice(None, "--embedded-default") if embedded else target.file_config(path)
    return _load(choice)


def _load(choice: target.ConfigChoice) -> tuple[ClusterConfig, Optional[Path]]:
    import importlib.resources

    from kraft.config.cluster import ConfigFileError, load_cluster_config, load_cluster_config_text
    try:
        if choice.path is None:
            text = (importlib.resources.files("kraft") / "cluster.toml").read_text()
            return load_cluster_config_text(text, "cluster.toml (bundled)", Path.cwd()), None
        return load_cluster_config(choice.path), choice.path
    except ConfigFileError as exc:
        fail(f"{exc}" + ("" if choice.source == "-c" else f" (the config from {choice.source})"), 2)


@dataclass
class Connection:
    client: AdminClient
    nodes: dict[int, str] = field(default_factory=dict)  # node id -> HTTP URL, where a cluster.toml says


def client(config: Optional[Path], bootstrap: Optional[str]) -> AdminClient:
    return connect(config, bootstrap).client


def connect(config: Optional[Path], bootstrap: Optional[str]) -> Connection:
    """Credentials, when the cluster asks for them, come from KRAFT_USER/KRAFT_PASSWORD;
    https nodes are checked against the CA the cluster's config (or profile) names, else KRAFT_CA."""
    from kraft.client.admin_client import AdminClient, credentials_from_env
    auth = credentials_from_env()
    try:
        if bootstrap:
            https, ca = _profile_tls()
            ca = ca or target.ca_env()
            return Connection(AdminClient(target.bootstrap_urls(bootstrap, https or ca is not None), auth=auth,
                                          ca_file=ca, unreachable_note=f"tried --bootstrap {bootstrap}"))
        choice, profile = target.client_config(config)
    except (target.TargetError, profiles.ProfileError) as exc:
        fail(str(exc), 2)
    if profile is not None:  # a profile of bootstrap URLs
        return Connection(AdminClient(profile.bootstrap, auth=auth, ca_file=profile.ca,  # else KRAFT_CA
                                      unreachable_note=f"tried {profile.describe()} ({choice.source}); "
                                                       f"{target.OTHER_WAYS}"))
    cfg, _ = _load(choice)
    nodes = {n.id: n.http_url for n in cfg.nodes}
    if target.is_fallback(choice):  # nothing named a cluster: say which one this is
        typer.echo(f"kraft: {target.fallback_note(list(nodes.values()))}", err=True)
    note = f"tried the nodes of {target.describe(choice)}; {target.OTHER_WAYS}"
    return Connection(AdminClient(list(nodes.values()), auth=auth, ca_file=_config_ca(cfg),  # else KRAFT_CA
                                  unreachable_note=note), nodes)


def _config_ca(cfg: ClusterConfig) -> Optional[Path]:
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
    from kraft.config.cluster import ConfigFileError, load_cluster_config
    try:
        cfg = load_cluster_config(Path(profile.config))
    except ConfigFileError:
        return False, None  # the file moved: the URL's own scheme, or http
    ca = _config_ca(cfg)
    return cfg.nodes[0].http_url.startswith("https://"), str(ca) if ca else None
