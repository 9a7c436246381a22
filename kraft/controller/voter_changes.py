"""Controller quorum changes (KIP-853's AddRaftVoter and RemoveRaftVoter, in spirit):
one voter at a time, run on the active controller against the Raft quorum itself.

They are not metadata records: the voter set lives in the Raft log as the quorum's own
membership entries (kraft/quorum/raft_voters.py). This module turns a request into the
quorum call and its refusals into the errors both doors answer with.
"""

from __future__ import annotations

from kraft.errors import (
    DuplicateVoter,
    NotController,
    OutcomeUnknown,
    RequestError,
    VoterChangeNotNow,
    VoterChangeRefused,
    VoterNotFound,
)
from kraft.quorum.protocol import NotLeaderError, ProposalOutcomeUnknown, Quorum, QuorumError
from kraft.quorum.raft_voters import ADD, REMOVE, VoterChangeProblem

# An observer may need a while to catch up before it is added (Kafka's AddRaftVoter waits too).
VOTER_CHANGE_TIMEOUT_S = 30.0
VOTER_OPS = {"add_voter": ADD, "remove_voter": REMOVE}

_REFUSALS: dict[str, type[RequestError] | type[VoterChangeNotNow]] = {
    "duplicate": DuplicateVoter,
    "bad_address": DuplicateVoter,
    "not_found": VoterNotFound,
    "unsafe": VoterChangeRefused,
    "not_observer": VoterChangeRefused,
    "in_progress": VoterChangeNotNow,
    "timeout": VoterChangeNotNow,
}


async def change_voters(quorum: Quorum, op: str, node_id: int,
                        timeout_s: float = VOTER_CHANGE_TIMEOUT_S) -> dict[str, list[int]]:
    """Run on the active controller; the answer names the voters after the change."""
    try:
        voters = await quorum.change_voters(VOTER_OPS[op], node_id, timeout_s)
    except VoterChangeProblem as exc:
        raise _REFUSALS.get(exc.kind, VoterChangeRefused)(exc.message) from None
    except NotLeaderError as exc:
        raise NotController(str(exc)) from None
    except ProposalOutcomeUnknown as exc:
        raise OutcomeUnknown(f"voter change: {exc}") from None
    except QuorumError as exc:
        raise VoterChangeNotNow(f"voter change not made: {exc}") from None
    return {"voters": sorted(voters)}
