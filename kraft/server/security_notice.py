"""The warning a node gives at start when `[security]` is gone from cluster.toml but the
metadata still holds users or ACLs: they are no longer enforced, and anyone who can
reach the node may do anything. Removing the table may be deliberate; doing it silently
must not be possible."""

from __future__ import annotations

from kraft.metadata.image import MetadataImage

UNENFORCED_SECURITY_START = "cluster.toml has no [security] table"  # `kraft up` repeats the line


def unenforced_security(image: MetadataImage) -> str | None:
    """The warning for a node running without [security] on this image, or None."""
    users, acls = len(image.scram_credentials), len(image.acls)
    if not users and not acls:
        return None
    return (f"{UNENFORCED_SECURITY_START}, but the metadata holds {users} user(s) and "
            f"{acls} ACL(s): they are NOT enforced and this node is open to anyone who can reach "
            "it; add [security] back to enforce them")
