"""The logs' open-file budget, on real files: at most `limit` descriptors open, the least
recently used closed first, never one in use; a file opened again reads and writes as if
it had never been closed; a file removed meanwhile is not made anew."""

from __future__ import annotations

import os

import pytest

from kraft.storage import descriptors
from kraft.storage.descriptors import Descriptor, DescriptorBudget
from kraft.storage.log_file import LogFile

FLAGS = os.O_RDWR | os.O_CREAT | os.O_APPEND


def test_at_most_the_limit_stay_open_and_the_least_recently_used_closes_first(tmp_path):
    budget = DescriptorBudget(3)
    files = [Descriptor.of_path(tmp_path / f"f{i}", FLAGS, budget=budget) for i in range(5)]
    for d in files[:3]:
        with d as fd:
            os.write(fd, b"x")
    with files[0]:  # used again: now the most recent
        pass
    with files[3]:
        pass
    assert budget.held == 3 and budget.closed_for_room == 1
    assert [d.is_open for d in files] == [True, False, True, True, False]


def test_a_descriptor_in_use_is_never_the_one_closed(tmp_path):
    budget = DescriptorBudget(2)
    held, *others = [Descriptor.of_path(tmp_path / f"f{i}", FLAGS, budget=budget) for i in range(4)]
    fd = held.acquire()  # a reader in the middle of a pread
    for d in others:
        with d:
            pass
    assert held.is_open and held.fd == fd
    os.write(fd, b"still mine")
    held.release()
    assert (tmp_path / "f0").read_bytes() == b"still mine"


def test_a_file_closed_for_room_is_opened_again_where_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(descriptors.BUDGET, "limit", 2)
    logs = [LogFile(tmp_path / f"{i:020d}.log") for i in range(6)]
    for round_ in range(3):
        for i, log in enumerate(logs):
            log.append(f"{round_}:{i};".encode())
    assert descriptors.BUDGET.held <= 2
    for i, log in enumerate(logs):
        assert log.read(0, log.size) == f"0:{i};1:{i};2:{i};".encode()
        log.fsync()
        log.truncate(4)
        assert (tmp_path / f"{i:020d}.log").read_bytes() == f"0:{i};".encode()
    for log in logs:
        log.close()


def test_a_removed_file_is_not_made_anew_and_a_closed_one_is_not_opened(tmp_path):
    budget = DescriptorBudget(1)
    first, second = (Descriptor.of_path(tmp_path / name, FLAGS, budget=budget) for name in ("a", "b"))
    with first:
        pass
    with second:  # first closed for room
        pass
    (tmp_path / "a").unlink()  # its partition deleted
    with pytest.raises(FileNotFoundError), first:
        pass
    assert not (tmp_path / "a").exists()
    second.close()
    with pytest.raises(OSError), second:
        pass



def test_a_file_replaced_meanwhile_is_not_read_through_an_old_handle(tmp_path):
    """A cleaned segment moved over the old one: whoever holds the old file gets an error,
    never the new file's bytes at the old file's positions."""
    budget = DescriptorBudget(1)
    old, other = (Descriptor.of_path(tmp_path / name, FLAGS, budget=budget) for name in ("seg", "other"))
    with old as fd:
        os.write(fd, b"old bytes")
    with other:  # old closed for room
        pass
    (tmp_path / "seg.cleaned").write_bytes(b"new bytes")
    os.replace(tmp_path / "seg.cleaned", tmp_path / "seg")
    with pytest.raises(OSError, match="replaced"), old:
        pass


def test_past_the_slices_limit_a_slice_holds_a_copy_not_a_descriptor(tmp_path, monkeypatch):
    """A Fetch answer of thousands of partitions holds a slice per partition until it is
    sent: past the limit they hold their bytes, and the process's descriptors stay few."""
    monkeypatch.setattr(descriptors.SLICES, "limit", descriptors.SLICES.held + 2)
    log = LogFile(tmp_path / "00000000000000000000.log")
    log.append(b"0123456789")
    before = len(os.listdir("/proc/self/fd"))
    slices = [log.slice(i, 3) for i in range(6)]
    assert len(os.listdir("/proc/self/fd")) - before == 2
    assert [s.file is not None for s in slices] == [True, True, False, False, False, False]
    log.close()  # the segment deleted before the answer was sent: every slice still reads
    assert [s.read() for s in slices] == [b"012", b"123", b"234", b"345", b"456", b"567"]
    for s in slices:
        s.close()
    assert len(os.listdir("/proc/self/fd")) == before - 1


def test_a_slow_open_holds_up_no_other_file_and_two_openers_of_one_file_share_it(tmp_path):
    """Thousands of new logs open their files from many threads at once: an open waiting on
    the file system must not make the others wait their turn."""
    import threading

    budget = DescriptorBudget(10)
    release_slow, slow_done, entered = threading.Event(), threading.Event(), threading.Semaphore(0)

    def slow_opener() -> int:
        entered.release()
        release_slow.wait(5)  # until the other file was opened, or the test gives up
        slow_done.set()
        return os.open(tmp_path / "slow", FLAGS)

    slow = Descriptor(slow_opener, budget)
    quick = Descriptor.of_path(tmp_path / "quick", FLAGS, budget=budget)
    results: dict[str, int] = {}
    threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, slow.acquire())) for k in ("a", "b")]
    for t in threads:
        t.start()
    assert entered.acquire(timeout=5)  # a thread is inside the slow open
    with quick as fd:  # answered while both threads wait inside the slow open
        assert fd >= 0 and not slow_done.is_set()
    release_slow.set()
    for t in threads:
        t.join(10)
    assert results["a"] == results["b"] == slow.fd  # one descriptor; the second open closed
    assert slow.users == 2 and budget.held == 2
    slow.release()
    slow.release()
