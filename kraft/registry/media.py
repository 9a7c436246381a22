"""Content negotiation as Confluent's registry does it (JAX-RS): an answer is produced in
one of the media types below; a request whose Accept header takes none of them is 406.
Pure."""

from __future__ import annotations

MEDIA_TYPE = "application/vnd.schemaregistry.v1+json"
# what the registry produces, its own type first (the answer to */* or no Accept at all)
PRODUCED = (MEDIA_TYPE, "application/vnd.schemaregistry+json", "application/json")


def _ranges(accept: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q (0 = refused), in order."""
    found = []
    for item in accept.split(","):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        found.append((parts[0].lower(), q))
    return found


def _matches(media_range: str, media_type: str) -> bool:
    kind, _, sub = media_range.partition("/")
    want_kind, _, want_sub = media_type.partition("/")
    return kind in ("*", want_kind) and sub in ("*", want_sub)


def negotiate(accept: str | None) -> str | None:
    """The media type to answer in; None when the header takes none the registry produces."""
    if accept is None or not accept.strip():
        return MEDIA_TYPE
    best: tuple[float, int] | None = None
    for media_range, q in _ranges(accept):
        if q <= 0:
            continue
        for rank, media_type in enumerate(PRODUCED):
            # the highest q wins; among equals, the registry's own type first
            if _matches(media_range, media_type) and (best is None or (q, -rank) > best):
                best = (q, -rank)
    return None if best is None else PRODUCED[-best[1]]
