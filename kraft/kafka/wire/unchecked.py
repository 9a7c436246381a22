"""kio's value types for values kraft computes itself, without kio's runtime range check.

`i32(x)` checks its value through an ABC `isinstance` (about 2 µs): a dozen of them was a
third of building a follower's Fetch. Here the value is only typed; the writer
(wire_writer's `struct` packers) still refuses one that does not fit its width.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import cast

from kio.schema.types import BrokerId
from kio.static.primitive import i32, i32Timedelta, i64

as_i32 = cast(Callable[[int], i32], int)
as_i64 = cast(Callable[[int], i64], int)
as_broker_id = cast(Callable[[int], BrokerId], int)


def as_i32_millis(milliseconds: int) -> i32Timedelta:
    return cast(i32Timedelta, datetime.timedelta(milliseconds=milliseconds))
