"""What the failure lab's library says of each scenario besides its description: what
the machine needs for it to run (else the run is skipped, never passed) and about how
long a run takes. Both derived from the scenario file (kraft/config/scenarios.py), with
the same tests the runner makes before it starts (kraft/scenario/runner.py)."""

from __future__ import annotations

from kraft.config.scenarios import Scenario

# starting the throwaway cluster, creating the topic, the final read and the checks: on
# a busy 2-core machine a 3-node baseline spends about this beside its workload
SETUP_AND_CHECKS_S = 25
PER_NODE_S = 3  # each node more starts and stops too
BALLAST_PARTITIONS_PER_S = 200  # idle partitions created (and recovered) per second, roughly


def scenario_needs(s: Scenario) -> list[str]:
    """What a run needs beyond this package; without it the run is skipped (not passed)."""
    wants = ((s.needs_network, "root and iptables (network faults)"),
             (s.needs_netem, "root and tc netem (slow or lossy links)"),
             (s.needs_power_cuts, "root and FUSE, /dev/fuse (power cuts)"),
             (s.cluster.partitions_fs_mb is not None, "root, to mount small tmpfs disks (disk full)"),
             (s.workload.needs_kafka_client, "confluent-kafka (Kafka clients; a test extra)"))
    return [what for yes, what in wants if yes]


def scenario_takes(s: Scenario, duration: float | None = None) -> dict:
    """About how long a run takes, in seconds, and of what: the faults' time (the
    duration, which a run may change), the writes after healing, and the rest."""
    faults = s.workload.duration if duration is None else duration
    setup = SETUP_AND_CHECKS_S + PER_NODE_S * max(0, s.cluster.nodes - 3) \
        + s.cluster.ballast_partitions // BALLAST_PARTITIONS_PER_S
    return {"faults_s": faults, "recovery_s": s.workload.recovery, "setup_s": setup,
            "total_s": round(faults + s.workload.recovery + setup)}
