"""`typed_text`: values as the node compares them, checked against a plain Python reading of
the same rules, on plain, chunked and dictionary-encoded columns."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest

from rtbfast.enm.typed_values import typed_text

VALUES = ["010", "+5", "-0", "-007", "0", "7", "abc", "010", "TRUE", "False", None, "+0", "00", "-12", "1e3", ""]
KINDS = [
    "integer",
    "integer",
    "integer",
    "integer",
    "integer",
    "integer",
    "string",
    "string",
    "boolean",
    "boolean",
    "integer",
    "integer",
    None,
    "integer",
    "integer",
    "integer",
]


def reference(value: str | None, kind: str | None) -> str | None:
    """The rules read plainly: an integer without a sign or leading zeros beyond what it means,
    "-0" as "0"; a boolean in lower case; anything else as written."""
    if value is None:
        return None
    if kind == "integer" and re.fullmatch(r"[+-]?\d+", value):
        return str(int(value))
    if kind == "boolean":
        return value.lower()
    return value


@pytest.mark.parametrize("shape", ["plain", "chunked", "dictionary"])
def test_typed_text_follows_the_rules(shape: str) -> None:
    values: pa.Array | pa.ChunkedArray = pa.array(VALUES, pa.string())
    kinds: pa.Array | pa.ChunkedArray = pa.array(KINDS, pa.string())
    if shape == "chunked":
        values = pa.chunked_array([values.slice(0, 5), values.slice(5)])
        kinds = pa.chunked_array([kinds.slice(0, 9), kinds.slice(9)])
    elif shape == "dictionary":
        values = values.dictionary_encode()
    got = typed_text(values, kinds)
    assert got.to_pylist() == [reference(v, k) for v, k in zip(VALUES, KINDS, strict=True)]


def test_values_written_as_the_node_writes_them_come_back_as_they_are() -> None:
    values = pa.array(["10", "-3", "x", None])
    assert typed_text(values, pa.array(["integer", "integer", "string", "integer"])).to_pylist() == [
        "10",
        "-3",
        "x",
        None,
    ]
