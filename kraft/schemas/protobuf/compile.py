"""A .proto file and the files it imports -> their FileDescriptorProtos, compiled by protoc
itself (grpcio-tools bundles it as a Python extension; it runs in-process in a few ms).

protoc is the reference parser: the same grammar, name resolution and checks (duplicate
field numbers, undefined types, reserved numbers, recursion limits) as the compiler the
schema's authors use, with errors that name the line. It reads files from disk, so each
compilation writes its files into a fresh temporary directory.

Schemas arrive in two forms, as they do at Confluent's registry: .proto text, or a
serialized FileDescriptorProto in base64 (what confluent-kafka's ProtobufSerializer
registers). A descriptor is rendered to text first (kraft/schemas/protobuf/render.py), so
every schema goes through the same compiler. Well-known imports (google/protobuf/*.proto,
and google/type/*.proto when googleapis-common-protos is installed) need no reference."""

from __future__ import annotations

import ast
import base64
import binascii
import importlib.resources
import importlib.util
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping

from google.protobuf.descriptor_pb2 import FileDescriptorProto
from google.protobuf.message import DecodeError
from grpc_tools import _protoc_compiler

from kraft.schemas.protobuf import lenient as protobuf_lenient
from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.options import STUB_NAME

MAX_FILE_CHARS = 1_000_000     # one schema's text (Confluent sets none; a bound for hostile input)
MAX_TOTAL_CHARS = 4_000_000    # a schema with all its references
MAX_REFERENCES = 1_000
MAX_ERRORS_SHOWN = 5
MAX_OPTION_ROUNDS = 16         # protoc names one unknown custom option per element a compilation
BUILTIN_PREFIXES = ("google/protobuf/", "google/type/")
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_IMPORT_PATH = re.compile(r"[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*(?:/[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]+)*)*")
# protoc's Python generator embeds each file's descriptor in one bytes literal
_SERIALIZED = re.compile(rb"AddSerializedFile\((b'(?:[^'\\]|\\.)*')\)")

Renderer = Callable[[FileDescriptorProto, Mapping[str, FileDescriptorProto]], str]


@lru_cache(maxsize=1)
def _include_paths() -> tuple[bytes, ...]:
    paths = [Path(str(importlib.resources.files("grpc_tools") / "_proto"))]
    google_type = importlib.util.find_spec("google.type")
    if google_type is not None and google_type.submodule_search_locations:
        # google/type/*.proto sit beside their generated modules (googleapis-common-protos)
        paths.append(Path(next(iter(google_type.submodule_search_locations))).parent.parent)
    return tuple(str(p).encode() for p in paths)


def is_builtin(name: str) -> bool:
    return name.startswith(BUILTIN_PREFIXES)


def decode_descriptor(text: str, name: str) -> FileDescriptorProto | None:
    """The FileDescriptorProto a base64 text holds, or None if the text is not base64 (then
    it is .proto text). InvalidSchema if it is base64 but no descriptor."""
    compact = text.strip()
    if not _BASE64.fullmatch(compact):
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
        descriptor = FileDescriptorProto.FromString(raw)
    except (binascii.Error, ValueError, DecodeError) as e:
        raise InvalidSchema(f"not a .proto schema nor a base64 FileDescriptorProto: {e}") from None
    if not descriptor.message_type and not descriptor.enum_type and not descriptor.service:
        raise InvalidSchema("not a .proto schema nor a base64 FileDescriptorProto with a type")
    descriptor.name = name
    return descriptor


def check_sizes(text: str, references: Mapping[str, str]) -> None:
    if len(references) > MAX_REFERENCES:
        raise InvalidSchema(f"more than {MAX_REFERENCES} references")
    total = len(text)
    for name, ref_text in references.items():
        if not _IMPORT_PATH.fullmatch(name) or len(name) > 500:
            raise InvalidSchema(f"reference name {name[:100]!r} is not a .proto import path")
        if len(ref_text) > MAX_FILE_CHARS:
            raise InvalidSchema(f"reference {name!r} is longer than {MAX_FILE_CHARS} characters")
        total += len(ref_text)
    if len(text) > MAX_FILE_CHARS:
        raise InvalidSchema(f"the schema is longer than {MAX_FILE_CHARS} characters")
    if total > MAX_TOTAL_CHARS:
        raise InvalidSchema(f"the schema and its references are longer than {MAX_TOTAL_CHARS} characters")


def main_file_name(references: Mapping[str, str]) -> str:
    """A file name for the schema itself that no reference uses."""
    name, n = "schema.proto", 0
    while name in references:
        n += 1
        name = f"schema_{n}.proto"
    return name


class _ProtocFailed(Exception):
    def __init__(self, errors: list[object]) -> None:
        super().__init__("protoc failed")
        self.errors = errors


def compile_files(main: str, sources: Mapping[str, str]) -> dict[str, FileDescriptorProto]:
    """Compile `sources[main]` with the other sources importable by name: the descriptors
    of `main` and of every file it imports (directly or not), by file name. Custom options
    no file declares are kept (kraft/schemas/protobuf/lenient.py), as Confluent's parser keeps them."""
    current: Mapping[str, str] | None = sources
    for _ in range(MAX_OPTION_ROUNDS):
        assert current is not None
        try:
            return _compile_once(main, current)
        except _ProtocFailed as e:
            errors = e.errors
        current = _without_unknown_options(current, errors)
        if current is None:
            break
    raise InvalidSchema(_describe(errors, main))


def _without_unknown_options(sources: Mapping[str, str], errors: list[object]) -> dict[str, str] | None:
    """`sources` with each unknown custom option protoc named made a placeholder; None when
    protoc found anything else wrong."""
    positions: dict[str, list[tuple[int, int]]] = {}
    for error in errors:
        filename = getattr(error, "filename", b"").decode("utf-8", "replace")
        message = getattr(error, "message", b"").decode("utf-8", "replace")
        if filename not in sources or not protobuf_lenient.is_unknown_option(message):
            return None
        positions.setdefault(filename, []).append((getattr(error, "line", -1), getattr(error, "column", -1)))
    rewritten = {**sources, STUB_NAME: protobuf_lenient.stub_text()}
    for filename, found in positions.items():
        text = protobuf_lenient.without_unknown_options(sources[filename], found)
        if text is None:
            return None
        rewritten[filename] = text
    return rewritten


def _compile_once(main: str, sources: Mapping[str, str]) -> dict[str, FileDescriptorProto]:
    with tempfile.TemporaryDirectory(prefix="kraft-proto-") as root:
        for name, text in sources.items():
            path = Path(root, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        try:
            generated = _protoc_compiler.get_protos(main.encode(), [root.encode(), *_include_paths()])
        except _protoc_compiler.ProtocErrors as e:
            raise _ProtocFailed(list(e.errors())) from None
    files: dict[str, FileDescriptorProto] = {}
    for _module, code in generated:
        found = _SERIALIZED.search(code)
        if found is None:
            raise InvalidSchema("protoc gave no descriptor")
        descriptor = FileDescriptorProto.FromString(ast.literal_eval(found.group(1).decode("ascii")))
        files[descriptor.name] = descriptor
    if main not in files:
        raise InvalidSchema("protoc gave no descriptor for the schema")
    return files


@lru_cache(maxsize=1)
def stub_descriptor() -> FileDescriptorProto:
    """The descriptor of the file declaring the placeholders of unknown custom options."""
    return compile_files(STUB_NAME, {STUB_NAME: protobuf_lenient.stub_text()})[STUB_NAME]


def _describe(errors: list[object], main: str) -> str:
    lines = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        filename = getattr(error, "filename", b"").decode("utf-8", "replace")
        line, column = getattr(error, "line", -1), getattr(error, "column", -1)
        message = getattr(error, "message", b"").decode("utf-8", "replace")
        where = "the schema" if filename == main else filename
        if line >= 0:  # protoc counts from 0
            where += f" line {line + 1} column {column + 1}"
        lines.append(f"{where}: {message}")
    more = len(errors) - MAX_ERRORS_SHOWN
    if more > 0:
        lines.append(f"... and {more} more")
    return "invalid .proto schema: " + "; ".join(lines)


def compile_schema(text: str, references: Mapping[str, str],
                   render: Renderer) -> tuple[str, dict[str, FileDescriptorProto]]:
    """The schema's file name and the descriptors of it and its imports (by file name).
    Descriptors given in base64 are rendered to .proto text with `render` first."""
    check_sizes(text, references)
    if not text.strip():
        raise InvalidSchema("the schema is empty")
    main = main_file_name(references)
    sources = {name: ref for name, ref in references.items() if not is_builtin(name)}
    sources[main] = text
    decoded = {name: d for name, src in sources.items()
               if (d := decode_descriptor(src, name)) is not None}
    for name, descriptor in decoded.items():
        sources[name] = render(descriptor, decoded)
    sources.update(protobuf_lenient.import_stubs(main, sources, is_builtin))
    return main, compile_files(main, sources)
