"""How long the `kraft` command takes to start: `kraft --help` and a few commands that
need no cluster, each run N times in fresh processes, the old tree and the new one
side by side (alternating), plus `python -X importtime`'s top offenders by package.

The old tree is `git archive REV kraft` unpacked into a temporary directory and put
first on PYTHONPATH; the new one is the working tree. Every run starts in an empty
directory (so `python -m kraft` finds no ./kraft and no ./cluster.toml) with its own
XDG_CONFIG_HOME (no profile). Not asserted anywhere.

    .venv/bin/python bench/cli_import.py --old HEAD --runs 15
    .venv/bin/python bench/cli_import.py --runs 15        # the working tree only
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {  # name -> arguments after `python`
    "python -c pass": ["-c", "pass"],
    "kraft --help": ["-m", "kraft", "--help"],
    "kraft topic list --help": ["-m", "kraft", "topic", "list", "--help"],
    "kraft quorum status --help": ["-m", "kraft", "quorum", "status", "--help"],
    "kraft profile list": ["-m", "kraft", "profile", "list"],
}
IMPORTTIME_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


def old_tree(rev: str, into: Path) -> Path:
    """`kraft/` as of REV, unpacked under `into`."""
    archive = subprocess.run(["git", "archive", "--format=tar", rev, "kraft"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    path = into / "old.tar"
    path.write_bytes(archive)
    with tarfile.open(path) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def environment(tree: Path | None, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KRAFT_CONFIG")}
    env["XDG_CONFIG_HOME"] = str(home)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    return env


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, timeout=120)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{args}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
    return took


def where_kraft_is(env: dict[str, str], cwd: Path) -> str:
    return subprocess.run([sys.executable, "-c", "import kraft; print(kraft.__file__)"], env=env, cwd=cwd,
                          capture_output=True, text=True, check=True).stdout.strip()


def import_profile(env: dict[str, str], cwd: Path, args: list[str]) -> tuple[int, dict[str, int]]:
    """(modules imported, self time in microseconds per top-level package) of one run."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    per_package: dict[str, int] = defaultdict(int)
    modules = 0
    for line in done.stderr.splitlines():
        if m := IMPORTTIME_LINE.match(line):
            modules += 1
            name = m.group(4)
            package = ".".join(name.split(".")[:2]) if name.startswith("kraft.") else name.split(".")[0]
            per_package[package] += int(m.group(1))
    return modules, per_package


def summary(times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{statistics.median(ms):7.0f} {min(ms):7.0f} {max(ms):7.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per case and tree")
    parser.add_argument("--old", metavar="REV", help="also the kraft/ of this git revision (e.g. HEAD)")
    parser.add_argument("--top", type=int, default=8, help="packages shown from -X importtime")
    parser.add_argument("--importtime-runs", type=int, default=3, help="-X importtime runs (median per package)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "cwd").mkdir()
        trees: dict[str, dict[str, str]] = {}
        if opts.old:
            trees[f"old ({opts.old})"] = environment(old_tree(opts.old, scratch), scratch / "home")
        trees["new (working tree)"] = environment(None, scratch / "home")
        for name, env in trees.items():
            print(f"{name}: kraft from {where_kraft_is(env, scratch / 'cwd')}")
        results: dict[tuple[str, str], list[float]] = defaultdict(list)
        for _ in range(opts.runs):  # alternating: the machine's drift falls on every tree alike
            for case, args in CASES.items():
                for name, env in trees.items():
                    results[(case, name)].append(timed(args, env, scratch / "cwd"))
        print(f"\nwall time per fresh process, ms ({opts.runs} runs; median min max), "
              f"load average {os.getloadavg()[0]:.2f}")
        for case in CASES:
            for name in trees:
                print(f"  {case:28s} {name:22s} {summary(results[(case, name)])}")
        for name, env in trees.items():
            report_imports(name, env, scratch / "cwd", opts)


def report_imports(name: str, env: dict[str, str], cwd: Path, opts: argparse.Namespace) -> None:
    runs = [import_profile(env, cwd, CASES["kraft --help"]) for _ in range(opts.importtime_runs)]
    packages = {p for _, per in runs for p in per}
    median = {p: statistics.median(per.get(p, 0) for _, per in runs) for p in packages}
    total = sum(median.values())
    print(f"\n{name}: `kraft --help` imports {runs[0][0]} modules, {total / 1000:.0f} ms of import "
          f"(-X importtime, median of {opts.importtime_runs}); top packages by own time:")
    for package, micros in sorted(median.items(), key=lambda kv: -kv[1])[:opts.top]:
        print(f"  {package:32s} {micros / 1000:6.1f} ms")


if __name__ == "__main__":
    main()
