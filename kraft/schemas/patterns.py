"""Regular expressions from users (JSON Schema's `pattern`, `patternProperties` keys and
`format: regex` values), compiled and matched with bounds. Matching runs where the node's
heartbeat runs, and a pattern built to backtrack (`^(a|a)+$`) takes time exponential in
the text it is matched against; compiling one with nested counts (`((a{1000}){1000}){1000}`)
takes memory exponential in the pattern. So:

- the `regex` engine (ECMA-262 patterns as Java reads them: `\\p{L}`, `(?<name>..)`), which
  takes a timeout inside the match (Python's `re` holds the GIL for a whole match);
- every match inside one `pattern_budget()` shares its time (a whole request's
  validation); a match past it raises PatternTooSlow, which callers answer as data not
  valid for the schema;
- a pattern is compiled only when its expanded size (counts multiplied through nested
  groups) and nesting are small; else PatternTooLarge, an invalid schema.

jsonschema matches `pattern`, `patternProperties` and `additionalProperties` with
`re.search` inside its keyword modules (and unevaluatedProperties through them): those
modules' `re` is replaced by this module's bounded search (install_into_jsonschema), so
every draft's keywords match here."""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Iterator

import regex

BUDGET_S = 0.2  # the matching one validation (or one request) may do: far below a heartbeat
MAX_EXPANDED = 100_000  # a pattern's size with counts multiplied out (`[0-9a-f]{64}`: 64)
MAX_NESTING = 100  # groups inside groups (the engine's parser recurses on them)
_QUANTIFIER = regex.compile(r"\{(\d{1,9})(?:,(\d{0,9}))?\}")


class PatternTooSlow(Exception):
    def __init__(self, pattern: str) -> None:
        super().__init__(f"matching the pattern {_shown(pattern)} took too long (over {BUDGET_S * 1000:.0f} ms "
                         "in all for this data)")


class PatternTooLarge(ValueError):
    """Compiling the pattern would take too much memory or recursion (an invalid schema)."""


def _shown(pattern: str) -> str:
    return repr(pattern if len(pattern) <= 80 else pattern[:77] + "...")


class _Budget:
    def __init__(self, seconds: float) -> None:
        self.left = seconds


_budget: ContextVar[_Budget | None] = ContextVar("pattern_budget", default=None)


@contextmanager
def pattern_budget(seconds: float = BUDGET_S) -> Iterator[None]:
    """Every match inside shares `seconds`; inside a budget already open, that one goes on."""
    if _budget.get() is not None:
        yield
        return
    token = _budget.set(_Budget(seconds))
    try:
        yield
    finally:
        _budget.reset(token)


def open_request_budget(seconds: float = BUDGET_S) -> None:
    """A budget for the rest of the current task (an HTTP request: aiohttp runs each in a
    task of its own), unless one is open: every record of the request shares it."""
    if _budget.get() is None:
        _budget.set(_Budget(seconds))


def search(pattern: str, text: str) -> Any:
    """regex.search, bounded by the open budget (or a budget of its own)."""
    compiled = compile_pattern(pattern)
    budget = _budget.get() or _Budget(BUDGET_S)
    if budget.left <= 0:
        raise PatternTooSlow(pattern)
    started = time.perf_counter()
    try:
        return compiled.search(text, timeout=budget.left, concurrent=True)
    except TimeoutError:
        budget.left = 0
        raise PatternTooSlow(pattern) from None
    finally:
        budget.left -= time.perf_counter() - started


def check_pattern(pattern: str) -> None:
    """regex.error (not a pattern) or PatternTooLarge (one too costly to compile)."""
    compile_pattern(pattern)


@lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> Any:
    expanded, nesting = _cost(pattern)
    if nesting > MAX_NESTING:
        raise PatternTooLarge(f"the pattern {_shown(pattern)} nests groups deeper than {MAX_NESTING}")
    if expanded > MAX_EXPANDED:
        raise PatternTooLarge(f"the pattern {_shown(pattern)} is too large once its counted repetitions are "
                              f"multiplied out (over {MAX_EXPANDED})")
    return regex.compile(pattern)


def _cost(pattern: str) -> tuple[int, int]:
    """(its size with each `{m,...}` count multiplying what it repeats, its deepest group
    nesting): an estimate from above of what the engine builds, read without compiling."""
    sizes = [0]  # the size of each open group so far, the outermost first
    last = 0  # the size of the item a quantifier would repeat
    deepest, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i = _after_escape(pattern, i)
            last = 1
        elif char == "[":
            i = _after_class(pattern, i)
            last = 1
        elif char == "(":
            sizes.append(0)
            deepest = max(deepest, len(sizes) - 1)
            i, last = i + 1, 0
        elif char == ")" and len(sizes) > 1:
            last = max(sizes.pop(), 1)
            sizes[-1] += last
            i += 1
        elif char == "{" and (count := _QUANTIFIER.match(pattern, i)):
            times = max(int(count.group(1)), 1)
            sizes[-1] += last * (times - 1)
            last *= times
            i = count.end()
        else:
            last = 0 if char in "|?*+" else 1
            sizes[-1] += last
            i += 1
        if sizes[-1] > MAX_EXPANDED:
            return sizes[-1], deepest  # no need to read on
    return sum(sizes), deepest


def _after_escape(pattern: str, i: int) -> int:
    """Past `\\x`, and past its `{...}` for \\p{..}, \\x{..}, \\N{..} (not a count)."""
    i += 2
    if i < len(pattern) and pattern[i] == "{" and pattern[i - 1] in "pPxNuU":
        end = pattern.find("}", i)
        return len(pattern) if end < 0 else end + 1
    return i


def _after_class(pattern: str, i: int) -> int:
    i += 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


class _BoundedRe:
    """What jsonschema's keyword modules see as `re`: search is bounded, the rest is re's."""

    def search(self, pattern: str, string: str, flags: int = 0) -> Any:
        if flags:
            raise ValueError("a bounded search takes no flags")
        return search(pattern, string)

    def __getattr__(self, name: str) -> Any:
        return getattr(re, name)


def install_into_jsonschema() -> None:
    from jsonschema import _keywords, _legacy_keywords, _utils
    for module in (_keywords, _legacy_keywords, _utils):
        module.re = _BoundedRe()  # type: ignore[attr-defined]
