"""The `hostile` scenario's abuses on the Kafka listeners (hostile_abuse owns them).

Each is `async (ctx, kind, nodes, params, stop) -> detail`: bounded in count and
time, stopping early when `stop` is set, judging every answer through `ctx.answer`.
A frame the broker cannot read may be answered with an error or end the connection
(what Kafka does); silence with the connection open, or a node no longer reachable,
is a failure.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from kraft.scenario.hostile import frames
from kraft.scenario import targets
from kraft.scenario.hostile import rest as hostile_rest
from kraft.scenario.hostile.wire import ANSWERED, CLOSED, UNREACHABLE, Conn, Sent, answer_codes
from kraft.errors.kafka_codes import SASL_AUTHENTICATION_FAILED
from kraft.errors.kafka_codes import OFFSET_OUT_OF_RANGE

DEFAULT_LIMIT_S = 90.0  # an abuse's whole run, at most
IDLE_OPEN_BOUND_S = 60.0  # to open the idle connections
IDLE_OPENING_AT_ONCE = 64
DRIBBLE_EVERY_S = 0.5


def limit_at(params: dict) -> float:
    return time.monotonic() + float(params.get("limit_s", DEFAULT_LIMIT_S))


async def one_frame(ctx, node: int, frame: bytes, login: bool) -> Sent:
    host, port = ctx.kafka_address(node)
    try:
        async with Conn(host, port, ctx.source) as conn:
            refused = await conn.plain_login(*ctx.lab_login) if login else None
            if refused:
                return Sent(refused)
            return await conn.send(frame)
    except (OSError, TimeoutError):
        return Sent(UNREACHABLE)


async def send_frames(ctx, kind, nodes, params, stop) -> str:
    """Mutations, unknown tagged fields and null arrays, then the frames that once killed
    a broker (last: what they break, the others no longer reach). With security on, each
    goes once before and once after the login."""
    topic = await ctx.abuse_topic()
    catalogue = {**frames.mutations(topic, int(params.get("mutations", 30)), ctx.seed),
                 **frames.tagged_field_frames(topic), **frames.null_arrays(),
                 **{name: frames.framed(payload) for name, payload in frames.KNOWN_KILLERS.items()}}
    logins = (False, True) if ctx.secured else (False,)
    seen: Counter = Counter()
    deadline = limit_at(params)
    for node in nodes:
        for name, frame in catalogue.items():
            for login in logins:
                if stop.is_set() or time.monotonic() > deadline:
                    return _summary(seen, "frames", stopped=True)
                sent = await one_frame(ctx, node, frame, login)
                what = f"{name}{' (logged in)' if login else ''}"
                ctx.answer(kind, node, what, sent.outcome, sent.outcome in (ANSWERED, CLOSED))
                seen[sent.outcome] += 1
    return _summary(seen, "frames")


def _summary(seen: Counter, what: str, stopped: bool = False) -> str:
    counts = ", ".join(f"{n} {outcome}" for outcome, n in seen.most_common())
    return f"{sum(seen.values())} {what}: {counts or 'none sent'}" + ("; stopped before the end" if stopped else "")


def abuse_leader(ctx, topic: str) -> int:
    view = targets.partition_view(ctx.cluster, topic, 0)
    if view.get("leader_id") is None:
        raise targets.TargetUnavailable(f"{topic}-0 has no leader")
    return view["leader_id"]


async def fetch_below_start(ctx, kind, nodes, params, stop) -> str:
    """Records written and deleted (DeleteRecords), then Fetches from below the new log
    start on the Kafka listener and reads from there over REST: OFFSET_OUT_OF_RANGE /
    a 4xx, nothing else."""
    topic = await ctx.abuse_topic()
    start = await hostile_rest.write_and_delete(ctx, topic, int(params.get("records", 10)))
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    parts = [f"log start moved to {start}"]
    for offset in sorted({0, max(0, start - 1)}):
        if stop.is_set():
            break
        sent = await one_frame(ctx, leader, frames.fetch(topic, 0, offset), ctx.secured)
        codes = answer_codes(1, 11, sent) if sent.outcome == ANSWERED else []
        ok = OFFSET_OUT_OF_RANGE in codes
        ctx.answer(kind, leader, f"Kafka Fetch at {offset}, below the log start {start}",
                   f"{sent.outcome} {codes}" if codes else sent.outcome, ok)
        parts.append(f"Fetch at {offset} on node {leader}: {sent.outcome} {codes}")
    parts += await hostile_rest.read_below_start(ctx, kind, nodes, topic, start)
    return "; ".join(parts)


async def huge_batch(ctx, kind, nodes, params, stop) -> str:
    """One produce of a million one-byte records in one zstd batch to the abuse topic's
    leader, then a REST read of the partition with max_bytes=1000 through each node."""
    topic = await ctx.abuse_topic()
    leader = await asyncio.to_thread(abuse_leader, ctx, topic)
    batch = await asyncio.to_thread(frames.huge_batch)
    before = await hostile_rest.end_offset(ctx, topic)
    sent = await one_frame(ctx, leader, frames.produce(topic, 0, batch), ctx.secured)
    codes = answer_codes(0, 9, sent) if sent.outcome == ANSWERED else []
    ctx.answer(kind, leader, f"Produce of {frames.HUGE_BATCH_RECORDS:,} records in one {len(batch):,}-byte "
               f"zstd batch", f"{sent.outcome} {codes}", sent.outcome == ANSWERED and codes != [-1])
    parts = [f"produce to node {leader}: {sent.outcome} {codes}"]
    # read back even when told to stop: the read is half of this abuse (each request is bounded)
    parts += await hostile_rest.read_small(ctx, kind, nodes, topic, before or 0)
    return "; ".join(parts)


def crowd_addresses(first: str, count: int) -> list[str]:
    """`count` consecutive loopback addresses from `first` (the crowd's own, after the
    cluster's and the abuse's), never past 127.0.0.254."""
    base, last = first.rsplit(".", 1)
    if count < 1 or int(last) + count - 1 > 254:
        raise ValueError(f"{count} addresses from {first} do not fit below 127.0.0.255")
    return [f"{base}.{int(last) + i}" for i in range(count)]


async def idle_connections(ctx, kind, nodes, params, stop) -> str:
    """`count` connections to the node's Kafka port, spread over `addresses` consecutive
    addresses from ctx.crowd_source, opened (at most IDLE_OPENING_AT_ONCE at a time) and
    held without a byte until the event ends. Once they are open, a newcomer from the
    abuse's own address must still be served: four addresses of 250 (max.connections.per.ip)
    fill a listener of 1,000 (max.connections), and only then does it show."""
    node, count = nodes[0], int(params.get("count", 1100))
    sources = crowd_addresses(ctx.crowd_source, int(params.get("addresses", 1)))
    host, port = ctx.kafka_address(node)
    gate = asyncio.Semaphore(IDLE_OPENING_AT_ONCE)
    started = time.monotonic()
    deadline = started + IDLE_OPEN_BOUND_S

    async def open_one(i: int):
        async with gate:
            if stop.is_set() or time.monotonic() > deadline:
                return None
            try:
                return await Conn(host, port, sources[i % len(sources)]).__aenter__()
            except (OSError, TimeoutError):
                return None
    conns = [c for c in await asyncio.gather(*(open_one(i) for i in range(count))) if c is not None]
    took = time.monotonic() - started
    try:
        newcomer = await _newcomer(ctx, kind, node, len(conns), len(sources))
        await stop.wait()
        closed = sum(1 for c in conns if c.gone())
    finally:
        await asyncio.gather(*(c.__aexit__() for c in conns), return_exceptions=True)
    where = sources[0] if len(sources) == 1 else f"{sources[0]}-{sources[-1].rsplit('.', 1)[1]}"
    return (f"{len(conns)} of {count} connections from {where} to node {node}'s Kafka port opened in "
            f"{took:.1f} s and held; {newcomer}; {closed} of them closed by the broker meanwhile")


async def _newcomer(ctx, kind: str, node: int, held: int, addresses: int) -> str:
    """An ApiVersions on a new connection from the abuse's own address, while the crowd is
    held: answered, as a client arriving at a full listener is (an unserved connection
    gives way to it)."""
    host, port = ctx.kafka_address(node)
    try:
        async with Conn(host, port, ctx.source) as conn:
            sent = await conn.send(frames.api_versions())
    except (OSError, TimeoutError):
        sent = Sent(UNREACHABLE)
    codes = answer_codes(18, 3, sent) if sent.outcome == ANSWERED else []
    outcome = f"{sent.outcome} {codes}" if codes else sent.outcome
    ctx.answer(kind, node, f"ApiVersions from {ctx.source}, a newcomer while {held} idle connections from "
               f"{addresses} address(es) are held", outcome, sent.outcome == ANSWERED and codes == [0])
    return f"a newcomer's ApiVersions: {outcome}"


def _rss_mib(cluster, node: int) -> float | None:
    proc = cluster.procs.get(node)
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, AttributeError, ValueError):
        return None
    return None


async def slow_frames(ctx, kind, nodes, params, stop) -> str:
    """Three connections (logged in, with security on) that each announce a frame of
    100, 100 and 56 MiB and then send one byte every DRIBBLE_EVERY_S until the event
    ends. The node's resident memory before and after says what it reserved."""
    node = nodes[0]
    host, port = ctx.kafka_address(node)
    rss_before = _rss_mib(ctx.cluster, node)
    closed_after: list[float] = []
    started = time.monotonic()

    async def dribble(size: int) -> int:
        sent = 0
        try:
            async with Conn(host, port, ctx.source) as conn:
                if ctx.secured and await conn.plain_login(*ctx.lab_login):
                    return 0  # not logged in
                conn.writer.write(frames.declared_size(size))
                while not stop.is_set():
                    if await conn.closed_by_peer(DRIBBLE_EVERY_S):
                        closed_after.append(time.monotonic() - started)
                        return sent
                    conn.writer.write(b"\0")
                    await conn.writer.drain()
                    sent += 1
        except (OSError, TimeoutError):
            closed_after.append(time.monotonic() - started)
        return sent
    dribbled = await asyncio.gather(*(dribble(size) for size in frames.DECLARED_FRAME_SIZES))
    rss_after = _rss_mib(ctx.cluster, node)
    mib = "+".join(str(size >> 20) for size in frames.DECLARED_FRAME_SIZES)
    closed = ", ".join(f"{t:.1f} s" for t in sorted(closed_after)) or "none"
    memory = (f"; node RSS {rss_before:.0f} -> {rss_after:.0f} MiB" if rss_before is not None
              and rss_after is not None else "")
    return (f"3 connections to node {node} announced {mib} MiB frames and dribbled {sum(dribbled)} bytes; "
            f"closed by the broker after: {closed}{memory}")


async def wrong_passwords(ctx, kind, nodes, params, stop) -> str:
    """`count` SCRAM-SHA-256 logins and `count` HTTP Basic requests with wrong passwords,
    spread over the nodes, at most `rate` a second each: every one refused (SASL
    authentication failed / 401, or 429 while backing off), none served."""
    if not ctx.secured:
        return "skipped: security is off, no password to guess"
    count, rate = int(params.get("count", 100)), float(params.get("rate", 20))
    seen: Counter = Counter()
    deadline = limit_at(params)
    for i in range(count):
        if stop.is_set() or time.monotonic() > deadline:
            break
        node = nodes[i % len(nodes)]
        user = ("intruder", "nobody")[i % 2]
        outcome, ok = await _wrong_scram(ctx, node, user, f"guess-{i}")
        ctx.answer(kind, node, f"SCRAM-SHA-256 login as {user} with a wrong password", outcome, ok)
        seen[f"SCRAM {outcome}"] += 1
        seen[f"Basic {await hostile_rest.wrong_basic(ctx, kind, node, user, f'guess-{i}')}"] += 1
        await asyncio.sleep(1 / rate)
    return _summary(seen, "attempts")


async def _wrong_scram(ctx, node: int, user: str, password: str) -> tuple[str, bool]:
    host, port = ctx.kafka_address(node)
    try:
        async with Conn(host, port, ctx.source) as conn:
            last = await conn.scram_login(user, password)
    except (OSError, TimeoutError):
        return UNREACHABLE, False
    if last.outcome != ANSWERED:
        return last.outcome, last.outcome == CLOSED
    codes = answer_codes(36, 2, last)
    if codes == [0]:
        return "logged in", False
    return f"refused {codes}", SASL_AUTHENTICATION_FAILED in codes

