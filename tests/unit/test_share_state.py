"""A share-partition's stored state (__share_group_state records), pure."""

import pytest

from kraft.share.share_state import (MAX_RECORDS, FencedWrite, ShareSnapshot, ShareStateShard, StateRun, altered,
                                     check_fence, decode, encode, in_flight, key_parts, lag, state_record)
from kraft.storage.record import Record

SNAPSHOT = ShareSnapshot(leader_epoch=3, start_offset=10, runs=(StateRun(10, 12, 2, 1), StateRun(13, 13, 0, 2)))


def test_a_state_reads_back_as_it_was_written():
    assert decode(encode(SNAPSHOT)) == SNAPSHOT
    shard = ShareStateShard(leader_epoch=0)
    shard.replay(state_record("g:t:0", SNAPSHOT, 1))
    assert shard.states == {"g:t:0": SNAPSHOT}
    shard.replay(Record(state_record("g:t:0", SNAPSHOT, 2).key, None, (), 2))  # a tombstone removes it
    assert shard.states == {}


def test_records_that_are_not_states_are_skipped_not_misread():
    shard = ShareStateShard(leader_epoch=0)
    for key, value in ((b"not json", b"{}"), (b'["txn/1","x"]', encode(SNAPSHOT)),
                       (state_record("g:t:0", SNAPSHOT, 1).key, b'{"runs": [[5, 1, 0, 1]]}')):
        shard.replay(Record(key, value, (), 1))
    assert shard.states == {} and shard.skipped == 3
    too_wide = ShareSnapshot(1, 0, (StateRun(0, MAX_RECORDS, 0, 1),))
    assert decode(encode(too_wide)) is None


def test_a_write_from_an_older_leader_is_fenced():
    check_fence(None, SNAPSHOT)
    check_fence(SNAPSHOT, ShareSnapshot(3, 11))
    with pytest.raises(FencedWrite):
        check_fence(SNAPSHOT, ShareSnapshot(2, 20))


def test_an_admins_alteration_fences_a_leader_that_read_the_state_before_it():
    reset = altered(SNAPSHOT, 5)
    assert reset == ShareSnapshot(3, 5, (), 1)  # nothing in flight, the next state epoch, the same leader epoch
    assert decode(encode(reset)) == reset
    with pytest.raises(FencedWrite):  # the leader still holding the old state (state epoch 0), same leader epoch
        check_fence(reset, ShareSnapshot(3, 14, SNAPSHOT.runs))
    check_fence(reset, ShareSnapshot(3, 6, (), 1))  # a leader that read the altered state writes on
    assert altered(None, 7) == ShareSnapshot(0, 7)  # a share-partition never stored starts there
    assert decode(b'{"leader_epoch": 1, "start_offset": 2, "runs": []}') == ShareSnapshot(1, 2)  # stored before epochs


def test_a_state_key_names_its_group_even_with_colons_in_it():
    assert key_parts("a:b:00ff:3") == ("a:b", "00ff", 3)
    assert key_parts("nothing") is None and key_parts("g:t:x") is None


def test_lag_counts_what_is_not_done_from_the_start_to_the_high_watermark():
    # start 10; 10..12 accepted (done), 13 available again; records up to the HW of 20
    assert lag(SNAPSHOT, high_watermark=20) == 7  # 13..19
    assert lag(SNAPSHOT, high_watermark=12) == 0  # 10 and 11 are done
    assert lag(ShareSnapshot(0, 5), high_watermark=3) == 0  # the HW moved below a fresh start


def test_records_in_flight_are_counted_by_stored_state_from_the_start():
    assert in_flight(SNAPSHOT) == {"available": 1, "acknowledged": 3, "archived": 0}
    assert decode(b'{"leader_epoch": 0, "start_offset": 0, "runs": [[0, 1, 1, 1]]}') is None  # a lock is never stored
