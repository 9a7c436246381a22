"""Remembered clusters, as `rpk profile` keeps them: a name -> where its config is (or its
bootstrap URLs and CA), and which one is current.

`kraft up` saves the cluster it started under its [cluster] name and makes it current,
so every later command in any shell finds it without -c. The store is one JSON file,
$XDG_CONFIG_HOME/kraft/profiles.json (~/.config/kraft/ without it), replaced atomically.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

MAX_STORE_BYTES = 1 << 20  # far above any real list of profiles; a bigger file is not ours
BUNDLED = "bundled"  # the `config` of a profile for the bundled default cluster.toml


class ProfileError(Exception):
    pass


@dataclass(frozen=True)
class Profile:
    config: str | None = None  # an absolute cluster.toml path, or BUNDLED
    bootstrap: list[str] = field(default_factory=list)  # HTTP URLs, when there is no config
    ca: str | None = None  # the CA file https nodes are checked against (with bootstrap)

    def describe(self) -> str:
        if self.config:
            return "the bundled cluster.toml" if self.config == BUNDLED else self.config
        return ",".join(self.bootstrap) + (f" (CA {self.ca})" if self.ca else "")


@dataclass
class Store:
    current: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)


def store_path() -> Path:
    home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(home) / "kraft" / "profiles.json"


def load() -> Store:
    path = store_path()
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STORE_BYTES + 1)
    except FileNotFoundError:
        return Store()
    except OSError as exc:
        raise ProfileError(f"cannot read the profiles in {path}: {exc.strerror}") from None
    if len(raw) > MAX_STORE_BYTES:
        raise ProfileError(f"{path} is over {MAX_STORE_BYTES} bytes: not a kraft profile list")
    try:
        data = json.loads(raw)
        profiles = {str(name): Profile(config=p.get("config"), bootstrap=list(p.get("bootstrap", [])),
                                       ca=p.get("ca"))
                    for name, p in data.get("profiles", {}).items()}
        current = data.get("current")
    except (ValueError, AttributeError, TypeError):
        raise ProfileError(f"{path} is not a kraft profile list (fix or remove it)") from None
    return Store(current=current if current in profiles else None, profiles=profiles)


def save(store: Store) -> None:
    path = store_path()
    data = {"current": store.current, "profiles": {n: asdict(p) for n, p in sorted(store.profiles.items())}}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".tmp")
        partial.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(partial, path)  # a reader sees the old list or the new one, never half
    except OSError as exc:
        raise ProfileError(f"cannot write the profiles to {path}: {exc.strerror}") from None


def remember(name: str, profile: Profile) -> None:
    """Save `profile` under `name` and make it current."""
    store = load()
    store.profiles[name] = profile
    store.current = name
    save(store)


def current() -> tuple[str, Profile] | None:
    store = load()
    return (store.current, store.profiles[store.current]) if store.current else None
