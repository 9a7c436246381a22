"""Checks a controller's Raft files before pysyncobj opens them.

The library loads a damaged snapshot as "failed to load full dump" and then runs with
an empty image that can win elections; a cut journal dies in a long traceback; a
damaged term/vote file is read as "no vote yet", which could let the node vote twice
in one term. A node whose Raft state is damaged must not vote or lead: it refuses to
start, naming the file and what to do.
"""

from __future__ import annotations

import base64
import gzip
import os
import pickle
import struct
import zlib
from pathlib import Path
from typing import Any

import orjson

from kraft.quorum.protocol import QuorumError
from kraft.storage.log_directory import fsync_directory

RAFT_DIR = "__cluster_metadata"  # in a node's data dir: its Raft files
JOURNAL = "raft.journal"
SNAPSHOT = "raft.snapshot"
JOURNAL_META = "raft.journal.meta"
BOOTSTRAP_VOTERS = "bootstrap-voters.json"  # the voter set this data dir started with (raft_voters)
# present while a voter whose Raft state was lost catches up: it votes for nobody (raft_syncobj)
CATCH_UP_FIRST = "catch-up-first"
_MAGIC = b"PYSYNCOBJ"
_HEADER = 24 + 8 + 4 + 4  # app name, app version, format version, last-record offset
_LAST_OFFSET_AT = 24 + 8 + 4
_SIZE = struct.Struct("<I")

Entry = tuple[bytes, int, int]  # a journal record: (command, index, term)
# What the library keeps beside the image in a snapshot: its last applied entry, the one
# before it, and its cluster configuration (the library's own, opaque here).
RaftData = tuple[Entry, Entry, Any]


class RaftStateDamaged(QuorumError):
    """One line for the operator: which file, what is wrong, what to do."""

    def __init__(self, message: str, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


def check_raft_files(directory: Path) -> None:
    for name, check in ((SNAPSHOT, _check_snapshot), (JOURNAL, _check_journal), (JOURNAL_META, _check_meta)):
        path = directory / name
        if not path.exists():
            continue
        try:
            problem = check(path.read_bytes())
        except OSError as exc:
            problem = f"cannot be read ({exc.strerror})"
        if problem:
            raise RaftStateDamaged(
                f"{path}: {problem}. This controller's Raft state cannot be trusted, so it will "
                f"not vote or lead; move {directory} aside and start it again to rejoin with "
                "empty Raft state (it catches up from the other controllers)", path)


def mark_catch_up_first(directory: Path) -> None:
    """Durably, before the voter set is written: this controller's log may lack entries
    the quorum committed (its Raft state was wiped or lost), so it must not vote until
    its log holds what a leader has committed. An empty log grants any candidate its
    vote: with a lagging voter standing, that vote could elect a leader lacking them."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CATCH_UP_FIRST
    with open(path, "wb") as f:
        f.write(b"no vote until caught up with a leader\n")
        os.fsync(f.fileno())
    fsync_directory(directory)


def caught_up(directory: Path) -> None:
    """The log now holds what a leader committed (made durable by the caller): it may vote."""
    path = directory / CATCH_UP_FIRST
    if path.exists():
        path.unlink()
        fsync_directory(directory)


def read_snapshot(path: Path) -> tuple[dict, RaftData]:
    """(state machine snapshot, the library's bookkeeping) of a snapshot file."""
    with gzip.open(path, "rb") as f:
        payload = orjson.loads(f.read())
    return payload["state"], pickle.loads(base64.b64decode(payload["raft"]))


def write_snapshot(path: Path, state: dict, raft_data: RaftData) -> None:
    """gzip'd JSON of the image; the library's tuple stays pickled, by its rules. fsynced;
    the caller renames it into place."""
    payload = {"state": state, "raft": base64.b64encode(pickle.dumps(raft_data)).decode()}
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as f:
            f.write(orjson.dumps(payload))
        raw.flush()
        os.fsync(raw.fileno())


def journal_entries(data: bytes) -> list[Entry]:
    """(command, index, term) of each record of a journal that _check_journal passed."""
    (last,) = _SIZE.unpack_from(data, _LAST_OFFSET_AT)
    out, offset = [], _HEADER
    while offset < last:
        (size,) = _SIZE.unpack_from(data, offset)
        index, term = struct.unpack_from("<QQ", data, offset + 4)
        out.append((bytes(data[offset + 4 + 16:offset + 4 + size]), index, term))
        offset += size + 8
    return out


def _check_snapshot(data: bytes) -> str | None:
    try:
        payload = orjson.loads(gzip.decompress(data))
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        return f"the metadata snapshot is damaged ({type(exc).__name__}: {exc})"
    if not isinstance(payload, dict) or not {"state", "raft"} <= set(payload):
        return "the metadata snapshot is not one kraft wrote"
    return None


def _check_journal(data: bytes) -> str | None:
    if len(data) < _HEADER or not data.startswith(_MAGIC):
        return "the Raft journal's header is missing or damaged"
    (last,) = _SIZE.unpack_from(data, _LAST_OFFSET_AT)
    if not _HEADER <= last <= len(data):
        return f"the Raft journal says it ends at byte {last} but the file holds {len(data)} bytes (cut short?)"
    offset = _HEADER
    while offset < last:
        if offset + 4 > last:
            return f"the Raft journal's record at byte {offset} is cut short"
        (size,) = _SIZE.unpack_from(data, offset)
        end = offset + 4 + size + 4
        if size < 16 or end > last or _SIZE.unpack_from(data, offset + 4 + size)[0] != size:
            return f"the Raft journal's record at byte {offset} is damaged"
        offset = end
    return None


def _check_meta(data: bytes) -> str | None:
    try:  # the library pickles it; this node wrote it into its own data dir
        meta = pickle.loads(data)
    except Exception as exc:  # any unpickling failure means the same: damaged
        return f"the Raft term and vote file is damaged ({type(exc).__name__})"
    if not isinstance(meta, dict):
        return "the Raft term and vote file is damaged"
    return None
