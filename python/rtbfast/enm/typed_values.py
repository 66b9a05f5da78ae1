"""Values as the node compares them (the planner's minimal sets and the simulator's "already
so" read values this way)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def typed_text(values: pa.Array | pa.ChunkedArray, kinds: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Values as the node compares them: integers without a sign or leading zeros beyond what
    they mean (``"010"`` is ``10``, ``"+5"`` is ``5``, ``"-0"`` is ``0``), booleans in lower
    case; other kinds as written."""
    text = pc.cast(values, pa.string()) if pa.types.is_dictionary(values.type) else values
    out = text
    # integers: only where one is written another way than the node writes it (a sign, a
    # leading zero, "-0"), which is rare: one scan finds them, and only they are rewritten
    odd = pc.fill_null(pc.match_substring_regex(text, r"^(\+|-?0\d|-0$)"), False)
    if pc.any(odd).as_py():
        pick = pc.and_(pc.fill_null(pc.equal(kinds, "integer"), False), odd)
        if pc.any(pick).as_py():
            text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
            pick = pick.combine_chunks() if isinstance(pick, pa.ChunkedArray) else pick
            some = text.filter(pick)
            stripped = pc.replace_substring_regex(some, r"^\+?0*(\d)", r"\1")
            stripped = pc.replace_substring_regex(stripped, r"^-0*(\d)", r"-\1")
            stripped = pc.replace_substring_regex(stripped, r"^-0$", "0")
            number = pc.if_else(pc.match_substring_regex(some, r"^[+-]?\d+$"), stripped, some)
            out = pc.replace_with_mask(text, pick, number)
    is_bool = pc.fill_null(pc.equal(kinds, "boolean"), False)
    if pc.any(is_bool).as_py():
        out = pc.if_else(is_bool, pc.utf8_lower(out), out)
    return out
