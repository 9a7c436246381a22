"""`kraft profile list | current | use NAME | create NAME | delete NAME`: the remembered
clusters (kraft.client.profiles), as `rpk profile` manages its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from kraft.client import profiles, target
from kraft.cli.connect import fail, load_config


def store() -> profiles.Store:
    try:
        return profiles.load()
    except profiles.ProfileError as exc:
        fail(str(exc), 2)


def save(updated: profiles.Store) -> None:
    try:
        profiles.save(updated)
    except profiles.ProfileError as exc:
        fail(str(exc), 2)


def register(app: typer.Typer) -> None:
    profile_app = typer.Typer(no_args_is_help=True, help="Remembered clusters (`kraft up` saves the one it "
                              "starts and makes it current), as rpk profile.")
    app.add_typer(profile_app, name="profile")

    @profile_app.command("list")
    def profile_list():
        """Every profile; * marks the current one."""
        known = store()
        for name, profile in sorted(known.profiles.items()):
            typer.echo(f"{'*' if name == known.current else ' '} {name}\t{profile.describe()}")
        if not known.profiles:
            typer.echo(f"no profiles ({profiles.store_path()} holds none): `kraft up` saves the cluster it starts, "
                       "`kraft profile create NAME -c FILE` (or --bootstrap HOST:PORT) saves one", err=True)

    @profile_app.command("current")
    def profile_current():
        """The current profile's name and what it names."""
        chosen = store().current
        if chosen is None:
            fail(f"no current profile (`kraft up` makes one; the profiles live in {profiles.store_path()})")
        typer.echo(f"{chosen}\t{store().profiles[chosen].describe()}")

    @profile_app.command("use")
    def profile_use(name: str = typer.Argument(..., help="a profile's name (`kraft profile list`)")):
        """Make NAME the current profile."""
        known = store()
        if name not in known.profiles:
            fail(f"no profile {name!r}; profiles: {', '.join(sorted(known.profiles)) or 'none'}")
        known.current = name
        save(known)
        typer.echo(f"current profile: {name} ({known.profiles[name].describe()})")

    @profile_app.command("create")
    def profile_create(name: str = typer.Argument(..., help="the name to save it under"),
                       config: Optional[Path] = typer.Option(None, "-c", "--config", help="the cluster's cluster.toml"),
                       bootstrap: Optional[str] = typer.Option(None, "--bootstrap", help="HOST:PORT[,...] or URLs"),
                       ca: Optional[Path] = typer.Option(None, "--ca",
                                                         help="CA file for https nodes (with --bootstrap)")):
        """Save a cluster under NAME (its file, or its addresses) and make it current."""
        if (config is None) == (bootstrap is None):
            fail("give the cluster's file (-c FILE) or its addresses (--bootstrap HOST:PORT), one of them", 2)
        if bootstrap is not None:
            try:
                urls = target.bootstrap_urls(bootstrap, https=ca is not None)
            except target.TargetError as exc:
                fail(str(exc), 2)
            if ca is not None and not ca.is_file():
                fail(f"--ca {ca}: no such file", 2)
            profile = profiles.Profile(bootstrap=urls, ca=str(ca.absolute()) if ca else None)
        else:
            _, path = load_config(config)  # a file with a mistake is refused now, not at first use
            profile = profiles.Profile(config=str(path))
        known = store()
        known.profiles[name] = profile
        known.current = name
        save(known)
        typer.echo(f"current profile: {name} ({profile.describe()})")

    @profile_app.command("delete")
    def profile_delete(name: str = typer.Argument(..., help="a profile's name")):
        """Forget NAME (the cluster itself is not touched)."""
        known = store()
        if known.profiles.pop(name, None) is None:
            fail(f"no profile {name!r}")
        if known.current == name:
            known.current = None
        save(known)
        typer.echo(f"deleted profile {name}")
