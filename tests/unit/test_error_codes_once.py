"""Kafka's error codes are named in one module (kraft/errors/kafka_codes.py): a module that
declares one of them again would let two places disagree about a code on the wire."""

from __future__ import annotations

import ast
from pathlib import Path

from kraft.errors import kafka_codes

ROOT = Path(__file__).resolve().parents[2]
CODES = {name for name, value in vars(kafka_codes).items() if name.isupper() and isinstance(value, int)}
OTHER_MEANINGS = {"kraft/storage/compression.py": {"NONE"}}  # the codec "none", not the error code


def is_int(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def declared(tree: ast.Module) -> set[str]:
    """Names a module binds to an integer at its top level (in a tuple too)."""
    names = set()
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and is_int(node.value):
                names.add(target.id)
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                names |= {t.id for t, v in zip(target.elts, node.value.elts) if isinstance(t, ast.Name) and is_int(v)}
    return names


def test_no_module_declares_a_kafka_error_code_of_its_own():
    again = {}
    for path in (ROOT / "kraft").rglob("*.py"):
        if path == ROOT / "kraft" / "errors" / "kafka_codes.py":
            continue
        relative = str(path.relative_to(ROOT))
        if found := declared(ast.parse(path.read_text())) & CODES - OTHER_MEANINGS.get(relative, set()):
            again[relative] = sorted(found)
    assert not again, f"import these from kraft.errors.kafka_codes instead: {again}"


def test_the_codes_are_kafkas():
    assert (kafka_codes.NONE, kafka_codes.UNKNOWN_SERVER_ERROR, kafka_codes.CLUSTER_AUTHORIZATION_FAILED,
            kafka_codes.SHARE_SESSION_NOT_FOUND) == (0, -1, 31, 122)
    values = [v for n, v in vars(kafka_codes).items() if n in CODES]
    assert len(values) == len(set(values)), "two names for one code"
