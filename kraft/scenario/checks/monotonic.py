"""Monotonic cluster state as clients saw it: high watermarks and leader epochs never go
back, one leader per (partition, leader epoch), one controller per Raft term. A pure
function over a History's samples.
"""

from __future__ import annotations

from kraft.scenario.checks.common import MAX_EXAMPLES, CheckResult, Examples, where
from kraft.scenario.history import History


def check_monotonic(h: History, max_examples: int = MAX_EXAMPLES, **_) -> CheckResult:
    """Per partition, samples in time order (ties keep the recorded order):
    high_watermark never decreases (None = not known, skipped); leader_epoch never
    decreases; within one leader_epoch all samples name the same leader (None = no
    leader, skipped). Over all samples, each raft_term names one controller_id (None
    skipped). A drop is counted once where it happens, then the lower value is the
    new reference."""
    examples = Examples(max_examples)
    counts = {"samples": len(h.samples), "hw_decreases": 0, "epoch_decreases": 0,
              "epochs_with_two_leaders": 0, "terms_with_two_controllers": 0}
    last_hw: dict[int, tuple[int, float]] = {}
    last_epoch: dict[int, tuple[int, float]] = {}
    leaders: dict[tuple[int, int], dict[int, float]] = {}
    controllers: dict[int, dict[int, float]] = {}
    for s in sorted(h.samples, key=lambda s: s.time_ms):
        p = s.partition
        if s.high_watermark is not None:
            if p in last_hw and s.high_watermark < last_hw[p][0]:
                counts["hw_decreases"] += 1
                examples.add(f"{where(h, p)}: high watermark went from {last_hw[p][0]} at "
                             f"{last_hw[p][1]:.0f} ms to {s.high_watermark} at {s.time_ms:.0f} ms")
            last_hw[p] = (s.high_watermark, s.time_ms)
        if p in last_epoch and s.leader_epoch < last_epoch[p][0]:
            counts["epoch_decreases"] += 1
            examples.add(f"{where(h, p)}: leader epoch went from {last_epoch[p][0]} at "
                         f"{last_epoch[p][1]:.0f} ms to {s.leader_epoch} at {s.time_ms:.0f} ms")
        last_epoch[p] = (s.leader_epoch, s.time_ms)
        if s.leader is not None:
            leaders.setdefault((p, s.leader_epoch), {}).setdefault(s.leader, s.time_ms)
        if s.raft_term is not None and s.controller_id is not None:
            controllers.setdefault(s.raft_term, {}).setdefault(s.controller_id, s.time_ms)

    for (p, epoch), seen in sorted(leaders.items()):
        if len(seen) > 1:
            counts["epochs_with_two_leaders"] += 1
            names = ", ".join(f"node {n} (first at {t:.0f} ms)" for n, t in seen.items())
            examples.add(f"{where(h, p)} leader epoch {epoch} had {len(seen)} leaders: {names}")
    for term, seen in sorted(controllers.items()):
        if len(seen) > 1:
            counts["terms_with_two_controllers"] += 1
            names = ", ".join(f"node {n} (first at {t:.0f} ms)" for n, t in seen.items())
            examples.add(f"Raft term {term} had {len(seen)} active controllers: {names}")

    bad = sum(v for k, v in counts.items() if k != "samples")
    summary = (f"{counts['hw_decreases']} HW decreases, {counts['epoch_decreases']} epoch "
               f"decreases, {counts['epochs_with_two_leaders']} epochs with two leaders, "
               f"{counts['terms_with_two_controllers']} terms with two controllers "
               f"in {counts['samples']} samples")
    return CheckResult("monotonic", bad == 0, summary, counts, examples.final())
