"""A compressed export split into chunks that are read alone (no Spark needed).

The chunks of a gzip or bzip2 export (or of a deflated or stored zip member) are cut in one pass
over the decompressed stream; each carries an access point, and read alone it decompresses from
there (a deflate block with its window, a bzip2 block, a stored member's byte). Every chunk read
alone, in order, must give exactly the tables ``rtbfast.read_network`` gives for the same file.
The compressed files are written by Python's ``gzip``, ``bz2`` and ``zipfile`` (CPython's zlib
and libbzip2), not by the Rust side.
"""

from __future__ import annotations

import bz2
import gzip
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pytest

import rtbfast
from bench.generate import write_export
from rtbfast import _native
from rtbfast.errors import ArchiveError, RtbfastError
from rtbfast.spark.network import Chunk, chunk_tables, split
from tests.conftest import samples_dir


def _rows(table: pa.Table) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = table.to_pylist()
    return rows


def _chunked_rows(chunks: list[Chunk], kind: str) -> list[dict[str, object]]:
    return [r for c in chunks for r in _rows(chunk_tables(c)[kind])]


def _assert_chunks_give_the_whole_read(path: Path, chunk_bytes: int) -> list[Chunk]:
    chunks = split([path], chunk_bytes)
    assert split([path], chunk_bytes) == chunks  # deterministic
    whole = rtbfast.read_network(path)
    for kind in ("mos", "values"):
        assert _chunked_rows(chunks, kind) == _rows(whole.tables[kind]), (path.name, chunk_bytes, kind)
    return chunks


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # small nodes (a cell of two relations each): a few hundred of them
    return write_export(tmp_path_factory.mktemp("gzsplit") / "export.xml", 0.4, seed=7, cells=1, relations=2)


def _gzip(plain: Path, level: int, out: Path) -> Path:
    out.write_bytes(gzip.compress(plain.read_bytes(), compresslevel=level, mtime=0))
    return out


@pytest.mark.parametrize("level", [0, 1, 6, 9])
@pytest.mark.parametrize("chunk_bytes", [200, 16 * 1024, 1 << 30])
def test_chunks_of_a_gzip_export_read_alone_give_the_whole_read(
    export: Path, tmp_path: Path, level: int, chunk_bytes: int
) -> None:
    gz = _gzip(export, level, tmp_path / "export.xml.gz")
    chunks = _assert_chunks_give_the_whole_read(gz, chunk_bytes)
    size = export.stat().st_size
    if chunk_bytes >= size:
        assert len(chunks) == 1 and chunks[0].whole and chunks[0].access is None
    else:
        assert all(c.access is not None for c in chunks)
        assert all(c.head_end == _node_starts(export)[1] for c in chunks)
        # every cut at a node's start tag (decompressed offsets)
        assert {c.start for c in chunks} <= set(_node_starts(export))
        if chunk_bytes == 200:
            # smaller than any node and any deflate block: a chunk per node
            assert [c.start for c in chunks] == [0, *_node_starts(export)[2:]]
        else:
            assert len(chunks) >= size // chunk_bytes // 2


def _node_starts(path: Path) -> list[int]:
    data = path.read_bytes()
    found, at = [0], data.find(b"<xn:MeContext ")
    while at >= 0:
        found.append(at)
        at = data.find(b"<xn:MeContext ", at + 1)
    return found


def test_a_gzip_of_several_members_is_cut_across_them(export: Path, tmp_path: Path) -> None:
    data = export.read_bytes()
    third = len(data) // 3
    gz = tmp_path / "members.xml.gz"
    gz.write_bytes(
        b"".join(gzip.compress(part, 6, mtime=0) for part in (data[:third], data[third : 2 * third], data[2 * third :]))
    )
    for chunk_bytes in (300, 20_000):
        chunks = _assert_chunks_give_the_whole_read(gz, chunk_bytes)
        assert len(chunks) > 3


def test_deflated_and_stored_zip_members_and_a_bzip2_export_are_cut(export: Path, tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(export, "deflated.xml", compress_type=zipfile.ZIP_DEFLATED)
        z.write(export, "stored.xml", compress_type=zipfile.ZIP_STORED)
    for member in ("deflated.xml", "stored.xml"):
        chunks = _assert_chunks_give_the_whole_read(Path(f"{archive}!{member}"), 16 * 1024)
        assert len(chunks) > 5 and all(c.access is not None for c in chunks), member
    bz = tmp_path / "export.xml.bz2"
    bz.write_bytes(bz2.compress(export.read_bytes(), 1))
    chunks = _assert_chunks_give_the_whole_read(bz, 16 * 1024)
    assert len(chunks) > 5 and all(c.access is not None for c in chunks)


def _bzip2(plain: Path, level: int, out: Path) -> Path:
    out.write_bytes(bz2.compress(plain.read_bytes(), level))
    return out


@pytest.mark.parametrize("level", [1, 9])
@pytest.mark.parametrize("chunk_bytes", [1500, 16 * 1024, 150_000, 1 << 30])
def test_chunks_of_a_bzip2_export_read_alone_give_the_whole_read(
    export: Path, tmp_path: Path, level: int, chunk_bytes: int
) -> None:
    bz = _bzip2(export, level, tmp_path / "export.xml.bz2")
    chunks = _assert_chunks_give_the_whole_read(bz, chunk_bytes)
    if chunk_bytes == 1 << 30:
        assert [c.whole for c in chunks] == [True]
    else:
        assert len(chunks) >= export.stat().st_size // chunk_bytes // 2
        assert all(c.access is not None for c in chunks)


def test_a_bzip2_of_several_streams_is_cut_across_them(export: Path, tmp_path: Path) -> None:
    """As pbzip2 or ``cat a.bz2 b.bz2`` make it: streams one after another (an empty one too),
    the cuts between them mid-node."""
    data = export.read_bytes()
    third = len(data) // 3
    bz = tmp_path / "streams.xml.bz2"
    parts = (data[:third], b"", data[third : 2 * third], data[2 * third :])
    bz.write_bytes(b"".join(bz2.compress(part, level) for part, level in zip(parts, (1, 9, 9, 1), strict=True)))
    for chunk_bytes in (1500, 20_000):
        chunks = _assert_chunks_give_the_whole_read(bz, chunk_bytes)
        assert len(chunks) > 3


def test_a_truncated_or_corrupt_bzip2_is_a_located_error_at_the_split(export: Path, tmp_path: Path) -> None:
    good = bz2.compress(export.read_bytes(), 1)
    for keep in (len(good) * 2 // 3, len(good) - 3):
        cut = tmp_path / "cut.xml.bz2"
        cut.write_bytes(good[:keep])
        with pytest.raises(ArchiveError, match=r"cut\.xml\.bz2.*truncated at compressed byte \d+ \(decompressed byte"):
            split([cut], 16 * 1024)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.xml.bz2"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(
        ArchiveError, match=r"corrupt\.xml\.bz2.*corrupt bzip2 data at compressed byte \d+ \(decompressed byte \d+\)"
    ):
        split([corrupt], 16 * 1024)
    # the stream's combined CRC (the last 4 bytes before the padding) changed: every block
    # checks, the stream does not, and the split says so
    crc = bytearray(good)
    crc[-2] ^= 0x01
    corrupt.write_bytes(bytes(crc))
    with pytest.raises(ArchiveError, match=r"combined CRC"):
        split([corrupt], 16 * 1024)


def test_a_chunk_of_a_bzip2_changed_after_the_split_fails_never_gives_other_rows(export: Path, tmp_path: Path) -> None:
    bz = _bzip2(export, 1, tmp_path / "export.xml.bz2")
    chunks = split([bz], 16 * 1024)
    before = [chunk_tables(c) for c in chunks]
    # the same export with one value changed, compressed again: blocks where they were
    bz.write_bytes(bz2.compress(export.read_bytes().replace(b">1<", b">2<", 1), 1))
    failed = 0
    for c, tables in zip(chunks, before, strict=True):
        try:
            got = chunk_tables(c)
        except RtbfastError as err:
            assert "do not check" in str(err) or "compressed byte" in str(err), err
            failed += 1
            continue
        assert {k: _rows(t) for k, t in got.items()} == {k: _rows(t) for k, t in tables.items()}
    assert failed >= 1


def test_a_bzip2_access_point_that_is_not_one_is_refused(export: Path, tmp_path: Path) -> None:
    bz = _bzip2(export, 1, tmp_path / "export.xml.bz2")
    c = split([bz], 16 * 1024)[-1]
    assert c.access is not None
    for at, flip in ((4, 0x01), (12, 0x01), (36, 0x01)):  # the bit, the decompressed offset, the CRC
        moved = bytearray(c.access)
        moved[at] ^= flip
        with pytest.raises(RtbfastError, match=r"no block magic|do not check|compressed byte"):
            _native.read_bulkcm_chunk(c.path, c.start, c.end, c.head_end, bytes(moved))


def test_a_truncated_or_corrupt_gzip_is_a_located_error_at_the_split(export: Path, tmp_path: Path) -> None:
    good = gzip.compress(export.read_bytes(), 6, mtime=0)
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(good[: len(good) * 2 // 3])
    with pytest.raises(ArchiveError, match=r"cut\.xml\.gz.*truncated at compressed byte \d+"):
        split([cut], 16 * 1024)
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    corrupt = tmp_path / "corrupt.xml.gz"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(ArchiveError, match=r"corrupt\.xml\.gz.*corrupt gzip data at compressed byte \d+"):
        split([corrupt], 16 * 1024)


def test_a_chunk_of_a_file_corrupted_after_the_split_fails_never_gives_other_rows(export: Path, tmp_path: Path) -> None:
    good = gzip.compress(export.read_bytes(), 6, mtime=0)
    gz = tmp_path / "export.xml.gz"
    gz.write_bytes(good)
    chunks = split([gz], 16 * 1024)
    before = [chunk_tables(c) for c in chunks]
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x10
    gz.write_bytes(bytes(bad))
    failed = 0
    for c, tables in zip(chunks, before, strict=True):
        try:
            got = chunk_tables(c)
        except RtbfastError as err:
            assert "compressed byte" in str(err) or "do not check" in str(err), err
            failed += 1
            continue
        assert {k: _rows(t) for k, t in got.items()} == {k: _rows(t) for k, t in tables.items()}
    assert failed >= 1


def test_an_access_point_that_is_not_one_is_refused(export: Path, tmp_path: Path) -> None:
    gz = _gzip(export, 6, tmp_path / "export.xml.gz")
    c = split([gz], 16 * 1024)[2]
    with pytest.raises(ValueError, match="not an access point"):
        _native.read_bulkcm_chunk(c.path, c.start, c.end, c.head_end, b"garbage")
    assert c.access is not None
    moved = bytearray(c.access)
    moved[4] ^= 0x01  # the bit offset one bit off: inflating from there fails or does not check
    with pytest.raises(RtbfastError):
        _native.read_bulkcm_chunk(c.path, c.start, c.end, c.head_end, bytes(moved))


@pytest.mark.samples
@pytest.mark.parametrize("chunk_bytes", [512, 2048])
def test_the_real_exports_gzipped_give_the_whole_read(tmp_path: Path, chunk_bytes: int) -> None:
    for path in sorted(samples_dir("bulkcm").glob("*.xml")):
        gz = _gzip(path, 9, tmp_path / f"{path.name}.gz")
        try:
            whole = rtbfast.read_network(gz)
        except RtbfastError as err:  # a sample the reader refuses: a chunk refuses it the same way
            with pytest.raises(type(err)):
                for c in split([gz], chunk_bytes):
                    chunk_tables(c)
            continue
        chunks = split([gz], chunk_bytes)
        assert chunks == split([gz], chunk_bytes)
        for kind in ("mos", "values"):
            assert _chunked_rows(chunks, kind) == _rows(whole.tables[kind]), (path.name, chunk_bytes, kind)


@pytest.mark.samples
@pytest.mark.parametrize("chunk_bytes", [512, 4096])
def test_the_real_exports_bzip2ed_give_the_whole_read(tmp_path: Path, chunk_bytes: int) -> None:
    for path in sorted(samples_dir("bulkcm").glob("*.xml")):
        bz = _bzip2(path, 9, tmp_path / f"{path.name}.bz2")
        try:
            whole = rtbfast.read_network(bz)
        except RtbfastError as err:  # a sample the reader refuses: a chunk refuses it the same way
            with pytest.raises(type(err)):
                for c in split([bz], chunk_bytes):
                    chunk_tables(c)
            continue
        chunks = split([bz], chunk_bytes)
        assert chunks == split([bz], chunk_bytes)
        for kind in ("mos", "values"):
            assert _chunked_rows(chunks, kind) == _rows(whole.tables[kind]), (path.name, chunk_bytes, kind)


@pytest.mark.parametrize("every", [1, 997])
def test_a_gzip_of_many_small_blocks_is_cut_and_read_the_same(export: Path, tmp_path: Path, every: int) -> None:
    """A flush after every byte (a deflate block per byte) or every 997 bytes: block boundaries
    everywhere, byte-aligned (a flush ends on a byte) and not (the blocks deflate itself ends)."""
    data = export.read_bytes()[:120_000]
    data = data[: data.rfind(b"<xn:MeContext ")] + b"</xn:SubNetwork>\n</configData>\n</bulkCmConfigDataFile>\n"
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = bytearray()
    for i in range(0, len(data), every):
        out += c.compress(data[i : i + every])
        out += c.flush(zlib.Z_FULL_FLUSH if every == 1 else zlib.Z_SYNC_FLUSH)
    out += c.flush()
    gz = tmp_path / "blocks.xml.gz"
    gz.write_bytes(bytes(out))
    for chunk_bytes in (200, 5000):
        chunks = _assert_chunks_give_the_whole_read(gz, chunk_bytes)
        assert len(chunks) > 5
