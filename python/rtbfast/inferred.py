"""The catalog an export implies: which classes are present, the attributes seen on them, and
a kind inferred from the values (integer, float, boolean, string, struct with members,
sequence). Tables use the catalog's column names with ``source = "export"``; columns an export
cannot tell (ranges, defaults, flags) are left out.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pyarrow as pa

from rtbfast.schemas import IMPLIED_ATTRIBUTES_SCHEMA, IMPLIED_STRUCT_MEMBERS_SCHEMA


def catalog_from_export(network_tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    vs_types = network_tables["vs_types"].to_pylist()
    observed = network_tables["observed_attributes"].to_pylist()

    classes = pa.table(
        {
            "mim": pa.array([t["format_version"] for t in vs_types], pa.string()),
            "class": pa.array([t["class"] for t in vs_types], pa.string()),
            "vs_data_type": pa.array([t["vs_data_type"] for t in vs_types], pa.string()),
            "mo_count": pa.array([t["mo_count"] for t in vs_types], pa.int64()),
            "source": pa.array(["export"] * len(vs_types), pa.string()),
        }
    )

    by_attribute: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in observed:
        by_attribute[(row["class"], row["attribute"])].append(row)

    attributes: dict[str, list[Any]] = defaultdict(list)
    members: dict[str, list[Any]] = defaultdict(list)
    for (cls, attr), rows in by_attribute.items():
        is_struct = any(r["member"] is not None for r in rows)
        struct_name = f"{cls}_{attr}" if is_struct else None
        plain = [r for r in rows if r["member"] is None]
        kind = "struct" if is_struct else plain[0]["kind"]
        attributes["class"].append(cls)
        attributes["attribute"].append(attr)
        attributes["kind"].append(kind)
        attributes["type_ref"].append(struct_name)
        attributes["is_sequence"].append(max(r["max_occurs"] for r in rows) > 1)
        attributes["value_count"].append(max(r["value_count"] for r in rows))
        attributes["example"].append(None if is_struct else plain[0]["example"])
        for r in rows:
            if r["member"] is None:
                continue
            members["struct"].append(struct_name)
            members["member"].append(r["member"])
            members["kind"].append(r["kind"])
            members["value_count"].append(r["value_count"])
            members["example"].append(r["example"])

    attrs = pa.table({n: attributes[n] for n in IMPLIED_ATTRIBUTES_SCHEMA.names}, schema=IMPLIED_ATTRIBUTES_SCHEMA)
    attrs = attrs.append_column("source", pa.array(["export"] * attrs.num_rows, pa.string()))
    mems = pa.table({n: members[n] for n in IMPLIED_STRUCT_MEMBERS_SCHEMA.names}, schema=IMPLIED_STRUCT_MEMBERS_SCHEMA)
    mems = mems.append_column("source", pa.array(["export"] * mems.num_rows, pa.string()))
    return {"classes": classes, "attributes": attrs, "struct_members": mems}
