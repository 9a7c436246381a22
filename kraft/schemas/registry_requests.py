"""The registry's write requests, checked from what a client sent (its JSON body and
query), and as JSON between nodes (a node that does not write forwards them to the one
that does). Checks here need no state; registry_writes.py decides the rest. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Union

from kraft.schemas import registry_contracts as contracts
from kraft.schemas.compatibility import LEVELS
from kraft.schemas.format_table import DEFAULT_TYPE
from kraft.schemas.formats import SchemaReference
from kraft.schemas.registry_errors import (INVALID_COMPATIBILITY_LEVEL, INVALID_MODE, INVALID_SCHEMA,
                                           INVALID_SUBJECT, INVALID_VERSION, RegistryError, invalid_version)
from kraft.schemas.registry_state import MODES

LATEST = -1  # "latest" (and -1, as Confluent accepts) in a path's version
MAX_VERSION = 2**31 - 1
MAX_SCHEMA_CHARS = 512 * 1024  # a stored schema fits one record of `_schemas` with room to spare


@dataclass(frozen=True)
class Register:
    subject: str
    schema_type: str
    schema: str
    references: tuple[SchemaReference, ...] = ()
    normalize: bool | None = None  # None: as the subject's config says
    id: int | None = None  # IMPORT mode only
    version: int | None = None  # IMPORT mode only
    metadata: str | None = None  # canonical (registry_contracts.py); None: not given, inherited
    rule_set: str | None = None
    force: bool = False  # ?force=true: no compatibility check (Confluent's, as IMPORT skips it)


@dataclass(frozen=True)
class DeleteVersion:
    subject: str
    version: int  # LATEST or a version
    permanent: bool = False


@dataclass(frozen=True)
class DeleteSubject:
    subject: str
    permanent: bool = False


@dataclass(frozen=True)
class SetConfig:
    subject: str | None  # None: the global config
    level: str | None  # None: left as it is
    normalize: bool | None = None  # None: left as it is
    compatibility_group: str | None = None  # these four too: None leaves them as they are
    default_metadata: str | None = None
    override_metadata: str | None = None
    default_rule_set: str | None = None
    override_rule_set: str | None = None
    cleared: tuple[str, ...] = ()  # the fields (SubjectConfig's names) the client set to null


@dataclass(frozen=True)
class DeleteConfig:
    subject: str | None


@dataclass(frozen=True)
class SetMode:
    subject: str | None
    mode: str
    force: bool = False


@dataclass(frozen=True)
class DeleteMode:
    subject: str | None  # None: the global mode, back to the default


WriteRequest = Union[Register, DeleteVersion, DeleteSubject, SetConfig, DeleteConfig, SetMode, DeleteMode]
_BY_NAME: dict[str, type[Any]] = {c.__name__: c for c in (Register, DeleteVersion, DeleteSubject, SetConfig,
                                                           DeleteConfig, SetMode, DeleteMode)}


def to_json(request: WriteRequest) -> dict[str, Any]:
    return {"op": type(request).__name__, **asdict(request)}


def from_json(payload: dict[str, Any]) -> WriteRequest:
    """A request another node forwarded (it was checked there)."""
    fields = dict(payload)
    cls = _BY_NAME[fields.pop("op")]
    if cls is Register:
        fields["references"] = tuple(SchemaReference(**r) for r in fields["references"])
    if cls is SetConfig:
        fields["cleared"] = tuple(fields.get("cleared", ()))
    request: WriteRequest = cls(**fields)
    return request


# -- what a client sent ------------------------------------------------------------------
DEFAULT_CONTEXT_PREFIX = ":.:"  # a subject qualified with the default context: the plain name


def plain_subject(name: str) -> str:
    """A subject as the registry keeps it. Confluent's contexts (`:.ctx:subject`) are not
    served: such a name is refused (42208) rather than stored as a plain name; the default
    context's qualifier (`:.:subject`) is the subject itself."""
    name = name.removeprefix(DEFAULT_CONTEXT_PREFIX)
    if name.startswith(":."):
        raise RegistryError(INVALID_SUBJECT, f"Subject {name!r} names a schema context: this registry serves the "
                            "default context only (GET /contexts), not qualified subjects")
    return name


def parse_version(text: str) -> int:
    """A path's version: "latest", -1 (latest), or 1..2^31-1; else 42202."""
    if text == "latest":
        return LATEST
    try:
        version = int(text)
    except ValueError:
        raise invalid_version(text) from None
    if version == LATEST or 1 <= version <= MAX_VERSION:
        return version
    raise invalid_version(text)


def parse_bool(value: str | None, default: bool = False) -> bool:
    """A query flag as Confluent reads it (Java's Boolean.parseBoolean: "true" in any case)."""
    return default if value is None else value.strip().lower() == "true"


def _optional_int(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_VERSION:
        raise RegistryError(INVALID_SCHEMA if name == "id" else INVALID_VERSION,
                            f"{name} must be an integer between {low} and {MAX_VERSION}")
    return value


def schema_of(body: object) -> tuple[str, str, tuple[SchemaReference, ...]]:
    """(schemaType, schema text, references) of a request body; 42201 when malformed."""
    if not isinstance(body, dict):
        raise RegistryError(INVALID_SCHEMA, "the request body must be a JSON object")
    schema, schema_type = body.get("schema"), body.get("schemaType") or DEFAULT_TYPE
    if not isinstance(schema, str) or not schema.strip():
        raise RegistryError(INVALID_SCHEMA, "Empty schema" if schema in (None, "") else "schema must be a string")
    if len(schema) > MAX_SCHEMA_CHARS:
        raise RegistryError(INVALID_SCHEMA, f"schema of {len(schema)} characters is over the limit of "
                            f"{MAX_SCHEMA_CHARS}")
    if not isinstance(schema_type, str):
        raise RegistryError(INVALID_SCHEMA, "schemaType must be a string")
    return schema_type.upper(), schema, _references(body.get("references"))


def _references(items: object) -> tuple[SchemaReference, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise RegistryError(INVALID_SCHEMA, "references must be a list")
    refs = []
    for item in items:
        if not isinstance(item, dict):
            raise RegistryError(INVALID_SCHEMA, "each reference must be an object with name, subject and version")
        name, subject, version = item.get("name"), item.get("subject"), item.get("version")
        if not isinstance(name, str) or not name or not isinstance(subject, str) or not subject:
            raise RegistryError(INVALID_SCHEMA, "a reference needs a name and a subject")
        subject = plain_subject(subject)
        if not isinstance(version, int) or isinstance(version, bool) or not (version == LATEST
                                                                             or 1 <= version <= MAX_VERSION):
            raise RegistryError(INVALID_SCHEMA, f"reference {name!r} has no valid version")
        refs.append(SchemaReference(name, subject, version))
    return tuple(refs)


# Confluent's schema-tag editing: refused rather than dropped (kraft does not serve it)
_UNSERVED_REGISTER_FIELDS = ("schemaTagsToAdd", "schemaTagsToRemove")


def register_request(subject: str, body: object, normalize: str | None, force: str | None = None) -> Register:
    schema_type, schema, refs = schema_of(body)
    assert isinstance(body, dict)  # schema_of checked it
    for name in _UNSERVED_REGISTER_FIELDS + ("propagateSchemaTags",):
        if body.get(name) not in (None, False, []):
            raise RegistryError(INVALID_SCHEMA, f"{name} is not supported by this registry (schema tags "
                                "inside the schema text are stored as written)")
    return Register(subject, schema_type, schema, refs, None if normalize is None else parse_bool(normalize),
                    _optional_int(body, "id", 1), _optional_int(body, "version", 1),
                    contracts.metadata_from_request(body.get("metadata"), INVALID_SCHEMA),
                    contracts.rule_set_from_request(body.get("ruleSet")), parse_bool(force))


# config keys of Confluent's that kraft does not serve, with the values that ask for nothing
# (what a client sending a whole config passes by default): anything else is refused
_UNSERVED_CONFIG = {"alias": (None,), "aliasForDeks": (None,), "validateFields": (None, False),
                    "validateNewSchemas": (None, True), "validateRules": (None, False),
                    "compatibilityPolicy": (None,)}
_CONTRACT_KEYS = (("defaultMetadata", "default_metadata"), ("overrideMetadata", "override_metadata"),
                  ("defaultRuleSet", "default_rule_set"), ("overrideRuleSet", "override_rule_set"))


def _config_contracts(body: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(the contracts set, the config fields cleared by an explicit null)."""
    found: dict[str, str] = {}
    cleared = [attr for key, attr in _CONTRACT_KEYS + (("compatibilityGroup", "compatibility_group"),)
               if key in body and body[key] is None]
    for key, attr in _CONTRACT_KEYS:
        value = body.get(key)
        text = (contracts.rule_set_from_request(value) if key.endswith("RuleSet")
                else contracts.metadata_from_request(value, INVALID_COMPATIBILITY_LEVEL))
        if text is not None:
            found[attr] = text
    return found, cleared


def config_request(subject: str | None, body: object) -> SetConfig:
    if not isinstance(body, dict):
        raise RegistryError(INVALID_COMPATIBILITY_LEVEL, "the request body must be a JSON object")
    for key, served in _UNSERVED_CONFIG.items():
        if body.get(key) not in served:
            raise RegistryError(INVALID_COMPATIBILITY_LEVEL, f"{key}={body[key]!r} is not supported by this registry")
    level = body.get("compatibility", body.get("compatibilityLevel"))
    normalize, group = body.get("normalize"), body.get("compatibilityGroup")
    if normalize is not None and not isinstance(normalize, bool):
        raise RegistryError(INVALID_COMPATIBILITY_LEVEL, "normalize must be true or false")
    if group is not None and (not isinstance(group, str) or not group):
        raise RegistryError(INVALID_COMPATIBILITY_LEVEL, "compatibilityGroup must be a metadata property name")
    found, cleared = _config_contracts(body)
    if (level is None and normalize is None and group is None and not found and not cleared) or (
            level is not None and (not isinstance(level, str) or level.upper() not in LEVELS)):
        raise RegistryError(INVALID_COMPATIBILITY_LEVEL, f"Invalid compatibility level. Valid values are "
                            f"{', '.join(LEVELS)}")
    return SetConfig(subject, level.upper() if level is not None else None, normalize, group,
                     cleared=tuple(cleared), **found)


def mode_request(subject: str | None, body: object, force: str | None) -> SetMode:
    mode = body.get("mode") if isinstance(body, dict) else None
    if not isinstance(mode, str) or mode.upper() not in MODES:
        raise RegistryError(INVALID_MODE, f"Invalid mode. Valid values are {', '.join(MODES)}")
    return SetMode(subject, mode.upper(), parse_bool(force))
