"""The "did you mean" hint every refused config name carries: a section or key of
cluster.toml, a topic config, a broker config. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str], cutoff: float = 0.6) -> str:
    """' (did you mean "x"?)' for the known name closest to `name`, or "" when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=cutoff)
    return f' (did you mean "{close[0]}"?)' if close else ""
