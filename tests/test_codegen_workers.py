"""Models written by forked workers: the same bytes, schemas and notes for any number of jobs,
and a worker's failure reported with its traceback."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

import rtbfast
from rtbfast.codegen import Generated, generate
from rtbfast.codegen.processes import WorkerFailed, in_processes
from tests.conftest import samples_dir

KINDS = [
    "<long><range><min>-5</min><max>{n}</max></range></long>",
    "<string><lengthRange><min>1</min><max>{n}</max></lengthRange></string>",
    '<enumRef name="Mode"/>',
    "<sequence><long/><maxLength>{n}</maxLength></sequence>",
    '<structRef name="Pair"/>',
    '<moRef name="C0"/>',
]


def _model(classes: int) -> str:
    """Two MIMs of `classes` classes each, the second naming its classes like the first
    (renamed ones), with a duplicate attribute (a note) and fields of every kind."""
    mims = []
    for mim in ("Alpha", "Beta"):
        body = [
            '<enum name="Mode"><enumMember name="ON"><value>1</value></enumMember>'
            '<enumMember name="OFF"><value>0</value></enumMember></enum>',
            '<struct name="Pair"><structMember name="a"><long/></structMember>'
            '<structMember name="b"><string/></structMember></struct>',
        ]
        for c in range(classes):
            attributes = [f'<attribute name="C{c}Id"><mandatory/><dataType><string/></dataType></attribute>']
            for a in range(c % 7 + 1):
                kind = KINDS[(a + c) % len(KINDS)].format(n=a + c + 1)
                flags = "<readOnly/>" if a == 3 else "<restricted/>" if a == 4 else ""
                attributes.append(f'<attribute name="attr{a}">{flags}<dataType>{kind}</dataType></attribute>')
            if c == 5:
                attributes.append('<attribute name="attr0"><dataType><long/></dataType></attribute>')
            body.append(f'<class name="C{c}"><description>Class {c}.</description>{"".join(attributes)}</class>')
        mims.append(f'<mim name="{mim}" version="1" release="0">{"".join(body)}</mim>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE models SYSTEM "mp.dtd">\n'
        f"<models><dtdVersion>H</dtdVersion>{''.join(mims)}</models>\n"
    )


def _files(folder: Path) -> dict[str, bytes]:
    files = (p for p in sorted(folder.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)
    return {str(p.relative_to(folder)): p.read_bytes() for p in files}


def _same(a: Generated, b: Generated) -> None:
    assert (a.models, a.class_models, a.fields, a.notes, a.renamed) == (
        b.models,
        b.class_models,
        b.fields,
        b.notes,
        b.renamed,
    )
    assert (a.classes, a.schema_files, a.modules) == (b.classes, b.schema_files, b.modules)


def test_any_number_of_jobs_writes_the_same_bytes(tmp_path: Path) -> None:
    source = tmp_path / "many_mp.xml"
    source.write_text(_model(80), encoding="utf-8")
    tables = rtbfast.read_model(source).tables
    runs = {}
    for jobs in (1, 2, 3):
        out = tmp_path / f"jobs{jobs}"
        runs[jobs] = generate(tables, out / "models", jobs=jobs, schemas=out / "schemas")
    one = _files(tmp_path / "jobs1")
    # 160 classes: three private modules per MIM, so every run has some
    assert len([n for n in one if n.startswith("models/rtb_models/_alpha_") and n.endswith(".py")]) == 3
    assert len([n for n in one if n.startswith("schemas/")]) == runs[1].schema_files == 160
    assert any("described twice" in n for n in runs[1].notes)
    assert any("of Beta" in r for r in runs[1].renamed)
    for jobs in (2, 3):
        assert _files(tmp_path / f"jobs{jobs}") == one, jobs
        _same(runs[jobs], runs[1])
    single = {jobs: generate(tables, tmp_path / f"single{jobs}", layout="single", jobs=jobs) for jobs in (1, 2)}
    assert _files(tmp_path / "single1") == _files(tmp_path / "single2")
    _same(single[1], single[2])


@pytest.mark.samples
def test_real_lte_model_with_workers(tmp_path: Path) -> None:
    tables = rtbfast.read_model(samples_dir("mom") / "ERBS_NODE_MODEL_D_full_mp.xml").tables
    one = generate(tables, tmp_path / "one" / "models", jobs=1, schemas=tmp_path / "one" / "schemas")
    two = generate(tables, tmp_path / "two" / "models", jobs=2, schemas=tmp_path / "two" / "schemas")
    _same(one, two)
    assert _files(tmp_path / "one") == _files(tmp_path / "two")
    assert one.fields["EUtranCellFDDState"] > one.fields["EUtranCellFDD"] > 100


def _where(k: int) -> tuple[int, int]:
    return k, os.getpid()


def test_in_processes_runs_the_first_share_here_and_the_others_forked() -> None:
    results = in_processes(_where, 3)
    assert [k for k, _ in results] == [0, 1, 2]
    pids = [pid for _, pid in results]
    assert pids[0] == os.getpid() and len(set(pids)) == 3


def _fails_in_a_child(k: int) -> int:
    if k == 1:
        raise ValueError("row 7 is broken")
    return k


def test_a_failing_worker_is_reported_with_its_traceback() -> None:
    with pytest.raises(WorkerFailed) as failure:
        in_processes(_fails_in_a_child, 2)
    assert "rtbfast-worker-1 failed" in str(failure.value)
    assert "ValueError: row 7 is broken" in str(failure.value) and "_fails_in_a_child" in str(failure.value)


def _dies(k: int) -> int:
    if k == 1:
        os._exit(3)
    return k


def test_a_worker_that_dies_is_reported_with_its_exit_code() -> None:
    with pytest.raises(WorkerFailed, match="ended without a result \\(exit code 3\\)"):
        in_processes(_dies, 2)


def _fails_here(k: int) -> int:
    if k == 0:
        raise ValueError("the parent's share is broken")
    time.sleep(30)  # a child still at work when the parent fails
    return k


def test_a_failure_in_this_process_ends_the_workers() -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match="the parent's share is broken"):
        in_processes(_fails_here, 2)
    assert time.perf_counter() - started < 10, "the child was ended, not waited for"
    assert not multiprocessing.active_children()
