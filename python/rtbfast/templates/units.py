"""Engineering units and raw MOM units.

An attribute with a multiplication factor (the catalog's ``multiplication_factor``, from the
MOM or the workbook) stores raw integers; templates write engineering units: raw = value ÷
factor (``a3offset "2.0"`` with factor 0.1 is raw 20). The factor is written ``0.1``,
``1/1000``, ``10^(-6)`` or ``2^(-32)``; a few models give a formula in ``k`` instead
(``10 * ((1.1^k) - 1)``), which is no linear factor: such values are taken as raw. Arithmetic is
exact (:class:`decimal.Decimal`).
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

_EXACT = Context(prec=60)
_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")
_FRACTION = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)")
_POWER = re.compile(r"(\d+(?:\.\d+)?)\s*\^\s*\(?\s*([-+]?\d+)\s*\)?")


def parse_factor(text: str | None) -> Decimal | None:
    """The factor `text` writes, or None where there is none or it is not linear."""
    if text is None:
        return None
    t = text.strip()
    try:
        if _DECIMAL.fullmatch(t):
            factor = Decimal(t)
        elif m := _FRACTION.fullmatch(t):
            factor = _EXACT.divide(Decimal(m.group(1)), Decimal(m.group(2)))
        elif m := _POWER.fullmatch(t):
            factor = _EXACT.power(Decimal(m.group(1)), int(m.group(2)))
        else:
            return None
    except (InvalidOperation, ArithmeticError):
        return None
    return factor if factor > 0 else None


def number(text: str) -> Decimal | None:
    """`text` as an exact number, or None."""
    t = text.strip()
    if not _DECIMAL.fullmatch(t):
        return None
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


def plain(value: Decimal) -> str:
    """A number written plainly: no exponent, no trailing zeros (``20``, ``2.5``, ``-0.001``)."""
    if value == value.to_integral_value():
        return str(int(value))
    text = format(value.normalize(_EXACT), "f")
    return text


def to_raw(value: str, factor: Decimal) -> str | None:
    """An engineering value as raw MOM units (value / factor), or None if not a number."""
    n = number(value)
    return None if n is None else plain(_EXACT.divide(n, factor))


def to_engineering(raw: str, factor: Decimal) -> str | None:
    """Raw MOM units as an engineering value (raw times factor), or None if not a number."""
    n = number(raw)
    return None if n is None else plain(_EXACT.multiply(n, factor))
