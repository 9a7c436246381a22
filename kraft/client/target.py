"""Which cluster a command talks to, and how that choice is said when no node answers.

A command acting on a file (up, node, format, certs): -c FILE, else $KRAFT_CONFIG, else
./cluster.toml, else the bundled default. A command talking to a running cluster looks
further: --bootstrap, -c FILE, $KRAFT_CONFIG, the current profile (the cluster `kraft up`
started last, or one chosen with `kraft profile use`), ./cluster.toml, the bundled default.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from kraft.client import profiles

CONFIG_ENV = "KRAFT_CONFIG"
CA_ENV = "KRAFT_CA"  # kraft.client.admin_client.CA_ENV, named here so choosing a cluster loads no HTTP client
LOCAL_FILE = Path("cluster.toml")
FALLBACK_SOURCE = "no -c, no $KRAFT_CONFIG, no ./cluster.toml"
OTHER_WAYS = (f"to name a cluster: -c FILE, {CONFIG_ENV}=FILE, --bootstrap HOST:PORT, "
              "or `kraft profile use NAME` (`kraft profile list`)")


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class ConfigChoice:
    path: Path | None  # None: the bundled default
    source: str  # how it was chosen, for messages


def file_config(flag: Path | None) -> ConfigChoice:
    """The cluster.toml of a command that acts on a file."""
    if flag is not None:
        return ConfigChoice(flag.absolute(), "-c")
    if env := os.environ.get(CONFIG_ENV):
        return ConfigChoice(Path(env).expanduser().absolute(), CONFIG_ENV)
    if LOCAL_FILE.exists():
        return ConfigChoice(LOCAL_FILE.absolute(), "the current directory")
    return ConfigChoice(None, FALLBACK_SOURCE)


def is_fallback(choice: ConfigChoice) -> bool:
    """Nothing named a cluster (no flag, variable, profile or local file): the bundled default."""
    return choice.path is None and choice.source == FALLBACK_SOURCE


def fallback_note(urls: list[str]) -> str:
    """What a command says (on stderr) when it talks to the bundled default's addresses."""
    return (f"no -c, $KRAFT_CONFIG, profile or ./cluster.toml: using the bundled cluster.toml's nodes "
            f"({', '.join(urls)}); `kraft profile create` or `kraft up` names a cluster")


def client_config(flag: Path | None) -> tuple[ConfigChoice, profiles.Profile | None]:
    """The config of a command that talks to a running cluster, or the current profile
    when that names bootstrap URLs instead of a file."""
    if flag is not None or os.environ.get(CONFIG_ENV):
        return file_config(flag), None
    if (chosen := profiles.current()) is not None:
        name, profile = chosen
        if profile.config == profiles.BUNDLED:
            return ConfigChoice(None, f"profile {name!r}"), None
        if profile.config:
            return ConfigChoice(Path(profile.config), f"profile {name!r}"), None
        return ConfigChoice(None, f"profile {name!r}"), profile
    return file_config(None), None


def describe(choice: ConfigChoice) -> str:
    """"/x/cluster.toml (from $KRAFT_CONFIG)", for a message naming what was tried."""
    what = str(choice.path) if choice.path is not None else "the bundled cluster.toml"
    return f"{what} (from {'$' if choice.source == CONFIG_ENV else ''}{choice.source})"


def bootstrap_urls(value: str, https: bool) -> list[str]:
    """--bootstrap as Kafka's bootstrap.servers is written (host:port, comma-separated) or
    as URLs; a bare host:port gets https when the cluster is known to serve it."""
    urls = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        url = item if "://" in item else f"{'https' if https else 'http'}://{item}"
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            raise TargetError(f"--bootstrap {item!r}: not HOST:PORT or an http(s):// URL") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
            raise TargetError(f"--bootstrap {item!r}: not HOST:PORT or an http(s):// URL")
        urls.append(url.rstrip("/"))
    if not urls:
        raise TargetError("--bootstrap is empty: give HOST:PORT (any node's HTTP port)")
    return urls


def ca_env() -> str | None:
    return os.environ.get(CA_ENV) or None
