"""`kraft scenario list` and `kraft scenario run NAME... [options]`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from kraft.scenario.spec import ScenarioError, builtin_names, load_scenario

console = Console()
# Like automake's and pytest's "skipped": a script or CI must not read a skip as a pass.
EXIT_SKIPPED = 3


def register(app: typer.Typer) -> None:
    scenario = typer.Typer(no_args_is_help=True, help="Failure scenarios (see docs/SCENARIOS.md).")
    app.add_typer(scenario, name="scenario")

    @scenario.command("list")
    def list_cmd():
        """The built-in library, one line each."""
        for name in builtin_names():
            s = load_scenario(name)
            typer.echo(f"{name:24s} {s.description}")

    @scenario.command("run")
    def run_cmd(names: list[str] = typer.Argument(..., help="built-in names or .toml files"),
                duration: Optional[float] = typer.Option(None, help="seconds of faults"),
                rate: Optional[float] = typer.Option(None, help="writes per second"),
                seed: int = typer.Option(0, help="makes the fault schedule reproducible"),
                nodes: Optional[int] = typer.Option(None, help="cluster size"),
                report: Optional[Path] = typer.Option(None, help="directory for reports")):
        """Run scenarios on fresh clusters; exit 0 only when every expectation holds (1: one
        failed, 3: none failed but some could not run here)."""
        from kraft.scenario.report import write_reports
        from kraft.scenario.runner import RunOptions, run_scenario
        try:
            scenarios = [load_scenario(n) for n in names]
        except ScenarioError as exc:
            typer.echo(f"kraft: {exc}", err=True)
            raise typer.Exit(2)
        out_dir = report or Path(tempfile.mkdtemp(prefix="kraft-scenarios-"))
        all_ok, skipped = True, []
        for s in scenarios:
            console.rule(f"{s.name}: {s.description}")
            line = console.status("starting cluster ...")
            line.start()
            try:
                result = run_scenario(s, RunOptions(duration, rate, seed, nodes,
                                                    progress=lambda t: line.update(t)))
            finally:
                line.stop()
            if result.skipped:
                console.print(f"[yellow]SKIPPED (not a pass)[/] {s.name}: {result.skipped}")
                skipped.append(s.name)
                continue
            show_verdict(result)
            json_path, html_path = write_reports(result, out_dir)
            console.print(f"reports: {json_path}  {html_path}")
            all_ok &= result.passed
        if all_ok and skipped:
            console.print(f"[yellow]{len(skipped)} of {len(scenarios)} scenarios skipped[/] "
                          f"({', '.join(skipped)}): exit {EXIT_SKIPPED}, not a pass")
        raise typer.Exit(1 if not all_ok else EXIT_SKIPPED if skipped else 0)


def show_verdict(result) -> None:
    table = Table(title=f"{result.scenario.name}: {'PASS' if result.passed else 'FAIL'}")
    for col in ("check", "expected", "actual", "", "details"):
        table.add_column(col)
    for r in result.verdict.rows:
        table.add_row(r.name, r.expected, r.actual, "[green]✔[/]" if r.ok else "[red]✘[/]", r.summary)
    console.print(table)
    f = result.facts
    console.print(f"writes ok={f['writes_ok']} fail={f['writes_fail']} unknown={f['writes_unknown']} "
                  f"reads={f['reads']} faults={f['faults']} unclean={f['unclean_elections']}")
    sys.stdout.flush()
