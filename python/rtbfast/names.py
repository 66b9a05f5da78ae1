"""One grammar for the names that reach a network script (``rust/src/names.rs``): MO class
names, attribute and struct member names, MO ids (RDN values) and the FDNs made of them.

- a **class**, **attribute** or **member** is a letter, then letters, digits, ``_`` or ``-``
  (a nested member path joins members with ``.``);
- an **MO id** is letters, digits, ``_``, ``-``, ``.`` and ``:``, not starting with ``-``;
- an **FDN** is ``Class=Id`` RDNs joined by ``,``;
- each at most 255 bytes (an FDN 4096).

Every entry applies it (template keys, ChangeSet rows, Bulk CM exports, cmedit scripts run by
``apply``) and every writer applies it again. A name is never quoted or escaped: a name that
needed it would be a different name, or several words, in some dialect. The checks run
natively, column by column.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa

from rtbfast import _native

NameKind = Literal["class", "attribute", "member", "mo_id", "fdn"]

MAX_NAME = 255
MAX_FDN = 4096


def refused_names(names: pa.Array | pa.ChunkedArray, kind: NameKind) -> list[tuple[int, str]]:
    """The rows of `names` (text; nulls are skipped) that are not a `kind`, with why."""
    column = names
    if pa.types.is_dictionary(column.type) or not pa.types.is_string(column.type):
        column = column.cast(pa.string())
    found = pa.table(_native.refused_names(kind, pa.table({"name": column})))
    return list(zip(found["row"].to_pylist(), found["reason"].to_pylist(), strict=True))


def name_problem(name: str, kind: NameKind) -> str | None:
    """Why `name` is not a `kind`, or None when it is one."""
    found = refused_names(pa.array([name], pa.string()), kind)
    return found[0][1] if found else None
