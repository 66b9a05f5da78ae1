"""What rtbfast writes, and what it will not replace: every output folder (``build``, ``audit``,
``plan``, ``templates variants``) is replaced only when rtbfast wrote it (its
``.rtbfast-output.json`` names the command and every file), and single files (``templates
expand``, ``export``, ``defaults``, ``apply --save-network``) never overwrite a folder or an
input. Each case runs the real command in a process of its own and checks the user's files are
still there byte for byte, with nothing half-written left beside them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rtbfast.changeset import read_changeset, write_changeset
from rtbfast.errors import OutputError
from rtbfast.output_folder import OUTPUT_MARK, written_aside
from tests.conftest import EXAMPLE_EXPORT, EXAMPLE_MODEL, EXAMPLES, one_line_error
from tests.enm_fixtures import CELL, Changes

TYPED = EXAMPLES / "templates"
WORKBOOK = EXAMPLES / "workbook"
COMMANDS = ("build", "audit", "plan", "variants")
SUCCESS = {"build": 0, "audit": 1, "plan": 0, "variants": 0}
"""The exit of a run that wrote its output (the example export has violations of severity error)."""

Args = Callable[[str, Path | str], list[str | Path]]


def cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The ``rtbfast`` command as a user runs it, in a process of its own (in `cwd`)."""
    return subprocess.run(
        [sys.executable, "-m", "rtbfast.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=cwd,
    )


def snapshot(root: Path) -> dict[str, str | bytes]:
    """Everything under `root`: each file's bytes, each link's target, each folder."""
    found: dict[str, str | bytes] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = f"-> {os.readlink(path)}"
            elif path.is_dir():
                found[rel] = "folder"
            else:
                found[rel] = path.read_bytes()
    return found


def mark(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / OUTPUT_MARK).read_text(encoding="utf-8"))
    return data


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {OUTPUT_MARK}


def written(command: str, run: subprocess.CompletedProcess[str], out: Path) -> None:
    """`run` wrote the output of `command` at `out`, marked with every file it holds."""
    assert run.returncode == SUCCESS[command], run.stderr[-2000:]
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    made = mark(out)
    assert made["written_by"] == "rtbfast" and made["command"] == command
    listed = made["files"]
    assert isinstance(listed, dict) and set(listed) == files_in(out)


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = write_changeset(
        Changes().add("set", CELL, "qRxLevMin", "-120").table(),
        tmp_path_factory.mktemp("changes") / "changes.parquet",
        {"by": "test"},
    )
    return path


@pytest.fixture
def args(example_out: Path, export: Path, changes: Path) -> Args:
    """The arguments of each folder-writing command, writing to `out`."""

    def of(command: str, out: Path | str) -> list[str | Path]:
        if command == "build":
            return ["build", EXAMPLE_MODEL, "-o", out, "--force"]
        if command == "audit":
            return ["audit", EXAMPLE_EXPORT, "--catalog", example_out, "-o", out]
        if command == "plan":
            return ["plan", changes, "--catalog", example_out, "--network", export, "-o", out]
        return ["templates", "variants", TYPED / "base_cell.yaml", "--with", TYPED / "sleep_mode.yaml", "-o", out]

    return of


@pytest.fixture
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "t.json"
    path.write_text(json.dumps([{"$meta": {"name": "t"}}, {"EUtranCellFDD": {"qRxLevMin": -120}}]))
    return path


# -- 1. an output folder is replaced only when rtbfast wrote it ------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_is_replaced_by_the_next_run(command: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written(command, cli(*args(command, out)), out)
    (out / next(iter(files_in(out)))).unlink()  # a file it wrote, removed: nothing of the user's
    written(command, cli(*args(command, out)), out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "nothing left beside it"


@pytest.mark.parametrize("command", COMMANDS)
def test_an_empty_folder_is_written(command: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "empty"
    out.mkdir()
    written(command, cli(*args(command, out)), out)


@pytest.mark.parametrize(
    ("command", "theirs", "said"),
    [
        # the names rtbfast once told its outputs by, in a user's folder
        ("build", "report.json", "holds report.json but no .rtbfast-output.json"),
        ("audit", "audit.json", "holds audit.json but no .rtbfast-output.json"),
        ("plan", "plan.json", "holds plan.json but no .rtbfast-output.json"),
        ("variants", "sleep_mode.json", "is not an rtbfast output"),
        ("build", "notes.txt", "is not an rtbfast output"),
    ],
)
def test_a_users_folder_is_refused_and_kept(command: str, theirs: str, said: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / theirs).write_text('{"mine": true}\n')
    (out / "notes.txt").write_text("keep me\n")
    (out / "sub").mkdir()
    (out / "sub" / "data.bin").write_bytes(bytes(range(256)))
    before = snapshot(tmp_path)
    one_line_error(cli(*args(command, out)), 1, f"error: {out}: ", said, "refusing to replace it")
    assert snapshot(tmp_path) == before


def test_an_output_from_before_outputs_were_marked_is_refused_and_still_read(
    args: Args, example_out: Path, tmp_path: Path
) -> None:
    """A build folder the earlier rtbfast wrote (report.json, no mark) is not replaced: a user
    could have a report.json. It still reads as a catalog."""
    old = tmp_path / "old"
    shutil.copytree(example_out, old)
    (old / OUTPUT_MARK).unlink()
    before = snapshot(tmp_path)
    one_line_error(cli(*args("build", old)), 1, "from before its outputs were marked", f"rm -r {old}")
    assert snapshot(tmp_path) == before
    assert cli("inspect", old).returncode == 0
    audited = cli("audit", EXAMPLE_EXPORT, "--catalog", old, "-o", tmp_path / "audit")
    written("audit", audited, tmp_path / "audit")


@pytest.mark.parametrize(
    ("writer", "command"), [("build", "plan"), ("plan", "audit"), ("audit", "variants"), ("variants", "build")]
)
def test_an_output_of_another_command_is_refused(writer: str, command: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written(writer, cli(*args(writer, out)), out)
    before = snapshot(tmp_path)
    one_line_error(cli(*args(command, out)), 1, f"{out}: is the output of rtbfast {writer}, not of {command}")
    assert snapshot(tmp_path) == before


def test_files_added_into_an_output_are_named_and_kept(args: Args, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written("build", cli(*args("build", out)), out)
    (out / "notes.txt").write_text("mine\n")
    (out / "docs" / "my_page.html").write_text("<p>mine</p>\n")
    (out / "mine").mkdir()
    for i in range(5):
        (out / "mine" / f"{i}.csv").write_text(f"{i}\n")
    before = snapshot(tmp_path)
    line = one_line_error(cli(*args("build", out)), 1, f"{out}: holds 7 file(s) rtbfast did not write there")
    assert "docs/my_page.html, mine/0.csv, mine/1.csv, mine/2.csv, mine/3.csv and 2 more" in line
    assert snapshot(tmp_path) == before
    # moved out, the output is replaced again
    shutil.rmtree(out / "mine")
    (out / "notes.txt").unlink()
    (out / "docs" / "my_page.html").unlink()
    written("build", cli(*args("build", out)), out)


def test_the_journal_of_an_applied_plan_keeps_the_plan_folder(
    args: Args, example_out: Path, export: Path, tmp_path: Path
) -> None:
    """``apply`` writes its journal beside the script, in the plan folder: planning again into
    that folder would lose the record of what was applied (and the way to roll it back)."""
    out = tmp_path / "plan"
    written("plan", cli(*args("plan", out)), out)
    applied = cli("apply", out / "plan.cmedit", "--catalog", example_out, "--network", export)
    assert applied.returncode == 0, applied.stderr
    assert (out / "plan.cmedit.simulator.journal.sqlite").is_file()
    before = snapshot(tmp_path)
    one_line_error(cli(*args("plan", out)), 1, "rtbfast did not write there (plan.cmedit.simulator.journal.sqlite)")
    assert snapshot(tmp_path) == before


def test_a_file_of_an_output_changed_by_hand_is_kept(args: Args, tmp_path: Path) -> None:
    out = tmp_path / "plan"
    written("plan", cli(*args("plan", out)), out)
    with (out / "plan.cmedit").open("a") as f:
        f.write("cmedit set MeContext=MINE,ManagedElement=1 userLabel=mine\n")
    before = snapshot(tmp_path)
    one_line_error(cli(*args("plan", out)), 1, "1 file(s) rtbfast wrote there were changed since (plan.cmedit)")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("{", "its .rtbfast-output.json is unreadable"),
        ('{"written_by": "someone", "command": "build", "files": {}}', "is not one rtbfast wrote"),
        ('{"written_by": "rtbfast", "command": "build"}', "without the list of the files rtbfast wrote"),
    ],
)
def test_a_mark_rtbfast_did_not_write_is_refused(text: str, said: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    (out / OUTPUT_MARK).write_text(text)
    before = snapshot(tmp_path)
    one_line_error(cli(*args("build", out)), 1, f"{out}: ", said)
    assert snapshot(tmp_path) == before


def test_bytecode_caches_are_not_a_users_files(args: Args, tmp_path: Path) -> None:
    """Importing the generated models with another Python adds its own ``__pycache__`` files:
    they are caches, not a user's work, and do not keep the build from being replaced."""
    out = tmp_path / "out"
    written("build", cli(*args("build", out)), out)
    package = out / "models" / "rtb_models"
    (package / "__pycache__" / "__init__.cpython-399.pyc").write_bytes(b"cache")
    (out / "models" / "__pycache__").mkdir()
    (out / "models" / "__pycache__" / "rtb_models.cpython-399.pyc").write_bytes(b"cache")
    written("build", cli(*args("build", out)), out)
    assert not (out / "models" / "__pycache__").exists()


def test_a_file_added_while_the_run_writes_is_kept(tmp_path: Path) -> None:
    """The folder is checked again at the swap: what a user put there while the run wrote is
    not swapped away."""
    out = tmp_path / "out"
    with written_aside(out, "build") as staging:
        (staging / "report.json").write_text("first\n")
    before = (out / "report.json").read_bytes()
    late = r"holds 1 file\(s\) rtbfast did not write there \(late.txt\)"
    with pytest.raises(OutputError, match=late), written_aside(out, "build") as staging:
        (staging / "report.json").write_text("second\n")
        (out / "late.txt").write_text("mine\n")
    assert (out / "late.txt").read_text() == "mine\n" and (out / "report.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_quick_start_builds_again_into_out_example(tmp_path: Path) -> None:
    """README: ``rtbfast build ... -o out/example``, run again, replaces the earlier build."""
    quick: list[str | Path] = [
        "build",
        EXAMPLE_MODEL,
        "--workbook",
        WORKBOOK / "Spreadsheets_Parameters.csv",
        "--structs",
        WORKBOOK / "Spreadsheets_StructParameters.csv",
        "-o",
        "out/example",
    ]
    out = tmp_path / "out" / "example"
    written("build", cli(*quick, cwd=tmp_path), out)
    written("build", cli(*quick, "--force", cwd=tmp_path), out)
    assert cli("inspect", "out/example", cwd=tmp_path).returncode == 0


# -- 3. /, ., .., a file, symbolic links: output folders ---------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("target", "said"),
    [
        (".", "is the current folder"),
        ("..", "holds the current folder"),
        ("/", "is the root folder"),
    ],
)
def test_the_current_folder_its_parents_and_root_are_refused(
    command: str, target: str, said: str, args: Args, tmp_path: Path
) -> None:
    here = tmp_path / "work" / "here"
    here.mkdir(parents=True)
    (here / "mine.txt").write_text("mine\n")
    (tmp_path / "work" / "notes.txt").write_text("mine too\n")
    before = snapshot(tmp_path)
    one_line_error(cli(*args(command, target), cwd=here), 1, f"error: {target}: {said}")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_file_given_as_the_output_folder_is_refused(command: str, args: Args, tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("mine\n")
    one_line_error(cli(*args(command, out)), 1, f"{out}: ", "it is a file, not a folder")
    assert snapshot(tmp_path) == {"notes.txt": b"mine\n"}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("earlier", [False, True], ids=["empty", "earlier-output"])
def test_a_link_to_a_folder_is_followed_and_kept(command: str, earlier: bool, args: Args, tmp_path: Path) -> None:
    store = tmp_path / "store"
    target = store / "real"
    target.mkdir(parents=True)
    if earlier:
        written(command, cli(*args(command, target)), target)
    links = tmp_path / "links"
    links.mkdir()
    link = links / "out"
    link.symlink_to(Path("..") / "store" / "real")
    written(command, cli(*args(command, link)), target)
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "store" / "real")
    assert [p.name for p in links.iterdir()] == ["out"] and [p.name for p in store.iterdir()] == ["real"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_link_to_a_users_folder_is_refused(command: str, args: Args, tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    link = tmp_path / "out"
    link.symlink_to(mine)
    before = snapshot(tmp_path)
    one_line_error(cli(*args(command, link)), 1, f"{link} (which leads to {mine}): is not an rtbfast output")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", COMMANDS)
def test_a_link_that_leads_nowhere_is_refused(command: str, args: Args, tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone" / "real")
    one_line_error(cli(*args(command, link)), 1, f"{link}: is a symbolic link to {tmp_path / 'gone' / 'real'}")
    assert snapshot(tmp_path) == {"out": f"-> {tmp_path / 'gone' / 'real'}"}


# -- 2. templates variants ---------------------------------------------------------------------------


@pytest.fixture
def typed(tmp_path: Path) -> Path:
    """A copy of the example typed templates, as a user's folder."""
    folder = tmp_path / "tpl"
    shutil.copytree(TYPED, folder)
    return folder


def _variants(base: Path, *overlays: Path, out: Path, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    withs: list[str | Path] = [a for o in overlays for a in ("--with", o)]
    return cli("templates", "variants", base, *withs, "-o", out, *extra)


def test_variants_replace_an_earlier_variants_output_whole(typed: Path, tmp_path: Path) -> None:
    out = tmp_path / "variants"
    both = _variants(typed / "base_cell.yaml", typed / "sleep_mode.yaml", typed / "motorway_mobility.yaml", out=out)
    written("variants", both, out)
    assert files_in(out) == {"sleep_mode.json", "motorway_mobility.json"}
    one = _variants(typed / "base_cell.yaml", typed / "sleep_mode.yaml", out=out, extra=("--typed", "toml"))
    written("variants", one, out)
    assert files_in(out) == {"sleep_mode.json", "sleep_mode.typed.toml"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tpl", "variants"]


@pytest.mark.parametrize("where", ["the folder of the inputs", "an earlier output holding the base"])
def test_variants_refuse_an_output_that_holds_an_input(where: str, typed: Path, tmp_path: Path) -> None:
    if where == "the folder of the inputs":
        base, out = typed / "base_cell.yaml", typed
    else:
        out = tmp_path / "variants"
        written(
            "variants",
            _variants(typed / "base_cell.yaml", typed / "sleep_mode.yaml", out=out, extra=("--typed", "yaml")),
            out,
        )
        base = out / "sleep_mode.typed.yaml"  # a variant made the base of the next ones
    before = snapshot(tmp_path)
    one_line_error(_variants(base, typed / "motorway_mobility.yaml", out=out), 1, f"{out}: holds {base}, an input")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["same stem", "given twice", "typed name", "the mark's name"])
def test_variants_refuse_overlays_that_would_write_the_same_file(case: str, typed: Path, tmp_path: Path) -> None:
    first = typed / "sleep_mode.yaml"
    extra: tuple[str, ...] = ()
    if case == "same stem":
        (tmp_path / "other").mkdir()
        second = tmp_path / "other" / "sleep_mode.yaml"
        shutil.copy(first, second)
        said = f"{second}: would write {tmp_path / 'variants' / 'sleep_mode.json'}, as {first} does"
    elif case == "given twice":
        second, said = first, "it is given twice"
    elif case == "typed name":
        second = typed / "sleep_mode.typed.yaml"
        shutil.copy(first, second)
        extra = ("--typed", "json")
        said = f"{second}: would write {tmp_path / 'variants' / 'sleep_mode.typed.json'}, as {first} does"
    else:
        second = typed / ".rtbfast-output.yaml"
        shutil.copy(first, second)
        said = "the name rtbfast marks its output folders with"
    before = snapshot(tmp_path)
    one_line_error(_variants(typed / "base_cell.yaml", first, second, out=tmp_path / "variants", extra=extra), 1, said)
    assert snapshot(tmp_path) == before, "nothing written"


# -- 3. single files ----------------------------------------------------------------------------------


FileArgs = Callable[[str, Path | str], list[str | Path]]


@pytest.fixture
def file_args(example_out: Path, export: Path, template: Path) -> FileArgs:
    """The arguments of each file-writing command, writing to `out`."""

    def of(command: str, out: Path | str) -> list[str | Path]:
        if command == "expand":
            where: list[str | Path] = ["--catalog", example_out, "--network", export, "--targets", "NODE000000_0"]
            return ["templates", "expand", template, *where, "-o", out]
        if command == "export":
            return ["templates", "export", TYPED / "base_cell.yaml", "-o", out]
        return ["templates", "defaults", "--catalog", example_out, "--class", "EUtranCellFDD", "-o", out]

    return of


FILE_COMMANDS = ("expand", "export", "defaults")


@pytest.mark.parametrize("command", FILE_COMMANDS)
@pytest.mark.parametrize("target", [".", "..", "/"])
def test_a_folder_given_as_the_output_file_is_refused(
    command: str, target: str, file_args: FileArgs, tmp_path: Path
) -> None:
    here = tmp_path / "work" / "here"
    here.mkdir(parents=True)
    (here / "mine.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    one_line_error(cli(*file_args(command, target), cwd=here), 1, f"error: {target}: is a folder")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_link_to_a_file_is_followed_and_kept(command: str, file_args: FileArgs, tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = store / "old.out"
    target.write_text("the earlier output\n")
    links = tmp_path / "links"
    links.mkdir()
    link = links / "out"
    link.symlink_to(Path("..") / "store" / "old.out")
    run = cli(*file_args(command, link))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert link.is_symlink() and os.readlink(link) == str(Path("..") / "store" / "old.out")
    assert [p.name for p in links.iterdir()] == ["out"] and [p.name for p in store.iterdir()] == ["old.out"]
    if command == "expand":
        assert read_changeset(target)[0].num_rows == 1
    else:
        assert "EUtranCellFDD" in target.read_text()


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_link_to_nowhere_as_the_output_file_is_refused(command: str, file_args: FileArgs, tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone.out")
    one_line_error(cli(*file_args(command, link)), 1, f"{link}: is a symbolic link to {tmp_path / 'gone.out'}")
    assert snapshot(tmp_path) == {"out": f"-> {tmp_path / 'gone.out'}"}


def test_expand_and_export_never_overwrite_their_template(
    example_out: Path, export: Path, template: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "t.json"
    shutil.copy(template, mine)
    link = tmp_path / "link.json"
    link.symlink_to(mine)
    before = snapshot(tmp_path)
    for out in (mine, link):
        expand: list[str | Path] = [
            "templates",
            "expand",
            mine,
            "--catalog",
            example_out,
            "--network",
            export,
            "--targets",
            "*",
        ]
        one_line_error(cli(*expand, "-o", out), 1, f"is {mine}, an input of this run")
        one_line_error(cli("templates", "export", mine, "--to", "json", "-o", out), 1, f"is {mine}, an input")
    assert snapshot(tmp_path) == before


def test_apply_never_saves_the_network_over_its_input(example_out: Path, export: Path, tmp_path: Path) -> None:
    """Refused before the run: nothing is applied, no journal is started."""
    network = tmp_path / "export.xml"
    shutil.copy(export, network)
    script = tmp_path / "s.cmedit"
    script.write_text(f"cmedit set {CELL} qRxLevMin=-120\n")
    before = snapshot(tmp_path)
    apply: list[str | Path] = ["apply", script, "--catalog", example_out, "--network", network]
    one_line_error(cli(*apply, "--save-network", network), 2, f"--save-network {network} is --network")
    one_line_error(cli(*apply, "--save-network", tmp_path), 1, f"{tmp_path}: is a folder")
    assert snapshot(tmp_path) == before
    # through a link to a file of the user's, the file is replaced and the link kept
    (tmp_path / "after.xml").write_text("old\n")
    (tmp_path / "after-link.xml").symlink_to("after.xml")
    run = cli(*apply, "--save-network", tmp_path / "after-link.xml")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "after-link.xml").is_symlink() and "qRxLevMin>-120<" in (tmp_path / "after.xml").read_text()
    assert not list(tmp_path.glob(".*partial*"))


def test_a_changeset_left_half_written_by_a_killed_run_is_removed(file_args: FileArgs, tmp_path: Path) -> None:
    out = tmp_path / "changes.parquet"
    left = tmp_path / f".changes.parquet.partial-{_dead_pid()}"
    left.write_bytes(b"PAR1 half")
    run = cli(*file_args("expand", out))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changes.parquet"]
    assert pq.read_metadata(out).num_rows == 1
