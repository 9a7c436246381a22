"""The authorization decision, as Kafka's StandardAuthorizer makes it. Pure.

Super users may do anything. Otherwise the bindings that apply to the resource decide:
a DENY for the operation (or ALL) wins over any ALLOW; an ALLOW must name the operation,
ALL, or one that implies it (READ, WRITE, DELETE and ALTER imply DESCRIBE; ALTER_CONFIGS
implies DESCRIBE_CONFIGS). With no binding on the resource at all, the answer is
`allow_everyone_if_no_acl_found`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable

from kraft.security.acls import WILDCARD, AclBinding

ANONYMOUS = "User:ANONYMOUS"

_ALLOWED_BY = {
    "DESCRIBE": frozenset({"DESCRIBE", "ALL", "READ", "WRITE", "DELETE", "ALTER"}),
    "DESCRIBE_CONFIGS": frozenset({"DESCRIBE_CONFIGS", "ALL", "ALTER_CONFIGS"}),
}


def user_principal(name: str) -> str:
    return name if name.startswith("User:") else f"User:{name}"


class Authorizer:
    def __init__(self, acls: Iterable[AclBinding], super_users: Iterable[str] = (),
                 allow_if_no_acl: bool = False) -> None:
        self._by_type: dict[str, list[AclBinding]] = defaultdict(list)
        for binding in acls:
            self._by_type[binding.resource_type].append(binding)
        self._super_users = frozenset(user_principal(u) for u in super_users)
        self._allow_if_no_acl = allow_if_no_acl

    def authorize(self, principal: str, host: str, operation: str, resource_type: str,
                  name: str) -> bool:
        if principal in self._super_users:
            return True
        applying = [b for b in self._by_type.get(resource_type, ()) if b.applies_to(resource_type, name)]
        if not applying:
            return self._allow_if_no_acl
        mine = _of(applying, principal, host)
        if any(b.permission == "DENY" and b.operation in (operation, "ALL") for b in mine):
            return False
        allowed_by = _ALLOWED_BY.get(operation, frozenset({operation, "ALL"}))
        return any(b.permission == "ALLOW" and b.operation in allowed_by for b in mine)

    def any_allowed(self, principal: str, host: str, operation: str, resource_type: str) -> bool:
        """Is there some resource of this type the principal may do `operation` on? (Kafka's
        authorizeByResourceType: e.g. idempotent produce needs WRITE on some topic.)"""
        if principal in self._super_users:
            return True
        mine = _of(self._by_type.get(resource_type, ()), principal, host)
        allowed_by = _ALLOWED_BY.get(operation, frozenset({operation, "ALL"}))
        allows = [b for b in mine if b.permission == "ALLOW" and b.operation in allowed_by]
        denies_all = any(b.permission == "DENY" and b.operation in (operation, "ALL")
                         and b.pattern_type == "LITERAL" and b.resource_name == WILDCARD for b in mine)
        return bool(allows) and not denies_all


def _of(bindings, principal: str, host: str) -> list[AclBinding]:
    """The bindings that name this principal (or User:*) from this host (or *)."""
    return [b for b in bindings if b.principal in (principal, "User:*") and b.host in (host, WILDCARD)]
