"""KIP-890's check on a partition leader (DataPlane._check_in_transaction) against a real
PartitionLog: what the check answers when a transaction marker lands while the
coordinator is asked (the coordinator's answer is a stand-in; the log is real)."""

from __future__ import annotations

import asyncio
import time

import pytest

from kraft.broker.data_plane import DataPlane
from kraft.errors import InvalidTxnState
from kraft.replication.replica_reads import ReplicaReads
from kraft.storage.partition_log import PartitionLog

PID, TID = 7, "tx"


def plane_over(log: PartitionLog, marker_while_asked: tuple[int, bool] | None) -> DataPlane:
    """A DataPlane whose coordinator says yes; the marker (epoch, commit) is written to
    the partition while it answers, as the end of a transaction lands meanwhile."""
    plane = object.__new__(DataPlane)

    async def leader_replica(topic, partition):
        reads = ReplicaReads()  # the replica's read surface over the real log
        reads.log = log
        return reads

    async def verify(tid, pid, epoch, topic, partition, timeout_s, add):
        if marker_while_asked is not None:
            marker_epoch, commit = marker_while_asked
            log.append_marker(PID, marker_epoch, commit, coordinator_epoch=0, leader_epoch=0)
        return True

    plane.leader_replica = leader_replica
    plane._verify_txn = verify
    return plane


def check(plane: DataPlane, epoch: int, add: bool):
    return asyncio.run(plane._check_in_transaction(TID, PID, epoch, "t", 0, time.monotonic() + 5, add))


def test_tv2_first_batch_after_an_ended_transaction_that_never_wrote_here_is_taken(tmp_path):
    # transaction version 2: the transaction at epoch 3 held this partition but wrote no
    # batch here (its produce failed, then it aborted); its abort marker carries the
    # bumped epoch 4 and lands while the coordinator adds the partition to the next
    # transaction, at epoch 4. That batch belongs to an open transaction: it is taken.
    log = PartitionLog.open(tmp_path / "p")
    try:
        check(plane_over(log, (4, False)), epoch=4, add=True)
    finally:
        log.close()


@pytest.mark.parametrize("marker_epoch, add", [
    (5, True),  # transactions version 2: the marker's epoch 5 ends the batch's own (epoch 4)
    (4, False),  # transactions version 1: markers carry the transaction's own epoch
])
def test_batch_whose_own_transaction_ended_while_checked_is_refused(tmp_path, marker_epoch, add):
    log = PartitionLog.open(tmp_path / "p")
    try:
        with pytest.raises(InvalidTxnState):
            check(plane_over(log, (marker_epoch, False)), epoch=4, add=add)
    finally:
        log.close()
