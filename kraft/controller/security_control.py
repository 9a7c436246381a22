"""ACL and user commands: image in, records out. Pure.

Credentials arrive already salted and derived (the node that took the password did
it), so neither a password nor randomness reaches the controller or the log.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraft.controller.result import ControllerResult
from kraft.config.cluster import user_name_problem
from kraft.errors import (
    CredentialNotFound,
    DuplicateResource,
    InvalidValue,
    KraftError,
    NotFound,
    UnacceptableCredential,
    UnsupportedSaslMechanism,
    UserAlreadyExists,
)
from kraft.metadata.image import MetadataImage
from kraft.metadata.records import (
    AccessControlEntry,
    MetadataRecord,
    RemoveAccessControlEntry,
    RemoveUserScramCredential,
    UserScramCredential,
)
from kraft.security.acls import AclBinding, AclFilter
from kraft.security.scram import MAX_ITERATIONS, MECHANISMS, MIN_ITERATIONS, ScramCredential

MAX_ACLS_PER_REQUEST = 1000


def create_acls(image: MetadataImage, bindings: list[AclBinding]) -> ControllerResult:
    if not bindings:
        raise InvalidValue("no ACLs given")
    if len(bindings) > MAX_ACLS_PER_REQUEST:
        raise InvalidValue(f"at most {MAX_ACLS_PER_REQUEST} ACLs per request")
    new = [b for b in dict.fromkeys(bindings) if b not in image.acls]
    return ControllerResult([AccessControlEntry(**b.to_dict()) for b in new], {"created": len(new)})


def delete_acls(image: MetadataImage, acl_filter: AclFilter) -> ControllerResult:
    gone = sorted(b for b in image.acls if acl_filter.matches(b))
    return ControllerResult([RemoveAccessControlEntry(**b.to_dict()) for b in gone],
                            {"deleted": [b.to_dict() for b in gone]})


def set_user_credential(image: MetadataImage, name: str, credential: ScramCredential,
                        mode: str = "upsert") -> ControllerResult:
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
    return ControllerResult(stale + [UserScramCredential(name=name, **credential.to_record_fields())],
                            {"name": name, "mechanism": credential.mechanism, "created": not existed})


def delete_user(image: MetadataImage, name: str) -> ControllerResult:
    mechanisms = image.scram_credentials.get(name)
    if not mechanisms:
        raise NotFound(f"no user {name!r}")
    return ControllerResult([RemoveUserScramCredential(name=name, mechanism=m) for m in sorted(mechanisms)],
                            {"name": name})


@dataclass(frozen=True)
class ScramUpsert:
    """One credential of Kafka's AlterUserScramCredentials, derived where it arrived."""

    name: str
    mechanism: str  # "" when the client named a mechanism kraft does not know
    iterations: int
    credential: ScramCredential | None  # None: the request carried no salt or salted password


def alter_scram_credentials(image: MetadataImage, deletions: list[tuple[str, str]],
                            upserts: list[ScramUpsert]) -> ControllerResult:
    """Kafka's AlterUserScramCredentials: per mechanism (a user's other credentials stay,
    unlike set_user_credential's new password). Each user is answered once; one named
    twice in a request changes nothing (DUPLICATE_RESOURCE), one whose change is refused
    keeps what it had, the others change."""
    errors: dict[str, KraftError] = {}
    deleting: dict[str, str] = {}
    upserting: dict[str, ScramUpsert] = {}
    order: list[str] = []
    twice = "a user's credentials may be changed once per request"
    for name, mechanism in deletions:
        order.append(name)
        if name in errors:
            continue
        if deleting.pop(name, None) is not None:
            errors[name] = DuplicateResource(twice)
        elif (problem := _deletion_problem(image, name, mechanism)) is not None:
            errors[name] = problem
        else:
            deleting[name] = mechanism
    for upsert in upserts:
        order.append(upsert.name)
        if upsert.name in errors:
            continue
        if deleting.pop(upsert.name, None) is not None or upserting.pop(upsert.name, None) is not None:
            errors[upsert.name] = DuplicateResource(twice)
        elif (problem := _upsert_problem(upsert)) is not None:
            errors[upsert.name] = problem
        else:
            upserting[upsert.name] = upsert
    records: list[MetadataRecord] = [RemoveUserScramCredential(name=n, mechanism=m) for n, m in deleting.items()]
    records += [UserScramCredential(name=n, **u.credential.to_record_fields())
                for n, u in upserting.items() if u.credential is not None]
    results = [{"user": n, "error": type(errors[n]).__name__ if n in errors else None,
                "message": errors[n].message if n in errors else None} for n in dict.fromkeys(order)]
    return ControllerResult(records, {"results": results})


def _deletion_problem(image: MetadataImage, name: str, mechanism: str) -> KraftError | None:
    if not name:
        return UnacceptableCredential("a user name must not be empty")
    if mechanism not in MECHANISMS:
        return UnsupportedSaslMechanism(f"unknown SCRAM mechanism; kraft knows {', '.join(MECHANISMS)}")
    if mechanism not in image.scram_credentials.get(name, {}):
        return CredentialNotFound(f"user {name!r} has no {mechanism} credential to delete")
    return None


def _upsert_problem(upsert: ScramUpsert) -> KraftError | None:
    if not upsert.name:
        return UnacceptableCredential("a user name must not be empty")
    if upsert.mechanism not in MECHANISMS:
        return UnsupportedSaslMechanism(f"unknown SCRAM mechanism; kraft knows {', '.join(MECHANISMS)}")
    if upsert.iterations < MIN_ITERATIONS:
        return UnacceptableCredential(f"too few iterations: {upsert.iterations} (at least {MIN_ITERATIONS})")
    if upsert.iterations > MAX_ITERATIONS:
        return UnacceptableCredential(f"too many iterations: {upsert.iterations} (at most {MAX_ITERATIONS})")
    if upsert.credential is None:
        return UnacceptableCredential("a credential needs a salt and a salted password")
    if len(upsert.name) > 256 or (problem := user_name_problem(upsert.name)):
        return UnacceptableCredential(problem or "a user name has at most 256 characters")
    return None


def bootstrap_users(image: MetadataImage, credentials: dict[str, ScramCredential]) -> list[MetadataRecord]:
    """Users from cluster.toml that have no credential yet (a changed password stays)."""
    return [UserScramCredential(name=name, **cred.to_record_fields())
            for name, cred in sorted(credentials.items()) if name not in image.scram_credentials]


def check_user_name(name: object) -> str:
    if not isinstance(name, str) or not name or len(name) > 256:
        raise InvalidValue("a user name is a string of 1 to 256 characters")
    if problem := user_name_problem(name):
        raise InvalidValue(problem)
    return name
