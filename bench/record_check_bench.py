"""CPU per MB of checking a produced batch: the structural walk a leader runs on every
batch from a Kafka client (kraft/storage/record_check.py) beside the full decoder it
replaced, on the same batches, interleaved in one run.

    .venv/bin/python bench/record_check_bench.py [--rounds 15]

Batches: 1,000 records of 1 KiB (what librdkafka sends at its defaults under load) and
1,000 records of 100 B with a 16-byte key and one header (more fields per byte).
Prints ms per MB, median (min..max) over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kraft.storage.record import Record  # noqa: E402
from kraft.storage.record_batch import decode_records, encode_batch  # noqa: E402
from kraft.storage.record_check import check_records  # noqa: E402

NOW_MS = 1_700_000_000_000


def batches() -> dict[str, bytes]:
    big = os.urandom(1024)
    small = os.urandom(100)
    return {
        "1000 x 1 KiB, no key": encode_batch(
            [Record(None, big, (), NOW_MS + i // 100) for i in range(1000)], 0, 0),
        "1000 x 100 B, key, header": encode_batch(
            [Record(os.urandom(16), small, (("trace", b"abc"),), NOW_MS + i) for i in range(1000)], 0, 0),
    }


def ms_per_mb(fn, batch: bytes, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn(batch)
    return (time.perf_counter() - started) / repeat * 1000 / (len(batch) / 1e6)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    checks = {"structural walk": check_records, "full decode": decode_records}
    for name, batch in batches().items():
        samples: dict[str, list[float]] = {k: [] for k in checks}
        for _ in range(args.rounds):
            for label, fn in checks.items():  # interleaved: machine noise hits both alike
                samples[label].append(ms_per_mb(fn, batch, 20))
        print(f"{name} ({len(batch) / 1e6:.2f} MB per batch):")
        for label, values in samples.items():
            print(f"  {label:<16} {statistics.median(values):.2f} ({min(values):.2f}..{max(values):.2f}) ms per MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
