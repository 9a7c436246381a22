"""Node identity in a data dir: Kafka's `meta.properties`, plus the Raft secret.

A data dir is formatted once (`kraft format`) and checked at every start, so a
node never runs on another node's (or another cluster's) data.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path

META_PROPERTIES = "meta.properties"
PARTITIONS_DIR = "partitions"  # the one log dir under a node's data dir (Kafka's log.dirs)
META_VERSION = "1"
_REQUIRED_KEYS = ("version", "cluster.id", "node.id", "raft.password")
_MAX_NODE_ID = 2**31 - 1
_CLUSTER_ID = re.compile(r"[A-Za-z0-9_-]{22}")


class DataDirError(Exception):
    """A data dir that cannot be used as asked; the message is one line."""


@dataclass(frozen=True)
class DataDirIdentity:
    cluster_id: str
    node_id: int
    raft_password: str


def new_cluster_id() -> str:
    """22 url-safe base64 chars of a random UUID, like `kafka-storage random-uuid`."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


def new_raft_password() -> str:
    return secrets.token_urlsafe(24)


def cluster_id_problem(cluster_id: object) -> str | None:
    """Why this is not a Kafka-style cluster id, or None when it is one."""
    # Like Kafka's decoder, ignore stray low bits in the last char: the example id in
    # Kafka's own docs ("MkU3OEVBNTcwNTJENDM2Qk") has them.
    if not isinstance(cluster_id, str) or not _CLUSTER_ID.fullmatch(cluster_id):
        return f"must be 22 characters of url-safe base64 (16 bytes), got {cluster_id!r}"
    if base64.urlsafe_b64decode(cluster_id + "==") == bytes(16):
        return "the all-zero id is reserved by Kafka; use `kraft format` or a random id"
    return None


def data_dir_problem(path: Path) -> str | None:
    """Why `path` cannot be used as a data dir (exists: must be a read/write dir;
    missing: its nearest existing parent must be a writable dir), or None."""
    try:
        if path.exists():
            if not path.is_dir():
                return f"{path} exists and is not a directory"
            if not os.access(path, os.R_OK | os.X_OK):
                return f"{path} is not readable by this user"
            return _write_problem(path)
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    return f"cannot create {path}: {parent} is a file, not a directory"
                if not os.access(parent, os.W_OK | os.X_OK):
                    return f"cannot create {path}: {parent} is not writable by this user"
                return None
    except OSError as error:
        return f"cannot inspect {path}: {error.strerror or error}"
    return f"cannot create {path}"


def _write_problem(path: Path) -> str | None:
    """Why a file cannot be created in the directory `path`, found by creating one: the
    permission bits do not tell for root, a read-only mount or an immutable directory."""
    probe = path / f".kraft-write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return None  # a leftover of a process with our pid: the directory took it once
    except OSError as error:
        return f"cannot write in {path}: {os.strerror(error.errno) if error.errno else error}"
    os.close(fd)
    os.unlink(probe)
    return None


def _meta_path(path: Path | str) -> Path:
    return Path(path) / META_PROPERTIES


def _render(identity: DataDirIdentity) -> str:
    return (
        "# Written by `kraft format`. Identifies this data dir; do not edit.\n"
        f"version={META_VERSION}\n"
        f"cluster.id={identity.cluster_id}\n"
        f"node.id={identity.node_id}\n"
        f"raft.password={identity.raft_password}\n"
    )


def _parse(text: str, source: Path) -> DataDirIdentity:
    props: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise DataDirError(f"{source}: line {number} is not key=value; the file is corrupt")
        props[key.strip()] = value.strip()
    missing = [key for key in _REQUIRED_KEYS if not props.get(key)]
    if missing:
        raise DataDirError(f"{source}: missing {', '.join(missing)}; the file is corrupt")
    if props["version"] != META_VERSION:
        raise DataDirError(f"{source}: unsupported version={props['version']} (expected {META_VERSION})")
    problem = cluster_id_problem(props["cluster.id"])
    if problem:
        raise DataDirError(f"{source}: cluster.id {problem}")
    node_id = props["node.id"]
    if not (node_id.isascii() and node_id.isdigit()) or int(node_id) > _MAX_NODE_ID:
        raise DataDirError(f"{source}: node.id must be an integer 0..{_MAX_NODE_ID}, got {node_id!r}")
    return DataDirIdentity(props["cluster.id"], int(node_id), props["raft.password"])


def read_identity(path: Path | str) -> DataDirIdentity | None:
    """The dir's identity; None when it is not formatted (missing dir or file)."""
    meta = _meta_path(path)
    if Path(path).exists() and not Path(path).is_dir():
        raise DataDirError(f"{path} is not a directory")
    try:
        data = meta.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise DataDirError(f"cannot read {meta}: {error.strerror}") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DataDirError(f"{meta}: not UTF-8 text; the file is corrupt") from error
    return _parse(text, meta)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new_file(final: Path, content: str) -> None:
    """Write durably; fail with FileExistsError if `final` appeared meanwhile."""
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    # 0600: the file holds the Raft peers' shared secret.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        # link() instead of rename(): it refuses to replace a file another
        # `kraft format` wrote in the meantime.
        os.link(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(final.parent)


def format_data_dir(path: Path | str, cluster_id: str, node_id: int, raft_password: str) -> DataDirIdentity:
    """Create the dir (and parents) and write its identity; refuse a formatted dir."""
    problem = cluster_id_problem(cluster_id)
    if problem:
        raise DataDirError(f"cluster id {problem}")
    if isinstance(node_id, bool) or not isinstance(node_id, int) or not 0 <= node_id <= _MAX_NODE_ID:
        raise DataDirError(f"node id must be an integer 0..{_MAX_NODE_ID}, got {node_id!r}")
    if not raft_password or any(c.isspace() for c in raft_password):
        raise DataDirError("raft password must be non-empty and contain no whitespace")
    directory = Path(path)
    _refuse_if_formatted(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataDirError(f"cannot create {directory}: {error.strerror or error}") from error
    identity = DataDirIdentity(cluster_id, node_id, raft_password)
    try:
        _write_new_file(_meta_path(directory), _render(identity))
    except FileExistsError:
        _refuse_if_formatted(directory)
        raise
    except OSError as error:
        raise DataDirError(f"cannot write {_meta_path(directory)}: {error.strerror or error}") from error
    return identity


def _refuse_if_formatted(path: Path | str) -> None:
    if not _meta_path(path).exists():
        return
    try:
        existing = read_identity(path)
    except DataDirError as error:
        raise DataDirError(f"{path} is already formatted but unreadable ({error})") from error
    if existing is not None:
        raise DataDirError(
            f"{path} is already formatted (cluster.id={existing.cluster_id}, node.id={existing.node_id})"
        )


def check_identity(path: Path | str, node_id: int, cluster_id: str | None = None) -> DataDirIdentity:
    """The dir's identity, after checking it belongs to this node (and cluster)."""
    identity = read_identity(path)
    if identity is None:
        raise DataDirError(f"{path} is not formatted (no {META_PROPERTIES}); run `kraft format --id {node_id}`")
    if identity.node_id != node_id:
        raise DataDirError(
            f"{path} belongs to node.id={identity.node_id}, not node {node_id}; check data_dir in the config"
        )
    if cluster_id is not None and identity.cluster_id != cluster_id:
        raise DataDirError(
            f"{path} belongs to cluster.id={identity.cluster_id}, not {cluster_id}; "
            "it was formatted for another cluster"
        )
    return identity
