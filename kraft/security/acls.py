"""Kafka's ACL model: bindings, the filters that search and delete them. Pure.

A binding says: `principal` from `host` may (ALLOW) or may not (DENY) do `operation` on
the resources `resource_type` + `resource_name` + `pattern_type` name. Names and
semantics are Kafka's (org.apache.kafka.common.acl), so `kafka-acls.sh` users and
Confluent's v3 `/acls` callers read them unchanged. SUBJECT, the schema registry's
subjects (docs/API.md, "Schema registry security"), is kraft's own type beside Kafka's
four: Kafka's wire has no code for it, so the Kafka listener neither shows nor takes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from kraft.errors import BadRequest, InvalidAcl

KAFKA_RESOURCE_TYPES = ("TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID")
RESOURCE_TYPES = KAFKA_RESOURCE_TYPES + ("SUBJECT",)
PATTERN_TYPES = ("LITERAL", "PREFIXED")
OPERATIONS = ("ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE",
              "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE")
PERMISSIONS = ("ALLOW", "DENY")
CLUSTER_RESOURCE = "kafka-cluster"  # the one CLUSTER resource's name, as in Kafka
# the operations Kafka's authorizer knows for each resource type (Kafka 3.x): what KIP-430's
# authorized operations list, on the Kafka listener and over HTTP alike
SUPPORTED_OPERATIONS: dict[str, tuple[str, ...]] = {
    "TOPIC": ("READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"),
    "GROUP": ("READ", "DELETE", "DESCRIBE"),
    "CLUSTER": ("CREATE", "ALTER", "DESCRIBE", "CLUSTER_ACTION", "DESCRIBE_CONFIGS", "ALTER_CONFIGS",
                "IDEMPOTENT_WRITE"),
    "TRANSACTIONAL_ID": ("WRITE", "DESCRIBE"),
    # a registry subject: its schemas read, registered, deleted, seen in listings, its config
    "SUBJECT": ("READ", "WRITE", "DELETE", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"),
}
WILDCARD = "*"
ANY = "ANY"
MATCH = "MATCH"  # a filter's pattern type: every binding that applies to the named resource
FIELDS = ("resource_type", "resource_name", "pattern_type", "principal", "host", "operation",
          "permission")


@dataclass(frozen=True, order=True)
class AclBinding:
    resource_type: str
    resource_name: str
    pattern_type: str
    principal: str
    host: str
    operation: str
    permission: str

    def applies_to(self, resource_type: str, name: str) -> bool:
        if self.resource_type != resource_type:
            return False
        if self.pattern_type == "PREFIXED":
            return name.startswith(self.resource_name)
        return self.resource_name in (name, WILDCARD)

    def to_dict(self) -> dict:
        return {f: getattr(self, f) for f in FIELDS}


def binding_from(fields: dict) -> AclBinding:
    """A binding from request or record fields, every value checked (InvalidAcl)."""
    values = {}
    for name in FIELDS:
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            raise InvalidAcl(f"ACL {name} is required and must be a non-empty string")
        values[name] = value
    for name, allowed in (("resource_type", RESOURCE_TYPES), ("pattern_type", PATTERN_TYPES),
                          ("operation", OPERATIONS), ("permission", PERMISSIONS)):
        values[name] = _one_of(name, values[name], allowed)
    _check_principal(values["principal"])
    binding = AclBinding(**values)
    if binding.resource_type == "CLUSTER" and binding.resource_name != CLUSTER_RESOURCE:
        raise InvalidAcl(f"a CLUSTER ACL's resource_name must be {CLUSTER_RESOURCE!r}")
    if binding.pattern_type == "PREFIXED" and binding.resource_name == WILDCARD:
        raise InvalidAcl("a PREFIXED ACL cannot name the wildcard resource '*'")
    return binding


def _one_of(name: str, value: str, allowed: tuple[str, ...], error=InvalidAcl) -> str:
    upper = value.upper()
    if upper not in allowed:
        raise error(f"ACL {name} must be one of {', '.join(allowed)}, got {value!r}")
    return upper


def _check_principal(principal: str) -> None:
    kind, sep, name = principal.partition(":")
    if not sep or not kind or not name:
        raise InvalidAcl(f"ACL principal must look like 'User:name' or 'User:*', got {principal!r}")


@dataclass(frozen=True)
class AclFilter:
    """Kafka's AclBindingFilter: None (or ANY) matches every value of a field."""

    resource_type: str | None = None
    resource_name: str | None = None
    pattern_type: str | None = None  # LITERAL, PREFIXED, MATCH or None for any
    principal: str | None = None
    host: str | None = None
    operation: str | None = None
    permission: str | None = None

    def to_dict(self) -> dict:
        """The fields that filter (the ones not matching every value)."""
        return {f: getattr(self, f) for f in FIELDS if getattr(self, f) is not None}

    def matches(self, b: AclBinding) -> bool:
        if self.resource_type is not None and b.resource_type != self.resource_type:
            return False
        if not self._resource_matches(b):
            return False
        return all(want is None or want == have for want, have in (
            (self.principal, b.principal), (self.host, b.host),
            (self.operation, b.operation), (self.permission, b.permission)))

    def _resource_matches(self, b: AclBinding) -> bool:
        if self.pattern_type == MATCH:
            if self.resource_name is None:
                return True
            return b.applies_to(b.resource_type, self.resource_name)
        if self.pattern_type is not None and b.pattern_type != self.pattern_type:
            return False
        return self.resource_name is None or self.resource_name == b.resource_name


def filter_from(fields: dict, required: tuple[str, ...] = ()) -> AclFilter:
    """A filter from query parameters: ANY (or absent) is a wildcard; `required` must be given."""
    values: dict = {}
    for name in FIELDS:
        raw = fields.get(name)
        if raw is None or raw == "":
            if name in required:
                raise BadRequest(f"{name} is required (ANY matches every value)")
            continue
        if name in ("resource_name", "principal", "host"):
            values[name] = raw
            continue
        allowed = {"resource_type": RESOURCE_TYPES, "pattern_type": PATTERN_TYPES + (MATCH,),
                   "operation": OPERATIONS, "permission": PERMISSIONS}[name]
        upper = raw.upper()
        if upper == ANY:
            continue
        values[name] = _one_of(name, upper, allowed + (ANY,), BadRequest)
    return AclFilter(**values)
