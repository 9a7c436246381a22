"""The top-level `kraft` group, which imports a command's module only when that command runs.

Each entry of the table names a command, the module whose `register(app)` defines it, and
the one line `kraft --help` shows for it. Until a command is asked for, the group holds a
stand-in with that line, so `kraft --help` (and a mistyped name's "did you mean") needs
none of the modules: no HTTP client, no pydantic, no cryptography.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class Entry:
    name: str  # the command as typed: `kraft NAME`
    module: str  # its module, whose register(app: typer.Typer) adds it (and maybe others)
    help: str  # the line `kraft --help` shows
    panel: str  # the heading `kraft --help` shows it under


class Placeholder(TyperCommand):
    """What `kraft --help` lists until the command itself is loaded."""


def placeholders(entries: tuple[Entry, ...]) -> dict[str, TyperCommand]:
    return {e.name: Placeholder(name=e.name, help=e.help, short_help=e.help, rich_help_panel=e.panel)
            for e in entries}


def load(entry: Entry) -> Any:
    """The click command `entry` names, from its module (imported now)."""
    holder = typer.Typer()
    importlib.import_module(entry.module).register(holder)
    command = typer.main.get_group(holder).commands.get(entry.name)
    if command is None:
        raise LookupError(f"{entry.module}.register adds no command {entry.name!r}")
    command.short_help = entry.help  # the same line as `kraft --help`
    setattr(command, "rich_help_panel", entry.panel)
    return command


class LazyGroup(TyperGroup):
    """A TyperGroup whose commands come from a table of entries (set as ENTRIES by
    `lazy_group`); the command being run is imported, the others never are."""

    ENTRIES: tuple[Entry, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands.update(placeholders(self.ENTRIES))

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args:
            self.load(args[0])
        return super().resolve_command(ctx, args)

    def load(self, name: str) -> None:
        entry = next((e for e in self.ENTRIES if e.name == name), None)
        if entry is not None and isinstance(self.commands.get(name), Placeholder):
            self.commands[name] = load(entry)


def lazy_group(entries: tuple[Entry, ...]) -> type[LazyGroup]:
    return type("KraftGroup", (LazyGroup,), {"ENTRIES": entries})
