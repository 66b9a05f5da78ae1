"""Compressed inputs read where a file is read (docs/inputs.md): gzip, bzip2 and zip, told by
their first bytes, give the same tables as the plain file, row for row, through the API and
every command; a zip of several XML members is several inputs named ``archive.zip!member``;
a truncated or corrupt file, a decompression bomb or an unsafe member name is a located error
(exit 2, nothing written).

The compressed files are made here with Python's own gzip, bz2 and zipfile modules: an
implementation independent of the Rust crates that read them."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import shutil
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rtbfast
from rtbfast.errors import ArchiveError, InputError
from rtbfast.readers import ReadWarning, inputs
from tests.conftest import EXAMPLE_EXPORT, EXAMPLE_MODEL, SAMPLES, one_line_error, samples_dir
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import example_out  # noqa: F401  (a fixture)

Variants = dict[str, Path]


def compressed(src: Path, folder: Path, name: str | None = None) -> Variants:
    """`src` as plain, gzip, bzip2 and a one-member zip (with a README beside it), named so
    that a reader going by the name alone would be wrong for two of them."""
    folder.mkdir(parents=True, exist_ok=True)
    data = src.read_bytes()
    stem = name or src.name
    out = {"plain": folder / stem}
    out["plain"].write_bytes(data)
    out["gzip"] = folder / f"{stem}.gz"
    out["gzip"].write_bytes(gzip.compress(data))
    out["bzip2"] = folder / f"{stem}.bz2"
    out["bzip2"].write_bytes(bz2.compress(data))
    out["gzip named .xml"] = folder / f"gz-{stem}"
    out["gzip named .xml"].write_bytes(gzip.compress(data, compresslevel=1))
    out["zip"] = folder / f"{stem}.zip"
    with zipfile.ZipFile(out["zip"], "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("README.txt", "exported by ENM\n")
        z.writestr(f"exports/{stem}", data)
    out["zip member"] = Path(f"{out['zip']}!exports/{stem}")
    out["zip of bzip2"] = folder / f"bz-{stem}.zip"
    with zipfile.ZipFile(out["zip of bzip2"], "w", zipfile.ZIP_BZIP2) as z:
        z.writestr(stem, data)
    return out


def same_tables(a: dict[str, pa.Table], b: dict[str, pa.Table], what: str) -> None:
    assert a.keys() == b.keys(), what
    for name in a:
        assert a[name].schema == b[name].schema, f"{what}: {name}"
        assert a[name].num_rows == b[name].num_rows, f"{what}: {name}"
        assert a[name].equals(b[name]), f"{what}: {name} differs"


def exports() -> list[Path]:
    """The bundled example and every real export of the samples (one of which the reader
    refuses: its error must be the same, located the same, when compressed)."""
    found = [EXAMPLE_EXPORT]
    folder = SAMPLES / "bulkcm"
    found += sorted(folder.glob("*.xml")) if folder.is_dir() else []
    return found


def input_name(kind: str, path: Path, variants: Variants) -> str:
    """The name a read gives the input `path` of `variants`."""
    stem = variants["plain"].name
    if kind == "zip":
        return f"{path}!exports/{stem}"
    if kind == "zip of bzip2":
        return f"{path}!{stem}"
    return str(path)


def where(w: ReadWarning | InputError) -> tuple[int, int, str]:
    return (w.line, w.column, w.element)


@pytest.mark.parametrize("export", exports(), ids=lambda p: p.name)
def test_network_tables_are_the_plain_files(export: Path, tmp_path: Path) -> None:
    if export.parent != EXAMPLE_EXPORT.parent:
        samples_dir("bulkcm")
    variants = compressed(export, tmp_path)
    try:
        plain = rtbfast.read_network(variants["plain"])
    except InputError as refused:
        for kind, path in variants.items():
            with pytest.raises(type(refused)) as err:
                rtbfast.read_network(path)
            assert err.value.file == input_name(kind, path, variants), kind
            assert where(err.value) == where(refused), kind
            assert err.value.message.split(": ", 1)[1] == refused.message.split(": ", 1)[1], kind
        return
    assert plain.tables["mos"].num_rows > 0
    for kind, path in variants.items():
        for threads in (1, 0):
            read = rtbfast.read_network(path, threads=threads)
            same_tables(plain.tables, read.tables, f"{kind} threads={threads}")
            assert read.header == plain.header
            warned = [w for w in read.warnings if not w.file.endswith("!README.txt")]
            assert [(w.message, *where(w)) for w in warned] == [(w.message, *where(w)) for w in plain.warnings]
            assert {w.file for w in warned} <= {input_name(kind, path, variants)}
    warned = rtbfast.read_network(variants["zip"]).warnings
    assert [w.file for w in warned][:1] == [f"{variants['zip']}!README.txt"]
    assert "skipped" in warned[0].message


def test_a_model_read_gzipped_is_the_plain_model(tmp_path: Path) -> None:
    for kind, path in compressed(EXAMPLE_MODEL, tmp_path).items():
        plain = rtbfast.read_model(EXAMPLE_MODEL)
        read = rtbfast.read_model(path)
        same_tables(plain.tables, read.tables, kind)
        assert read.skipped == plain.skipped and read.dtd_version == plain.dtd_version


def test_a_large_model_read_in_parts_equals_its_gzip_read_as_it_streams(tmp_path: Path) -> None:
    from bench.generate import write_model

    src = write_model(tmp_path / "big.xml", 4)  # cut into parts on every core when plain
    plain = rtbfast.read_model(src)
    gz = tmp_path / "big.xml.gz"
    gz.write_bytes(gzip.compress(src.read_bytes(), compresslevel=1))
    same_tables(plain.tables, rtbfast.read_model(gz).tables, "gzip")


def test_a_zip_of_many_exports_is_many_inputs(tmp_path: Path) -> None:
    sources = [p for p in exports() if "eutran" not in p.name]  # the one refused
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i, src in enumerate(sources):
            z.writestr(f"n{i}/{src.name}", src.read_bytes())
        z.writestr("checksums.md5", "x")
        z.writestr("empty/", "")
    members, warned = inputs(archive)
    assert [str(m) for m in members] == [f"{archive}!n{i}/{s.name}" for i, s in enumerate(sources)]
    assert [w.file for w in warned] == [f"{archive}!checksums.md5"]
    for member, src in zip(members, sources, strict=True):
        same_tables(rtbfast.read_network(src).tables, rtbfast.read_network(member).tables, str(member))
    if len(sources) > 1:
        with pytest.raises(ArchiveError, match="XML members") as err:
            rtbfast.read_network(archive)
        assert err.value.file == str(archive)


def _tables(folder: Path) -> dict[str, pa.Table]:
    return {str(p.relative_to(folder)): pq.read_table(p) for p in sorted(folder.rglob("*.parquet"))}


def _without_sources(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The tables with the columns naming the input file left out (they name the file read)."""
    out = {}
    for name, t in tables.items():
        drop = [c for c in t.column_names if c in ("source", "sources", "file", "files")]
        out[name] = t.drop_columns(drop)
    return out


def test_build_and_audit_of_compressed_inputs_write_what_plain_ones_do(tmp_path: Path) -> None:
    model = compressed(EXAMPLE_MODEL, tmp_path / "m")
    export = compressed(EXAMPLE_EXPORT, tmp_path / "e")
    outs = {}
    for kind in ("plain", "gzip", "bzip2", "zip"):
        out = tmp_path / f"build-{kind}"
        run = run_cli("build", model[kind], export[kind], "-o", out)
        assert run.returncode == 0, run.stderr
        outs[kind] = out
        report = json.loads((out / "report.json").read_text())
        assert [i["kind"] for i in report["inputs"]] == ["mom", "bulkcm"]
    plain = _without_sources(_tables(outs["plain"]))
    assert "network/values.parquet" in plain
    for kind in ("gzip", "bzip2", "zip"):
        same_tables(plain, _without_sources(_tables(outs[kind])), f"build {kind}")
    zipped = json.loads((outs["zip"] / "report.json").read_text())
    assert zipped["inputs"][1]["path"] == f"{export['zip']}!exports/{EXAMPLE_EXPORT.name}"
    assert any(w["file"].endswith("!README.txt") for w in zipped["warnings"])

    violations = {}
    for kind in ("plain", "gzip", "bzip2", "zip", "zip member"):
        out = tmp_path / f"audit-{kind}"
        run = run_cli("audit", export[kind], "--catalog", outs["plain"], "-o", out)
        assert run.returncode in (0, 1), run.stderr
        violations[kind] = pq.read_table(out / "violations.parquet")
    assert violations["plain"].num_rows > 0
    for kind, table in violations.items():
        assert table.equals(violations["plain"]), kind


def test_audit_of_a_zip_of_several_exports_audits_each(tmp_path: Path) -> None:
    catalog = tmp_path / "cat"
    assert run_cli("build", EXAMPLE_MODEL, "-o", catalog).returncode == 0
    one = tmp_path / "one"
    run_cli("audit", EXAMPLE_EXPORT, "--catalog", catalog, "-o", one)
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(EXAMPLE_EXPORT, "a.xml")
        z.write(EXAMPLE_EXPORT, "b.xml")
    both = tmp_path / "both"
    run = run_cli("audit", archive, "--catalog", catalog, "-o", both)
    assert run.returncode in (0, 1), run.stderr
    single = pq.read_table(one / "violations.parquet")
    assert pq.read_table(both / "violations.parquet").equals(pa.concat_tables([single, single]))


def test_plan_and_expand_over_a_gzipped_network_write_the_same_files(
    example_out: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    export = compressed(EXAMPLE_EXPORT, tmp_path / "e")
    template = tmp_path / "t.json"
    template.write_text(json.dumps([{"$meta": {"name": "t"}}, {"EUtranCellFDD": {"qRxLevMin": -120}}]))
    written: dict[str, dict[str, dict[str, bytes]]] = {}
    for kind in ("plain", "gzip", "zip member"):
        plan_out, expand_out = tmp_path / f"plan-{kind}", tmp_path / f"expand-{kind}.parquet"
        net = export[kind]
        run = run_cli("plan", template, "--targets", "*", "--catalog", example_out, "--network", net, "-o", plan_out)
        assert run.returncode == 0, run.stderr
        run = run_cli(
            "templates", "expand", template, "--catalog", example_out, "--network", net, "--targets", "*",
            "-o", expand_out,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        # the files as written, the network's path (which the summary and plan.json name) aside,
        # and the output's mark (the sizes of those files)
        named = str(net).encode()
        files = {
            p.name: p.read_bytes().replace(named, b"NETWORK")
            for p in plan_out.iterdir()
            if p.name != ".rtbfast-output.json"
        }
        written[kind] = {"plan": files, "expand": {"rows": pq.read_table(expand_out).to_pylist()}}
    assert written["plain"]["plan"]["plan.cmedit"]
    for kind in ("gzip", "zip member"):
        assert written[kind] == written["plain"], kind


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, Path]:
    data = EXAMPLE_EXPORT.read_bytes()
    big = data.replace(b"</configData>", b"<!--" + os.urandom(1 << 16).hex().encode() + b"--></configData>")
    folder = tmp_path / "in"
    folder.mkdir()
    out: dict[str, Path] = {}
    gz = gzip.compress(big)
    out["truncated gzip"] = folder / "t.xml.gz"
    out["truncated gzip"].write_bytes(gz[: len(gz) // 2])
    bad = bytearray(gz)
    bad[len(bad) // 2] ^= 0xFF
    out["corrupt gzip"] = folder / "c.xml.gz"
    out["corrupt gzip"].write_bytes(bytes(bad))
    b = bz2.compress(big)
    out["truncated bzip2"] = folder / "t.xml.bz2"
    out["truncated bzip2"].write_bytes(b[: len(b) // 2])
    z = folder / "z.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as f:
        f.writestr("e.xml", big)
    zb = z.read_bytes()
    out["truncated zip"] = folder / "tz.zip"
    out["truncated zip"].write_bytes(zb[: len(zb) // 2])
    corrupt = bytearray(zb)
    corrupt[len(corrupt) // 3] ^= 0xFF
    out["corrupt zip"] = folder / "cz.zip"
    out["corrupt zip"].write_bytes(bytes(corrupt))
    out["traversal"] = folder / "trav.zip"
    with zipfile.ZipFile(out["traversal"], "w") as f:
        f.writestr("e.xml", data)
        f.writestr("../../etc/e.xml", data)
    out["absolute"] = folder / "abs.zip"
    with zipfile.ZipFile(out["absolute"], "w") as f:
        f.writestr("/tmp/e.xml", data)
    out["xz"] = folder / "x.xml.xz"
    out["xz"].write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 32)
    return out


EXPECTED = {
    "truncated gzip": ("compressed byte",),
    "corrupt gzip": ("compressed byte",),
    "truncated bzip2": ("compressed byte",),
    "truncated zip": ("zip archive",),
    "corrupt zip": ("zip",),
    "traversal": ("'..'", "refused", "../../etc/e.xml"),
    "absolute": ("absolute", "refused"),
    "xz": ("xz-compressed",),
}


def test_bad_archives_are_located_errors_and_nothing_is_written(broken: dict[str, Path], tmp_path: Path) -> None:
    for kind, path in broken.items():
        with pytest.raises(InputError) as err:
            rtbfast.read_network(path)
        assert err.value.file.startswith(str(path)), kind
        for fragment in EXPECTED[kind]:
            assert fragment in err.value.message, (kind, err.value.message)
        for command in (
            ("build", path, "-o", tmp_path / "out"),
            ("audit", path, "--catalog", EXAMPLE_MODEL, "-o", tmp_path / "out"),
        ):
            run = run_cli(*command)
            one_line_error(run, 2, EXPECTED[kind][0])
            assert not (tmp_path / "out").exists(), (kind, command[0])
            assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")], (kind, command[0])


def _comments_deflated(total: int) -> Callable[[zipfile.ZipFile], None]:
    """A member of `total` bytes of well-formed XML: comments of 8 MiB of white space."""

    def write(z: zipfile.ZipFile) -> None:
        with z.open("bomb.xml", "w", force_zip64=True) as f:
            f.write(b"<bulkCmConfigDataFile>")
            block = b"<!--" + b" " * ((8 << 20) - 7) + b"-->"
            for _ in range(total // len(block)):
                f.write(block)
            f.write(b"</bulkCmConfigDataFile>")

    return write


def test_a_zip_bomb_is_refused_at_the_documented_bound(tmp_path: Path) -> None:
    """1.1 GiB of well-formed XML (comments of white space) deflates to about 1 MiB (a ratio
    near 1000): past 1 GiB and 200 times its compressed bytes it is refused, while it streams."""
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        _comments_deflated(144 * (8 << 20))(z)
    assert bomb.stat().st_size < 16 << 20
    with pytest.raises(ArchiveError, match="decompression bomb") as err:
        rtbfast.read_network(bomb)
    assert err.value.file == f"{bomb}!bomb.xml"
    assert str(1 << 30) in err.value.message


def test_the_bound_is_set_by_the_environment(tmp_path: Path) -> None:
    """The same refusal through the CLI with a bound lowered for the test (and a gzip)."""
    gz = tmp_path / "spaces.xml.gz"
    body = b"<bulkCmConfigDataFile><!--" + b" " * (8 << 20) + b"--></bulkCmConfigDataFile>"
    gz.write_bytes(zlib.compress(b"", 1)[:0] + gzip.compress(body, compresslevel=9))
    env = {"RTBFAST_INFLATE_FLOOR": str(1 << 20), "RTBFAST_INFLATE_RATIO": "100"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        run = run_cli("audit", gz, "--catalog", EXAMPLE_MODEL, "-o", tmp_path / "out")
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k)
            else:
                os.environ[k] = v
    one_line_error(run, 2, "decompression bomb", str(gz))
    assert not (tmp_path / "out").exists()
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
