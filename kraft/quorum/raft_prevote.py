"""Pre-vote (Raft thesis section 9.6, Kafka's KIP-996), pure logic (part of the pysyncobj adapter).

A voter whose election timer runs out does not raise its term at once: it first asks
the other voters whether they would vote for it at the next term. A voter says yes only
if it has not heard from a leader for the minimum election timeout, is not the leader
itself, and the asker's log is at least as up to date as its own. Only with a majority
of yeses (its own included) does the asker become a candidate, which raises the term.

Without it, a controller that was paused (SIGSTOP, a long GC, a VM freeze) or cut off
comes back with its election timer long expired; pysyncobj checks that timer before it
reads the leader's heartbeats waiting in its sockets, so the returning node raised the
term at once, the healthy leader stepped down on seeing it, and the quorum re-elected
(one or more elections per pause). A pre-vote changes no term and no vote, so it
disturbs nobody; the heartbeats it reads next cancel it.

A leadership transfer (Raft's TimeoutNow) skips the pre-vote, as in the thesis and in
Kafka: the leader itself asked for the election. The leader's side of the rule (a
leader that has not heard from a majority within leaderFallbackTimeout steps down,
Raft's check-quorum) is the library's own.

Messages (plain dicts, as the library's): the request carries the term the asker would
stand at and its log's last index and term; the answer echoes that term.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRE_VOTE = "kraft_pre_vote"
PRE_VOTE_ANSWER = "kraft_pre_vote_answer"


@dataclass(frozen=True)
class VoterView:
    """What a voter knows when it answers a pre-vote."""

    term: int
    last_log_index: int
    last_log_term: int
    is_leader: bool
    since_leader_s: float  # seconds since it last heard from a leader of its term (inf: never)
    min_election_timeout_s: float


def request(term: int, last_log_index: int, last_log_term: int) -> dict:
    """The pre-vote a voter at `term` sends before standing at term + 1."""
    return {"type": PRE_VOTE, "term": term + 1, "last_log_index": last_log_index, "last_log_term": last_log_term}


def well_formed(message: dict) -> bool:
    """A pre-vote message whose fields have the types the rules read (a peer's frame is
    authenticated, but a bad one must not stop the tick thread)."""
    if message.get("type") == PRE_VOTE:
        keys = ("term", "last_log_index", "last_log_term")
        return all(type(message.get(k)) is int for k in keys)
    return type(message.get("term")) is int and type(message.get("granted")) is bool


def grants(message: dict, voter: VoterView) -> bool:
    """Would this voter vote for the asker at the term it names?"""
    if voter.is_leader or voter.since_leader_s < voter.min_election_timeout_s:
        return False  # a leader it hears from is alive: no election is needed
    if message["term"] < voter.term:
        return False  # the real vote would be refused too (a term behind ours)
    theirs = (message["last_log_term"], message["last_log_index"])
    return theirs >= (voter.last_log_term, voter.last_log_index)  # Raft's up-to-date rule


def answer(message: dict, voter: VoterView) -> dict:
    return {"type": PRE_VOTE_ANSWER, "term": message["term"], "granted": grants(message, voter)}


@dataclass
class PreVoteRound:
    """The asker's side: one round per expired election timer, for one proposed term."""

    term: int = -1  # the term the round proposes; -1: no round
    ends_at: float = 0.0  # monotonic; a round without a majority by then is asked again
    yes: set[str] = field(default_factory=set)  # the voters that granted (by the library's node id)
    won: bool = False

    def begin(self, term: int, self_id: str, now: float, timeout_s: float) -> None:
        self.term, self.ends_at, self.yes, self.won = term + 1, now + timeout_s, {self_id}, False

    def open(self, term: int, now: float) -> bool:
        """A round for the next term is still waiting for answers."""
        return self.term == term + 1 and not self.won and now < self.ends_at

    def take_win(self, term: int) -> bool:
        """The round for the next term has a majority: consumed (the election starts now)."""
        if self.won and self.term == term + 1:
            self.cancel()
            return True
        return False

    def note(self, voter_id: str, message: dict, voters: int) -> None:
        """An answer; `voters` counts every voter, this one included."""
        if message["term"] == self.term and message["granted"] and not self.won:
            self.yes.add(voter_id)
            self.won = len(self.yes) > voters / 2

    def cancel(self) -> None:
        """A leader was heard from (or the term moved): no election is due."""
        self.term, self.yes, self.won = -1, set(), False
