"""20 concurrent metadata writers, a controller killed and another paused: afterwards
every node's image is the same, no controller truncated an applied entry, and every
create's answer is true of the final image (created means there, refused means absent;
only "outcome unknown" may go either way)."""

from __future__ import annotations

import pytest

from kraft.scenario.metadata_storm import StormResult, run_storm
from kraft.server.local_cluster import LocalCluster

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("seed", [1, 2])
def test_metadata_storm_leaves_no_divergent_node(seed):
    with LocalCluster(3, env={"KRAFT_METADATA_SNAPSHOT_ENTRIES": "200"}) as c:
        c.start()
        c.wait_ready(timeout_s=60)
        try:
            # 10 s still holds both faults: the kill at ~3 s, the 4 s pause from ~7 s to ~11 s;
            # then creates go on until 100 succeeded, however slow the machine
            result = run_storm(c, seconds=10, workers=20, seed=seed, min_created=100, max_seconds=120)
        finally:
            logs = {n: c.log_path(n).read_text(errors="replace") if c.log_path(n).exists() else ""
                    for n in c.hosts}
            for n, text in logs.items():  # shown when the test fails: the nodes' last words
                print(f"--- node {n}, last lines ---", *text.splitlines()[-25:], sep="\n")
    print(f"seed {seed}: {result.created} created ({result.create_rate:.1f}/s), {result.refused} refused, "
          f"{result.unknown} unknown, {result.deleted} deleted, {result.configs_changed} config changes, "
          f"terms {result.terms}")
    assert result.created >= 100  # hundreds of creates span the faults and several snapshots
    assert result.elections >= 1  # the killed leader was replaced
    assert result.divergent_nodes() == []
    image = next(iter(result.images.values()))
    assert result.untrue_answers(image) == []
    for node_id, text in logs.items():
        assert "truncating already-applied" not in text, node_id
        assert "refusing an AppendEntries" not in text, node_id


def test_the_checker_finds_untrue_create_answers():
    result = StormResult(answers={"kept": "created", "lost": "created", "deleted": "created",
                                  "refused-but-there": "refused", "refused": "refused",
                                  "maybe": "unknown", "maybe-not": "unknown"},
                         touched_after={"deleted"})
    image = {"topics": [{"name": n} for n in ("kept", "refused-but-there", "maybe")]}
    assert result.untrue_answers(image) == [("lost", "created"), ("refused-but-there", "refused")]


def test_the_checker_finds_a_divergent_node():
    same = {"offset": 7, "topics": {"a": 1}}
    result = StormResult(images={1: same, 2: dict(same), 3: {"offset": 7, "topics": {"a": 2}}})
    assert result.divergent_nodes() == [3]
    assert StormResult(images={1: same, 2: dict(same)}).divergent_nodes() == []
