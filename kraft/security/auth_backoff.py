"""How long a failed login's answer is held: the back-off both front doors share (sans-IO).

Kafka delays the answer to a failed authentication (connection.failed.authentication.delay.ms,
100 ms). Here the failures of one (address, user) are also spaced: their answers go out
no faster than one per delay, however many connections carry them, up to MAX_HELD_S
ahead. A client waits for its answer before it sends its next guess, so a flood of wrong
passwords is slowed to that pace, and so is the password hashing it makes the node do.

Only failures wait, and nothing is refused unchecked: a correct password is answered at
once, from the attacked address too. Users that do not exist share one key per address,
so random user names cannot spread a flood over fresh keys (nor fill the table).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

MAX_HELD_S = 10.0  # the longest a failed answer is held, however deep the queue on its key
MAX_KEYS = 10_000  # (address, user) pairs remembered; the oldest go first
UNKNOWN_USER = ""  # the key's user for a name with no credential (and for a refused token)


def backoff_key(address: str, user: str, known: bool) -> tuple[str, str]:
    return (address, user if known else UNKNOWN_USER)


class AuthBackoff:
    def __init__(self, delay_s: float, clock: Callable[[], float]) -> None:
        self._delay_s = delay_s
        self._clock = clock
        self._released_at: OrderedDict[tuple[str, str], float] = OrderedDict()

    def failed(self, key: tuple[str, str]) -> float:
        """A login of `key` failed: the seconds to hold its answer."""
        if self._delay_s <= 0:
            return 0.0
        now = self._clock()
        queue_end = max(now, self._released_at.pop(key, now))
        release = min(queue_end + self._delay_s, now + max(MAX_HELD_S, self._delay_s))
        self._released_at[key] = release
        self._forget_oldest(now)
        return release - now

    def _forget_oldest(self, now: float) -> None:
        while len(self._released_at) > MAX_KEYS:
            self._released_at.popitem(last=False)
        while self._released_at:  # keys whose answers have all gone out hold nothing back
            key, release = next(iter(self._released_at.items()))
            if release > now:
                break
            del self._released_at[key]
