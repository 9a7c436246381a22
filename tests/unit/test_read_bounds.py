"""The one bound rule every reader of a partition goes by (kraft/replication/read_bounds.py)."""

from __future__ import annotations

import pytest

from kraft.replication.read_bounds import Isolation, read_end

# a log of offsets 10..29 (log end 30), HW 25, LSO 22 (an open transaction from 22)
LOG = {"start": 10, "log_end": 30, "hw": 25, "lso": 22}


@pytest.mark.parametrize("isolation,end", [(Isolation.REPLICA, 30), (Isolation.UNCOMMITTED, 25),
                                           (Isolation.COMMITTED, 22)])
def test_each_reader_stops_at_its_own_bound(isolation, end):
    assert read_end(12, **LOG, isolation=isolation) == end


@pytest.mark.parametrize("isolation", list(Isolation))
def test_every_offset_in_the_log_is_in_range_for_every_reader(isolation):
    # past a consumer's bound but written: answered empty (it waits), never out of range
    for offset in (10, 22, 25, 27, 30):
        end = read_end(offset, **LOG, isolation=isolation)
        assert end is not None
    assert read_end(27, **LOG, isolation=Isolation.UNCOMMITTED) <= 27  # nothing to read yet


@pytest.mark.parametrize("isolation", list(Isolation))
def test_outside_the_log_is_out_of_range_for_every_reader(isolation):
    assert read_end(9, **LOG, isolation=isolation) is None
    assert read_end(31, **LOG, isolation=isolation) is None
