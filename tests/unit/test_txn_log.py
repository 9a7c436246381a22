"""Transaction states as records of __transaction_state: the codec, and the replay of a
partition's log (a real PartitionLog on disk) into the coordinator's cache."""

from kraft.storage.partition_log import PartitionLog
from kraft.storage.record import Record
from kraft.transactions.txn_log import (
    TxnCache,
    encode_value,
    load,
    parse_key,
    parse_value,
    tombstone_record,
    txn_key,
    txn_record,
)
from kraft.transactions.txn_metadata import (
    COMPLETE_COMMIT,
    EMPTY,
    ONGOING,
    PREPARE_COMMIT,
    TxnTransit,
)


def transit(state=ONGOING, pid=7, epoch=3, partitions=(("t", 1), ("t", 0)), start=100, update=200):
    return TxnTransit(pid, 6, epoch, 2, 60_000, state, frozenset(partitions), start, update)


def test_a_value_holds_the_whole_state():
    t = transit()
    assert parse_value(encode_value(t)) == t
    assert encode_value(t).count(b'"t"') == 2  # partitions sorted, as [topic, partition] pairs
    assert parse_key(txn_key("tx-ü")) == "tx-ü"


def test_what_is_not_a_transaction_state_is_refused():
    for key in (None, b"", b"not json", b'["offset/1", "g", "t", 0]', b'["txn/1", 5]', b'{"a": 1}'):
        assert parse_key(key) is None
    for value in (b"", b"[]", b'{"state": "Ongoing"}', encode_value(transit()).replace(b"Ongoing", b"Running"),
                  encode_value(transit()).replace(b'"producer_id":7', b'"producer_id":"7"')):
        assert parse_value(value) is None


def test_replay_keeps_the_latest_state_and_forgets_tombstones():
    records = [txn_record("a", transit(EMPTY, partitions=(), start=-1), 1),
               txn_record("b", transit(ONGOING), 2),
               txn_record("a", transit(ONGOING, partitions=[("u", 0)]), 3),
               Record(b"junk", b"junk", (), 4),
               txn_record("b", transit(PREPARE_COMMIT), 5),
               tombstone_record("c", 6),  # of an id never seen: nothing
               txn_record("c", transit(COMPLETE_COMMIT, partitions=()), 7),
               tombstone_record("c", 8)]
    for i, r in enumerate(records):
        r.offset = i
    cache = TxnCache().replay_all(records)
    assert sorted(cache.txns) == ["a", "b"] and cache.skipped == 1
    a, b = cache.txns["a"], cache.txns["b"]
    assert a.state is ONGOING and a.partitions == {("u", 0)}
    assert (b.state, b.producer_id, b.previous_producer_id, b.producer_epoch, b.last_producer_epoch,
            b.timeout_ms, b.start_ms, b.update_ms) == (PREPARE_COMMIT, 7, 6, 3, 2, 60_000, 100, 200)
    assert b.snapshot() == transit(PREPARE_COMMIT)


def test_load_replays_a_partition_log_from_disk(tmp_path):
    plog = PartitionLog.open(tmp_path / "__transaction_state-0")
    try:
        plog.append([txn_record("a", transit(ONGOING), 1), txn_record("b", transit(EMPTY, partitions=(), start=-1), 1)],
                    leader_epoch=0)
        for i in range(50):  # enough batches to need several reads with a small chunk
            plog.append([txn_record(f"x{i}", transit(EMPTY, partitions=(), start=-1), 2)], leader_epoch=1)
        plog.append([txn_record("a", transit(PREPARE_COMMIT), 3), tombstone_record("b", 3)], leader_epoch=1)
        cache = load(plog, chunk_bytes=512)
        assert len(cache.txns) == 51 and "b" not in cache.txns
        assert cache.txns["a"].state is PREPARE_COMMIT and cache.skipped == 0
        assert load(plog).txns.keys() == cache.txns.keys()
    finally:
        plog.close()
