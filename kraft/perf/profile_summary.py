"""Where the time goes, from py-spy's collapsed stacks (`py-spy record --format raw`).

Each line of that format is `frame;frame;...;frame count`, outermost frame first; with
`--threads` the first frame names the thread. A frame reads `function (file:line)`, the
line is dropped here so that one function's samples add up.

With `--native` py-spy cannot tell a thread waiting in epoll or on a lock from a busy
one, so the own time is given per innermost *Python* frame (a wait shows as
`select (selectors.py)` or `Condition.wait (threading.py)`), and the inclusive list
keeps only the project's and its network libraries' frames.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

_LINE = re.compile(r":\d+\)$")


def frame_name(frame: str) -> str:
    """`handle (kraft/kafka/connection/listener.py:120)` -> `handle (kraft/kafka/connection/listener.py)`,
    with the path cut to its part under site-packages or the repository."""
    frame = _LINE.sub(")", frame.strip())
    for marker in ("site-packages/", "/kraft/", "/lib/python3.11/"):
        head, sep, tail = frame.partition(marker)
        if sep:
            name = head.split(" (")[0]
            prefix = "kraft/" if marker == "/kraft/" else ""
            return f"{name} ({prefix}{tail}"
    return frame


OURS = ("kraft/", "aiohttp/", "kio/", "pysyncobj/")


def is_python(name: str) -> bool:
    return name.endswith(".py)") or name.endswith("<string>)")


@dataclass
class Profile:
    samples: int = 0
    threads: Counter = field(default_factory=Counter)    # thread frame -> samples
    own: Counter = field(default_factory=Counter)        # innermost frame -> samples
    inclusive: Counter = field(default_factory=Counter)  # any frame on the stack -> samples (once per stack)

    def top(self, counter: Counter, n: int = 15) -> list[tuple[str, int, float]]:
        return [(name, count, 100.0 * count / self.samples) for name, count in counter.most_common(n)] \
            if self.samples else []


def summarise(text: str, threads: bool = True) -> Profile:
    """A Profile of py-spy's raw output; `threads`: the first frame is the thread's name."""
    profile = Profile()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not (count_text.isascii() and count_text.isdigit()):
            continue
        count = int(count_text)
        frames = stack.split(";")
        if threads:
            profile.threads[frames[0]] += count
            frames = frames[1:]
        names = [frame_name(f) for f in frames]
        profile.samples += count
        python = [n for n in names if is_python(n)]
        if python:
            profile.own[python[-1]] += count
        for name in set(python):
            if any(f"({prefix}" in name for prefix in OURS):
                profile.inclusive[name] += count
    return profile


def report(profile: Profile, title: str, n: int = 15) -> str:
    lines = [f"{title}: {profile.samples} samples"]
    lines += [f"  thread {name}: {count}" for name, count in profile.threads.most_common(5)]
    lines.append("  own time (innermost Python frame):")
    lines += [f"    {pct:5.1f} %  {name}" for name, _count, pct in profile.top(profile.own, n)]
    lines.append("  inclusive (kraft and its network libraries, on the stack):")
    lines += [f"    {pct:5.1f} %  {name}" for name, _count, pct in profile.top(profile.inclusive, n)]
    return "\n".join(lines)
