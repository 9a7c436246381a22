"""When a node gives freed memory back to the system (kraft/server/memory_return.py)."""

import subprocess
import sys

from kraft.server.memory_return import MemoryReturner, TrimSchedule

MiB = 1024 * 1024


def test_freed_memory_is_trimmed_once_it_has_grown_enough():
    schedule = TrimSchedule(growth_bytes=32 * MiB)
    assert not schedule.due(resident_bytes=100 * MiB, free_bytes=2 * MiB)
    assert not schedule.due(resident_bytes=380 * MiB, free_bytes=10 * MiB)  # connections open: in use
    assert schedule.due(resident_bytes=380 * MiB, free_bytes=290 * MiB)     # they closed: freed, resident


def test_a_burst_gone_before_the_first_check_is_trimmed():
    schedule = TrimSchedule(growth_bytes=32 * MiB)
    # the node's first look: 1,000 connections opened and closed since it started
    assert schedule.due(resident_bytes=362 * MiB, free_bytes=272 * MiB)


def test_a_trim_is_not_repeated_until_memory_is_freed_again():
    schedule = TrimSchedule(growth_bytes=32 * MiB)
    schedule.due(resident_bytes=100 * MiB, free_bytes=2 * MiB)
    assert schedule.due(resident_bytes=380 * MiB, free_bytes=290 * MiB)
    schedule.trimmed(resident_bytes=105 * MiB, free_bytes=290 * MiB)  # pages back, chunks still free
    assert not schedule.due(resident_bytes=105 * MiB, free_bytes=290 * MiB)
    assert not schedule.due(resident_bytes=380 * MiB, free_bytes=5 * MiB)  # the free chunks reused
    assert schedule.due(resident_bytes=380 * MiB, free_bytes=290 * MiB)   # and freed again


def test_a_burst_between_two_checks_is_seen_by_the_resident_growth():
    schedule = TrimSchedule(growth_bytes=32 * MiB)
    schedule.due(resident_bytes=100 * MiB, free_bytes=2 * MiB)
    schedule.trimmed(resident_bytes=105 * MiB, free_bytes=290 * MiB)
    # opened and closed between two checks: the free bytes look the same, the node grew
    assert schedule.due(resident_bytes=380 * MiB, free_bytes=290 * MiB)


def test_growth_without_free_memory_is_no_reason_to_trim():
    schedule = TrimSchedule(growth_bytes=32 * MiB)
    schedule.due(resident_bytes=100 * MiB, free_bytes=2 * MiB)
    assert not schedule.due(resident_bytes=500 * MiB, free_bytes=3 * MiB)


def test_this_machine_trims_for_real():
    returner = MemoryReturner(TrimSchedule(growth_bytes=0))
    returner._check()  # glibc here (the test images are Debian): a real mallinfo2 and malloc_trim
    assert returner.trims == (1 if returner._glibc is not None else 0)


def test_a_check_out_of_file_descriptors_waits_for_a_later_round(tmp_path):
    """A node out of descriptors (EMFILE) must keep running: the check reads /proc, and an
    error escaping it ended the node's task group (the node exited 1 under a descriptor
    flood). Run in a child, whose descriptor limit is cut to what it has open."""
    script = (
        "import os, resource\n"
        "from kraft.server.memory_return import MemoryReturner\n"
        "returner = MemoryReturner()\n"
        "_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir('/proc/self/fd')) - 1, hard))\n"
        "try:\n"
        "    open('/proc/self/statm').close()\n"
        "except OSError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('the limit left a descriptor free: nothing tested')\n"
        "returner._check()\n"
        "print('still running')\n")
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0 and "still running" in ran.stdout, ran.stderr[-2000:]
