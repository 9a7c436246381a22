"""An unexpected exception in a request, as both doors report it.

The client gets a generic answer with an id; the node's log gets the traceback under
the same id. The exception's own text stays in the log: it may name files, addresses
or settings the client has no business seeing (a 500 once carried a config file's path).
"""

from __future__ import annotations

import logging
import secrets


def log_with_id(log: logging.Logger, what: str) -> str:
    """Log the exception being handled, with its traceback, under a new id; the id.
    Call from an `except` block."""
    incident = secrets.token_hex(6)
    log.exception("internal error %s in %s", incident, what)
    return incident


def client_message(node_id: int, incident: str) -> str:
    """What a client is told instead of the exception's text."""
    return f"internal error (see node {node_id}'s log, id {incident})"
