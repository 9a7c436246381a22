"""What the cluster says about itself, read for the fault methods' waits.

Each question is asked of every running node (kraft/scenario/targets) and answered from
the freshest answers, so a node cut off from the others cannot pass its old view off as
the cluster's. The predicates at the bottom are pure: views in, verdict out.
"""

from __future__ import annotations

from kraft.scenario import targets
from kraft.server.local_cluster import LocalCluster, http_json

ASK_TIMEOUT_S = 2.0


def partition_views(cluster: LocalCluster) -> dict[tuple[str, int], dict]:
    """(topic, partition) -> its freshest view, for every topic internal ones included."""
    return targets.all_partition_views(cluster)


def brokers_seen_by_controller(cluster: LocalCluster) -> dict[int, dict]:
    """Registered brokers by id as the active controller lists them (it decides fencing)."""
    controller = targets.active_controller(cluster)
    status, body = http_json("GET", cluster.v3(controller) + "/brokers", timeout=ASK_TIMEOUT_S,
                             headers=cluster.headers, context=cluster.tls)
    if status != 200 or not isinstance(body, dict):
        raise targets.TargetUnavailable(f"the active controller (node {controller}) did not list the brokers")
    return {b["broker_id"]: b for b in body.get("data", [])}


def led_by(views: dict[tuple[str, int], dict], node: int) -> list[tuple[str, int]]:
    """The partitions these views say `node` leads while another in-sync replica could."""
    return sorted(key for key, v in views.items()
                  if v.get("leader_id") == node and set(v.get("isr", [])) - {node})


def in_isr_of_others(views: dict[tuple[str, int], dict], node: int) -> list[tuple[str, int]]:
    """The partitions whose ISR holds `node` beside another member (an ISR of one never
    shrinks, as in Kafka): empty once the node is out of every ISR it can leave."""
    return sorted(key for key, v in views.items() if node in v.get("isr", []) and len(v.get("isr", [])) > 1)


def in_every_isr(views: dict[tuple[str, int], dict], node: int) -> bool:
    """`node` is in the ISR of every partition it holds a replica of."""
    return all(node in v.get("isr", []) for v in views.values() if node in replicas_of(v))


def replicas_of(view: dict) -> list[int]:
    return view.get("replica_ids") or view.get("replicas") or []


def fenced(brokers: dict[int, dict], node: int) -> bool:
    """Fenced or no longer registered: the controller gives it nothing to lead."""
    b = brokers.get(node)
    return b is None or bool(b.get("fenced"))
