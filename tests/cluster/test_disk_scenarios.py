"""Short versions of the failure scenarios whose faults are a node's own disk: a full
disk (a tmpfs of its own) and power cuts (the lazy filesystem, a FUSE mount of its own).

Each run starts its own cluster of node processes, injects the scenario's faults, and
judges the checkers against the scenario's expectations (docs/SCENARIOS.md). The mounts
are under each run's own directory and change nothing for anyone else, so each test is
a worker group of its own (tests/conftest.py) and runs beside the rest of the suite.
Mounts need root, /dev/fuse and fuse3; without them the tests are skipped with the reason.
"""

from __future__ import annotations

import pytest
from scenario_runs import SHORT_RECOVERY_S, run

from kraft.server import lazy_disks, small_disks

pytestmark = pytest.mark.cluster
DISKS_OK, DISKS_WHY = small_disks.available()
POWER_OK, POWER_WHY = lazy_disks.available()


@pytest.mark.skipif(not DISKS_OK, reason=f"small disks unavailable: {DISKS_WHY}")
def test_disk_full_leader_gives_way_and_rejoins():
    result, failed = run("disk-full", 12, SHORT_RECOVERY_S)  # the disk freed at 10 s
    assert result.skipped is None, result.skipped
    assert not failed, failed
    full = [f for f in result.history.faults if f.kind == "disk-full"]
    assert len(full) == 1 and "disk full" in full[0].detail, full
    after = [s for s in result.history.samples if s.time_ms > full[0].time_ms + 3000]
    assert any(full[0].target[0] not in s.isr for s in after), "the full node never left the ISR"
    assert sorted(result.history.final_isr[0]) == [1, 2, 3]


@pytest.mark.skipif(not POWER_OK, reason=f"power cuts unavailable: {POWER_WHY}")
@pytest.mark.parametrize("name,duration", [("power-cut-leader", 11), ("quorum-power-cut", 12),
                                           pytest.param("power-cut-all-flushed", None, marks=pytest.mark.soak)])
def test_power_cuts_lose_nothing_kafka_promises_to_keep(name, duration):
    # the default suite's runs end 2 s after the cut nodes started again (quorum-power-cut 4 s:
    # its topic creations stop while the quorum is down, and more than 10 are asserted)
    result, failed = run(name, duration, SHORT_RECOVERY_S if duration else None)
    assert result.skipped is None, result.skipped
    assert not failed, failed
    cuts = [f for f in result.history.faults if f.kind == "power-cut"]
    assert cuts and all(f.detail.startswith("power cut: node") for f in cuts), cuts
    if name == "power-cut-leader":  # default flush: the cut really dropped the leader's tail
        assert "lost 0 unsynced bytes" not in cuts[0].detail, cuts[0].detail
    if name == "quorum-power-cut":
        assert len({n for f in cuts for n in f.target}) == 2  # a majority of the 3 controllers
        assert result.facts["topics_created"] > 10


@pytest.mark.skipif(not POWER_OK, reason=f"power cuts unavailable: {POWER_WHY}")
def test_last_isr_member_back_from_a_power_cut_cannot_take_acknowledged_writes_with_it():
    """Both followers are killed (the ISR shrinks to the leader, the HW stops), then the
    leader loses its unsynced tail and is back first. It registers as after an unclean
    shutdown and may not lead; a follower from the ELR does, and nothing acknowledged
    is lost (before KIP-966's rules the leader was elected again and the followers
    truncated to it: 253 of 749 lost in one run)."""
    result, failed = run("last-isr-power-cut", 27, SHORT_RECOVERY_S)  # the followers back at 25 s
    assert result.skipped is None, result.skipped
    assert not failed, failed
    assert result.facts["writes_ok"] > 50
    cut = next(f for f in result.history.faults if f.kind == "power-cut")
    assert "lost 0 unsynced bytes" not in cut.detail, cut.detail
    t0 = [s for s in result.history.samples if s.partition == 0]
    epoch_at_cut = max(s.leader_epoch for s in t0 if s.time_ms <= cut.time_ms)
    elected = [s for s in t0 if s.time_ms > cut.time_ms and s.leader_epoch > epoch_at_cut
               and s.leader is not None and s.leader >= 0]
    # the first leader after the cut is a follower from the ELR, not the node that lost data
    assert elected and elected[0].leader not in cut.target, elected[:1]


@pytest.mark.skipif(not POWER_OK, reason=f"power cuts unavailable: {POWER_WHY}")
def test_power_cut_all_negative_control_names_every_lost_write():
    """Default flush settings and every node's power cut at once: acknowledged writes
    that only page caches held are gone, and the report names each one."""
    result, failed = run("power-cut-all", 11, SHORT_RECOVERY_S)  # every node back at 9 s
    assert not failed, failed
    lost = next(c for c in result.checks if c.name == "lost_writes")
    assert not lost.ok and lost.counts["lost"] > 0
    assert len(lost.offenders) == lost.counts["lost"]
    acked = {w.value for w in result.history.writes if w.outcome == "ok"}
    on_disk = {v for logs in result.history.replica_logs.values() for log in logs.values() for _, _, v in log}
    for offender in lost.offenders:
        value = offender.split("=", 1)[1]
        assert value in acked and value not in on_disk, offender
