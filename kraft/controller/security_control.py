"""ACL and user commands: image in, records out. Pure.

Credentials arrive already salted and derived (the node that took the password did
it), so neither a password nor randomness reaches the controller or the log.
"""

from __future__ import annotations

from kraft.config.cluster import user_name_problem
from kraft.errors import InvalidValue, NotFound, UserAlreadyExists
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import (
    AccessControlEntry,
    RemoveAccessControlEntry,
    RemoveUserScramCredential,
    UserScramCredential,
)
from kraft.security.acls import AclBinding, AclFilter
from kraft.security.scram import ScramCredential

MAX_ACLS_PER_REQUEST = 1000


def create_acls(image: MetadataImage, bindings: list[AclBinding]) -> tuple[list, dict]:
    if not bindings:
        raise InvalidValue("no ACLs given")
    if len(bindings) > MAX_ACLS_PER_REQUEST:
        raise InvalidValue(f"at most {MAX_ACLS_PER_REQUEST} ACLs per request")
    new = [b for b in dict.fromkeys(bindings) if b not in image.acls]
    return [AccessControlEntry(**b.to_dict()) for b in new], {"created": len(new)}


def delete_acls(image: MetadataImage, acl_filter: AclFilter) -> tuple[list, dict]:
    gone = sorted(b for b in image.acls if acl_filter.matches(b))
    return ([RemoveAccessControlEntry(**b.to_dict()) for b in gone],
            {"deleted": [b.to_dict() for b in gone]})


def set_user_credential(image: MetadataImage, name: str, credential: ScramCredential,
                        mode: str = "upsert") -> tuple[list, dict]:
    """mode: "create" refuses an existing user, "update" a missing one, "upsert" neither."""
    check_user_name(name)
    existed = name in image.scram_credentials
    if mode == "create" and existed:
        raise UserAlreadyExists(f"user {name!r} already exists")
    if mode == "update" and not existed:
        raise NotFound(f"no user {name!r}")
    # a new password replaces the user's credential of every mechanism, not just this one
    stale = [RemoveUserScramCredential(name=name, mechanism=m)
             for m in sorted(image.scram_credentials.get(name, {})) if m != credential.mechanism]
    return (stale + [UserScramCredential(name=name, **credential.to_record_fields())],
            {"name": name, "mechanism": credential.mechanism, "created": not existed})


def delete_user(image: MetadataImage, name: str) -> tuple[list, dict]:
    mechanisms = image.scram_credentials.get(name)
    if not mechanisms:
        raise NotFound(f"no user {name!r}")
    return ([RemoveUserScramCredential(name=name, mechanism=m) for m in sorted(mechanisms)],
            {"name": name})


def bootstrap_users(image: MetadataImage, credentials: dict[str, ScramCredential]) -> list:
    """Users from cluster.toml that have no credential yet (a changed password stays)."""
    return [UserScramCredential(name=name, **cred.to_record_fields())
            for name, cred in sorted(credentials.items()) if name not in image.scram_credentials]


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 256:
        raise InvalidValue("a user name is a string of 1 to 256 characters")
    if problem := user_name_problem(name):
        raise InvalidValue(problem)
    return name
