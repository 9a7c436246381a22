"""The keys nodes of one cluster share, derived from the data dir's identity.

The Raft password a data dir was formatted with never crosses the wire. From it and
the cluster id come two keys: one encrypts the Raft port's traffic (pysyncobj's
password), one signs node-to-node HTTP requests (`request_signature`). A node started
on another cluster's data dir, even with the same password, derives other keys: its
Raft messages cannot be read and its internal requests are refused.
"""

from __future__ import annotations

import hashlib
import hmac

from kraft.config.data_dir import DataDirIdentity

SIGNATURE_WINDOW_MS = 60_000  # how old (or how far ahead) a signed request may be


def _derive(identity: DataDirIdentity, purpose: str) -> bytes:
    return hmac.new(identity.raft_password.encode(), f"kraft {purpose} v1|{identity.cluster_id}".encode(),
                    hashlib.sha256).digest()


def raft_key(identity: DataDirIdentity) -> str:
    return _derive(identity, "raft").hex()


def peer_key(identity: DataDirIdentity) -> bytes:
    return _derive(identity, "peer http")


def request_signature(key: bytes, method: str, path_qs: str, body: bytes, now_ms: int) -> str:
    """`<ms>.<hex>`: an HMAC of the method, the raw path and query, the time and the body."""
    message = b"\n".join([method.upper().encode(), path_qs.encode(), str(now_ms).encode(),
                          hashlib.sha256(body).digest()])
    return f"{now_ms}.{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def _is_stamp(text: str) -> bool:
    """ASCII digits only: str.isdigit() alone also takes '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def signature_valid(key: bytes, signature: str, method: str, path_qs: str, body: bytes, now_ms: int) -> bool:
    stamp, _, _ = signature.partition(".")
    if not _is_stamp(stamp) or abs(now_ms - int(stamp)) > SIGNATURE_WINDOW_MS:
        return False
    expected = request_signature(key, method, path_qs, body, int(stamp))
    return hmac.compare_digest(expected.encode(), signature.encode())


def on_behalf_token(key: bytes, principal: str, host: str, method: str, path_qs: str,
                    now_ms: int) -> str:
    """A client request one node passes on to another keeps its principal and host:
    `<principal>\\t<host>\\t<ms>.<hex>`, an HMAC binding them to the method, path and time."""
    message = "\n".join(["on behalf", principal, host, method.upper(), path_qs, str(now_ms)]).encode()
    return f"{principal}\t{host}\t{now_ms}.{hmac.new(key, message, hashlib.sha256).hexdigest()}"


def on_behalf_identity(key: bytes, token: str, method: str, path_qs: str,
                       now_ms: int) -> tuple[str, str] | None:
    """(principal, host) from a valid, fresh token; None otherwise."""
    principal, _, rest = token.partition("\t")
    host, _, signed = rest.partition("\t")
    stamp, _, _ = signed.partition(".")
    if not principal or not _is_stamp(stamp) or abs(now_ms - int(stamp)) > SIGNATURE_WINDOW_MS:
        return None
    expected = on_behalf_token(key, principal, host, method, path_qs, int(stamp))
    return (principal, host) if hmac.compare_digest(expected.encode(), token.encode()) else None


def broker_secret(key: bytes, purpose: str) -> bytes:
    """A secret every node of the cluster derives alike from its peer key (the broker login's
    password and salt: kraft/security/broker_login.py)."""
    return hmac.new(key, f"kraft broker {purpose} v1".encode(), hashlib.sha256).digest()
