"""The `kraft` command's table (kraft.cli.main.COMMANDS, loaded lazily by kraft.cli.lazy):
every entry is a real command, every command and option says what it does, and
`kraft --help` imports none of the commands' heavy dependencies (a fresh process)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from typer.core import TyperArgument

from kraft.cli import lazy
from kraft.client import target
from kraft.cli.main import COMMANDS

# what `kraft --help` must not import: the commands' modules and what only they need
HEAVY = ("pydantic", "cryptography", "urllib.request", "ssl", "aiohttp", "kraft.config.cluster", "kraft.client",
         "kraft.perf", "kraft.scenario", "kraft.server.launcher", "kraft.cli.topic", "kraft.cli.status",
         "kraft.cli.connect")


def run_in_fresh_process(args: list[str], tmp_path) -> subprocess.CompletedProcess:
    code = ("import sys\nsys.argv = ['kraft', *sys.argv[1:]]\nfrom kraft.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            "print('MODULES', ' '.join(sorted(sys.modules)))\nsys.exit(code)\n")
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "home")}
    env.pop(target.CONFIG_ENV, None)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)


def imported(done: subprocess.CompletedProcess) -> set[str]:
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


def test_help_lists_every_command_and_imports_none_of_their_dependencies(tmp_path):
    done = run_in_fresh_process(["--help"], tmp_path)
    assert done.returncode == 0, done.stderr
    for entry in COMMANDS:
        assert entry.name in done.stdout
    modules = imported(done)
    loaded = sorted(m for m in modules for heavy in HEAVY if m == heavy or m.startswith(heavy + "."))
    assert loaded == [], loaded


def test_a_command_imports_its_own_module_and_not_the_others(tmp_path):
    done = run_in_fresh_process(["profile", "list"], tmp_path)
    assert done.returncode == 0, done.stderr
    modules = imported(done)
    assert "kraft.cli.profile_commands" in modules
    assert not modules & {"kraft.cli.topic", "kraft.cli.certs", "kraft.scenario.cli", "kraft.perf.cli",
                          "cryptography", "kraft.client.admin_client"}


def test_an_unknown_command_is_one_usage_error_with_a_suggestion(tmp_path):
    done = run_in_fresh_process(["topci"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "No such command 'topci'" in done.stderr and "'topic'" in done.stderr


@pytest.mark.parametrize("entry", COMMANDS, ids=[e.name for e in COMMANDS])
def test_each_entry_loads_the_command_it_names(entry):
    command = lazy.load(entry)
    assert command.name == entry.name and command.short_help == entry.help


def test_each_module_adds_only_commands_the_table_names():
    named = {e.name for e in COMMANDS}
    for module in {e.module for e in COMMANDS}:
        holder = typer.Typer()
        __import__(module, fromlist=["register"]).register(holder)
        assert set(typer.main.get_group(holder).commands) <= named, module


def _leaves(command, path):
    subcommands = getattr(command, "commands", None)
    if subcommands is None:
        yield path, command
        return
    for name, sub in subcommands.items():
        yield from _leaves(sub, f"{path} {name}")


@pytest.mark.parametrize("entry", COMMANDS, ids=[e.name for e in COMMANDS])
def test_every_command_and_option_has_a_help_line(entry):
    for path, command in _leaves(lazy.load(entry), f"kraft {entry.name}"):
        assert (command.help or "").strip(), f"{path} has no help"
        for param in command.params:
            if getattr(param, "hidden", False) or param.name == "help":
                continue
            said = param.help if isinstance(param, TyperArgument) else getattr(param, "help", None)
            assert (said or "").strip(), f"{path}: {param.name} has no help"


def test_the_ca_variable_is_the_http_clients():
    from kraft.client.admin_client import CA_ENV
    assert target.CA_ENV == CA_ENV


def test_with_nothing_naming_a_cluster_the_command_says_which_it_used(tmp_path):
    """No -c, no KRAFT_CONFIG, no profile, no ./cluster.toml: the bundled default's
    127.0.0.1:8081..., said on stderr whether or not a node answers there."""
    from kraft.cli.connect import load_config
    bundled, _ = load_config(None, embedded=True)
    done = run_in_fresh_process(["topic", "list"], tmp_path)
    assert f"using the bundled cluster.toml's nodes ({bundled.nodes[0].http_url}" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
