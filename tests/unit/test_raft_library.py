"""The quorum adapter touches pysyncobj only where kraft/quorum/raft_library.py says: a
release that changes one of those members is refused by name, and a new private member
in the code fails here until it is named there."""

from __future__ import annotations

import re
from pathlib import Path

import pysyncobj
import pytest

from kraft.quorum import raft_library

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = Path(pysyncobj.__file__).parent
MANGLED = re.compile(r"_(SyncObj|TCPTransport|TcpConnection|TcpServer|FileJournal)(__[A-Za-z]\w*)")


def registered(class_name: str) -> set[str]:
    return {m for where, members in raft_library.CLASS_MEMBERS.items() if where.endswith(":" + class_name)
            for m in members}


def kraft_sources() -> dict[Path, str]:
    return {p: p.read_text() for p in (ROOT / "kraft").rglob("*.py")}


def test_the_installed_library_has_every_member_the_adapter_relies_on():
    assert raft_library.missing() == [], raft_library.missing()
    assert raft_library.installed_version() == raft_library.WRITTEN_AGAINST


def test_every_name_mangled_member_the_code_touches_is_named():
    unnamed = sorted({f"{path.relative_to(ROOT)}: _{cls}{member}" for path, text in kraft_sources().items()
                      for cls, member in MANGLED.findall(text) if member not in registered(cls)})
    assert not unnamed, f"name these in kraft/quorum/raft_library.py: {unnamed}"


def test_every_underscore_member_of_the_library_the_adapter_touches_is_named():
    library = "".join(p.read_text() for p in LIBRARY.glob("*.py"))
    theirs = set(re.findall(r"self\.(_[a-zA-Z]\w*)", library)) | set(re.findall(r"def (_[a-zA-Z]\w*)", library))
    named = {m for members in raft_library.CLASS_MEMBERS.values() for m in members}
    adapter = "".join(p.read_text() for p in (ROOT / "kraft" / "quorum").glob("*.py"))
    ours = set(re.findall(r"\.(_[a-zA-Z]\w*)\b", adapter)) | set(re.findall(r"def (_[a-zA-Z]\w*)", adapter))
    assert not sorted((theirs & ours) - named), \
        f"name these in kraft/quorum/raft_library.py: {sorted((theirs & ours) - named)}"


def test_a_library_without_a_member_is_refused_naming_it(monkeypatch):
    assert raft_library.missing({"pysyncobj.syncobj:SyncObj": ("__raftNextIndex", "__noSuchMember")}, {}) \
        == ["SyncObj.__noSuchMember"]
    assert raft_library.missing({}, {"pysyncobj.transport": ("TcpServer", "NoSuchName")}) \
        == ["pysyncobj.transport.NoSuchName"]
    monkeypatch.setattr(raft_library, "CLASS_MEMBERS", {"pysyncobj.journal:FileJournal": ("__goneInARelease",)})
    with pytest.raises(raft_library.LibraryChanged) as refused:
        raft_library.check()
    assert "FileJournal.__goneInARelease" in str(refused.value)
    assert f"pysyncobj=={raft_library.WRITTEN_AGAINST}" in str(refused.value)
