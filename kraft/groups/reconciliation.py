"""One member's step towards its target assignment (KIP-848's incremental
reconciliation, after Kafka's CurrentAssignmentBuilder). Pure.

A member is in one of three states:
- STABLE: it has its whole target at the target epoch;
- UNREVOKED_PARTITIONS: it must give up partitions (pending_revocation) first; its
  epoch stays where it was until it reports (in a heartbeat's owned partitions) that it
  no longer owns any of them;
- UNRELEASED_PARTITIONS: it is at the target epoch, but some partitions of its target
  are still owned by other members; each later heartbeat picks up those released since.

A partition is given to a member only when no other member owns it (holds it assigned
or pending revocation), so no partition is ever owned twice. A member whose revocation
is still pending when a newer target arrives keeps its pending partitions pending: it
may still be consuming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from kraft.groups.assignors import TopicPartition

Partitions = frozenset[TopicPartition]


class MemberState(Enum):
    STABLE = "stable"
    UNREVOKED_PARTITIONS = "unrevoked_partitions"
    UNRELEASED_PARTITIONS = "unreleased_partitions"


@dataclass(frozen=True)
class Reconciled:
    state: MemberState
    epoch: int
    assigned: Partitions
    pending_revocation: Partitions


def reconcile(state: MemberState, epoch: int, assigned: Partitions, pending_revocation: Partitions,
              target_epoch: int, target: Partitions, owned: Partitions | None,
              held_by_others: Partitions) -> Reconciled:
    """The member's next state. owned: the partitions the member reports owning (None:
    not reported, taken as still owning everything); held_by_others: every partition
    another member owns."""
    if state is MemberState.UNREVOKED_PARTITIONS:
        still_owns = owned is None or bool(owned & pending_revocation)
        if still_owns:
            if epoch >= target_epoch:
                return Reconciled(state, epoch, assigned, pending_revocation)
            # A newer target while revoking: recompute, the pending ones stay pending.
            return _next(epoch, assigned, pending_revocation, target_epoch, target, owned, held_by_others)
        # Revoked: the member moves on from its epoch towards the target.
        return _next(epoch, assigned, frozenset(), target_epoch, target, owned, held_by_others)
    if epoch == target_epoch and state is MemberState.STABLE and assigned == target:
        return Reconciled(state, epoch, assigned, pending_revocation)
    return _next(epoch, assigned, pending_revocation, target_epoch, target, owned, held_by_others)


def _next(epoch: int, assigned: Partitions, pending: Partitions, target_epoch: int, target: Partitions,
          owned: Partitions | None, held_by_others: Partitions) -> Reconciled:
    kept = assigned & target
    revoke = (assigned - target) | (pending - target)
    # A partition of its target that it was revoking may simply be kept again.
    kept |= pending & target & (owned if owned is not None else pending)
    if revoke and (owned is None or owned & revoke):
        free = frozenset(tp for tp in target - kept if tp not in held_by_others and tp not in revoke)
        return Reconciled(MemberState.UNREVOKED_PARTITIONS, epoch, kept | free, revoke)
    free = frozenset(tp for tp in target - kept if tp not in held_by_others)
    if kept | free != target:
        return Reconciled(MemberState.UNRELEASED_PARTITIONS, target_epoch, kept | free, frozenset())
    return Reconciled(MemberState.STABLE, target_epoch, target, frozenset())
