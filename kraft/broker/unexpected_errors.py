"""An unexpected exception in a request, as both doors report it.

The client gets a generic answer with an id; the node's log gets the traceback under
the same id. The exception's own text stays in the log: it may name files, addresses
or settings the client has no business seeing (a 500 once carried a config file's path).

A failure a client can repeat per request must not flood the log (a consumer retrying
a failing fetch wrote 45 MB of tracebacks in 40 s): per failure site (where the
exception was raised, and its type) the first is logged whole under its id, and the
repeats within a minute only counted; the next repeat after that minute logs one line
with the count. Every client of a site meanwhile gets that site's traceback id.
"""

from __future__ import annotations

import logging
import secrets
import sys
import time
from dataclasses import dataclass

REPORT_EVERY_S = 60.0
MAX_SITES = 1_000  # sites are lines of code, so few; the bound keeps a bug from growing it


@dataclass
class _Site:
    incident: str  # the id the site's traceback was logged under
    reported_at: float  # when it was last written to the log (whole, or as a count)
    repeats: int = 0  # since then, not yet written


@dataclass(frozen=True)
class Decision:
    """What to log for one failure: the traceback (first at its site), a count line
    (``repeats`` since the last line), or nothing; ``incident`` is the client's id."""
    incident: str
    traceback: bool
    repeats: int


class RepeatedFailures:
    """The rule above, without I/O: ``seen(site, now)`` says what to log."""

    def __init__(self, every_s: float = REPORT_EVERY_S, max_sites: int = MAX_SITES):
        self._every_s = every_s
        self._max_sites = max_sites
        self._sites: dict[object, _Site] = {}

    def seen(self, site: object, now: float) -> Decision:
        known = self._sites.get(site)
        if known is None:
            if len(self._sites) >= self._max_sites:
                self._sites.clear()  # many distinct sites: tracebacks again, still bounded by sites
            known = self._sites[site] = _Site(secrets.token_hex(6), now)
            return Decision(known.incident, True, 0)
        known.repeats += 1
        if now - known.reported_at < self._every_s:
            return Decision(known.incident, False, 0)
        repeats, known.repeats, known.reported_at = known.repeats, 0, now
        return Decision(known.incident, False, repeats)


_failures = RepeatedFailures()


def _site_of_current_exception() -> object:
    """Where the exception being handled was raised (file, line) and its type: not its
    text, which may carry request data and so differ per request."""
    exc = sys.exception()
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = (tb.tb_frame.f_code.co_filename, tb.tb_lineno) if tb is not None else None
    return type(exc), where


def log_with_id(log: logging.Logger, what: str) -> str:
    """Log the exception being handled under an id, with its traceback the first time
    at its site (see the module's rule); the id. Call from an `except` block."""
    decision = _failures.seen(_site_of_current_exception(), time.monotonic())
    if decision.traceback:
        log.exception("internal error %s in %s", decision.incident, what)
    elif decision.repeats:
        exc = sys.exception()
        log.error("internal error %s again in %s (%s): %d times since its last report, traceback not repeated",
                  decision.incident, what, type(exc).__name__, decision.repeats)
    return decision.incident


def client_message(node_id: int, incident: str) -> str:
    """What a client is told instead of the exception's text."""
    return f"internal error (see node {node_id}'s log, id {incident})"
