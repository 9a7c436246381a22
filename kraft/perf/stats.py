"""Numbers for the load generators: percentiles, latency summaries, error counts, RSS.

Pure helpers (no I/O except `rss_bytes`), shared by `kraft bench` and bench/data_bench.py.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field

MB = 1_000_000  # MB/s as kafka-*-perf-test prints it (10^6 bytes)


def percentile(values, q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def latency_summary(seconds) -> dict:
    """Latencies given in seconds -> {n, avg, p50, p95, p99, max} in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    if not ms:
        return {"n": 0, "avg": None, "p50": None, "p95": None, "p99": None, "max": None}
    xs = sorted(ms)
    return {"n": len(xs), "avg": statistics.fmean(xs), "p50": percentile(xs, 50),
            "p95": percentile(xs, 95), "p99": percentile(xs, 99), "max": xs[-1]}


def spread(values) -> dict:
    """Median, min and max of a few repeated measurements."""
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "n": len(vals)}


@dataclass
class ErrorCounts:
    """error_code (or a client-side name such as "client:ServerDisconnectedError") ->
    how many records failed with it, plus one example message per code."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, code, message: str | None, records: int = 1) -> None:
        key = str(code)
        self.counts[key] += records
        if message and key not in self.examples:
            self.examples[key] = message[:300]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict:
        return {code: {"records": n, "example": self.examples.get(code)}
                for code, n in self.counts.most_common()}


@dataclass
class LoadResult:
    """One produce or consume run."""

    records: int = 0            # records acknowledged (produce) or received (consume)
    bytes: int = 0              # payload bytes of those records (record values)
    requests: int = 0           # requests completed (any outcome)
    elapsed_s: float = 0.0      # first request sent -> last answer received
    latencies_s: list = field(default_factory=list)  # per request
    errors: ErrorCounts = field(default_factory=ErrorCounts)
    extra: dict = field(default_factory=dict)

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def mb_per_s(self) -> float:
        return self.bytes / MB / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_json(self) -> dict:
        return {"records": self.records, "bytes": self.bytes, "requests": self.requests,
                "elapsed_s": round(self.elapsed_s, 4), "records_per_s": round(self.records_per_s, 1),
                "mb_per_s": round(self.mb_per_s, 3),
                "latency_ms": {k: (round(v, 3) if isinstance(v, float) else v)
                               for k, v in latency_summary(self.latencies_s).items()},
                "errors": self.errors.to_json(), **self.extra}


def rss_bytes(pid: int) -> int | None:
    """VmRSS of a process from /proc/<pid>/status, in bytes (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid: int, kernel_only: bool = False) -> float | None:
    """utime + stime of a process (stime alone: `kernel_only`), in seconds."""
    import os
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = int(fields[12]) if kernel_only else int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None
