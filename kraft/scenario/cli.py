"""`kraft scenario list`, `kraft scenario run NAME... [options]` and `kraft scenario check HISTORY`."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from kraft.server import terminal
from kraft.config.scenarios import ScenarioError, builtin_names, load_scenario

console = terminal.console()
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
                report: Optional[Path] = typer.Option(None, help="directory for reports (default: a new "
                                                      "kraft-scenarios-* directory under $TMPDIR or /tmp)"),
                events: Optional[Path] = typer.Option(None, help="append the live feed here as JSON lines "
                                                                 "(the console's failure lab reads it)")):
        """Run scenarios on fresh clusters; exit 0 only when every expectation holds (1: one
        failed, 3: none failed but some could not run here)."""
        from kraft.scenario.live_events import EventFile
        from kraft.scenario.owner_watch import watch_owner
        from kraft.scenario.runner import RunOptions
        watch_owner()  # a failure-lab run ends with the node that started it
        try:
            scenarios = [load_scenario(n) for n in names]
        except ScenarioError as exc:
            typer.echo(f"kraft: {exc}", err=True)
            raise typer.Exit(2)
        out_dir = report or Path(tempfile.mkdtemp(prefix="kraft-scenarios-"))
        if report is None:
            console.print(f"reports go to {out_dir} (a new directory; --report DIR picks one)")
        feed = EventFile(events) if events is not None else None
        try:
            all_ok, skipped = _run_all(scenarios, out_dir, RunOptions(duration, rate, seed, nodes), feed)
        finally:
            if feed is not None:
                feed.close()
        if all_ok and skipped:
            console.print(f"[yellow]{len(skipped)} of {len(scenarios)} scenarios skipped[/] "
                          f"({', '.join(skipped)}): exit {EXIT_SKIPPED}, not a pass")
        raise typer.Exit(1 if not all_ok else EXIT_SKIPPED if skipped else 0)

    @scenario.command("check")
    def check_cmd(history: Path = typer.Argument(..., help="a JSON-lines history (docs/SCENARIOS.md)"),
                  as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
                  strict: bool = typer.Option(False, help="also fail on what Kafka's model allows "
                                                          "(G0, G-single, int-send-skip, ...)")):
        """Run Jepsen's Kafka checks (or the share workload's, on its history) on a recorded
        history; exit 0 when no anomaly, 1 when any, 2 when the file cannot be read as a history."""
        raise typer.Exit(_check(history, as_json, strict))


def _check(history: Path, as_json: bool, strict: bool) -> int:
    """`kraft scenario check`: the exit code."""
    from kraft.scenario.jepsen.checks import check_jepsen_history
    from kraft.scenario.jepsen.history import HistoryError, JepsenHistory, parse_history
    from kraft.scenario.share.checks import check_share_history
    from kraft.scenario.share.history import ShareHistory, is_share_history, parse_share_history
    h: JepsenHistory | None = None
    share: ShareHistory | None = None
    try:
        with history.open(encoding="utf-8") as lines:
            first = lines.readline()
            lines.seek(0)
            if is_share_history(first):
                share = parse_share_history(lines)
            else:
                h = parse_history(lines)
    except HistoryError as exc:
        reason = str(exc)
    except UnicodeDecodeError:
        reason = "not UTF-8 text"
    except OSError as exc:
        reason = f"cannot read it ({exc.strerror or exc})"
    else:
        # a recorder that wrote nothing must not look like a clean run
        reason = "" if (share.ops if share else h is not None and h.completions) else "holds no client ops"
    if reason:
        typer.echo(f"kraft: {history}: {reason}", err=True)
        return 2
    if share is not None:
        report = check_share_history(share)
    else:
        assert h is not None
        report = check_jepsen_history(h, strict=strict)
    _print_report(report, as_json)
    return 0 if report.valid else 1


def _print_report(report, as_json: bool) -> None:
    import orjson

    from kraft.scenario.jepsen.findings import report_lines
    if as_json:
        typer.echo(orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in report_lines(report):
            typer.echo(line)


def _run_all(scenarios, out_dir: Path, base, feed) -> tuple[bool, list[str]]:
    """Run each scenario; a run the console did not start (no feed) is recorded for it."""
    from kraft.scenario.runner import RunOptions, run_scenario
    all_ok, skipped = True, list[str]()
    for s in scenarios:
        console.rule(f"{s.name}: {s.description}")
        record = None if feed is not None else _record(s.name, base, out_dir)  # the console lists it
        events = feed if record is None else record[1]
        line = console.status("starting cluster ...")
        line.start()
        try:
            result = run_scenario(s, RunOptions(base.duration, base.rate, base.seed, base.nodes,
                                                progress=lambda t: line.update(t), report_dir=out_dir,
                                                events=events))
        except BaseException:
            if record is not None:  # ended without a verdict: the console says so
                record[1].close()
            raise
        finally:
            line.stop()
        try:
            all_ok &= _outcome(s, result, out_dir, events, skipped)
        finally:
            if record is not None:
                _keep_reports(record, result, out_dir)
    return all_ok, skipped


def _outcome(s, result, out_dir: Path, events, skipped: list[str]) -> bool:
    """Print and feed the run's verdict (or its skip); whether it passed (a skip: True)."""
    from kraft.scenario.report import write_reports
    if result.skipped:
        console.print(f"[yellow]SKIPPED (not a pass)[/] {s.name}: {result.skipped}")
        skipped.append(s.name)
        if events is not None:
            events({"event": "skipped", "scenario": s.name, "reason": result.skipped})
        return True
    show_verdict(result)
    json_path, html_path = write_reports(result, out_dir)
    if events is not None:
        rows = result.verdict.rows if result.verdict is not None else []
        events({"event": "verdict", "scenario": s.name, "passed": result.passed,
                "rows": [r.__dict__ for r in rows], "facts": result.facts,
                "report_json": json_path.name, "report_html": html_path.name})
    console.print(f"reports: {json_path}  {html_path}")
    if result.history_path is not None:
        console.print(f"history: {out_dir / (s.name + '.history.jsonl')} (kraft scenario check reads it)")
    return result.passed


def _record(name: str, base, out_dir: Path):
    """A command-line run's record in the machine's lab runs directory (the console's
    failure lab lists it beside its own runs): (its directory, its live feed), or None
    when that directory cannot be written (said once, the run goes on)."""
    import os
    import time

    from kraft.api.console.lab_records import cli_runs_root, new_run_dir, write_meta
    from kraft.scenario.live_events import EventFile
    try:
        run_id, directory = new_run_dir(cli_runs_root(), name)
        write_meta(directory, {"run_id": run_id, "scenario": name, "started_ms": int(time.time() * 1000),
                               "duration": base.duration, "seed": base.seed, "pid": os.getpid(),
                               "origin": "cli", "report_dir": str(out_dir.resolve())})
        feed = EventFile(directory / "events.jsonl")
    except OSError as exc:
        console.print(f"[yellow]not recorded for the console's failure lab[/]: {exc}")
        return None
    console.print(f"recorded as {run_id} in {directory.parent} (the console's failure lab lists it)")
    return directory, feed


def _keep_reports(record, result, out_dir: Path) -> None:
    """Close the record's feed and copy the run's reports beside it (the console serves them)."""
    import shutil
    directory, feed = record
    feed.close()
    for suffix in (".json", ".html"):
        report = out_dir / f"{result.scenario.name}{suffix}"
        if report.is_file():
            try:
                shutil.copyfile(report, directory / report.name)
            except OSError:
                pass


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
    if result.jepsen is not None:
        console.print(f"Jepsen: {f['ops_per_second']} ops/s ({f['ok_ops_per_second']} ok/s; "
                      f"{', '.join(f'{k} {v}' for k, v in f['ops'].items())}); "
                      f"anomalies: {f['anomalies'] or 'none'}")
    sys.stdout.flush()
