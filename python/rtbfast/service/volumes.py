"""Inputs of jobs by path: a file on the data volume (never outside it), or an upload,
streamed to disk on the jobs volume (never held whole in memory)."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
CHUNK_BYTES = 1 << 20


class RefusedPath(ValueError):
    """A path the service will not read (outside the data volume, missing, or no volume)."""


class TooLarge(ValueError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than this route's limit of {limit:,} bytes")
        self.limit = limit


def on_volume(data_dir: Path | None, given: str) -> Path:
    """`given` (relative to the data volume, or absolute inside it) resolved, links followed;
    refused when it leads outside the volume or does not exist."""
    if data_dir is None:
        raise RefusedPath("no data volume is configured (--data-dir): give the input as an upload")
    if not given:
        raise RefusedPath("an empty path")
    if "\x00" in given:
        raise RefusedPath("a path holding a NUL character")
    root = data_dir.resolve()
    candidate = Path(given)
    full = (candidate if candidate.is_absolute() else root / candidate).resolve()
    if not full.is_relative_to(root):
        raise RefusedPath(f"{given}: outside the data volume")
    if not full.exists():
        raise RefusedPath(f"{given}: no such file or folder on the data volume")
    return full


def uploads_dir(jobs_dir: Path) -> Path:
    return jobs_dir / "uploads"


def uploaded(jobs_dir: Path, upload_id: str) -> Path:
    if not UPLOAD_ID.match(upload_id):
        raise RefusedPath(f"{upload_id!r}: not an upload id")
    path = uploads_dir(jobs_dir) / upload_id
    if not path.is_file():
        raise RefusedPath(f"upload {upload_id}: not found (uploads are kept until the server's volume is cleaned)")
    return path


async def stream_to_disk(chunks: AsyncIterator[bytes], jobs_dir: Path, limit: int) -> tuple[str, int]:
    """Write the body to a new upload, a chunk at a time; past `limit` bytes the partial file is
    removed and :class:`TooLarge` raised. Returns the upload id and its size."""
    folder = uploads_dir(jobs_dir)
    folder.mkdir(parents=True, exist_ok=True)
    upload_id = uuid.uuid4().hex
    partial = folder / f".{upload_id}.part"
    size = 0
    try:
        with partial.open("wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        partial.rename(folder / upload_id)
    finally:
        partial.unlink(missing_ok=True)
    return upload_id, size
