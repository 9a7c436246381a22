"""Coverage-guided fuzzing of one target with atheris (libFuzzer), in a process of its own.

    python -m tests.fuzz.run <target> [--seconds N] [--rss-mb M] [--timeout S] [--findings DIR]
    python -m tests.fuzz.run <target> --replay FILE...   # run saved inputs, one by one
    python -m tests.fuzz.run --list

A target is tests/fuzz/target_<name>.py (see README.md). The fuzzing process runs libFuzzer
over the target's corpus first, then mutates for the rest of the time. It is a child of
this one so that a native crash, an out-of-memory kill or a hang is a finding with its
input saved (crash-*, oom-*, timeout-*, leak-* in the findings dir), not the end of the
caller. New inputs found on the way go to a scratch dir; the committed corpus is never
written to (copy a reproducer there by hand, with its regression test).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent.parent
FINDING_PREFIXES = ("crash-", "oom-", "timeout-", "leak-", "slow-unit-")


def targets() -> list[str]:
    """Every target's name, from the files' names: target_<name>.py."""
    return sorted(p.stem.removeprefix("target_") for p in HERE.glob("target_*.py"))


def findings_in(directory: pathlib.Path) -> list[pathlib.Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith(FINDING_PREFIXES))


def fuzz(target: str, seconds: int, findings: pathlib.Path, rss_mb: int = 2048, timeout_s: int = 10,
         extra_env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the fuzzing child; return (its exit status, its output). Status 0: nothing found."""
    findings.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target}-") as scratch:
        argv = [sys.executable, "-m", "tests.fuzz.run", target, "--child",
                # libFuzzer's flags; the first dir receives new inputs, the corpus is read only
                f"-max_total_time={seconds}", f"-rss_limit_mb={rss_mb}", f"-timeout={timeout_s}",
                f"-artifact_prefix={findings}/", "-print_final_stats=1", scratch, str(corpus_of(target))]
        env = {**os.environ, **(extra_env or {})}
        log_path = findings / f"{target}.log"  # libFuzzer's progress, readable while it runs
        with log_path.open("w") as log_file:
            # bounded by the fuzzing time plus startup; a child that ignores its clock is itself a finding
            done = subprocess.run(argv, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                  timeout=seconds + 120)
    return done.returncode, log_path.read_text(errors="replace")


def corpus_of(target: str) -> pathlib.Path:
    return _load(target, instrumented=False).CORPUS


def _load(target: str, instrumented: bool):
    import importlib

    name = f"tests.fuzz.target_{target}"
    if not instrumented:
        return importlib.import_module(name)
    import atheris

    with atheris.instrument_imports(include=["kraft", "tests.fuzz"]):
        return importlib.import_module(name)


def _child(target: str, libfuzzer_argv: list[str]) -> None:
    import logging

    import atheris

    # refusals are logged as warnings (one per bad peer or request): millions of lines here
    logging.disable(logging.WARNING)

    module = _load(target, instrumented=True)
    atheris.Setup([sys.argv[0], *libfuzzer_argv], module.fuzz_one)
    atheris.Fuzz()


def replay(target: str, files: list[pathlib.Path]) -> int:
    """Run saved inputs through the target in this process; the first failure is raised."""
    module = _load(target, instrumented=False)
    for path in files:
        module.fuzz_one(path.read_bytes())
        print(f"{path}: handled")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) >= 2 and args[1] == "--child":
        _child(args[0], args[2:])
        return 0
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("target", nargs="?", choices=targets())
    parser.add_argument("--seconds", type=int, default=60, help="fuzzing time, corpus pass included")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory bound: more is an oom- finding")
    parser.add_argument("--timeout", type=int, default=10, help="seconds one input may take")
    parser.add_argument("--findings", type=pathlib.Path, default=HERE / "findings")
    parser.add_argument("--replay", type=pathlib.Path, nargs="+", metavar="FILE")
    parser.add_argument("--list", action="store_true", help="print the targets' names")
    opts = parser.parse_args(args)
    if opts.list or opts.target is None:
        print("\n".join(targets()))
        return 0
    if opts.replay:
        return replay(opts.target, opts.replay)
    findings = opts.findings.resolve()
    findings.mkdir(parents=True, exist_ok=True)
    before = set(findings_in(findings))
    status, output = fuzz(opts.target, opts.seconds, findings, opts.rss_mb, opts.timeout)
    print(output[-4000:])
    for path in sorted(set(findings_in(findings)) - before):
        print(f"finding: {path} (replay: python -m tests.fuzz.run {opts.target} --replay {path})")
    return status


if __name__ == "__main__":
    sys.exit(main())
