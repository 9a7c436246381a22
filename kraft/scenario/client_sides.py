"""Which client processes go with an isolated node, and the packet rules that cut the
rest of the cluster off from them (the `isolate-with-clients` fault). Pure.

Every client of a node's address comes from 127.0.0.1, so a client cannot be told apart
by its address. Each client slot of a Jepsen workload runs its processes under a group
id of its own instead (CLIENT_GID_BASE + slot; root's uid, so file access is
unchanged), and iptables' owner match picks a client's packets by that group: the
isolated node's clients lose every other node, the other clients lose the isolated node.
Dropping the client's packets alone is enough for TCP: no connection opens, and an
open one stalls at the client's next packet (its requests and acknowledgements).
"""

from __future__ import annotations

import random
from typing import NamedTuple

CLIENT_GID_BASE = 47_000  # group ids of the Jepsen client slots: 47000, 47001, ...
DEFAULT_SHARE = 0.5  # of the client slots on the isolated node's side


def client_gid(slot: int) -> int:
    return CLIENT_GID_BASE + slot


def split_slots(slots: int, share: float, rng: random.Random) -> tuple[list[int], list[int]]:
    """(the slots on the isolated node's side, the others): round(share * slots) chosen at
    random, at least one on each side when there are two slots or more."""
    if slots < 1:
        raise ValueError("no client slots to split")
    if not 0.0 < share < 1.0:
        raise ValueError(f"the clients' share must be between 0 and 1, got {share}")
    n = min(max(1, round(share * slots)), max(1, slots - 1))
    side = sorted(rng.sample(range(slots), n))
    return side, [s for s in range(slots) if s not in side]


class DropRule(NamedTuple):
    """Drop packets of the processes of group `gid` (None: any process) from `src`
    (None: any address) to `dst`."""
    gid: int | None
    src: str | None
    dst: str


def isolation_rules(node: int, hosts: dict[int, str], side_gids: list[int],
                    other_gids: list[int]) -> list[DropRule]:
    """The node cut off from the other nodes both ways, its side's clients from the other
    nodes, the other clients from it."""
    if node not in hosts:
        raise ValueError(f"unknown node {node!r}; nodes are {sorted(hosts)}")
    others = [hosts[m] for m in sorted(hosts) if m != node]
    rules = []
    for addr in others:
        rules += [DropRule(None, hosts[node], addr), DropRule(None, addr, hosts[node])]
    rules += [DropRule(g, None, addr) for g in side_gids for addr in others]
    rules += [DropRule(g, None, hosts[node]) for g in other_gids]
    return rules


def iptables_spec(rule: DropRule) -> list[str]:
    """The rule as the arguments of `iptables -A CHAIN ...`."""
    spec = [] if rule.gid is None else ["-m", "owner", "--gid-owner", str(rule.gid)]
    if rule.src is not None:
        spec += ["-s", rule.src]
    return spec + ["-d", rule.dst, "-j", "DROP"]
