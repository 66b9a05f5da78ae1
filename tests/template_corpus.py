"""A generated corpus of RTB and typed templates for comparing ``templates check`` findings
across implementations: drawn from a catalog's own classes, containment, attributes and
constraints, then spoilt on purpose in every way the check reports (misspelt and misplaced
classes, unknown, read-only and restricted attributes, values out of range, of the wrong
type, in raw units, null, cleared, in ``$cond``/``$switch`` branches, expressions that cannot
compile or call what cannot run, keys that fit no grammar, repeated keys, files that are not
JSON or not templates, YAML/TOML/JSON typed templates, and templates with more findings of one
kind than are listed). Deterministic for a seed."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from rtbfast.templates.units import parse_factor, plain


class _Model:
    """What the generator draws names and values from."""

    def __init__(self, tables: dict[str, pa.Table], constraints: pa.Table) -> None:
        self.children: dict[str, list[str]] = {}
        if "containment" in tables:
            for r in tables["containment"].select(["parent", "child"]).to_pylist():
                self.children.setdefault(r["parent"], [])
                if r["child"] not in self.children[r["parent"]]:
                    self.children[r["parent"]].append(r["child"])
        self.attributes: dict[str, list[dict[str, Any]]] = {}
        self.members: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for r in constraints.to_pylist():
            if r["member"] is None and r["attribute"][:1].islower():
                self.attributes.setdefault(r["class"], []).append(r)
            elif r["member"] is not None:
                self.members.setdefault((r["class"], r["attribute"]), []).append(r)
        self.factors: dict[tuple[str, str], Decimal] = {}
        if "attributes" in tables:
            t = tables["attributes"]
            t = t.filter(pc.is_valid(t["multiplication_factor"]))
            for r in t.select(["class", "attribute", "multiplication_factor"]).to_pylist():
                f = parse_factor(r["multiplication_factor"])
                if f is not None and f != 1:
                    self.factors[(r["class"], r["attribute"])] = f
        self.classes = sorted(set(self.attributes) | set(self.children))
        # top classes: those no containment names as a child, or any class when all are
        contained = {c for cs in self.children.values() for c in cs}
        self.tops = [c for c in self.classes if c not in contained] or self.classes


def _misspelt(rng: random.Random, name: str) -> str:
    if len(name) < 3:
        return name + "x"
    i = rng.randrange(1, len(name) - 1)
    how = rng.randrange(3)
    if how == 0:
        return name[:i] + name[i + 1 :]
    if how == 1:
        return name[:i] + name[i] + name[i:]
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


def _number(rng: random.Random, c: dict[str, Any]) -> Decimal:
    ranges = c.get("ranges") or []
    if ranges:
        r = rng.choice(ranges)
        lo = r["min"] if r["min"] is not None else Decimal(-1000)
        hi = r["max"] if r["max"] is not None else lo + 1000
        if hi - lo > 10**9:
            hi = lo + 10**9
        span = int(hi - lo)
        return lo + (rng.randint(0, span) if span > 0 else 0)
    return Decimal(rng.randint(-50, 5000))


def _good(rng: random.Random, c: dict[str, Any]) -> Any:
    kind = c["kind"]
    if kind == "enum" and c.get("enum_names"):
        return rng.choice(c["enum_names"])
    if kind in ("integer", "decimal", "float"):
        n = _number(rng, c)
        return plain(n) if rng.random() < 0.7 else int(n)
    if kind == "boolean":
        return rng.choice(["true", "false", True, False])
    if kind == "moref":
        return rng.choice(["ManagedElement=1,ENodeBFunction=1", "SubNetwork=A,MeContext=B,ManagedElement=1", ""])
    return rng.choice(["x", "label-1", "a b c", "ÉtéÅ", "08:00"])


def _bad(rng: random.Random, c: dict[str, Any]) -> Any:
    kind = c["kind"]
    if kind == "enum":
        names = c.get("enum_names") or ["X"]
        return rng.choice([_misspelt(rng, rng.choice(names)), "7", "9999", "not_a_member", "1.5"])
    if kind in ("integer", "decimal", "float"):
        ranges = c.get("ranges") or []
        if ranges and rng.random() < 0.6:
            top = max((r["max"] for r in ranges if r["max"] is not None), default=Decimal(10))
            return rng.choice([plain(top + rng.randint(1, 500)), int(top) + 1, plain(top * 10)])
        return rng.choice(["abc", "1.25", "1e3", "12x", "--1", "0x10", "١٢", True])
    if kind == "boolean":
        return rng.choice(["yes", "2", "TRUEE", 3])
    if kind == "moref":
        return rng.choice(["not an fdn", "A=1,,B=2", "1=2", "ManagedElement=1,Foo=2"])
    if c.get("length_max") is not None:
        return "z" * (int(c["length_max"]) + rng.randint(1, 5))
    return rng.choice([17, 2.5, False, "ok"])


class _Writer:
    def __init__(self, model: _Model, rng: random.Random) -> None:
        self.m = model
        self.rng = rng

    def value(self, cls: str, c: dict[str, Any], spoil: float) -> Any:
        rng = self.rng
        members = self.m.members.get((cls, c["attribute"]))
        if c["kind"] == "struct" and members:
            one = {
                m["member"]: (_bad(rng, m) if rng.random() < spoil else _good(rng, m))
                for m in rng.sample(members, rng.randint(1, len(members)))
            }
            if rng.random() < spoil / 2:
                one[_misspelt(rng, members[0]["member"])] = "1"
            if c.get("is_sequence"):
                return [one, dict(one)] if rng.random() < 0.5 else [one]
            return one
        if c.get("is_sequence"):
            n = rng.randint(0, 3)
            return [_bad(rng, c) if rng.random() < spoil else _good(rng, c) for _ in range(n)]
        factor = self.m.factors.get((cls, c["attribute"]))
        if factor is not None and rng.random() < 0.6:
            raw = _number(rng, c)
            eng = raw * factor
            # written in engineering units, or (a likely mistake) in raw units, or off the step
            return rng.choice([plain(eng), plain(raw), plain(eng + factor / 3), int(raw) * 10])
        r = rng.random()
        if r < spoil:
            return _bad(rng, c)
        if r < spoil + 0.02:
            return rng.choice([None, "", "__unset__", "__ignore__", "__delete__", []])
        return _good(rng, c)

    def attributes(self, cls: str, spoil: float) -> dict[str, Any]:
        rng = self.rng
        out: dict[str, Any] = {}
        known = self.m.attributes.get(cls, [])
        for c in rng.sample(known, min(len(known), rng.randint(0, 6))):
            name = c["attribute"]
            v = self.value(cls, c, spoil)
            r = rng.random()
            if r < 0.06:
                v = {"$cond": {"if": f"cell.x == {rng.randint(0, 9)}", "then": v, "else": self.value(cls, c, spoil)}}
            elif r < 0.1:
                v = {
                    "$switch": {
                        "branches": [
                            {"case": "node.is_5g()", "then": v},
                            {"case": "True", "then": {"$eval": "cell.get_freq_str()"}},
                        ]
                    }
                }
            elif r < 0.13:
                v = {"$eval": rng.choice(["int(cell.x) + 1", "db.noria.get(1)", "return 1", "eval('1')"])}
            out[name] = v
        if rng.random() < spoil and known:
            out[_misspelt(rng, rng.choice(known)["attribute"])] = "1"
        if rng.random() < spoil / 3:
            out["noSuchAttribute"] = "1"
        return out

    def key(self, cls: str) -> str:
        rng = self.rng
        r = rng.random()
        at = "@" if rng.random() < 0.1 else ""
        if r < 0.4:
            return at + cls
        if r < 0.75:
            return f"{at}{cls}-{rng.randint(1, 9)}"
        if r < 0.9:
            return f"{at}{cls}-*"
        return f"{at}{cls}-a,b{{1,2}}"

    def mo(self, cls: str, depth: int, spoil: float) -> Any:
        rng = self.rng
        if rng.random() < 0.04:
            return rng.choice(["__delete__", "__ignore__"])
        body: dict[str, Any] = self.attributes(cls, spoil)
        children = self.m.children.get(cls, [])
        if depth < 4:
            for child in rng.sample(children, min(len(children), rng.randint(0, 2))):
                name = child
                r = rng.random()
                if r < spoil / 2:
                    name = _misspelt(rng, child)
                elif r < spoil:
                    name = rng.choice(self.m.classes)  # maybe not a child of cls
                body[self.key(name)] = self.mo(child, depth + 1, spoil)
        r = rng.random()
        if r < 0.08:
            body["$cond"] = {
                "if": rng.choice(["cell.get_freq_str() == '1300'", "x ==", "yield 1", "import os", "vars()"]),
                "then": self.attributes(cls, spoil),
                "else": "__ignore__",
            }
        elif r < 0.11:
            body["$plans"] = {"Lock_Cells": [self.attributes(cls, spoil)], "default": [{}]}
        elif r < 0.13:
            body["$comment"] = "a note"
        return body

    def template(self, n: int, spoil: float) -> list[Any]:
        rng = self.rng
        out: list[Any] = [{"$meta": {"version": "1.0.0", "description": f"generated {n}"}}]
        if rng.random() < 0.1:
            out.append({"$vars": {"cells": [], "flag": False}})
        if rng.random() < 0.08:
            body = rng.choice(
                [["x = 1", "return x"], ["return (", ""], ["with db.noria as d:", "    return d.q()"], ["yield 1"]]
            )
            out.append({"$custom": [{"name": "f", "args": ["mo"], "body": body}]})
        for _ in range(rng.randint(1, 3)):
            cls = rng.choice(self.m.tops if rng.random() < 0.5 else self.m.classes)
            shown = _misspelt(rng, cls) if rng.random() < spoil / 3 else cls
            out.append({self.key(shown): self.mo(cls, 0, spoil)})
        r = rng.random()
        if r < 0.03:
            out.append({"$eval": "enet.set_mo_params(cell.dn, {}, plan='x')"})
        elif r < 0.05:
            out.append({"bad key": {}, "$frob": 1})
        elif r < 0.07:
            out.append(3)
        elif r < 0.09:
            out.append({"$meta": {"inner": True}, "lowerCase": "1"})
        return out


def _dumped(rng: random.Random, doc: Any) -> str:
    r = rng.random()
    if r < 0.2:
        return json.dumps(doc, ensure_ascii=False)
    if r < 0.3:
        return json.dumps(doc, separators=(",", ":"))
    indent: int | str = rng.choice([2, 4, 8, 1]) if rng.random() < 0.8 else "\t"
    return json.dumps(doc, indent=indent, ensure_ascii=rng.random() < 0.5)


def _repeated_keys(text: str) -> str:
    """`text` with its first attribute member written twice (a repeated key)."""
    at = text.find('": "')
    if at < 0:
        return text
    start = text.rfind('"', 0, at)
    end = text.find(",", at)
    if end < 0 or start < 0:
        return text
    member = text[start:end]
    return text[:end] + ", " + member + text[end:]


def _odd(rng: random.Random, n: int, w: _Writer) -> tuple[str, bytes]:
    """A file that is not a plain template: bad JSON, bad bytes, a typed template, …"""
    what = n % 12
    doc = w.template(n, 0.2)
    mos = {k: v for item in doc[1:] if isinstance(item, dict) for k, v in item.items() if not k.startswith("$")}
    if what == 0:
        return ".json", json.dumps(doc).encode()[:-7]
    if what == 1:
        return ".json", b'[{"A": {"x": "\xff"}}]'
    if what == 2:
        return ".json", b""
    if what == 3:
        return ".json", json.dumps({"rtbfast": "template/1", "mos": mos}, indent=2).encode()
    if what == 4:
        import yaml

        return ".yaml", yaml.safe_dump({"rtbfast": "template/1", "mos": mos}, sort_keys=False).encode()
    if what == 5:
        return ".yaml", b"rtbfast: template/1\nmos:\n  A: [unclosed\n"
    if what == 6:
        return ".toml", b'rtbfast = "template/1"\n[mos.EUtranCellFDD]\nqRxLevMin = -150\nnoSuch = 1\n'
    if what == 7:
        return ".json", ("[" * 300 + "]" * 300).encode()
    if what == 8:
        return ".json", _repeated_keys(_repeated_keys(json.dumps(doc, indent=2))).encode()
    if what == 9:
        # many findings of one kind in one template: more than are listed
        cls = rng.choice(w.m.classes)
        many = {f"noSuch{i}": "1" for i in range(260)}
        rows = [{f"{cls}-{i}": {"zzBad": "1", **many}} for i in range(3)]
        return ".json", json.dumps([{"$meta": {}}, *rows]).encode()
    if what == 10:
        return ".json", json.dumps(doc, indent=1).replace("\n", "\r\n").encode()
    return ".json", json.dumps({"not": "a template"}).encode()


def write_corpus(folder: Path, tables: dict[str, pa.Table], constraints: pa.Table, count: int, seed: int) -> list[Path]:
    """`count` templates drawn from the catalog (`tables`, `constraints`) into `folder`: most
    RTB JSON with a share of spoilt values and names, one in ten something odd."""
    rng = random.Random(seed)
    w = _Writer(_Model(tables, constraints), rng)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        if n % 10 == 9:
            suffix, data = _odd(rng, n // 10, w)
        else:
            spoil = rng.choice([0.0, 0.05, 0.2, 0.5])
            text = _dumped(rng, w.template(n, spoil))
            if rng.random() < 0.03:
                text = _repeated_keys(text)
            if rng.random() < 0.02:
                text = "\ufeff" + text
            data = text.encode()
        path = folder / f"t{n:04d}{suffix if n % 10 == 9 else '.json'}"
        path.write_bytes(data)
        paths.append(path)
    return paths
