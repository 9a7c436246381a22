"""Option values and literals as .proto text: the part of rendering a descriptor that must
escape what it writes (a descriptor from a client is untrusted: every name and literal is
checked or escaped, so its text cannot say more than the descriptor did).

Options sit in a descriptor as an options message whose custom options (extensions) are
unknown fields until read with a pool that knows their extensions; `option_items` reads
them with the schema's own pool, so custom options keep their names."""

from __future__ import annotations

import codecs
import math
import re

from google.protobuf import text_format
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from kraft.schemas.formats import InvalidSchema

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_NAME = re.compile(r"\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NUMBER = re.compile(r"-?(?:inf|nan|[0-9][0-9a-fA-FxX.eE+\-]*)")
_PART = r"\(\s*\.?[A-Za-z_][\w.]*\s*\)"
OPTION_NAME = re.compile(_PART + r"(?:\s*\.\s*(?:[A-Za-z_]\w*|" + _PART + r"))*")
# an option no file declares is kept as a placeholder option that the file STUB_NAME declares
# (kraft/schemas/protobuf/lenient.py); no reference can be named so (not an import path there)
STUB_NAME = "kraft+unknown_options.proto"
STUB_PACKAGE = "kraft_unknown"


def ident(name: str) -> str:
    if not _IDENT.fullmatch(name):
        raise InvalidSchema(f"{name[:100]!r} is not a name")
    return name


def type_name(name: str) -> str:
    if not _TYPE_NAME.fullmatch(name):
        raise InvalidSchema(f"{name[:100]!r} is not a type name")
    return name


def quote(value: str | bytes) -> str:
    """A .proto string literal: printable text as is, the rest escaped byte by byte."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    out = []
    for char in raw.decode("utf-8", "surrogateescape"):
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable() and not 0xDC80 <= ord(char) <= 0xDCFF:
            out.append(char)
        else:
            out.extend(f"\\{b:03o}" for b in char.encode("utf-8", "surrogateescape"))
    return '"' + "".join(out) + '"'


def default_literal(field_type: int, value: str) -> str:
    """A field's `default` as its descriptor spells it (bytes C-escaped, enums by name)."""
    if field_type == FieldDescriptor.TYPE_STRING:
        return quote(value)
    if field_type == FieldDescriptor.TYPE_BYTES:
        try:
            unescaped = codecs.escape_decode(value.encode("latin-1", "backslashreplace"))[0]
        except ValueError:
            raise InvalidSchema(f"default {value[:100]!r} is not an escaped bytes value") from None
        return quote(unescaped)
    if field_type == FieldDescriptor.TYPE_ENUM:
        return ident(value)
    if field_type == FieldDescriptor.TYPE_BOOL:
        if value not in ("true", "false"):
            raise InvalidSchema(f"default {value[:100]!r} is not a bool")
        return value
    if not _NUMBER.fullmatch(value):
        raise InvalidSchema(f"default {value[:100]!r} is not a number")
    return value


def _scalar(field: FieldDescriptor, value: object) -> str:
    if field.type == FieldDescriptor.TYPE_MESSAGE or field.type == FieldDescriptor.TYPE_GROUP:
        assert isinstance(value, Message)
        return "{ " + text_format.MessageToString(value, as_one_line=True) + " }"
    if field.type == FieldDescriptor.TYPE_ENUM:
        assert isinstance(value, int) and field.enum_type is not None
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else str(value)
    if isinstance(value, (str, bytes)):
        return quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


def _balanced(value: str) -> bool:
    """Whether an option value's text is one value: strings closed on their line, brackets
    balanced, and no `;`, comment or top-level `,` that would end the option early."""
    depth, i = 0, 0
    while i < len(value):
        char = value[i]
        if char in "\"'":
            end = i + 1
            while end < len(value) and value[end] not in (char, "\n"):
                end += 2 if value[end] == "\\" else 1
            if end >= len(value) or value[end] != char:
                return False
            i = end + 1
            continue
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        if depth < 0 or char in ";/" or (char == "," and depth == 0):
            return False
        i += 1
    return depth == 0 and bool(value.strip())


def unknown_option(text: str) -> tuple[str, str]:
    """An option no file declares, as its placeholder holds it ("name = value")."""
    name, sep, value = text.partition(" = ")
    if not sep or not OPTION_NAME.fullmatch(name) or not _balanced(value):
        raise InvalidSchema(f"{text[:100]!r} is not an option")
    return name, value


def option_items(options: Message, pool: DescriptorPool, skip: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """Each set option as (name as .proto writes it, value text); a repeated option once
    per value. Custom options the pool does not know are left out; those no file declared
    (kept as placeholders) are written as the schema wrote them."""
    raw = options.SerializeToString()
    if not raw:
        return []
    try:
        kind = pool.FindMessageTypeByName(options.DESCRIPTOR.full_name)
        decoded = GetMessageClass(kind).FromString(raw)
    except (KeyError, DecodeError):
        decoded = options
    items = []
    for field, value in decoded.ListFields():
        if field.name in skip and not field.is_extension:
            continue
        name = f"({field.full_name})" if field.is_extension else field.name
        values = list(value) if field.is_repeated else [value]
        if field.is_extension and field.full_name.startswith(STUB_PACKAGE + "."):
            items += [unknown_option(v) for v in values]
            continue
        items += [(name, _scalar(field, v)) for v in values]
    return items
