"""Kafka's max.connections.per.ip.overrides: "host:count,host:count" (pure)."""

from __future__ import annotations


def parse_overrides(text: str) -> dict[str, int]:
    """"host:count,host:count" -> {host: count}; ValueError says what is wrong.
    An IPv6 address keeps its colons: the count is after the last one."""
    out: dict[str, int] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        host, colon, count = entry.rpartition(":")
        host = host.strip().removeprefix("[").removesuffix("]")
        if not colon or not host or not count.strip().isdigit():
            raise ValueError(f'each override is "host:count" with a count of 0 or more, got {entry!r}')
        out[host] = int(count)
    return out
