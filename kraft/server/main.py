"""`kraft node`: run one node in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import urllib.request

from kraft.config.cluster import ClusterConfig, ConfigFileError, check_data_dirs
from kraft.config.data_dir import (
    DataDirError,
    DataDirIdentity,
    check_identity,
    format_data_dir,
    read_identity,
)
from kraft.quorum.raft_files import RaftStateDamaged
from kraft.quorum.raft_library import LibraryChanged
from kraft.server import owner_exit, tls
from kraft.server.loop_errors import LoopErrorReporter
from kraft.server.node import Node
from kraft.server.startup_failure import NodeCannotStart, NodeNotAdmitted, os_reason


PEER_CHECK_TIMEOUT_S = 1.0


class StartupError(Exception):
    """Refusal to start, said in one line."""


def resolve_identity(config: ClusterConfig, node_id: int) -> DataDirIdentity:
    node = config.node(node_id)
    check_data_dirs(config, [node_id])
    path = node.data_path
    if read_identity(path) is None:
        if config.cluster.id is None:
            raise StartupError(
                f"{path} is not formatted: run `kraft up`, or `kraft format -c FILE --id {node_id}`, "
                "or set [cluster] id (and raft_password) so nodes format themselves")
        if config.cluster.raft_password is None:
            raise StartupError(
                "[cluster] id is set but raft_password is not: every node must share one "
                "password, so set [cluster] raft_password")
        return format_data_dir(path, config.cluster.id, node_id, config.cluster.raft_password)
    return check_identity(path, node_id, config.cluster.id)


def check_cluster_of_peers(config: ClusterConfig, node_id: int, identity: DataDirIdentity) -> None:
    """Refuse a data dir of another cluster: when the other nodes that answer agree on a
    cluster id that is not this dir's. Checked on every start, whatever the file says
    (the derived keys also keep such a node out of the quorum when nobody answers)."""
    seen: dict[str, list[int]] = {}
    for other in config.nodes:
        if other.id == node_id:
            continue
        try:
            with urllib.request.urlopen(other.http_url + "/v3/clusters", timeout=PEER_CHECK_TIMEOUT_S,
                                        context=tls.client_context(config)) as resp:
                cluster_id = json.loads(resp.read())["data"][0]["cluster_id"]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue  # down or not serving yet: nothing learned
        seen.setdefault(str(cluster_id), []).append(other.id)
    if len(seen) == 1 and identity.cluster_id not in seen:
        (theirs, nodes), = seen.items()
        raise StartupError(
            f"{config.node(node_id).data_path} belongs to cluster {identity.cluster_id}, but nodes "
            f"{nodes} serve cluster {theirs}: this data dir is another cluster's; refusing to start")


def run_node(config: ClusterConfig, node_id: int) -> int:
    owner_exit.watch_owner()  # a test's node ends with the test process that started it
    if problem := config.exposure_problem(node_id):
        print(f"kraft node: node {node_id} refuses to start: {problem}", file=sys.stderr)
        return 2
    try:
        identity = resolve_identity(config, node_id)
        check_cluster_of_peers(config, node_id, identity)
    except (StartupError, DataDirError, ConfigFileError) as exc:
        print(f"kraft node: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr,
        format=f"%(asctime)s node-{node_id} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    for warning in config.warnings:
        logging.warning("%s", warning)
    try:
        asyncio.run(_serve(config, node_id, identity))
    except (RaftStateDamaged, NodeNotAdmitted) as exc:  # 2: the operator must act (see deploy/systemd)
        print(f"kraft node: node {node_id} refuses to start: {exc}", file=sys.stderr)
        return 2
    except (NodeCannotStart, LibraryChanged) as exc:
        print(f"kraft node: node {node_id} cannot start: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a data dir file it cannot create or write
        print(f"kraft node: node {node_id} cannot start: {os_reason(exc)}", file=sys.stderr)
        return 1
    except BaseExceptionGroup as group:  # a part's disk error on the way down, e.g. a full disk
        failure = _os_error_in(group)  # that takes no clean-shutdown mark: the logs are
        if failure is None:            # recovered at the next start, as after a crash
            raise
        print(f"kraft node: node {node_id} stopped without a clean shutdown: {os_reason(failure)}",
              file=sys.stderr)
        return 1
    return 0


def _os_error_in(group: BaseExceptionGroup) -> OSError | None:
    """The first OSError of a group whose errors are all OSErrors; None otherwise."""
    matched, rest = group.split(OSError)
    if matched is None or rest is not None:
        return None
    first: BaseException = matched
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first if isinstance(first, OSError) else None


async def _serve(config: ClusterConfig, node_id: int, identity: DataDirIdentity) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(LoopErrorReporter())
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    node = Node(config, node_id, identity)
    await node.run(stop)
