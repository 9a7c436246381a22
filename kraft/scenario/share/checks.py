"""The share workload's checks (docs/SCENARIOS.md, "The share-group workload"). Pure: a
ShareHistory (share/history.py) in, a report in Jepsen's shape (jepsen/findings.py) out,
so the verdict rows, the JSON and the HTML read as for Jepsen's workloads.

What a share group promises (KIP-932, KIP-1191), each a check:
- lost: every value the producer had acknowledged is in the end accepted, or found in
  the dead-letter topic (rejected, or worn out at the delivery limit); an accept whose
  outcome is unknown counts as maybe done, never as lost;
- accepted-twice, redelivered-after-accept: an acknowledged record never comes back:
  no second ok ACCEPT of a value, no ok ACCEPT of a value also rejected ok or
  dead-lettered, no delivery of it from a poll that began after an ok ACCEPT of it
  completed (a delivery whose acknowledgement failed or is unknown may come back);
- over-limit: no delivery count above the group's share.delivery.count.limit;
- bad-dead-letter, dead-letter-missing: each dead letter names (headers) the topic,
  partition, offset and group of the record it copies, with a count within the limit;
  every value rejected ok is in the dead-letter topic (when the group has one).
A record held by a consumer that was killed comes back (lost follows from it when it does
not); how many did is reported as a fact.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from kraft.config.scenarios import SHARE_ANOMALY_NAMES
from kraft.scenario.jepsen.findings import Case, Finding, JepsenReport
from kraft.scenario.share.gen import ACCEPT, RELEASE, REJECT
from kraft.scenario.share.history import Ack, Delivery, ShareHistory

DEFINITIONS = {
    "lost": "a value the producer had acknowledged was never accepted (ok or unknown) and is not in the "
            "dead-letter topic",
    "accepted-twice": "a value accepted ok twice, or accepted ok and also rejected ok or dead-lettered (but for a "
                      "value whose rejection's outcome was unknown: its dead letter may have been written before its "
                      "leader failed, and the record delivered again)",
    "redelivered-after-accept": "a value delivered by a poll that began after an ok ACCEPT of it completed",
    "over-limit": "a delivery count above the group's share.delivery.count.limit (or below 1)",
    "bad-dead-letter": "a dead letter whose headers do not name the topic, partition, offset and group of "
                       "the record it holds, or whose delivery count is out of bounds",
    "dead-letter-missing": "a value rejected ok that is not in the dead-letter topic",
}
assert tuple(DEFINITIONS) == SHARE_ANOMALY_NAMES, "kraft/config/scenarios.py lists them"
FINAL_TEXT = ("(the drain) accounted for every acknowledged value and read every dead letter expected",
              "(the drain) did NOT account for every acknowledged value or dead letter")


def check_share_history(h: ShareHistory) -> JepsenReport:
    cases = {"lost": lost(h), "accepted-twice": accepted_twice(h),
             "redelivered-after-accept": redelivered_after_accept(h), "over-limit": over_limit(h),
             "bad-dead-letter": bad_dead_letters(h), "dead-letter-missing": dead_letters_missing(h)}
    findings = [Finding(name, DEFINITIONS[name], cs) for name, cs in cases.items()]
    s = stats(h)
    summary = (f"{s['deliveries']} deliveries ({s['redeliveries']} redeliveries), {s['accepted']} values accepted, "
               f"{s['rejected']} rejected, {s['dead letters']} dead letters; {s['redelivered after a kill']} of "
               f"{s['held at a kill']} records held by a killed consumer delivered again")
    return JepsenReport(findings, {}, s, final_text=FINAL_TEXT, summary=summary)


def _acks(h: ShareHistory, kind: str, outcomes: tuple[str, ...] = ("ok",)) -> dict[int, list[Ack]]:
    out: dict[int, list[Ack]] = defaultdict(list)
    for a in h.acks:
        if a.kind == kind and a.outcome in outcomes:
            out[a.value].append(a)
    return out


def _dead_values(h: ShareHistory) -> dict[int, int]:
    """value -> how many dead letters hold it (by the copied value, else by the headers'
    partition and offset)."""
    where = _record_values(h)
    found: Counter[int] = Counter()
    for d in h.dead_letters or ():
        value = d.value if d.value is not None else where.get(_named(d.headers))
        if value is not None:
            found[value] += 1
    return dict(found)


def _record_values(h: ShareHistory) -> dict[tuple[str, int], int]:
    """(key, offset) -> the value there, from acknowledged sends and deliveries."""
    out = {(key, offset): v for v, (key, offset, _, _) in h.sends.items() if offset is not None}
    out.update({(d.key, d.offset): d.value for d in h.deliveries})
    return out


def _named(headers: dict[str, str]) -> tuple[str, int]:
    try:
        return f"{headers.get('__dlq.errors.topic')}-{int(headers['__dlq.errors.partition'])}", \
            int(headers["__dlq.errors.offset"])
    except (KeyError, ValueError):
        return "", -1


def _where(h: ShareHistory, value: int) -> tuple[str, int | None]:
    key, offset, _, _ = h.sends.get(value, ("?", None, "", 0))
    return key, offset


def lost(h: ShareHistory) -> list[Case]:
    accepted = set(_acks(h, ACCEPT, ("ok", "info")))
    dead = _dead_values(h)
    by_value: dict[int, list[Delivery]] = defaultdict(list)
    for d in h.deliveries:
        by_value[d.value].append(d)
    acks_of: dict[int, list[Ack]] = defaultdict(list)
    for a in h.acks:
        acks_of[a.value].append(a)
    out = []
    for value, (key, offset, outcome, index) in sorted(h.sends.items()):
        if outcome != "ok" or value in accepted or value in dead:
            continue
        counts = [d.count for d in by_value[value]]
        acks = ", ".join(f"{a.kind} {a.outcome}" for a in acks_of[value]) or "none"
        out.append(Case(f"{key}@{offset} value {value}, sent ok (op {index}): delivered {len(counts)} times "
                        f"(counts {counts}), acknowledgements: {acks}; never accepted, not a dead letter",
                        [index] + [d.index for d in by_value[value]] + [a.index for a in acks_of[value]],
                        key, [offset] if offset is not None else [], [value], len(counts)))
    return out


def accepted_twice(h: ShareHistory) -> list[Case]:
    accepts, rejects, dead = _acks(h, ACCEPT), _acks(h, REJECT), _dead_values(h)
    # a rejection answered "unknown" may have written its dead letter, then lost its state
    # with the leader (the dead letter goes first, so none is lost): the record comes back
    maybe_rejected = _acks(h, REJECT, ("info",))
    out = []
    for value, oks in sorted(accepts.items()):
        explained = value in rejects or value in maybe_rejected
        also = len(oks) - 1 + len(rejects.get(value, ())) + (dead.get(value, 0) if not explained else 0)
        if also <= 0:
            continue
        key, offset = _where(h, value)
        out.append(Case(f"{key}@{offset} value {value}: accepted ok {len(oks)} times (ops "
                        f"{', '.join(str(a.index) for a in oks)}), rejected ok {len(rejects.get(value, ()))} times, "
                        f"{dead.get(value, 0)} dead letters", [a.index for a in oks + rejects.get(value, [])],
                        key, [offset] if offset is not None else [], [value], also))
    return out


def redelivered_after_accept(h: ShareHistory) -> list[Case]:
    first_ok: dict[int, Ack] = {}
    for value, oks in _acks(h, ACCEPT).items():
        first_ok[value] = min(oks, key=lambda a: a.completed)
    out = []
    for d in h.deliveries:
        a = first_ok.get(d.value)
        if a is not None and d.pos > a.completed:
            out.append(Case(f"{d.key}@{d.offset} value {d.value}: accepted ok by process {a.process} (op {a.index}), "
                            f"then delivered again to process {d.process} with count {d.count} (op {d.index})",
                            [a.index, d.index], d.key, [d.offset], [d.value], d.count))
    return out


def over_limit(h: ShareHistory) -> list[Case]:
    limit = int(h.config.get("delivery_limit", 5))
    return [Case(f"{d.key}@{d.offset} value {d.value}: delivered to process {d.process} with count {d.count}, "
                 f"the limit is {limit} (op {d.index})", [d.index], d.key, [d.offset], [d.value], d.count)
            for d in h.deliveries if not 1 <= d.count <= limit]


def bad_dead_letters(h: ShareHistory) -> list[Case]:
    limit, where = int(h.config.get("delivery_limit", 5)), _record_values(h)
    out = []
    for d in h.dead_letters or ():
        named = _named(d.headers)
        problems = []
        if d.headers.get("__dlq.errors.topic") != h.config.get("topic"):
            problems.append(f"topic {d.headers.get('__dlq.errors.topic')!r}")
        if d.headers.get("__dlq.errors.group") != h.config.get("group"):
            problems.append(f"group {d.headers.get('__dlq.errors.group')!r}")
        if named not in where:
            problems.append(f"{named[0]}@{named[1]} names no record the workload sent or saw")
        elif d.value is not None and where[named] != d.value:
            problems.append(f"{named[0]}@{named[1]} holds value {where[named]}, the dead letter {d.value}")
        count = d.headers.get("__dlq.errors.delivery.count", "")
        if not (count.isdigit() and 1 <= int(count) <= limit):
            problems.append(f"delivery count {count!r} (limit {limit})")
        if problems:
            out.append(Case(f"dead letter at offset {d.offset} (value {d.value}): " + "; ".join(problems),
                            [d.index], named[0] or None, [named[1]] if named[1] >= 0 else [],
                            [d.value] if d.value is not None else [], len(problems)))
    return out


def dead_letters_missing(h: ShareHistory) -> list[Case]:
    if not h.config.get("dead_letter_topic") or h.dead_letters is None:
        return []  # no dead-letter topic: rejected records are archived (lost judges that)
    dead = _dead_values(h)
    out = []
    for value, rejects in sorted(_acks(h, REJECT).items()):
        if value not in dead:
            key, offset = _where(h, value)
            out.append(Case(f"{key}@{offset} value {value}: rejected ok (op {rejects[0].index}), "
                            f"not in {h.config['dead_letter_topic']}", [rejects[0].index], key,
                            [offset] if offset is not None else [], [value], 1))
    return out


def redelivered_after_kill(h: ShareHistory) -> tuple[int, int]:
    """(records held by a process when it was killed, how many of them were delivered again)."""
    seen: dict[int, list[int]] = defaultdict(list)  # value -> the positions it was delivered at
    for x in h.deliveries:
        seen[x.value].append(x.pos)
    held = again = 0
    for k in h.kills:
        for d in k.held:
            held += 1
            again += any(pos > k.pos for pos in seen[d.value])
    return held, again


def stats(h: ShareHistory) -> dict[str, int]:
    held, again = redelivered_after_kill(h)
    outcomes = Counter(a.outcome for a in h.acks)
    accepted = _acks(h, ACCEPT)
    maybe = set(_acks(h, ACCEPT, ("info",))) - set(accepted)
    return {"ops": h.ops, "sends ok": sum(1 for s in h.sends.values() if s[2] == "ok"),
            "deliveries": len(h.deliveries), "redeliveries": sum(1 for d in h.deliveries if d.count > 1),
            "accepted": len(accepted), "accepted, outcome unknown": len(maybe),
            "rejected": len(_acks(h, REJECT)), "released": sum(map(len, _acks(h, RELEASE).values())),
            "acks failed": outcomes["fail"], "acks unknown": outcomes["info"],
            "dead letters": len(h.dead_letters or ()),
            "values dead-lettered twice": sum(1 for n in _dead_values(h).values() if n > 1),
            "killed holding records": sum(1 for k in h.kills if k.held),
            "held at a kill": held, "redelivered after a kill": again}
