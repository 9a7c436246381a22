"""The transaction coordinator's state machine (pure, sans-IO): InitProducerId, fencing,
epoch exhaustion, KIP-360 retries, AddPartitions / AddOffsets, KIP-890 verification,
EndTxn and its retries, timeouts, expiration, describe and list; plus the placement of
transactional ids, the settings and how marker answers are read."""

import pytest

from kraft.errors import (
    ConcurrentTransactions,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    InvalidTransactionTimeout,
    InvalidTxnState,
    NotLeaderOrFollower,
    NotEnoughReplicas,
    ProducerFenced,
    TransactionalIdNotFound,
    TransactionCoordinatorFenced,
)
from kraft.groups.coordinator_placement import coordinator_partition
from kraft.transactions.txn_markers import MISSING, MarkerOutcome, backoff_s, marker_outcome
from kraft.transactions.txn_decisions import (
    InitFence,
    InitWrite,
    NeedProducerId,
    decide_add_partitions,
    decide_end_txn,
    decide_end_txn_bumping,
    decide_init_producer_id,
    end_answer,
    expirable,
    timed_out,
    verify_partitions,
)
from kraft.transactions.txn_metadata import (
    COMPLETE_ABORT,
    COMPLETE_COMMIT,
    DEAD,
    EMPTY,
    MAX_PRODUCER_EPOCH,
    ONGOING,
    PREPARE_ABORT,
    PREPARE_COMMIT,
    PREPARE_EPOCH_FENCE,
    VALID_PREVIOUS,
    IllegalTxnTransition,
    ProducerIdAndEpoch,
    TransactionMetadata,
    TxnState,
    is_epoch_exhausted,
    new_transaction,
    validate_timeout,
)
from kraft.transactions.txn_views import (
    describe,
    list_transactions,
)
from kraft.transactions.txn_log import parse_value, encode_value
from kraft.transactions.txn_placement import TXN_STATE_TOPIC, txn_partition, txn_state_topic_configs
from kraft.config.transaction_settings import TransactionSettings

TIMEOUT = 60_000
TP0, TP1, TP2 = ("t", 0), ("t", 1), ("u", 0)


def init(meta, now=0, expected=None, fresh=None, timeout=TIMEOUT):
    """InitProducerId carried through: decide, 'append', replay. Returns (pid, epoch)."""
    decision = decide_init_producer_id(meta, timeout, expected, now, fresh)
    assert isinstance(decision, InitWrite), decision
    meta.apply(decision.transit)
    return decision.transit.producer_id, decision.transit.producer_epoch


def ready(tid="tx", pid=1000, now=0):
    """A transactional id after its first InitProducerId: Empty, epoch 0."""
    meta = new_transaction(tid, pid, TIMEOUT, now)
    assert init(meta, now) == (pid, 0)
    return meta


def add(meta, partitions, now=0, pid=None, epoch=None):
    transit = decide_add_partitions(meta, meta.producer_id if pid is None else pid,
                                    meta.producer_epoch if epoch is None else epoch, partitions, now)
    if transit is not None:
        meta.apply(transit)
    return transit


def end(meta, commit, now=0):
    """EndTxn, its append, the markers (all at once) and the Complete append."""
    transit = decide_end_txn(meta, meta.producer_id, meta.producer_epoch, commit, now)
    assert transit is not None
    meta.apply(transit)
    complete = meta.prepare_complete(now)
    for tp in sorted(meta.partitions):
        meta.remove_partition(tp)
    meta.apply(complete)


# -- InitProducerId --------------------------------------------------------------------

def test_first_init_gives_epoch_zero_and_later_inits_bump_it():
    meta = new_transaction("tx", 1000, TIMEOUT, now_ms=5)
    assert meta.state is EMPTY and meta.producer_epoch == -1
    assert init(meta, now=10) == (1000, 0)
    assert meta.state is EMPTY and meta.update_ms == 10
    assert init(meta, now=20, timeout=30_000) == (1000, 1)
    assert meta.timeout_ms == 30_000 and meta.last_producer_epoch == -1  # a new instance: nothing to retry with
    end_to = ready()
    add(end_to, [TP0])
    end(end_to, commit=True)
    assert init(end_to) == (1000, 1)  # after a completed transaction too


def test_timeouts_outside_the_broker_maximum_are_refused():
    validate_timeout(900_000, 900_000)
    for bad in (0, -1, 900_001):
        with pytest.raises(InvalidTransactionTimeout):
            validate_timeout(bad, 900_000)


def test_init_while_a_transaction_is_ongoing_fences_it_with_an_abort():
    meta = ready()
    add(meta, [TP0, TP1], now=100)
    decision = decide_init_producer_id(meta, TIMEOUT, None, 200)
    assert isinstance(decision, InitFence)
    t = decision.transit
    assert (t.state, t.producer_epoch, t.partitions) == (PREPARE_ABORT, 1, frozenset({TP0, TP1}))
    assert (meta.state, meta.producer_epoch) == (ONGOING, 0)  # deciding changes nothing
    meta.apply(t)  # the record is in the log: the old producer is fenced
    assert meta.state is PREPARE_ABORT and meta.producer_epoch == 1
    with pytest.raises(ProducerFenced):
        decide_add_partitions(meta, 1000, 0, [TP2], 210)
    with pytest.raises(ProducerFenced):
        decide_end_txn(meta, 1000, 0, True, 210)
    with pytest.raises(ConcurrentTransactions):  # the new instance retries meanwhile
        decide_init_producer_id(meta, TIMEOUT, None, 220)
    complete = meta.prepare_complete(230)
    meta.remove_partition(TP0)
    meta.remove_partition(TP1)
    meta.apply(complete)
    assert meta.state is COMPLETE_ABORT and meta.partitions == set()
    assert init(meta, now=240) == (1000, 2)  # the retry: the epoch is bumped a second time


def test_a_fence_whose_append_failed_changed_nothing_and_the_next_bumps_the_same_epoch():
    meta = ready()
    add(meta, [TP0])
    first = meta.prepare_fence_abort(100)  # its append failed: never replayed
    assert meta.state is ONGOING and meta.producer_epoch == 0
    second = meta.prepare_fence_abort(200)
    assert second.producer_epoch == first.producer_epoch == 1 and second.last_producer_epoch == -1
    meta.apply(second)
    meta.remove_partition(TP0)
    meta.apply(meta.prepare_complete(300))
    assert (meta.state, meta.producer_epoch) == (COMPLETE_ABORT, 1)


def test_epoch_exhaustion_moves_to_a_new_producer_id():
    meta = ready()
    meta.producer_epoch = MAX_PRODUCER_EPOCH - 2  # 32765: one client epoch left
    assert init(meta) == (1000, MAX_PRODUCER_EPOCH - 1)
    assert is_epoch_exhausted(meta.producer_epoch)
    assert decide_init_producer_id(meta, TIMEOUT, None, 10) == NeedProducerId()
    assert init(meta, now=10, fresh=2000) == (2000, 0)
    assert (meta.previous_producer_id, meta.last_producer_epoch) == (1000, -1)


def test_kip360_retry_of_a_rotation_gets_the_new_producer_id():
    meta = ready()
    meta.producer_epoch = MAX_PRODUCER_EPOCH - 1
    expected = ProducerIdAndEpoch(1000, MAX_PRODUCER_EPOCH - 1)
    assert init(meta, expected=expected, fresh=2000) == (2000, 0)
    assert meta.last_producer_epoch == MAX_PRODUCER_EPOCH - 1  # kept: the retry matches it
    assert init(meta, expected=expected) == (2000, 0)  # the answer was lost: same id and epoch again
    with pytest.raises(ProducerFenced):  # an old id with a usable epoch is another producer
        decide_init_producer_id(meta, TIMEOUT, ProducerIdAndEpoch(1000, 5), 0)


def test_a_fence_may_take_the_last_epoch_and_the_retry_rotates():
    meta = ready()
    meta.producer_epoch = MAX_PRODUCER_EPOCH - 1
    add(meta, [TP0])
    fence = decide_init_producer_id(meta, TIMEOUT, None, 0)
    assert isinstance(fence, InitFence) and fence.transit.producer_epoch == MAX_PRODUCER_EPOCH
    meta.apply(fence.transit)
    meta.remove_partition(TP0)
    meta.apply(meta.prepare_complete(0))
    assert decide_init_producer_id(meta, TIMEOUT, None, 0) == NeedProducerId()
    assert init(meta, fresh=3000) == (3000, 0)


def test_kip360_init_with_the_current_epoch_bumps_and_a_retry_gets_the_same():
    meta = ready()
    add(meta, [TP0])
    end(meta, commit=False)  # the producer aborted after an abortable error
    expected = ProducerIdAndEpoch(1000, 0)
    assert init(meta, expected=expected) == (1000, 1)
    assert meta.last_producer_epoch == 0
    assert init(meta, expected=expected) == (1000, 1)  # the retry: not bumped again
    with pytest.raises(ProducerFenced):  # an epoch that is neither current nor previous
        decide_init_producer_id(meta, TIMEOUT, ProducerIdAndEpoch(1000, 7), 0)
    with pytest.raises(ProducerFenced):  # another producer id
        decide_init_producer_id(meta, TIMEOUT, ProducerIdAndEpoch(999, 1), 0)
    assert init(meta, expected=ProducerIdAndEpoch(1000, 1)) == (1000, 2)
    assert init(meta) == (1000, 3) and meta.last_producer_epoch == -1  # a new instance
    with pytest.raises(ProducerFenced):  # the instance that had epoch 2 can no longer retry
        decide_init_producer_id(meta, TIMEOUT, ProducerIdAndEpoch(1000, 2), 0)


def test_kip360_init_for_an_id_the_coordinator_no_longer_knows():
    meta = new_transaction("tx", 5000, TIMEOUT, 0)  # expired, created again
    assert init(meta, expected=ProducerIdAndEpoch(1000, 3)) == (5000, 0)


# -- AddPartitionsToTxn, AddOffsetsToTxn, verification ---------------------------------------

def test_add_partitions_starts_and_grows_the_transaction():
    meta = ready()
    t = add(meta, [TP0], now=100)
    assert t is not None and meta.state is ONGOING and meta.start_ms == 100
    assert add(meta, [TP0], now=150) is None  # already in: answered at once, nothing appended
    add(meta, [TP0, TP1], now=200)
    assert meta.partitions == {TP0, TP1} and meta.start_ms == 100 and meta.update_ms == 200
    end(meta, commit=True, now=300)
    add(meta, [TP2], now=400)  # the next transaction starts its own clock
    assert meta.partitions == {TP2} and meta.start_ms == 400


def test_add_offsets_is_the_groups_offsets_partition():
    meta = ready()
    tp = ("__consumer_offsets", coordinator_partition("g", 50))
    add(meta, [tp])
    assert describe(meta).partitions == (tp,)


def test_add_partitions_refusals_in_kafkas_order():
    meta = ready()
    with pytest.raises(InvalidProducerIdMapping):
        decide_add_partitions(meta, 999, 5, [TP0], 0)  # the id before the epoch
    with pytest.raises(ProducerFenced):
        decide_add_partitions(meta, 1000, 5, [TP0], 0)
    meta.apply(meta.prepare_add_partitions([TP0], 0))
    meta.apply(decide_end_txn(meta, 1000, 0, True, 0))
    with pytest.raises(ConcurrentTransactions):  # PrepareCommit: markers being written
        decide_add_partitions(meta, 1000, 0, [TP1], 0)


def test_verify_partitions_answers_membership_of_the_ongoing_transaction():
    meta = ready()
    add(meta, [TP0])
    assert verify_partitions(meta, 1000, 0, [TP0, TP1]) == {TP0: True, TP1: False}
    pending = meta.prepare_add_partitions([TP1], 0)
    assert verify_partitions(meta, 1000, 0, [TP1]) == {TP1: False}  # counts once in the log
    meta.apply(pending)
    assert verify_partitions(meta, 1000, 0, [TP1]) == {TP1: True}
    with pytest.raises(ProducerFenced):
        verify_partitions(meta, 1000, 1, [TP0])
    with pytest.raises(InvalidProducerIdMapping):
        verify_partitions(meta, 1, 0, [TP0])
    meta.apply(decide_end_txn(meta, 1000, 0, False, 0))
    with pytest.raises(ConcurrentTransactions):
        verify_partitions(meta, 1000, 0, [TP0])
    meta.remove_partition(TP0)
    meta.remove_partition(TP1)
    meta.apply(meta.prepare_complete(0))
    assert verify_partitions(meta, 1000, 0, [TP0]) == {TP0: False}  # ended: no longer in one


# -- EndTxn ----------------------------------------------------------------------------------

def test_end_txn_commit_and_abort_and_their_retries():
    meta = ready()
    with pytest.raises(InvalidTxnState):  # no transaction
        decide_end_txn(meta, 1000, 0, True, 0)
    add(meta, [TP0])
    transit = decide_end_txn(meta, 1000, 0, True, 50)
    assert transit is not None and transit.state is PREPARE_COMMIT and transit.partitions == {TP0}
    meta.apply(transit)
    with pytest.raises(ConcurrentTransactions):  # a retry while markers are written
        decide_end_txn(meta, 1000, 0, True, 70)
    with pytest.raises(InvalidTxnState):  # the other outcome
        decide_end_txn(meta, 1000, 0, False, 70)
    complete = meta.prepare_complete(80)
    assert complete.state is COMPLETE_COMMIT and complete.partitions == frozenset()
    meta.remove_partition(TP0)
    meta.apply(complete)
    assert decide_end_txn(meta, 1000, 0, True, 90) is None  # a retry after completion: OK
    with pytest.raises(InvalidTxnState):
        decide_end_txn(meta, 1000, 0, False, 90)
    add(meta, [TP1])
    end(meta, commit=False)
    assert meta.state is COMPLETE_ABORT
    assert decide_end_txn(meta, 1000, 0, False, 100) is None
    with pytest.raises(InvalidTxnState):
        decide_end_txn(meta, 1000, 0, True, 100)


def test_end_txn_refusals():
    meta = ready()
    add(meta, [TP0])
    with pytest.raises(InvalidProducerIdMapping):
        decide_end_txn(meta, 7, 0, True, 0)
    for epoch in (1, -1):  # a newer or older epoch from the client: not this producer
        with pytest.raises(ProducerFenced):
            decide_end_txn(meta, 1000, epoch, True, 0)
    meta.apply(decide_end_txn(meta, 1000, 0, False, 0))
    with pytest.raises(ConcurrentTransactions):
        decide_end_txn(meta, 1000, 0, False, 0)


# -- timeouts, expiration, views ---------------------------------------------------------------

def test_timed_out_transactions_are_aborted_with_an_epoch_bump():
    meta, idle = ready("a"), ready("b")
    add(meta, [TP0], now=1_000)
    assert timed_out([meta, idle], 1_000 + TIMEOUT) == []
    assert timed_out([meta, idle], 1_001 + TIMEOUT) == [meta]
    transit = meta.prepare_fence_abort(1_001 + TIMEOUT)
    assert transit.state is PREPARE_ABORT and transit.producer_epoch == 1
    meta.apply(transit)
    assert timed_out([meta], 10**9) == []


def test_idle_transactional_ids_expire():
    week = 7 * 86_400_000
    meta, busy, fresh = ready("a", now=0), ready("b", now=0), ready("c", now=week)
    add(busy, [TP0], now=0)
    assert expirable([meta, busy, fresh], week - 1, week) == []
    assert expirable([meta, busy, fresh], week, week) == [meta]  # Ongoing never expires
    assert expirable([meta], 2 * week, week) == [meta]  # until its tombstone is in the log


def test_describe_and_list():
    a, b, c = ready("a", pid=1), ready("b", pid=2), ready("c", pid=3)
    add(a, [TP1, TP0], now=100)
    add(b, [TP2], now=5_000)
    d = describe(a)
    assert (d.transactional_id, d.state, d.producer_id, d.producer_epoch, d.timeout_ms, d.start_ms, d.partitions) == \
        ("a", "Ongoing", 1, 0, TIMEOUT, 100, (TP0, TP1))
    rows, unknown = list_transactions([c, b, a])
    assert [(r.transactional_id, r.producer_id, r.state) for r in rows] == [("a", 1, "Ongoing"), ("b", 2, "Ongoing"),
                                                                            ("c", 3, "Empty")]
    assert unknown == []
    rows, unknown = list_transactions([a, b, c], states=["Empty", "Bogus"])
    assert [r.transactional_id for r in rows] == ["c"] and unknown == ["Bogus"]
    assert [r.transactional_id for r in list_transactions([a, b, c], producer_ids=[2])[0]] == ["b"]
    rows, _ = list_transactions([a, b], min_duration_ms=1_000, now_ms=6_000)  # running longer than 1 s
    assert [r.transactional_id for r in rows] == ["a"]
    a.state = DEAD
    with pytest.raises(TransactionalIdNotFound):
        describe(a)


# -- the table itself ------------------------------------------------------------------------

def test_state_names_ids_and_table_are_kafkas():
    assert [(s.value, s.kafka_id) for s in TxnState] == [
        ("Empty", 0), ("Ongoing", 1), ("PrepareCommit", 2), ("PrepareAbort", 3), ("CompleteCommit", 4),
        ("CompleteAbort", 5), ("Dead", 6), ("PrepareEpochFence", 7)]
    assert TxnState.from_name("Ongoing") is ONGOING and TxnState.from_name("ongoing") is None
    # Kafka 4: transactions version 2 may abort with nothing open (an epoch bump)
    assert VALID_PREVIOUS[PREPARE_ABORT] == {ONGOING, PREPARE_EPOCH_FENCE, EMPTY, COMPLETE_COMMIT, COMPLETE_ABORT}
    assert VALID_PREVIOUS[COMPLETE_COMMIT] == {PREPARE_COMMIT}


def test_transitions_outside_the_table_are_bugs():
    meta = ready()
    with pytest.raises(IllegalTxnTransition):
        meta.prepare_end(True, 0)  # Empty -> PrepareCommit
    with pytest.raises(IllegalTxnTransition):
        meta.prepare_complete(0)
    with pytest.raises(IllegalTxnTransition):
        meta.prepare_fence_abort(0)
    with pytest.raises(IllegalTxnTransition):
        meta.remove_partition(TP0)
    meta.apply(meta.prepare_add_partitions([TP0], 0))
    meta.producer_epoch = -1  # a state no record holds: no transit follows it
    with pytest.raises(IllegalTxnTransition):
        meta.prepare_add_partitions([TP1], 0)


# -- transactions version 2 (EndTxn v5+: an epoch bump at every end) -----------------------

def end_v2(meta, commit, epoch=None, pid=None, now=0, fresh=None):
    """EndTxn v5 carried through to Complete; returns the answer (pid, epoch) and the
    Prepare transit (None for a retry answered at once)."""
    decision = decide_end_txn_bumping(meta, meta.producer_id if pid is None else pid,
                                      meta.producer_epoch if epoch is None else epoch, commit, now, fresh)
    if isinstance(decision, ProducerIdAndEpoch):
        return (decision.producer_id, decision.epoch), None
    assert not isinstance(decision, NeedProducerId), "the epochs ran out: pass fresh"
    meta.apply(decision)
    complete = meta.prepare_complete(now)
    for tp in sorted(meta.partitions):
        meta.remove_partition(tp)
    meta.apply(complete)
    answer = end_answer(decision)
    return (answer.producer_id, answer.epoch), decision


def test_v2_every_end_bumps_the_epoch_and_the_markers_carry_it():
    meta = ready()
    add(meta, [TP0])
    answer, prepare = end_v2(meta, True)
    assert answer == (1000, 1)
    # the markers are written in PrepareCommit, at the new epoch: they fence epoch 0's late batches
    assert (prepare.state, prepare.producer_epoch, prepare.last_producer_epoch) == (PREPARE_COMMIT, 1, 0)
    assert (meta.state, meta.producer_epoch) == (COMPLETE_COMMIT, 1)
    add(meta, [TP1], epoch=1)
    assert end_v2(meta, False)[0] == (1000, 2)
    assert (meta.state, meta.producer_epoch, meta.last_producer_epoch) == (COMPLETE_ABORT, 2, 1)
    with pytest.raises(ProducerFenced):  # the epoch before the end is over
        decide_add_partitions(meta, 1000, 1, [TP0], 0)


def test_v2_retries_of_an_end_are_answered_with_the_new_epoch_and_write_nothing():
    meta = ready()
    add(meta, [TP0])
    end_v2(meta, True)
    assert end_v2(meta, True, epoch=0) == ((1000, 1), None)  # the retry, after the bump
    with pytest.raises(InvalidTxnState):  # not the outcome it retries
        end_v2(meta, False, epoch=0)
    with pytest.raises(InvalidTxnState):  # a commit with nothing open
        end_v2(meta, True)
    with pytest.raises(ProducerFenced):  # older than the retry's epoch
        end_v2(meta, True, epoch=5)
    # while the markers are written, the retry is told to wait; the next epoch is not yet valid there
    add(meta, [TP0], epoch=1)
    meta.apply(decide_end_txn_bumping(meta, 1000, 1, False, 0))
    with pytest.raises(ConcurrentTransactions):
        decide_end_txn_bumping(meta, 1000, 1, False, 0)
    with pytest.raises(InvalidTxnState):
        decide_end_txn_bumping(meta, 1000, 1, True, 0)
    with pytest.raises(ProducerFenced):
        decide_end_txn_bumping(meta, 1000, 2, False, 0)


def test_v2_abort_with_nothing_open_bumps_the_epoch():
    meta = ready(now=5)
    answer, prepare = end_v2(meta, False, now=7)
    assert answer == (1000, 1) and prepare.partitions == frozenset() and prepare.start_ms == 7
    assert (meta.state, meta.producer_epoch) == (COMPLETE_ABORT, 1)
    assert end_v2(meta, False, epoch=0) == ((1000, 1), None)  # its retry
    assert end_v2(meta, False)[0] == (1000, 2)  # another one: another bump
    with pytest.raises(InvalidTxnState):
        end_v2(ready(), True)  # Empty cannot commit
    with pytest.raises(ProducerFenced):
        end_v2(ready(), False, epoch=-1)  # Empty takes no retry


def test_v2_the_last_epoch_moves_the_producer_to_a_fresh_id():
    meta = TransactionMetadata("tx", 1000, producer_epoch=MAX_PRODUCER_EPOCH - 2, timeout_ms=TIMEOUT, update_ms=0)
    add(meta, [TP0])
    assert end_v2(meta, True)[0] == (1000, MAX_PRODUCER_EPOCH - 1)
    add(meta, [TP0])
    assert isinstance(decide_end_txn_bumping(meta, 1000, MAX_PRODUCER_EPOCH - 1, True, 0), NeedProducerId)
    answer, prepare = end_v2(meta, True, fresh=2000)
    assert answer == (2000, 0)
    # the markers fence the old id with the epoch no client gets
    assert (prepare.producer_id, prepare.producer_epoch, prepare.next_producer_id) == (1000, MAX_PRODUCER_EPOCH, 2000)
    assert (meta.producer_id, meta.producer_epoch, meta.previous_producer_id, meta.next_producer_id) == \
        (2000, 0, 1000, -1)
    # the retry with the old id's last epoch gets the fresh id
    assert end_v2(meta, True, pid=1000, epoch=MAX_PRODUCER_EPOCH - 1) == ((2000, 0), None)
    with pytest.raises(InvalidProducerIdMapping):
        end_v2(meta, True, pid=1000, epoch=3)
    add(meta, [TP1])
    assert end_v2(meta, False)[0] == (2000, 1)


def test_v2_a_prepare_with_a_next_producer_id_survives_the_log():
    """A new coordinator that loads PrepareCommit completes it with the same fresh id."""
    meta = TransactionMetadata("tx", 1000, producer_epoch=MAX_PRODUCER_EPOCH - 1, timeout_ms=TIMEOUT, update_ms=0)
    add(meta, [TP0])
    prepare = decide_end_txn_bumping(meta, 1000, MAX_PRODUCER_EPOCH - 1, True, 0, 2000)
    meta.apply(prepare)
    loaded = TransactionMetadata.from_transit("tx", parse_value(encode_value(meta.snapshot())))
    assert loaded.next_producer_id == 2000 and loaded.state is PREPARE_COMMIT
    loaded.remove_partition(TP0)
    complete = loaded.prepare_complete(1)
    loaded.apply(complete)
    assert (loaded.producer_id, loaded.producer_epoch) == (2000, 0)
    old = encode_value(meta.snapshot()).replace(b',"next_producer_id":2000', b"")
    assert parse_value(old).next_producer_id == -1  # a record written before this field


def test_v1_ends_keep_the_epoch():
    """EndTxn before v5 (transactions version 1) is unchanged: no bump, same-epoch retries."""
    meta = ready()
    add(meta, [TP0])
    end(meta, True)
    assert (meta.state, meta.producer_epoch) == (COMPLETE_COMMIT, 0)
    assert decide_end_txn(meta, 1000, 0, True, 0) is None
    with pytest.raises(InvalidTxnState):  # no abort with nothing open before v5
        decide_end_txn(meta, 1000, 0, False, 0)


# -- placement, settings, marker answers --------------------------------------------------------

def test_placement_uses_kafkas_hash():
    assert txn_partition("hello", 50) == 99162322 % 50  # "hello".hashCode() in Java
    assert all(txn_partition(t, 7) == coordinator_partition(t, 7) for t in ("a", "tx-1", "ü", ""))
    assert TXN_STATE_TOPIC == "__transaction_state"
    with pytest.raises(ValueError):
        txn_partition("a", 0)


def test_state_topic_configs_cap_min_isr_by_replicas():
    configs = txn_state_topic_configs(1)
    assert configs["cleanup.policy"] == "compact" and configs["min.insync.replicas"] == "1"
    assert configs["unclean.leader.election.enable"] == "false"
    assert txn_state_topic_configs(3)["min.insync.replicas"] == "2"


def test_settings_defaults_and_kafka_names():
    s = TransactionSettings()
    assert (s.max_timeout_ms, s.state_log_partitions, s.state_log_replication_factor, s.state_log_min_isr,
            s.transactional_id_expiration_ms, s.abort_timed_out_interval_ms) == (
        900_000, 50, 3, 2, 604_800_000, 10_000)
    s = TransactionSettings.from_kafka_names({"transaction.max.timeout.ms": 1000,
                                              "transaction.state.log.num.partitions": 3})
    assert s.max_timeout_ms == 1000 and s.state_log_partitions == 3
    with pytest.raises(ValueError):
        TransactionSettings.from_kafka_names({"transaction.bogus": 1})
    with pytest.raises(ValueError):
        TransactionSettings(state_log_min_isr=0)


def test_marker_answers():
    assert marker_outcome(None) is MarkerOutcome.WRITTEN
    assert marker_outcome(MISSING) is MarkerOutcome.RETRY
    assert marker_outcome(NotLeaderOrFollower("x")) is MarkerOutcome.RETRY
    assert marker_outcome(NotEnoughReplicas("x")) is MarkerOutcome.RETRY
    assert marker_outcome(TransactionCoordinatorFenced("x")) is MarkerOutcome.ABANDON
    assert marker_outcome(InvalidProducerEpoch("x")) is MarkerOutcome.ABANDON
    pauses = [backoff_s(i) for i in range(40)]
    assert pauses == sorted(pauses) and pauses[0] > 0 and pauses[-1] == pauses[20]
