"""Which node release a template targets, and which one a catalog describes: what
``templates check`` says when most of a template's errors are names the catalog does not know
(the template was probably written for another release).

A template declares its release, in order of precedence:

- in ``$meta``: a key naming a release or a model (``release``, ``node_release``,
  ``nodeRelease``, ``swRelease``, ``model``, ``mim``…);
- in its values: the ``release`` or ``swVersion`` it sets on ``ManagedElement`` (a node export
  written as a template carries them);
- in its file name: a release such as ``24Q3`` or ``24.Q3``
  (``slicing_FWA_…_24Q3_v1.1.1.json``).

A catalog's release is that of its MIMs (``mims`` table: name, version, release, correction,
revision).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

META_KEYS = re.compile(r"(?i)^(?:node_?|sw_?|target_?|model_?)?(?:release|mim|model|swversion|node_?version)$")
"""``$meta`` keys that name the release or model a template is written for."""
_META_KEY_IN_TEXT = re.compile(r'(?i)"(?:node_?|sw_?|target_?|model_?)?(?:release|mim|model|swversion|node_?version)"')
"""A `META_KEYS` key as it is written in JSON text, unescaped: a ``$meta`` text without one
(and without escapes, which could spell one) names no release and is not parsed."""
VALUE_NAMES = ("release", "swVersion")
"""``ManagedElement`` attributes that name the node's release."""
IN_NAME = re.compile(r"(?<![0-9])(\d{2})\.?(Q[1-4])(?![0-9])")
"""A release in a file name (``24Q3``, ``24.Q3``)."""

UNKNOWN_CODES = ("unknown_class", "unknown_attribute", "unknown_member")
"""The findings that say a name is not in the catalog."""
HINT_AT_LEAST = 10
"""Unknown names a template needs (and more than half its errors) before the release hint."""


@dataclass(frozen=True)
class Declared:
    """A template's release and where it says so."""

    release: str
    said: str
    """Where: ``$meta.release``, ``ManagedElement.release``, ``the file name``."""


def catalog_release(tables: dict[str, pa.Table]) -> str | None:
    """The catalog's MIMs as ``NAME version.release[.correction] (revision)``, joined; None
    when the catalog lists none (a workbook alone)."""
    mims = tables.get("mims")
    if mims is None or not mims.num_rows:
        return None
    said = []
    for row in mims.to_pylist():
        numbers = ".".join(str(row[k]) for k in ("version", "release", "correction") if row.get(k))
        text = " ".join(p for p in (row.get("mim"), numbers) if p)
        if row.get("revision"):
            text += f" ({row['revision']})"
        if text not in said:
            said.append(text)
    shown = said[:3]
    more = f" and {len(said) - 3} more MIM(s)" if len(said) > 3 else ""
    return ", ".join(shown) + more


def _meta_release(meta: str | None) -> tuple[str, str] | None:
    if not meta or ("\\" not in meta and _META_KEY_IN_TEXT.search(meta) is None):
        return None
    try:
        obj = json.loads(meta)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    for key, value in obj.items():
        if META_KEYS.match(key) and isinstance(value, (str, int, float)) and str(value).strip():
            return str(value).strip(), key
    return None


_META_CANDIDATE = (
    r'\\|(?i:"(?:node_?|sw_?|target_?|model_?)?(?:release|mim|model|swversion|node_?version)")' r"|[^\x00-\x7f]"
)
"""`_META_KEY_IN_TEXT`, a backslash or a character past ASCII (where Python's case folding and
RE2's could differ), in RE2 (Arrow's): the ``$meta`` texts worth parsing."""
_NAME_CANDIDATE = r"[0-9]{2}\.?Q[1-4]|[^\x00-\x7f]"
"""`IN_NAME` without its look-arounds (RE2 has none), or a character past ASCII (Python's
``\\d`` matches every script's digits): the file names worth searching."""


def _candidates(texts: pa.Array | pa.ChunkedArray, pattern: str) -> list[int]:
    """The places of `texts` that `pattern` (RE2) matches, found in one pass."""
    found: list[int] = pc.indices_nonzero(pc.fill_null(pc.match_substring_regex(texts, pattern), False)).to_pylist()
    return found


def declared_releases(files: list[str], tables: dict[str, pa.Table]) -> dict[int, Declared]:
    """Each template's declared release, where it declares one. The texts are sifted in one
    vectorized pass each; only those that may declare one are read in Python."""
    out: dict[int, Declared] = {}
    if "meta" in tables["files"].column_names:
        metas = tables["files"]["meta"]
        for i in _candidates(metas, _META_CANDIDATE):
            found = _meta_release(metas[i].as_py())
            if found is not None:
                out[i] = Declared(found[0], f"$meta.{found[1]}")
    values, mos = tables["values"], tables["mos"]
    if values.num_rows and mos.num_rows:
        named = values.filter(
            pc.and_(
                pc.is_in(pc.cast(values["attribute"], pa.string()), pa.array(VALUE_NAMES)), pc.is_null(values["member"])
            )
        )
        if named.num_rows:
            classes = pc.take(pc.cast(mos["class"], pa.string()), named["mo"]).to_pylist()
            for row, cls in zip(named.select(["template", "attribute", "value"]).to_pylist(), classes, strict=True):
                text = (row["value"] or "").strip()
                if cls != "ManagedElement" or row["template"] in out or not text or not any(c.isdigit() for c in text):
                    continue
                out[row["template"]] = Declared(text, f"ManagedElement.{row['attribute']}")
    if files:
        names = pc.replace_substring_regex(pa.array(files, pa.string()), r"^.*/", "")  # os.path.basename
        for i in _candidates(names, _NAME_CANDIDATE):
            if i not in out and (m := IN_NAME.search(os.path.basename(files[i]))):
                out[i] = Declared(f"{m[1]}.{m[2]}", "the file name")
    return out


def release_hint(unknown: int, errors: int, declared: Declared | None, catalog: str | None) -> str | None:
    """What to say when most of a template's errors are names the catalog does not know."""
    if unknown < HINT_AT_LEAST or 2 * unknown <= errors:
        return None
    template = (
        f"the template targets {declared.release} ({declared.said})"
        if declared is not None
        else "the template declares no release"
    )
    model = f"the catalog is {catalog}" if catalog else "the catalog names no model release"
    return (
        f"{unknown:,} of the {errors:,} errors are names the catalog does not know: the template probably "
        f"targets another release than the catalog's ({template}; {model}); check it against a catalog "
        f"built from the model of its release"
    )


def summary_of(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Totals of per-template summaries."""
    keys = ("errors", "warnings", "infos", "unknown_names", "matched_spellings")
    return {k: sum(int(r.get(k) or 0) for r in rows) for k in keys}
