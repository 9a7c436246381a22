"""The checkers of a scenario run (docs/SCENARIOS.md, "Checkers"), in that order.

Each is a pure function `check_<name>(h: History, **params) -> CheckResult` over the
recorded history and the replicas' logs; unknown params are ignored, so one set of
params can be passed to all (liveness takes bound_ms, every checker max_examples).
They live in check_*.py by concept; this module is the one to import.
"""

from __future__ import annotations

from collections.abc import Callable

from kraft.scenario.checks.access import check_access
from kraft.scenario.checks.common import CheckResult
from kraft.scenario.checks.compaction import check_compaction
from kraft.scenario.checks.hostile import (
    check_hostile_answers,
    check_nodes_alive,
    check_served,
    check_unfenced,
)
from kraft.scenario.checks.groups import check_group_delivery, check_group_offsets
from kraft.scenario.checks.iceberg import check_iceberg
from kraft.scenario.checks.liveness import check_liveness
from kraft.scenario.checks.logs import (
    check_duplicates,
    check_inconsistent_offsets,
    check_replica_divergence,
)
from kraft.scenario.checks.monotonic import check_monotonic
from kraft.scenario.checks.order import check_order
from kraft.scenario.checks.writes import (
    check_aborted_reads,
    check_lost_writes,
    check_unclean_accounting,
)
from kraft.scenario.history import History

Checker = Callable[..., CheckResult]

CHECKERS: dict[str, Checker] = {
    "lost_writes": check_lost_writes,
    "duplicates": check_duplicates,
    "inconsistent_offsets": check_inconsistent_offsets,
    "replica_divergence": check_replica_divergence,
    "order": check_order,
    "aborted_reads": check_aborted_reads,
    "monotonic": check_monotonic,
    "unclean_accounting": check_unclean_accounting,
    "liveness": check_liveness,
    "access": check_access,
    "group_offsets": check_group_offsets,
    "group_delivery": check_group_delivery,
    "compaction": check_compaction,
    "served": check_served,
    "nodes_alive": check_nodes_alive,
    "unfenced": check_unfenced,
    "hostile_answers": check_hostile_answers,
}

# Checkers a scenario's topic asks for, run after CHECKERS and reported only where they
# ran (each says "not run" otherwise): iceberg, where the topic sets iceberg.mode and the
# runner gathered History.iceberg from the live cluster (kraft/scenario/iceberg_table.py).
# Kept out of CHECKERS, whose names are the [expect] vocabulary (CHECK_NAMES) that every
# scenario reports a row for; their verdict is expected to pass.
TOPIC_CHECKERS: dict[str, Checker] = {
    "iceberg": check_iceberg,
}


def checks_for(h: History) -> list[tuple[str, Checker]]:
    """Every checker, then the topic's own ones whose data the runner gathered."""
    return [*CHECKERS.items(), *((n, c) for n, c in TOPIC_CHECKERS.items() if getattr(h, n, None))]


def run_checkers(h: History, names: list[str] | None = None, **params) -> list[CheckResult]:
    """Run the named checkers (all by default, in CHECKERS order) with the same params."""
    return [CHECKERS[n](h, **params) for n in (names or CHECKERS)]


__all__ = ["CHECKERS", "TOPIC_CHECKERS", "CheckResult", "checks_for", "run_checkers", "check_lost_writes", "check_duplicates",
           "check_inconsistent_offsets", "check_replica_divergence", "check_order",
           "check_aborted_reads", "check_monotonic", "check_unclean_accounting", "check_liveness",
           "check_access", "check_group_offsets", "check_group_delivery", "check_compaction",
           "check_served", "check_nodes_alive", "check_unfenced", "check_hostile_answers", "check_iceberg"]
