"""`kraft bench` (filled in by the benchmark work)."""

import typer


def register(app: typer.Typer) -> None:
    bench = typer.Typer(no_args_is_help=True, help="Benchmarks (like kafka-*-perf-test).")
    app.add_typer(bench, name="bench")
