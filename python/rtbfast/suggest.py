"""Did-you-mean hints for names a user wrote that the catalog does not know (rule files,
templates)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to `name` (case does not count against it), or None."""
    by_lower = {k.lower(): k for k in sorted(known)}
    near = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.7)
    return by_lower[near[0]] if near else None


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest known name, or nothing."""
    near = closest(name, known)
    return f"; did you mean {near}?" if near else ""
