"""The objects a template's expressions see, as the real templates use them
(``../shared/reference/rtb-and-workbook.md`` §2.7):

- ``cell``, the current target: ``dn``, ``cell_id``, ``technology``, ``get_freq_str()``,
  ``cosites(tech)``, ``parent(n)``, ``get_children(Class)``, and its attributes;
- ``mo``, the MO being set: ``dn``, ``parent(n)``, ``get_children(Class)``, its attributes;
- ``vars`` (the template's ``$vars``, shared by every target), ``targets`` (all targets, in
  order), ``custom`` (the ``$custom`` functions), ``clusters`` (``clusters.<name>.add(cell)``),
  ``enet.set_mo_params(dn, params, plan=…)`` (queues sets in a plan), ``LOGGER`` and
  ``print`` (kept as notes);
- ``db``: the operator's database, which rtbfast cannot reach: any use stops the expression
  as unsupported, and expansion says what it skipped.

DNs are the templates' slash form (``SubNetwork-S/MeContext-N/ManagedElement-N/…``); an
attribute holding a moRef reads in that form too, so a template compares like with like. An
attribute reads as its raw text as the export writes it (a struct as a dict, a sequence as a
list, a copy the template may change); one the MO does not carry reads as None.

Every name here not starting with ``_`` is reachable from a template: helpers are private.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rtbfast.network_index import NetworkIndex, fdn_of_slash, slash_dn
from rtbfast.templates.sandbox import Exposed, Stop
from rtbfast.templates.wording import kind_of

if TYPE_CHECKING:
    from rtbfast.templates.expand import Expander

TECHNOLOGY = {
    "EUtranCellFDD": "LTE",
    "EUtranCellTDD": "LTE",
    "NRCellDU": "NR",
    "NRCellCU": "NR",
    "UtranCell": "UMTS",
    "GeranCell": "GSM",
    "NbIotCell": "NB-IoT",
}
"""The cell classes, and the technology of each: a target of one of them is a cell (its
technology, id, carrier and co-sited cells known)."""

DEFAULT_TARGET_CLASSES = ("EUtranCellFDD", "EUtranCellTDD", "NRCellDU", "NRCellCU", "UtranCell", "GeranCell")
"""The classes a template targets unless told others (``--target-class``)."""

_FREQUENCY = {
    "EUtranCellFDD": ("earfcndl",),
    "NbIotCell": ("earfcndl", "earfcn"),
    "EUtranCellTDD": ("earfcn",),
    "NRCellDU": ("arfcnDL", "ssbFrequency"),
    "NRCellCU": ("arfcnDL", "ssbFrequency"),
    "UtranCell": ("uarfcnDl",),
    "GeranCell": ("bcchFrequency",),
}


class MoView(Exposed):
    """An MO of the network (or one the template creates: no values, no children)."""

    __slots__ = ("_cls", "_expander", "_fdn", "_row")

    def __init__(self, expander: Expander, row: int | None, fdn: str, cls: str) -> None:
        self._expander = expander
        self._row = row
        self._fdn = fdn
        self._cls = cls

    def __repr__(self) -> str:
        return f"<{self._cls} {self.dn}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MoView) and other._fdn == self._fdn

    def __hash__(self) -> int:
        return hash(self._fdn)

    @property
    def dn(self) -> str:
        return slash_dn(self._fdn)

    def parent(self, n: int = 1) -> MoView:
        """The MO `n` levels up."""
        if not isinstance(n, int) or n < 1:
            raise Stop("error", f"parent({n!r}): a number of levels, 1 or more")
        fdn = self._fdn
        for _ in range(n):
            if "," not in fdn:
                raise Stop("error", f"{self.dn} has no parent {n} levels up")
            fdn = fdn.rsplit(",", 1)[0]
        return self._expander._view_of(fdn)

    def get_children(self, cls: str | None = None) -> list[MoView]:
        """The children, of class `cls` if given."""
        index = self._expander._network
        if self._row is None:
            return []
        rows = self._expander._children(self._row)
        return [self._expander._view(r) for r in rows if cls is None or index.cls[r] == cls]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._row is None:
            return None
        value = self._expander._network.value(self._row, name)
        if value is not None and self._expander._is_moref(self._cls, name):
            return _slashed(value)
        return value


def _slashed(value: Any) -> Any:
    if isinstance(value, str):
        return slash_dn(value) if "=" in value else value
    if isinstance(value, list):
        return [_slashed(v) for v in value]
    return value


class CellView(MoView):
    """A target cell."""

    __slots__ = ()

    @property
    def technology(self) -> str:
        return TECHNOLOGY.get(self._cls, "")

    @property
    def cell_id(self) -> int | None:
        """The cell's global id as operators key cells: ECI (eNBId * 256 + cellId) for LTE, NCI
        (gNBId shifted left by 36 - gNBIdLength, plus cellLocalId) for NR, cId for UMTS and GSM."""
        get = self._attribute
        if self.technology in ("LTE", "NB-IoT"):
            enb, cell = self._ancestor_value("ENodeBFunction", "eNBId"), get("cellId")
            return int(enb) * 256 + int(cell) if _ints(enb, cell) else None
        if self.technology == "NR":
            gnb = self._ancestor_value("GNBDUFunction", "gNBId") or self._ancestor_value("GNBCUCPFunction", "gNBId")
            length = self._ancestor_value("GNBDUFunction", "gNBIdLength") or "22"
            local = get("cellLocalId")
            return (int(gnb) << (36 - int(length))) + int(local) if _ints(gnb, length, local) else None
        cid = get("cId")
        return int(cid) if _ints(cid) else None

    def get_freq_str(self) -> str | None:
        """The carrier, as operators name it: the EARFCN of an LTE cell, the ARFCN of an NR
        one, the UARFCN of a UMTS one, the BCCH frequency of a GSM one."""
        for name in _FREQUENCY.get(self._cls, ()):
            value = self._attribute(name)
            if value is not None:
                return str(value)
        return None

    def cosites(self, technology: str | list[str] | None = None) -> list[CellView]:
        """The other cells of the same node (ManagedElement), of the technologies given."""
        wanted = {technology} if isinstance(technology, str) else set(technology or TECHNOLOGY.values())
        expander = self._expander
        node = expander._node_of(self._row)
        if node is None:
            return []
        return [c for c in expander._cells_under(node) if c.technology in wanted and c != self]

    def _attribute(self, name: str) -> Any:
        return None if self._row is None else self._expander._network.value(self._row, name)

    def _ancestor_value(self, cls: str, name: str) -> Any:
        network = self._expander._network
        if self._row is None:
            return None
        for row in network.ancestors(self._row):
            if network.cls[row] == cls:
                return network.value(row, name)
        return None


def _ints(*values: Any) -> bool:
    try:
        for v in values:
            int(v)
    except (TypeError, ValueError):
        return False
    return True


class Vars(Exposed):
    """The template's ``$vars``: shared by every target, changed by expressions."""

    _writable = True

    def __init__(self, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", values)

    def __getattr__(self, name: str) -> Any:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise Stop("error", f"vars.{name}: no such variable in $vars")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise Stop("refused", f"vars.{name}")
        object.__getattribute__(self, "_values")[name] = value


class Custom(Exposed):
    """The ``$custom`` functions, by name."""

    def __init__(self, functions: dict[str, Callable[..., Any]]) -> None:
        object.__setattr__(self, "_functions", functions)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        functions: dict[str, Callable[..., Any]] = object.__getattribute__(self, "_functions")
        if name in functions:
            return functions[name]
        raise Stop("error", f"custom.{name}: no such function in $custom")


class Cluster(Exposed):
    def __init__(self, name: str, members: list[str]) -> None:
        self._name = name
        self._members = members

    def add(self, cell: Any) -> None:
        if not isinstance(cell, MoView):
            raise Stop("error", f"clusters.{self._name}.add: a cell, not {kind_of(cell)}")
        if cell._fdn not in self._members:
            self._members.append(cell._fdn)


class Clusters(Exposed):
    """``$meta.clusters`` by name: each collects the cells a template adds."""

    def __init__(self, declared: dict[str, list[str]]) -> None:
        object.__setattr__(self, "_declared", declared)

    def __getattr__(self, name: str) -> Cluster:
        declared: dict[str, list[str]] = object.__getattribute__(self, "_declared")
        if name not in declared:
            raise Stop("error", f"clusters.{name}: not declared in $meta.clusters")
        return Cluster(name, declared[name])


class Enet(Exposed):
    """The engine: ``set_mo_params`` queues sets in a plan; the rest is unsupported."""

    def __init__(self, expander: Expander) -> None:
        object.__setattr__(self, "_expander", expander)

    def set_mo_params(self, dn: str, params: dict[str, Any], plan: str | None = None, **more: Any) -> None:
        if more:
            raise Stop("unsupported", f"enet.set_mo_params: options {', '.join(sorted(more))}")
        if not isinstance(dn, str) or not isinstance(params, dict):
            raise Stop("error", "enet.set_mo_params(dn, {attribute: value}, plan=…)")
        try:
            fdn = fdn_of_slash(dn)
        except ValueError as err:
            raise Stop("error", f"enet.set_mo_params: {dn!r}: {err}") from None
        object.__getattribute__(self, "_expander")._engine_set(fdn, params, plan)

    def __getattr__(self, name: str) -> Any:
        raise Stop("unsupported", f"enet.{name}: the operator's engine, which rtbfast cannot call")


class Db(Exposed):
    """The operator's databases: out of reach."""

    def __getattr__(self, name: str) -> Any:
        raise Stop("unsupported", f"db.{name}: the operator's database, which rtbfast cannot reach")


class Logger(Exposed):
    """``LOGGER``: what a template logs is kept with the expansion's notes."""

    def __init__(self, notes: Callable[[str, str], None]) -> None:
        object.__setattr__(self, "_note", notes)

    def _log(self, level: str) -> Callable[..., None]:
        note = object.__getattribute__(self, "_note")

        def log(message: Any, *args: Any, **kwargs: Any) -> None:
            note(level, str(message))

        return log

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name in ("debug", "info", "warning", "warn", "error", "exception", "critical"):
            return self._log(name)
        raise Stop("error", f"LOGGER.{name}: not a logging level")


__all__ = [
    "DEFAULT_TARGET_CLASSES",
    "TECHNOLOGY",
    "CellView",
    "Clusters",
    "Custom",
    "Db",
    "Enet",
    "Logger",
    "MoView",
    "NetworkIndex",
    "Vars",
]
