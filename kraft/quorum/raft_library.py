"""The ground the quorum adapter stands on: every member of pysyncobj outside its public
API that kraft reads, writes, overrides or replaces, by where pysyncobj has it.

pysyncobj is pinned (pyproject.toml) to the release this adapter is written against. Its
private members (name-mangled `__x`, or `_x` by convention) may change in any release
without notice; a change would silently break the rules raft_syncobj, raft_transport
and raft_durable add (durability before sending, pre-vote, bounded frames, one voter
change at a time). So each one is named here, `missing()` checks them against the
installed library, RaftQuorum.start refuses to run on a library that lacks one (naming
it), and tests/unit/test_raft_library.py fails when the code touches a private member not
named here. docs/DESIGN.md ("The quorum adapter") says why each group is needed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from importlib import metadata

from kraft.quorum.protocol import QuorumError

WRITTEN_AGAINST = "0.3.17"

# "module:Class" -> members, as the class's own code names them ("__x" is name-mangled).
CLASS_MEMBERS: dict[str, tuple[str, ...]] = {
    "pysyncobj.syncobj:SyncObj": (
        # overridden: what a message, an append, a membership change and a snapshot load do
        "__onMessageReceived", "__deleteEntriesFrom", "__changeCluster", "__doChangeCluster",
        "__doApplyCommand", "__loadDumpFile", "__connectedToAnyone", "__onReadonlyNodeDisconnected",
        "_onTick",  # wrapped: how long one turn of the tick thread took (raft_tick_watch)
        # called: the log's end, a random election timeout, the set of peers
        "__getCurrentLogIndex", "__getCurrentLogTerm", "__generateRaftTimeout", "__updateClusterConfiguration",
        "_isLeader", "_getLeader", "_applyCommand", "forceLogCompaction",
        # read or written: the leader's view of its followers, the log, the election timer
        "__raftNextIndex", "__raftMatchIndex", "__lastResponseTime", "__leaderCommitIndex", "__otherNodes",
        "__raftLog", "__readonlyNodes", "__selfNode", "__transferInProgress", "__transport",
        "__recvTransmission", "__raftElectionDeadline",
    ),
    "pysyncobj.transport:TCPTransport": (
        # overridden: who connects, what a connection announces, what an incoming one may do
        "_createServer", "_shouldConnect", "_sendSelfAddress", "_onIncomingMessageReceived",
        "_onUtilityMessage", "_onNewIncomingConnection", "_onTick",
        "_nodes", "_connections", "_nodeAddrToNode", "_preventConnectNodes", "_selfNode", "_server",
        "_syncObj", "_unknownConnections",
    ),
    "pysyncobj.tcp_connection:TcpConnection": (
        "__processRead", "__processParseMessage",  # overridden: bounded reads and frames
        "__readBuffer", "__socket", "__recvBufferSize",
    ),
    "pysyncobj.tcp_server:TcpServer": (
        "__onNewConnection",  # overridden: accepting pauses instead of failing
        "__poller", "__fileno", "__sendBufferSize", "__recvBufferSize", "__socket", "__state",
        "__onNewConnectionCallback", "__keepalive", "__connectionTimeout",
    ),
    "pysyncobj.journal:FileJournal": ("__metaStorer",),  # the term and vote kept by raft_durable
}
# "module" -> names replaced in it (the library looks them up at call time)
MODULE_MEMBERS: dict[str, tuple[str, ...]] = {
    "pysyncobj.syncobj": ("createJournal",),
    "pysyncobj.tcp_connection": ("socket",),
    "pysyncobj.tcp_server": ("TcpConnection", "SERVER_STATE"),
    "pysyncobj.transport": ("TcpConnection", "TcpServer"),
}


class LibraryChanged(QuorumError):
    """The installed pysyncobj lacks a member the adapter relies on."""


def attribute_name(class_name: str, member: str) -> str:
    """The attribute a member is stored as: `__x` of class C is `_C__x`."""
    return f"_{class_name}{member}" if member.startswith("__") else member


def missing(class_members: dict[str, tuple[str, ...]] | None = None,
            module_members: dict[str, tuple[str, ...]] | None = None) -> list[str]:
    """"Class.member" (or "module.name") for each one the installed library lacks: a
    method or class attribute, or an attribute its own code sets or reads on `self`."""
    gone = []
    for where, members in (CLASS_MEMBERS if class_members is None else class_members).items():
        module_name, class_name = where.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        source = inspect.getsource(cls)
        for member in members:
            named = attribute_name(class_name, member)
            if not hasattr(cls, named) and not re.search(rf"\bself\.{re.escape(member)}\b", source):
                gone.append(f"{class_name}.{member}")
    for module_name, names in (MODULE_MEMBERS if module_members is None else module_members).items():
        module = importlib.import_module(module_name)
        gone.extend(f"{module_name}.{name}" for name in names if not hasattr(module, name))
    return gone


def installed_version() -> str:
    try:
        return metadata.version("pysyncobj")
    except metadata.PackageNotFoundError:
        return "unknown"


def check() -> None:
    """Raise LibraryChanged naming every member the installed pysyncobj lacks."""
    gone = missing()
    if gone:
        raise LibraryChanged(
            f"pysyncobj {installed_version()} lacks {', '.join(gone)}, which kraft's metadata quorum relies on "
            f"(it is written against pysyncobj {WRITTEN_AGAINST}): install pysyncobj=={WRITTEN_AGAINST}")
