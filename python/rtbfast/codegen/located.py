"""Where in the inputs a type or class of the catalog is defined, for the one error line of a
build that cannot make (or prove) its models: the file, and in an MP XML model the line and
column of the element (``<struct name="S">`` inside ``<mim name="M">``).

The catalog does not keep lines, so the element is looked for in the file when an error is
reported (one pass over the file; only then).
"""

from __future__ import annotations

import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

from rtbfast.codegen.verify import Problem
from rtbfast.errors import GeneratedCodeError, RtbfastError

TAGS = {"class": "class", "struct": "struct", "enum": "enum", "derived type": "derivedDataType"}
"""The MP XML element of each kind."""
MEMBER_TAGS = {"class": "attribute", "struct": "structMember", "enum": "enumMember"}


@dataclass
class Sources:
    """The inputs of a build: which model file defines each MIM, the workbook, the exports."""

    mims: dict[str, Path] = field(default_factory=dict)
    other: list[Path] = field(default_factory=list)
    """Files that define catalog rows without MIMs of their own (the workbook, exports), in
    order: the first is named for a row of no model file."""

    def file_of(self, mim: str) -> Path | None:
        return self.mims.get(mim) or (self.other[0] if self.other else None)

    def error(
        self, cls: type[RtbfastError], message: str, kind: str, mim: str, name: str, member: str = ""
    ) -> RtbfastError:
        """An error of class `cls` saying `message` about the named enum, struct, derived type
        or class (and `member` of it), led by where it is defined: ``file:line:column (in
        models/mim[M]/struct[S])``, or less where less is known."""
        path = self.file_of(mim)
        element = f"models/mim[{mim}]/{TAGS.get(kind, kind)}[{name}]" if mim else f"{TAGS.get(kind, kind)}[{name}]"
        if member:
            element += f"/{MEMBER_TAGS.get(kind, 'member')}[{member}]"
        line, column = (0, 0)
        if path is not None and path in self.mims.values():
            line, column = find_element(path, mim, kind, name, member)
        at = f"{path}:{line}:{column} " if line else f"{path} " if path is not None else ""
        return cls(f"{at}(in {element}): {message}", str(path or ""), line, column, element)


def find_element(path: Path, mim: str, kind: str, name: str, member: str = "") -> tuple[int, int]:
    """The 1-based line and column of ``<tag name="name">`` (and of its ``member`` inside it)
    in the ``<mim name="mim">`` of the MP XML file at `path`; (0, 0) when not found."""
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            start = 0
            steps = [("mim", mim)] if mim else []
            steps.append((TAGS.get(kind, kind), name))
            if member:
                steps.append((MEMBER_TAGS.get(kind, "member"), member))
            found = -1
            for tag, value in steps:
                found = _find(data, tag, value, start)
                if found < 0:
                    return (0, 0)
                start = found
            line = data[:found].count(b"\n") + 1
            column = found - (data.rfind(b"\n", 0, found) + 1) + 1
            return (line, column)
    except (OSError, ValueError):  # unreadable now, or empty
        return (0, 0)


def _find(data: mmap.mmap, tag: str, value: str, start: int) -> int:
    for text in dict.fromkeys([value, escape(value, {'"': "&quot;"})]):
        for encoding in ("utf-8", "latin-1"):
            try:
                wanted = re.escape(text.encode(encoding))
            except UnicodeEncodeError:
                continue
            pattern = rb"<" + tag.encode() + rb"\b[^>]*?\bname\s*=\s*([\"'])" + wanted + rb"\1"
            match = re.compile(pattern).search(data, start)
            if match is not None:
                return match.start()
    return -1


def generated_error(sources: Sources, problem: Problem) -> RtbfastError:
    """The error of a generated model that does not build (a problem of
    :mod:`rtbfast.codegen.verify`), located at the type or class it is made of."""
    bug = "this is an rtbfast bug, or an input it does not yet guard against: please report it with the input"
    kind, mim, name = problem.kind, problem.mim, problem.name
    if kind == "package":
        return GeneratedCodeError(f"the generated package does not import: {problem.error}; {bug}")
    if kind == "class":
        what = f"the model {problem.model} of class {name} of MIM {mim} cannot be built (attribute {problem.member})"
    else:
        what = f"the {kind} {name}{f' of MIM {mim}' if mim else ''} cannot be built (as {problem.model})"
    return sources.error(GeneratedCodeError, f"{what}: {problem.error}; {bug}", kind, mim, name, problem.member)
