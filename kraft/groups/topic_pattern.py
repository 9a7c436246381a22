"""A topic_pattern subscription, matched with a time bound.

Matching runs on the node's event loop at every rebalance and topic change, so a
pattern that backtracks catastrophically must not be able to stall the node: the
`regex` module stops a match after MATCH_TIMEOUT_S. The matched set is cached per
topic list. Pure apart from the clock the timeout reads.
"""

from __future__ import annotations

import regex
from kraft.config.topic_names import is_internal_topic

MATCH_TIMEOUT_S = 0.02


class PatternTooSlow(ValueError):
    """The pattern took too long on some topic name (the client's fault)."""


class TopicPattern:
    def __init__(self, source: str, timeout_s: float = MATCH_TIMEOUT_S):
        self.source = source
        self._timeout_s = timeout_s
        self._compiled = regex.compile(source)  # raises regex.error for a bad pattern
        self._cached: tuple[tuple[str, ...], frozenset[str]] | None = None

    def matching(self, topics: list[str], strict: bool = False) -> frozenset[str]:
        """The non-internal topics it fully matches. A match that times out counts as no
        match, or raises PatternTooSlow when `strict` (at subscribe time)."""
        key = tuple(topics)
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        found = set()
        for topic in topics:
            if is_internal_topic(topic):
                continue
            try:
                if self._compiled.fullmatch(topic, timeout=self._timeout_s):
                    found.add(topic)
            except TimeoutError:
                if strict:
                    raise PatternTooSlow(f"topic_pattern {self.source[:100]!r} takes too long to match "
                                         f"topic {topic!r}; simplify it") from None
        result = frozenset(found)
        self._cached = (key, result)
        return result
