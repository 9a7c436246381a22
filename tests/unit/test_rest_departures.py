"""Why REST consumer instances left (groups/rest_departures.py): the bounded record, and a
real group coordinator over a real offsets partition log telling a later request of an
instance that expired, was deleted or lost its coordinator what happened to it."""

from __future__ import annotations

import calendar
import time
from types import SimpleNamespace

import orjson
import pytest
from test_group_migration_coordinator import coordinator_with
from test_txn_group_coordinator import GROUP, NODE, log  # noqa: F401 (log: a fixture)

from kraft.api.consumer_routes import _told_why
from kraft.errors import ConsumerInstanceNotFound
from kraft.groups.consumer_instance import InstanceConfig
from kraft.groups.rest_departures import DELETED, EXPIRED, MOVED, Departure, Departures, not_found_message

AT = calendar.timegm((2026, 1, 2, 3, 4, 5)) * 1000


def left(name: str, at_ms: int, group: str = "g", reason: str = EXPIRED) -> Departure:
    return Departure(group, name, reason, at_ms, NODE, 300_000 if reason == EXPIRED else None)


def test_the_messages_say_what_happened_when_in_utc_and_what_to_do():
    assert left("x", AT).message() == ("consumer instance 'x' of group 'g' expired at 2026-01-02 03:04:05 UTC: "
                                       "no request for 300000 ms (consumer.instance.timeout.ms); create it again")
    assert left("x", AT, reason=DELETED).message() == ("consumer instance 'x' of group 'g' was deleted at "
                                                       "2026-01-02 03:04:05 UTC (DELETE of the instance); create it again")
    assert left("x", AT, reason=MOVED).message() == (
        "consumer instance 'x' of group 'g' was dropped at 2026-01-02 03:04:05 UTC: node 1 stopped coordinating "
        "the group (the leader of its offsets partition moved); create it again")
    view = left("x", AT).view()
    assert view["reason"] == "expired" and view["timeout_ms"] == 300_000 and view["at"] == "2026-01-02 03:04:05 UTC"


def test_only_the_newest_records_are_kept_however_many_instances_left():
    kept = Departures(max_kept=3, kept_ms=10**12)
    for i in range(10_000):
        kept.note(left(f"i{i}", AT + i))
    assert len(kept) == 3
    assert [d.instance_id for d in kept.of_group("g", AT + 10_000)] == ["i9999", "i9998", "i9997"]
    assert kept.of("g", "i9996", AT + 10_000) is None


def test_a_record_is_dropped_once_it_is_older_than_it_is_kept():
    kept = Departures(max_kept=100, kept_ms=60_000)
    kept.note(left("old", AT))
    kept.note(left("new", AT + 30_000))
    assert kept.of("g", "old", AT + 59_999) is not None
    assert kept.of("g", "new", AT + 60_000) is not None and kept.of("g", "old", AT + 60_000) is None
    assert kept.of_group("g", AT + 90_000) == [] and len(kept) == 0  # nothing older lingers


def test_an_instance_leaving_again_is_one_record_its_latest_and_a_new_one_of_its_name_forgets_it():
    kept = Departures()
    kept.note(left("x", AT))
    kept.note(left("y", AT + 1, group="other"))
    kept.note(left("x", AT + 2, reason=DELETED))
    assert [(d.instance_id, d.reason) for d in kept.of_group("g", AT + 3)] == [("x", DELETED)]
    kept.returned("g", "x")
    assert kept.of("g", "x", AT + 3) is None and kept.of("other", "y", AT + 3) is not None


def _not_found(coord, name: str) -> str:
    with pytest.raises(ConsumerInstanceNotFound) as caught:
        coord.instance(GROUP, name)
    return caught.value.message


async def test_the_coordinator_tells_a_request_of_an_expired_deleted_or_moved_instance_why(log):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional")
    before = time.time()
    idle = coord.create_instance(GROUP, "idle", InstanceConfig(instance_timeout_ms=1000))
    coord.create_instance(GROUP, "gone", InstanceConfig())
    coord.create_instance(GROUP, "kept", InstanceConfig())
    idle.last_seen_ms -= 1000  # its timeout passed without a request
    coord.rest_instances.expire()
    coord.delete_instance(GROUP, "gone")
    expired = _not_found(coord, "idle")
    assert expired.startswith("consumer instance 'idle' of group 'g' expired at ") and expired.endswith(
        ": no request for 1000 ms (consumer.instance.timeout.ms); create it again")
    stamp = expired.split(" expired at ")[1].split(" UTC")[0]
    assert abs(calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) - before) < 5
    assert "was deleted at" in _not_found(coord, "gone")
    assert "not found in group" in _not_found(coord, "never")
    p = coord.loaded.offsets_partition_of(GROUP)
    coord.unloaded(p, coord.runtime.shards[p])  # another node leads its offsets partition now
    assert f"node {NODE} stopped coordinating the group" in _not_found(coord, "kept")
    reasons = {d.instance_id: d.reason for d in coord.rest_instances.departures.of_group(GROUP, int(time.time() * 1000))}
    assert reasons == {"idle": EXPIRED, "gone": DELETED, "kept": MOVED}


async def test_an_instance_created_again_under_its_name_is_not_reported_gone(log):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional")
    coord.create_instance(GROUP, "x", InstanceConfig())
    coord.delete_instance(GROUP, "x")
    coord.create_instance(GROUP, "x", InstanceConfig())
    assert coord.instance(GROUP, "x")[1].instance_id == "x"
    assert coord.rest_instances.departures.of_group(GROUP, int(time.time() * 1000)) == []


async def test_a_node_the_coordinator_moved_from_tells_a_forwarded_40403_what_it_remembers(log):  # noqa: F811
    coord = await coordinator_with(log, "bidirectional")
    coord.create_instance(GROUP, "x", InstanceConfig())
    p = coord.loaded.offsets_partition_of(GROUP)
    coord.unloaded(p, coord.runtime.shards[p])
    here = SimpleNamespace(groups=coord)  # the node that forwarded the request: its coordinator only
    plain = orjson.dumps({"error_code": 40403, "message": not_found_message(GROUP, "x")})
    told = orjson.loads(_told_why(here, GROUP, "x", plain))
    assert told["error_code"] == 40403 and f"node {NODE} stopped coordinating the group" in told["message"]
    known = orjson.dumps({"error_code": 40403, "message": "consumer instance 'x' of group 'g' was deleted at ..."})
    assert _told_why(here, GROUP, "x", known) == known  # the new coordinator's own record is newer news
    assert _told_why(here, GROUP, "y", orjson.dumps({"error_code": 40403, "message": not_found_message(GROUP, "y")})) \
        == orjson.dumps({"error_code": 40403, "message": not_found_message(GROUP, "y")})
