"""Which files a list of template arguments names: files, folders and glob patterns."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from pathlib import Path

from rtbfast.errors import InputIOError

TEMPLATE_SUFFIXES = (".json", ".yaml", ".yml", ".toml")
"""The names of template files in a folder: RTB templates (JSON) and typed ones."""


def template_files(given: Iterable[str]) -> list[Path]:
    """Files, folders (every *.json, *.yaml, *.yml and *.toml below) and glob patterns
    (quoted, so the shell leaves them), in the order given, each once. A pattern that
    matches nothing is an input error."""
    found: list[Path] = []
    for item in given:
        path = Path(item)
        if any(ch in item for ch in "*?[") and not path.exists():
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise InputIOError(f"{item}: no file matches this pattern", item)
            found.extend(Path(m) for m in matches if Path(m).is_file())
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEMPLATE_SUFFIXES))
        else:
            found.append(path)
    return list(dict.fromkeys(found))
