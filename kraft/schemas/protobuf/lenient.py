""".proto text that Confluent's registry accepts and protoc alone would refuse, made
compilable without changing what the schema says.

Unknown custom options: Confluent's parser keeps an option whose extension no file
declares (`option (confluent.file_meta).doc = "x";`, `[(my.opt) = 1]`); protoc refuses it.
Each such option protoc names is rewritten, in the text given to protoc only, as a
placeholder option (a repeated string extension of the right options message, declared in
the file STUB_NAME) whose value is the option's own text. The descriptor keeps it in its
place; rendering writes the original option back (protobuf_options.option_items), and the
import of the stub is never rendered. Compatibility ignores options, as Confluent's does.
protoc names one unknown option per element a compilation, so an element may carry up to
protobuf_compile.MAX_OPTION_ROUNDS of them.

Imports named by no reference: a schema may import a path that no reference is named by
while a reference no file imports holds its types (a reference registered as
"NoReference.proto" and imported as "NoReferenceNested.proto"). The missing path is given
a file that publicly imports those references, so their types resolve by protoc's own
scoping rules (package-qualified or relative names)."""

from __future__ import annotations

import re
from typing import Callable, Mapping

from google.protobuf.descriptor_pb2 import FileDescriptorProto

from kraft.schemas.formats import InvalidSchema
from kraft.schemas.protobuf.options import OPTION_NAME, STUB_NAME, STUB_PACKAGE, quote, unknown_option

_UNKNOWN = re.compile(r'Option "\(.+\)" unknown')
_IMPORT = re.compile(r"""\bimport\s+(?:public\s+|weak\s+)?(["'])([^"'\n]+)\1\s*;""")
_WORD = re.compile(r"[A-Za-z_]\w*")
_FIELD_LABELS = {"optional", "required", "repeated", "group"}
# the options message a statement `option ...;` sets, by the kind of block it stands in
_STATEMENT_KINDS = {None: "file", "message": "message", "enum": "enum", "service": "service", "rpc": "method",
                    "oneof": "oneof", "group": "message"}
STUB_KINDS = {"file": "FileOptions", "message": "MessageOptions", "field": "FieldOptions", "oneof": "OneofOptions",
              "enum": "EnumOptions", "enum_value": "EnumValueOptions", "service": "ServiceOptions",
              "method": "MethodOptions", "extension_range": "ExtensionRangeOptions"}
STUB_NUMBER = 536_870_911  # the highest field number: no option a schema declares is likely to hold it


def stub_text() -> str:
    lines = ['syntax = "proto2";', f"package {STUB_PACKAGE};", 'import "google/protobuf/descriptor.proto";']
    lines += [f"extend google.protobuf.{options} {{ repeated string {kind} = {STUB_NUMBER}; }}"
              for kind, options in STUB_KINDS.items()]
    return "\n".join(lines) + "\n"


def imports_of(text: str) -> list[str]:
    return [m.group(2) for m in _IMPORT.finditer(text)]


def import_stubs(main: str, sources: Mapping[str, str], is_builtin: Callable[[str], bool]) -> dict[str, str]:
    """Files for the imports of `main` that no source is named by, each publicly importing
    the sources no file imports (none when every import is found, or no source is left)."""
    missing = [i for i in imports_of(sources[main]) if i not in sources and not is_builtin(i)]
    if not missing:
        return {}
    imported = {i for text in sources.values() for i in imports_of(text)}
    unused = sorted(name for name in sources if name != main and name not in imported)
    if not unused:
        return {}
    text = 'syntax = "proto3";\n' + "".join(f"import public {quote(name)};\n" for name in unused)
    return {name: text for name in dict.fromkeys(missing)}


def is_unknown_option(message: str) -> bool:
    return _UNKNOWN.match(message) is not None


def _index(text: str, line: int, column: int) -> int:
    """protoc's (line, column), both from 0 and tabs to the next multiple of 8, as an index."""
    lines = text.split("\n")
    if not 0 <= line < len(lines):
        return -1
    start = sum(len(x) + 1 for x in lines[:line])
    col = 0
    for i, char in enumerate(lines[line]):
        if col >= column:
            return start + i
        col += 8 - col % 8 if char == "\t" else 1
    return -1


def scan_value(text: str, start: int) -> int:
    """Where an option's value starting at `start` ends: before the `,`, `;` or `]` that
    follows it outside strings and braces (len(text) when none)."""
    i, depth = start, 0
    while i < len(text):
        char = text[i]
        if char in "\"'":
            i += 1
            while i < len(text) and text[i] != char:
                i += 2 if text[i] == "\\" else 1
        elif char == "/" and text[i + 1:i + 2] in ("/", "*"):
            end = text.find("\n" if text[i + 1] == "/" else "*/", i + 2)
            i = len(text) if end < 0 else end + (0 if text[i + 1] == "/" else 1)
        elif char in "{[":
            depth += 1
        elif char in "}]" and depth > 0:
            depth -= 1
        elif char in ",;]}" and depth == 0:
            return i
        i += 1
    return len(text)


def _enclosing(text: str, pos: int) -> tuple[str | None, str | None]:
    """The kind of the innermost block around `pos` (the first word of the statement that
    opened it) and the first word of the statement `pos` stands in."""
    stack: list[str | None] = []
    first: str | None = None
    i = 0
    while i < pos:
        char = text[i]
        if char in "\"'":
            i = _skip_string(text, i)
            continue
        if char == "/" and text[i + 1:i + 2] in ("/", "*"):
            line_comment = text[i + 1] == "/"
            end = text.find("\n" if line_comment else "*/", i + 2)
            i = pos if end < 0 else end + (1 if line_comment else 2)
            continue
        word = _WORD.match(text, i)
        if word is not None:
            first = first or word.group()
            i = word.end()
            continue
        if char == "{":
            stack.append("group" if first in _FIELD_LABELS else first)
            first = None
        elif char == "}":
            stack = stack[:-1]
            first = None
        elif char == ";":
            first = None
        i += 1
    return (stack[-1] if stack else None), first


def _skip_string(text: str, i: int) -> int:
    quote_char, i = text[i], i + 1
    while i < len(text) and text[i] != quote_char:
        i += 2 if text[i] == "\\" else 1
    return i + 1


def _kind(text: str, pos: int) -> str | None:
    block, first = _enclosing(text, pos)
    if first == "option" and re.search(r"\boption\s*$", text[:pos]):
        return _STATEMENT_KINDS.get(block)
    if first == "extensions":
        return "extension_range"
    return "enum_value" if block == "enum" else "field"


def without_unknown_options(text: str, positions: list[tuple[int, int]]) -> str | None:
    """`text` with each unknown option at the protoc positions replaced by its placeholder,
    and the stub imported; None when one cannot be found there."""
    spans = []
    for line, column in positions:
        pos = _index(text, line, column)
        name = OPTION_NAME.match(text, pos) if pos >= 0 else None
        kind = _kind(text, pos) if name is not None else None
        equals = re.compile(r"\s*=\s*").match(text, name.end()) if name is not None else None
        if name is None or kind is None or equals is None:
            return None
        end = scan_value(text, equals.end())
        value = text[equals.end():end].strip()
        try:
            unknown_option(f"{name.group()} = {value}")
        except InvalidSchema:
            return None
        spans.append((pos, end, f"(.{STUB_PACKAGE}.{kind}) = {quote(name.group() + ' = ' + value)}"))
    for start, end, placeholder in sorted(set(spans), reverse=True):
        text = text[:start] + placeholder + " " + text[end:]
    if STUB_NAME not in imports_of(text):
        text += f'\nimport "{STUB_NAME}";\n'
    return text


def without_stub(file: FileDescriptorProto) -> FileDescriptorProto:
    """`file` without its import of the stub (what a client is given: its options keep the
    placeholders, as fields it does not know)."""
    if STUB_NAME not in file.dependency:
        return file
    copy = FileDescriptorProto()
    copy.CopyFrom(file)
    gone = list(file.dependency).index(STUB_NAME)
    del copy.dependency[:]
    copy.dependency.extend(d for i, d in enumerate(file.dependency) if i != gone)
    for indexes in (copy.public_dependency, copy.weak_dependency):
        kept = [i - (i > gone) for i in indexes if i != gone]
        del indexes[:]
        indexes.extend(kept)
    return copy
