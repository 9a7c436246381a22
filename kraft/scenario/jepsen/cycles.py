"""Dependency cycles between ops of a Jepsen-style history: G0, G1c, G-single. Pure.

The graph's nodes are the send/poll/txn ops that surely took effect (ok, or info with a
send read). Its edges, per key, from the version order (jepsen/orders.py):

- ww: T1 sent a value and T2 sent the next one in the key's order (of surely-effective
  sends; earlier ones follow through the chain)
- wr: T2 read a value T1 sent
- rw: T1's furthest read of the key is followed in the order by a value T2 sent (T1 did
  not see T2's write: an anti-dependency)

Cycles are found per strongly connected component (Tarjan), then one short cycle in
each by breadth-first search; an anomaly's count is the number of components holding
one. G0: a cycle of ww edges. G1c: ww and wr edges, at least one wr. G-single: exactly
one rw edge, the rest ww/wr.

What Kafka's model allows, as Jepsen judges it: a transaction's sends are not isolated
from another's, so G0, and G1c that needs a ww edge, are expected (a G1c of wr edges
alone is not: each op read the other's committed writes). Jepsen draws no rw edges at
all: a poll returns some records, not the state of a partition, so a G-single says only
that a poll had not caught up; it is reported, and fails with --strict.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from kraft.scenario.jepsen.findings import Case, Finding
from kraft.scenario.jepsen.history import MICRO_OP_FS, Key
from kraft.scenario.jepsen.orders import Analysis

WW, WR, RW = "ww", "wr", "rw"
# a G-single search in one component tries at most this many rw edges (each a search)
MAX_RW_TRIES = 200



class Why(NamedTuple):
    """Why an edge exists (the first reason found)."""
    key: Key
    values: tuple[int, ...]
    text: str


Edges = dict[int, dict[int, Why]]  # a -> b -> why
Step = tuple[int, str, Why]  # (from node, edge kind, why)


class Graph:
    def __init__(self) -> None:
        self.edges: dict[str, Edges] = {WW: {}, WR: {}, RW: {}}
        self.nodes: set[int] = set()

    def link(self, kind: str, a: int, b: int, why: Why) -> None:
        if a != b:
            self.edges[kind].setdefault(a, {}).setdefault(b, why)

    def successors(self, node: int, kinds: Iterable[str]) -> Iterable[int]:
        for kind in kinds:
            yield from self.edges[kind].get(node, ())

    def edge(self, a: int, b: int, kinds: Iterable[str]) -> tuple[str, Why]:
        for kind in kinds:
            why = self.edges[kind].get(a, {}).get(b)
            if why is not None:
                return kind, why
        raise KeyError((a, b))


def build_graph(a: Analysis) -> Graph:
    g = Graph()
    nodes = [op for op in a.history.completions if op.f in MICRO_OP_FS and a.committed(op)]
    g.nodes = {op.index for op in nodes}
    for k in a.orders:
        chain = a.chain(k)
        for (_, w1, v1), (_, w2, v2) in zip(chain, chain[1:]):
            g.link(WW, w1.index, w2.index, Why(k, (v1, v2), f"key {k}: sent {v1}, then {v2}"))
    for op in nodes:
        for k, pairs in op.reads().items():
            order = a.order(k)
            top: int | None = None
            for o, v in pairs:
                w = a.writer.get((k, v))
                if w is not None and w.index in g.nodes:
                    g.link(WR, w.index, op.index, Why(k, (v,), f"key {k}: value {v} read"))
                p = order.position(o, v)
                if p is not None and (top is None or p > top):
                    top = p
            if top is not None:
                nxt = a.next_write_after(k, top)
                if nxt is not None:
                    seen = order.values_at(top)[0]
                    g.link(RW, op.index, nxt[1].index,
                           Why(k, (seen, nxt[2]), f"key {k}: read up to {seen}, not {nxt[2]}"))
    return g


def strongly_connected(nodes: Iterable[int], g: Graph, kinds: tuple[str, ...]) -> list[list[int]]:
    """Tarjan's components with more than one node (no self-edges exist), iteratively so
    that a long chain does not reach Python's recursion limit."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: list[list[int]] = []
    counter = 0
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(list(g.successors(root, kinds))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, succ = work[-1]
            advanced = False
            for nxt in succ:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(list(g.successors(nxt, kinds)))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def shortest_path(g: Graph, start: int, goal: int, within: set[int], kinds: tuple[str, ...]) -> list[int] | None:
    """Nodes from start to goal over edges of kinds, inside within; None if none."""
    parent: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            at: int | None = node
            while at is not None:
                path.append(at)
                at = parent[at]
            return path[::-1]
        for nxt in g.successors(node, kinds):
            if nxt in within and nxt not in parent:
                parent[nxt] = node
                queue.append(nxt)
    return None


def cycle_through(g: Graph, a: int, b: int, edge_kinds: tuple[str, ...], path_kinds: tuple[str, ...],
                  within: set[int]) -> list[Step] | None:
    """A cycle taking edge a -> b (of edge_kinds) and back from b to a over path_kinds:
    [(from node, kind, why)] per step."""
    path = shortest_path(g, b, a, within, path_kinds)
    if path is None:
        return None
    steps = [(a, *g.edge(a, b, edge_kinds))]
    steps += [(x, *g.edge(x, y, path_kinds)) for x, y in zip(path, path[1:])]
    return steps


def cycle_case(steps: list[Step], allowed: str) -> Case:
    ops = [node for node, _, _ in steps]
    text = " ".join(f"op {node} -{kind} ({why.text})->" for node, kind, why in steps) + f" op {ops[0]}"
    keys = {why.key for _, _, why in steps}
    key: Key | None = keys.pop() if len(keys) == 1 else None
    values = [v for _, _, why in steps for v in why.values]
    return Case(text, ops, key, values=list(dict.fromkeys(values)), size=len(steps), allowed=allowed)


def _edges_within(g: Graph, kind: str, component: set[int]) -> Iterable[tuple[int, int]]:
    for x in sorted(component):
        for y in g.edges[kind].get(x, ()):
            if y in component:
                yield x, y


def g0_cases(g: Graph) -> list[Case]:
    out = []
    for comp in strongly_connected(g.nodes, g, (WW,)):
        members = set(comp)
        x, y = next(iter(_edges_within(g, WW, members)))
        steps = cycle_through(g, x, y, (WW,), (WW,), members)
        assert steps is not None  # both ends in one component
        out.append(cycle_case(steps, "a transaction's sends are not isolated from another's"))
    return out


def component_of(components: list[list[int]]) -> dict[int, int]:
    return {n: i for i, comp in enumerate(components) for n in comp}


def g1c_cases(g: Graph, ww_wr: list[list[int]]) -> list[Case]:
    wr_only = strongly_connected(g.nodes, g, (WR,))
    in_wr_only = component_of(wr_only)
    out = []
    for comp in ww_wr:
        members = set(comp)
        pure = next((n for n in comp if n in in_wr_only), None)
        if pure is not None:  # a cycle of reads alone: each op read the other's committed sends
            sub = set(wr_only[in_wr_only[pure]])
            x, y = next(iter(_edges_within(g, WR, sub)))
            steps = cycle_through(g, x, y, (WR,), (WR,), sub)
            allowed = ""
        else:
            edge = next(iter(_edges_within(g, WR, members)), None)
            if edge is None:
                continue  # ww edges alone: G0's
            steps = cycle_through(g, edge[0], edge[1], (WR,), (WW, WR), members)
            allowed = "its cycle needs a ww edge, and sends are not isolated"
        assert steps is not None
        out.append(cycle_case(steps, allowed))
    return out


def g_single_cases(g: Graph, ww_wr: list[list[int]]) -> list[Case]:
    in_ww_wr = component_of(ww_wr)
    out = []
    for comp in strongly_connected(g.nodes, g, (WW, WR, RW)):
        members = set(comp)
        rw = list(_edges_within(g, RW, members))
        # an rw edge inside one ww/wr component surely closes a cycle: try those first
        rw.sort(key=lambda e: in_ww_wr.get(e[0], -1) != in_ww_wr.get(e[1], -2))
        for x, y in rw[:MAX_RW_TRIES]:
            steps = cycle_through(g, x, y, (RW,), (WW, WR), members)
            if steps is not None:
                out.append(cycle_case(steps, "a poll is not a snapshot: Jepsen draws no rw edges"))
                break
    return out


def cycle_findings(a: Analysis) -> list[Finding]:
    g = build_graph(a)
    ww_wr = strongly_connected(g.nodes, g, (WW, WR))
    return [
        Finding("G0", "a cycle of ww edges (write cycle) between ops (allowed: sends are not isolated)",
                g0_cases(g)),
        Finding("G1c", "a cycle of ww and wr edges with at least one wr (allowed when it needs a ww edge)",
                g1c_cases(g, ww_wr)),
        Finding("G-single", "a cycle with exactly one rw edge, the rest ww/wr (allowed: polls are not "
                            "snapshots; fails with --strict)", g_single_cases(g, ww_wr)),
    ]
