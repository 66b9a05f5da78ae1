"""Hostile and damaged input, one regression test per defect of the hardening issue: every case
ends in exit 0 with output that imports, or in one located line and a non-zero exit (2 for
input that cannot be read, 1 for a failure), never a crash, a traceback or a hang.

The cases are written here; memory bounds are measured in a process of their own
(``test_memory_bounds.py``), the readers are fuzzed under ``rust/fuzz``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rtbfast
from rtbfast.output_folder import REPORT, mark_output, replace_output, tidy_beside, written_aside
from tests.conftest import EXAMPLE_EXPORT, EXAMPLE_MODEL, EXAMPLES, one_line_error
from tests.conftest import rtbfast as cli

HEAD = '<?xml version="1.0"?>\n<bulkCmConfigDataFile xmlns:xn="genericNrm.xsd"><configData dnPrefix="x">\n'
TAIL = "</configData></bulkCmConfigDataFile>\n"
RULES_HEADER = "id,class,when,assert,severity,message,window\n"
WORKBOOK = EXAMPLES / "workbook" / "Spreadsheets_Parameters.csv"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example model built once; tests that damage it work on a copy."""
    out = tmp_path_factory.mktemp("catalog") / "out"
    run = cli("build", EXAMPLE_MODEL, "--workbook", WORKBOOK, "-o", out)
    assert run.returncode == 0, run.stderr
    return out


def _copy(catalog: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "catalog"
    shutil.copytree(catalog, copy)
    return copy


def _dead_pid() -> int:
    """The PID of a process that has ended."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


# -- 1. nesting ---------------------------------------------------------------------------------


def _nested_export(depth: int, tag: str = "xn:VsDataContainer") -> str:
    opening = "".join(
        f'<{tag} id="{i}"><xn:attributes><xn:vsDataType>vsDataX</xn:vsDataType></xn:attributes>' for i in range(depth)
    )
    return HEAD + opening + f"</{tag}>" * depth + TAIL


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(HEAD + '<xn:x id="1">' * 50_000 + "</xn:x>" * 50_000 + TAIL, id="50k unknown elements"),
        pytest.param(_nested_export(5000), id="5k VsDataContainer"),
        pytest.param(
            '<models><mim name="M" version="1" release="1">' + "<a>" * 5000 + "</a>" * 5000 + "</mim></models>",
            id="model",
        ),
    ],
)
def test_deep_nesting_is_a_located_error_in_both_readers(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.xml"
    path.write_text(text)
    line = one_line_error(cli("build", path, "-o", tmp_path / "out"), 2, f"{path}:", "nested more than 256 deep")
    assert "…" in line, "the element path in the message is cut"
    assert not (tmp_path / "out").exists()


def test_nesting_to_the_limit_is_read(tmp_path: Path) -> None:
    # the export's elements around the MOs take 2 levels, each container 1 (its attributes 2 more)
    path = tmp_path / "deep.xml"
    path.write_text(_nested_export(250))
    network = rtbfast.read_network(path)
    assert network.tables["mos"].num_rows == 250
    assert network.tables["mos"].column("fdn")[249].as_py().count(",") == 249


def test_long_ids_under_many_children_are_refused_not_squared(tmp_path: Path) -> None:
    """A 100 KB id is not an MO id (at most 255 bytes); 200 nested ids of 250 bytes above
    20,000 children would make 1 GB of FDNs from 0.6 MB."""
    body = '<xn:SubNetwork id="' + "i" * 100_000 + '">' + "".join(f'<xn:MeContext id="{i}"/>' for i in range(20_000))
    path = tmp_path / "long.xml"
    path.write_text(HEAD + body + "</xn:SubNetwork>" + TAIL)
    one_line_error(cli("build", path, "-o", tmp_path / "out"), 2, f"{path}:3:", "an MO id longer than 255 bytes")
    above = '<xn:SubNetwork id="' + "i" * 250 + '">'
    children = "".join(f'<xn:MeContext id="{i}"/>' for i in range(20_000))
    path.write_text(HEAD + above * 200 + children + "</xn:SubNetwork>" * 200 + TAIL)
    one_line_error(cli("build", path, "-o", tmp_path / "out"), 2, "more than 16 times its size")


def test_names_longer_than_the_limit_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.xml"
    path.write_text(f'<models><mim name="M" version="1" release="1"><class name="{"C" * 600}"/></mim></models>')
    one_line_error(cli("build", path, "-o", tmp_path / "out"), 2, "a name of 600 characters")


def test_warnings_are_capped_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "notype.xml"
    containers = "".join(f'<xn:VsDataContainer id="{i}"/>' for i in range(12_000))  # each without vsDataType
    path.write_text(HEAD + '<xn:SubNetwork id="S">' + containers + "</xn:SubNetwork>" + TAIL)
    network = rtbfast.read_network(path)
    assert len(network.warnings) == 10_001
    assert "2000 more warning(s) not kept" in network.warnings[-1].message


# -- 2. rules that would crash --------------------------------------------------------------------


def _rule_file(tmp_path: Path, expression: str, rid: str = "r1") -> Path:
    path = tmp_path / "rules.csv"
    path.write_text(RULES_HEADER + f'{rid},EUtranCellFDD,,"{expression}",error,m,\n')
    return path


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("+".join(["qRxLevMin"] * 1400) + "+0>0", "levels deep"),
        ("+".join(["qRxLevMin"] * 8000) + "+0>0", "bytes long"),
        ("(" * 70 + "1" + ")" * 70 + " > 0", "brackets nest"),
        ("!" * 600 + "true", "levels deep"),
        (
            "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, children.X.all(c, "
            "children.X.all(d, a + b > 0))))",
            "steps for each MO",
        ),
        ("userLabel.matches('(unclosed')", "not a regular expression"),
        ("x" * 40_000, "bytes long"),
    ],
)
def test_rules_beyond_the_limits_are_errors_naming_the_rule(tmp_path: Path, expression: str, says: str) -> None:
    rules = _rule_file(tmp_path, expression, rid="too-big")
    run = cli("rules", "check", rules)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert "rule 'too-big'" in run.stdout and says in run.stdout, run.stdout


def test_an_audit_leaves_a_rule_beyond_the_limits_out_and_runs_the_others(catalog: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.csv"
    deep = "+".join(["qRxLevMin"] * 1400) + "+0>0"
    rules.write_text(
        RULES_HEADER + f'deep,EUtranCellFDD,,"{deep}",error,m,\nlow,EUtranCellFDD,,qRxLevMin >= -130,error,low,\n'
    )
    run = cli("audit", EXAMPLE_EXPORT, "--catalog", catalog, "--rules", rules, "-o", tmp_path / "audit")
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    summary = json.loads((tmp_path / "audit" / "audit.json").read_text())
    assert any("rule 'deep'" in i and "levels deep" in i for i in summary["rules"]["issues"])
    assert summary["by_rule"].get("low", 0) >= 1, "the other rule ran"


def test_a_build_leaves_a_rule_beyond_the_limits_out_of_the_models(tmp_path: Path) -> None:
    rules = _rule_file(tmp_path, "+".join(["qRxLevMin"] * 1400) + "+0>0", rid="deep")
    run = cli("build", EXAMPLE_MODEL, "--rules", rules, "-o", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out" / REPORT).read_text())
    assert any("rule 'deep'" in i for i in report["rules"]["issues"])
    assert any("'deep'" in n and "does not compile" in n for n in report["models"]["notes"])


# -- 3. models that would not import --------------------------------------------------------------


def _validate_in_subprocess(models: Path, cls: str, values: dict[str, object]) -> str:
    """Import the generated package in a fresh interpreter and validate `values`: ``ok`` or
    the validation error."""
    code = (
        "import sys, json, pydantic\n"
        f"sys.path.insert(0, {str(models)!r})\n"
        "import rtb_models\n"
        f"try:\n    rtb_models.{cls}.model_validate(json.loads({json.dumps(values)!r}))\n"
        "except pydantic.ValidationError as err:\n    print(err)\nelse:\n    print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize(
    "expression",
    [
        pytest.param(
            " || ".join(["qRxLevMin == -140", *(f"qRxLevMin == {1000 + i}" for i in range(299))]), id="300 ||"
        ),
        pytest.param(" + ".join(["qRxLevMin"] * 250) + " < 0", id="250 +"),
    ],
)
def test_long_flat_rules_compile_into_models_that_import_and_enforce_them(tmp_path: Path, expression: str) -> None:
    rules = _rule_file(tmp_path, expression, rid="long")
    run = cli("build", EXAMPLE_MODEL, "--rules", rules, "-o", tmp_path / "out")
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "out" / REPORT).read_text())
    assert report["rules"]["user_rules_in_models"] == 1, report["models"]["notes"]
    models = tmp_path / "out" / "models"
    # -140 is one of the values the || rule allows and makes the sum negative; -100 is a valid
    # value of the field (range -140..-44, steps of 2) that the || rule does not allow
    assert _validate_in_subprocess(models, "EUtranCellFDDState", {"qRxLevMin": -140}) == "ok\n"
    if "||" in expression:
        refused = _validate_in_subprocess(models, "EUtranCellFDDState", {"qRxLevMin": -100})
        assert "[long]" in refused, refused


def test_control_characters_in_texts_are_written_as_escapes(tmp_path: Path) -> None:
    """A NUL or an escape character in a workbook description (built with an export, which has
    no descriptions of its own to keep): the build succeeds, the models import and show the
    escape, the docs too, and the report lists the cell."""
    sheet = WORKBOOK.read_text(encoding="utf-8").replace("The administrative state.", "The admin\x00state\x1b[31m.")
    assert "\x00" in sheet
    workbook = tmp_path / "w.csv"
    workbook.write_text(sheet, encoding="utf-8")
    out = tmp_path / "out"
    run = cli("build", EXAMPLE_EXPORT, "--workbook", workbook, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "control characters" in run.stderr
    report = json.loads((out / REPORT).read_text())
    assert any("administrativeState" in t and "\\x00" in t for t in report["texts_made_safe"]), report[
        "texts_made_safe"
    ]
    for path in (out / "models").rglob("*.py*"):
        if path.is_file() and path.suffix in (".py", ".pyi"):
            assert "\x00" not in path.read_text(encoding="utf-8") and "\x1b" not in path.read_text(encoding="utf-8")
    for page in (out / "docs").rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "\x00" not in text and "\x1b" not in text
    assert _validate_in_subprocess(out / "models", "EUtranCellFDD", {}) == "ok\n"
    docstring = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(out / 'models')!r}); import rtb_models; "
            "print(rtb_models.EUtranCellFDD.model_fields['administrativeState'].description)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert docstring.strip() == "The admin\\x00state\\x1b[31m."


def test_every_generated_module_is_compiled_to_bytecode(catalog: Path) -> None:
    report = json.loads((catalog / REPORT).read_text())
    modules = sorted((catalog / "models").rglob("*.py"))
    assert report["models"]["compiled"] == len(modules) > 0
    for module in modules:
        cached = list((module.parent / "__pycache__").glob(f"{module.stem}.*.pyc"))
        assert len(cached) == 1, module
        flags = int.from_bytes(cached[0].read_bytes()[4:8], "little")
        assert flags == 0b11, "checked against a hash of the source (PEP 552), not a time stamp"


def test_a_module_that_does_not_compile_fails_the_build_located(tmp_path: Path) -> None:
    from rtbfast.codegen.bytecode import compile_generated
    from rtbfast.errors import GeneratedCodeError

    package = tmp_path / "pkg"
    package.mkdir()
    (package / "good.py").write_text("x = 1\n")
    (package / "bad.py").write_text("x = 1\ny = (" * 1 + "\n" + "(" * 250 + "1" + ")" * 250 + ")\n")
    with pytest.raises(GeneratedCodeError) as info:
        compile_generated(package)
    assert info.value.file == str(package / "bad.py") and info.value.line == 3
    assert "too many nested parentheses" in info.value.message


# -- 4. one line, not a traceback -------------------------------------------------------------------


def _damage(folder: Path, how: str) -> Path:
    """Damage a build folder `how`; return the file damaged."""
    attributes = folder / "catalog" / "attributes.parquet"
    if how == "garbage":
        attributes.write_bytes(b"not parquet at all")
        return attributes
    if how == "missing":
        (folder / "catalog" / "classes.parquet").unlink()
        return folder / "catalog" / "classes.parquet"
    if how == "columns":
        rows = pq.read_metadata(attributes).num_rows
        pq.write_table(pa.table({"x": list(range(rows))}), attributes)
        return attributes
    if how == "rows":
        table = pq.read_table(attributes)
        pq.write_table(table.slice(0, 1), attributes)
        return attributes
    constraints = folder / "rules" / "constraints.parquet"
    constraints.write_bytes(b"zz")
    return constraints


DAMAGE = [
    (command, how)
    for command in ("audit", "rules check", "inspect")
    for how in ("garbage", "missing", "columns", "rows", "constraints")
    if not (command == "rules check" and how == "constraints")  # it reads the catalog tables only
]


@pytest.mark.parametrize(("command", "how"), DAMAGE)
def test_a_damaged_catalog_folder_is_named_with_how_to_rebuild_it(
    catalog: Path, tmp_path: Path, how: str, command: str
) -> None:
    folder = _copy(catalog, tmp_path)
    damaged = _damage(folder, how)
    commands: dict[str, list[str | Path]] = {
        "audit": ["audit", EXAMPLE_EXPORT, "--catalog", folder, "-o", tmp_path / "a"],
        "rules check": ["rules", "check", EXAMPLES / "rules.csv", "--catalog", folder],
        "inspect": ["inspect", folder],
    }
    args = commands[command]
    one_line_error(cli(*args), 2, str(damaged), "rebuild it: rtbfast build")


def test_inspect_checks_the_tables_it_summarises(catalog: Path, tmp_path: Path) -> None:
    folder = _copy(catalog, tmp_path)
    assert cli("inspect", folder).returncode == 0
    (folder / "catalog" / "enums.parquet").unlink()
    one_line_error(cli("inspect", folder), 2, "enums.parquet: is missing")


def test_a_rule_cell_over_the_csv_limit_is_located(tmp_path: Path) -> None:
    rules = tmp_path / "rules.csv"
    rules.write_text(RULES_HEADER + 'r1,EUtranCellFDD,,"' + "a" * 200_000 + '",error,m,\n')
    one_line_error(cli("rules", "check", rules), 2, f"{rules}:2:", "column 'assert'", "200,002 characters")


def test_an_output_under_a_file_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    one_line_error(cli("build", EXAMPLE_MODEL, "-o", blocker / "sub"), 1, "is a file, not a folder")
    one_line_error(cli("build", EXAMPLE_MODEL, "-o", blocker), 1, "is a file, not a folder")


@pytest.mark.parametrize("reader", ["read_model", "read_network", "read", "detect_kind"])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_the_api_refuses_what_is_not_a_regular_file(tmp_path: Path, reader: str, special: str) -> None:
    path = special
    if special == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
    code = (
        f"import rtbfast\ntry:\n    rtbfast.{reader}({path!r})\nexcept rtbfast.InputIOError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert "not a regular file" in done.stdout, done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["build", "{dir}", "-o", "{out}"],
        ["build", str(EXAMPLE_MODEL), "--workbook", "{dir}", "-o", "{out}"],
        ["build", str(EXAMPLE_MODEL), "--rules", "{dir}", "-o", "{out}"],
        ["audit", "{dir}", "--catalog", str(EXAMPLE_MODEL), "-o", "{out}"],
        ["rules", "check", "{dir}"],
    ],
)
def test_a_folder_given_as_a_file_is_one_line(tmp_path: Path, args: list[str]) -> None:
    given = [a.format(dir=tmp_path, out=tmp_path / "out") for a in args]
    one_line_error(cli(*given), 2, f"{tmp_path}: is a folder, not a file")


# -- 5. not well-formed XML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda x: x + "garbage", "text after the root element"),
        (lambda x: x.replace('id="EXAMPLE"', 'id="EXAMPLE" id="B"'), "attribute id given twice"),
        (lambda x: x.replace('id="EXAMPLE"', 'id="EX<AMPLE"'), "'<' in the value of attribute id"),
        (lambda x: x.replace("LTE01-1", "LTE01\x00-1"), "U+0000 (NUL) is not allowed"),
        (lambda x: x.replace("LTE01-1", "LTE01&#x1b;-1"), "U+001B (ESC) is not allowed"),
        (lambda x: x.replace("LTE01-1", "LTE01&#xFFFE;-1"), "U+FFFE is not allowed"),
        (lambda x: x.replace('version="1.0"', 'versio="1.0"'), "must begin with version"),
    ],
)
def test_xml_that_is_not_well_formed_is_refused_located(tmp_path: Path, change: object, says: str) -> None:
    text = change(EXAMPLE_EXPORT.read_text())  # type: ignore[operator]
    path = tmp_path / "bad.xml"
    path.write_text(text, encoding="utf-8")
    line = one_line_error(cli("audit", path, "--catalog", EXAMPLE_MODEL, "-o", tmp_path / "a"), 2, says)
    assert f"{path}:" in line and ":0:" not in line.split(" ")[1], line


@pytest.mark.parametrize(
    ("encoding", "says"),
    [("utf-16", "UTF-16 (little-endian, by its byte order mark)"), ("utf-16-be", "UTF-16 (big-endian, without")],
)
def test_utf16_is_refused_in_words(tmp_path: Path, encoding: str, says: str) -> None:
    path = tmp_path / "u16.xml"
    path.write_bytes(EXAMPLE_MODEL.read_text().encode(encoding))
    line = one_line_error(cli("build", path, "-o", tmp_path / "o"), 2, says, "iconv -t UTF-8")
    assert "\x00" not in line


def test_a_utf8_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.xml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_MODEL.read_bytes())
    assert rtbfast.read_model(path).tables["attributes"].equals(rtbfast.read_model(EXAMPLE_MODEL).tables["attributes"])


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE models [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',  # a bomb
        '<!DOCTYPE models [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',  # XXE
    ],
)
def test_declarations_in_the_doctype_are_refused(tmp_path: Path, doctype: str) -> None:
    text = EXAMPLE_MODEL.read_text().replace('<!DOCTYPE models SYSTEM "mp.dtd">', doctype)
    assert doctype in text
    path = tmp_path / "m.xml"
    path.write_text(text)
    one_line_error(cli("build", path, "-o", tmp_path / "o"), 2, "reads no DTD")


# -- 6. the workbook's CSV --------------------------------------------------------------------------


def test_a_workbook_with_a_byte_order_mark_is_read_the_same(tmp_path: Path) -> None:
    with_bom = tmp_path / "bom.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + WORKBOOK.read_bytes())
    plain, marked = rtbfast.read_workbook(WORKBOOK), rtbfast.read_workbook(with_bom)
    assert plain.records == marked.records
    for name, table in plain.tables.items():
        assert table.equals(marked.tables[name]), name


def test_a_byte_that_is_not_utf8_is_located_in_its_column(tmp_path: Path) -> None:
    lines = WORKBOOK.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"The value component", b"The caf\xe9 component", 1)
    path = tmp_path / "w.csv"
    path.write_bytes(b"\n".join(lines))
    column = lines[1].decode("latin-1").index("caf") + 4
    one_line_error(
        cli("build", EXAMPLE_MODEL, "--workbook", path, "-o", tmp_path / "o"),
        2,
        f"{path}:2:{column}: byte 0xe9 in column 'Parameter Description' is not UTF-8",
        "iconv -f WINDOWS-1252",
    )


def test_text_after_a_closing_quote_is_refused_naming_the_column(tmp_path: Path) -> None:
    lines = WORKBOOK.read_text(encoding="utf-8").split("\n")
    lines[1] = lines[1].replace(",The value component of the RDN.,", ',"The value" component,', 1)
    assert '"The value" component' in lines[1]
    path = tmp_path / "w.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    one_line_error(
        cli("build", EXAMPLE_MODEL, "--workbook", path, "-o", tmp_path / "o"),
        2,
        f"{path}:2:{lines[1].index(' component') + 1}:",
        "after the closing quote",
        "column 'Parameter Description'",
    )


def test_a_short_record_names_the_column_it_ends_after(tmp_path: Path) -> None:
    lines = WORKBOOK.read_text(encoding="utf-8").split("\n")
    lines[1] = ",".join(lines[1].split(",")[:5])
    path = tmp_path / "w.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    one_line_error(
        cli("build", EXAMPLE_MODEL, "--workbook", path, "-o", tmp_path / "o"),
        2,
        f"{path}:2:1: the record ends after column 'Parameter Description'",
    )


# -- 7. the output folder ---------------------------------------------------------------------------


def test_folders_left_by_killed_runs_are_removed(catalog: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    dead, alive = _dead_pid(), os.getppid()
    stale, busy = tmp_path / f".out.partial-{dead}", tmp_path / f".out.partial-{alive}"
    stale.mkdir()
    (stale / "half.parquet").write_text("x")
    busy.mkdir()
    assert cli("build", EXAMPLE_MODEL, "-o", out).returncode == 0
    assert not stale.exists(), "the staging folder of a process that is gone is removed"
    assert busy.exists(), "a running build's staging folder is left alone"


def test_an_output_moved_aside_by_a_killed_swap_is_put_back(catalog: Path, tmp_path: Path) -> None:
    """Where the swap is two renames and the run dies between them, ``OUT`` is missing and the
    old output waits in ``.OUT.old-PID``: the next run restores it before anything else."""
    out = tmp_path / "out"
    shutil.copytree(catalog, tmp_path / f".out.old-{_dead_pid()}")
    done = tidy_beside(out)
    assert (out / REPORT).is_file() and any("restored" in d for d in done)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("exchange", [True, False])
def test_the_swap_replaces_a_finished_output_whole(tmp_path: Path, exchange: bool) -> None:
    out = tmp_path / "out"
    for generation in ("old", "new"):
        staging = tmp_path / f".out.partial-{generation}"
        staging.mkdir()
        (staging / REPORT).write_text(generation)
        mark_output(staging, "build")
        replace_output(staging, out, "build", exchange=exchange)
    assert (out / REPORT).read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_failed_write_leaves_the_old_output(catalog: Path, tmp_path: Path) -> None:
    out = _copy(catalog, tmp_path)
    before = (out / REPORT).read_text()
    with pytest.raises(RuntimeError), written_aside(out, "build") as staging:
        (staging / REPORT).write_text("half")
        raise RuntimeError("killed half way")
    assert (out / REPORT).read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["catalog"]


def test_a_catalog_without_constraints_is_said(catalog: Path, tmp_path: Path) -> None:
    folder = _copy(catalog, tmp_path)
    constraints = folder / "rules" / "constraints.parquet"
    pq.write_table(pq.read_table(constraints).slice(0, 0), constraints)
    report = json.loads((folder / REPORT).read_text())
    report["rules"]["constraints"] = 0
    (folder / REPORT).write_text(json.dumps(report))
    run = cli("audit", EXAMPLE_EXPORT, "--catalog", folder, "-o", tmp_path / "a")
    assert "no per-attribute constraints" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


# -- the core made ready ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("rtbfast", ["rtbfast.readers", "rtbfast.pipeline", "rtbfast.codegen", "pyarrow", "pydantic"]),
        ("rtbfast.errors", ["rtbfast.readers", "pyarrow"]),
        ("rtbfast.readers", ["rtbfast.pipeline", "rtbfast.codegen.pydantic_models", "pydantic"]),
        ("rtbfast.audit", ["rtbfast.pipeline", "rtbfast.codegen.pydantic_models", "pydantic"]),
        ("rtbfast.cli", ["rtbfast.pipeline", "rtbfast.audit", "pyarrow"]),
    ],
)
def test_importing_one_part_loads_only_what_it_uses(module: str, absent: list[str]) -> None:
    code = f"import sys, json, {module}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(done.stdout))
    assert not loaded & set(absent), loaded & set(absent)


def test_every_public_name_resolves() -> None:
    for name in rtbfast.__all__:
        assert getattr(rtbfast, name) is not None, name
    assert set(rtbfast.__all__) <= set(dir(rtbfast))
    with pytest.raises(AttributeError):
        _ = rtbfast.no_such_name
