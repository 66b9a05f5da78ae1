"""Every command of README.md runs as written, in order, and exits as the README says.

How the README is read:

- the ```` ```sh ```` blocks, in order; a line ending in a backslash goes on with the next (the
  two joined as the shell joins them); blank lines and lines that are only a comment are not
  commands;
- a command exits 0 unless its trailing comment says ``# exits N`` (``# exits 1: 7 errors``);
- ```` ```python ```` blocks run with this Python, at their place in the order, and exit 0;
- ```` ```text ```` blocks are not run: they hold what cannot run here, each with its reason
  given in the README (the whole test suite, which holds this test; the long-running server).

How each command runs:

- with ``bash -c``, exactly as written (joined continuations aside), in a scratch folder holding
  a copy of the repository's ``examples/`` and what the earlier commands wrote there, with
  ``HOME`` in the scratch folder (the completion commands write their scripts there);
- ``rtbfast`` on ``PATH`` is the package under test run by this Python (``sys.executable``);
- ``pip install …`` is skipped, only as its install part: the test runs the package it tests,
  not one pip would build. ``pip install . && rtbfast build …`` runs ``rtbfast build …``; a
  command that only installs runs nothing;
- a command that reaches ENM (``--backend enm --url "$ENM_URL"``) reaches the project's fake ENM
  (tests/fake_enm.py, which follows ENM's published scripting protocol, with the import jobs of
  tests/fake_enm_imports.py) over HTTPS on loopback: ``ENM_URL`` is its address, ``ENM_USERNAME``
  and ``ENM_PASSWORD`` its credentials, and its certificate is signed by the test's own CA, which
  ``SSL_CERT_FILE`` makes the one the client trusts (no ``--ca-file`` in the README). Its network
  starts as the example export.

The whole README runs once per session (the example catalog its first command builds is shared by
every later command); the tests then check what the commands said and wrote: the exit statuses,
the flow's counts (the plan verified on the network after it, nothing left after its rollback,
ENM's network after the README's ENM commands the same as the simulator's), and shell completion.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rtbfast
from rtbfast.catalog_view import CatalogView
from rtbfast.enm.simulator import Simulator
from rtbfast.network_index import read_network_tables
from tests.conftest import EXAMPLE_EXPORT, EXAMPLES, ROOT
from tests.fake_enm import FakeEnm
from tests.fake_enm_imports import ImportJobs

README = ROOT / "README.md"
USER, PASSWORD = "planner", "r3adme-Secret"
TIMEOUT = 180.0
"""Seconds one command may take (the whole README takes about half a minute here)."""

FENCE = re.compile(r"^```(\w*)\s*$")
EXITS = re.compile(r"\s#\s*exits\s+(\d+)\b")
PIP_INSTALL = re.compile(r"^\s*pip\s+install\s+[^&|;]*?(?:&&\s*(?P<rest>.*))?$", re.S)


@dataclass(frozen=True)
class Step:
    """One command of a ```sh block, or one ```python block, where the README has it."""

    kind: str
    """``sh`` or ``python``."""
    text: str
    """As written (continuations joined)."""
    line: int
    """The README line it starts on (1-based)."""
    expected: int

    @property
    def runs(self) -> str | None:
        """What runs: the text, with a leading ``pip install …`` left out (None: nothing)."""
        if self.kind != "sh":
            return self.text
        installs = PIP_INSTALL.match(self.text)
        if installs is None:
            return self.text
        rest = installs.group("rest")
        return rest.strip() if rest else None


def steps_of(markdown: str) -> list[Step]:
    """The steps of `markdown`, in order (see the module)."""
    out: list[Step] = []
    fence: str | None = None
    block: list[tuple[int, str]] = []
    for number, line in enumerate(markdown.splitlines(), 1):
        match = FENCE.match(line)
        if match is None:
            if fence is not None:
                block.append((number, line))
            continue
        if fence is None:
            fence, block = match.group(1), []
            continue
        if fence == "sh":
            out.extend(_commands(block))
        elif fence == "python":
            out.append(Step("python", "\n".join(text for _, text in block) + "\n", block[0][0] if block else number, 0))
        fence = None
    assert fence is None, "README.md: a code block is not closed"
    return out


def _commands(block: list[tuple[int, str]]) -> list[Step]:
    out: list[Step] = []
    pending: list[str] = []
    start = 0
    for number, line in block:
        if not pending:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        text = "".join(pending).strip()
        pending = []
        said = EXITS.search(text)
        out.append(Step("sh", text, start, int(said.group(1)) if said else 0))
    assert not pending, f"README.md:{start}: a command ends in a backslash with nothing after it"
    return out


# -- the parser, on text of its own ----------------------------------------------------------------


def test_the_readme_parser_joins_continuations_reads_exit_codes_and_skips_installs() -> None:
    markdown = "\n".join(
        [
            "Text `rtbfast not-a-command`.",
            "```sh",
            "# a comment, not a command",
            "pip install . && rtbfast build a.xml \\",
            "    -o out  # builds",
            "",
            "pip install '.[serve]'",
            "rtbfast audit x.xml -o o  # exits 1: errors",
            "```",
            "```text",
            "rtbfast serve --catalog out",
            "```",
            "```python",
            "import rtbfast",
            "```",
            "```sh",
            "rtbfast diff a b -o d # exits 2",
            "```",
        ]
    )
    steps = steps_of(markdown)
    assert [(s.kind, s.line, s.expected) for s in steps] == [
        ("sh", 4, 0),
        ("sh", 7, 0),
        ("sh", 8, 1),
        ("python", 14, 0),
        ("sh", 17, 2),
    ]
    assert steps[0].text == "pip install . && rtbfast build a.xml     -o out  # builds"
    assert steps[0].runs == "rtbfast build a.xml     -o out  # builds"
    assert steps[1].runs is None
    assert steps[2].runs == steps[2].text
    assert steps[3].runs == "import rtbfast\n"
    with pytest.raises(AssertionError, match="not closed"):
        steps_of("```sh\nrtbfast inspect out\n")


# -- the README, run --------------------------------------------------------------------------------


@dataclass
class Ran:
    step: Step
    returncode: int | None
    """None: skipped (a ``pip install`` only)."""
    stdout: str
    stderr: str
    seconds: float


@dataclass
class ReadmeRun:
    folder: Path
    ran: list[Ran]
    enm: FakeEnm
    seconds: float
    cpu_seconds: float
    """User and system time of every command's processes."""


def _rtbfast_on_path(folder: Path) -> Path:
    """A ``bin`` folder whose ``rtbfast`` runs the package under test with this Python."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    script = bin_dir / "rtbfast"
    script.write_text(
        f"#!{sys.executable}\nimport sys\n\nfrom rtbfast.cli import main\n\nsys.exit(main())\n", encoding="utf-8"
    )
    script.chmod(0o755)
    return bin_dir


@pytest.fixture(scope="module")
def readme_run(
    tmp_path_factory: pytest.TempPathFactory, example_out: Path, tls: tuple[Path, Path, Path]
) -> Iterator[ReadmeRun]:
    steps = steps_of(README.read_text(encoding="utf-8"))
    root = tmp_path_factory.mktemp("readme")
    folder = root / "work"
    folder.mkdir()
    shutil.copytree(EXAMPLES, folder / "examples")
    home = root / "home"
    home.mkdir()
    package = Path(rtbfast.__file__).resolve().parents[1]
    ca, cert, key = tls
    network = read_network_tables(EXAMPLE_EXPORT)
    fake = FakeEnm(Simulator(network, CatalogView.load(example_out)), USER, PASSWORD, certificate=(str(cert), str(key)))
    fake.handlers.append(ImportJobs(fake.simulator).handler)
    fake.start()
    env = {
        **os.environ,
        "PATH": f"{_rtbfast_on_path(root)}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(p for p in (str(package), os.environ.get("PYTHONPATH", "")) if p),
        "HOME": str(home),
        "ENM_URL": fake.url,
        "ENM_USERNAME": USER,
        "ENM_PASSWORD": PASSWORD,
        "SSL_CERT_FILE": str(ca),
    }
    env.pop("_RTBFAST_COMPLETE", None)
    ran: list[Ran] = []
    began = time.monotonic()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        for step in steps:
            runs = step.runs
            if runs is None:
                ran.append(Ran(step, None, "", "", 0.0))
                continue
            argv = ["bash", "-c", runs] if step.kind == "sh" else [sys.executable, "-c", runs]
            start = time.monotonic()
            done = subprocess.run(
                argv,
                cwd=folder,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
                timeout=TIMEOUT,
            )
            ran.append(Ran(step, done.returncode, done.stdout, done.stderr, time.monotonic() - start))
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = now.ru_utime + now.ru_stime - used.ru_utime - used.ru_stime
        yield ReadmeRun(folder, ran, fake, time.monotonic() - began, cpu)
    finally:
        fake.stop()


def test_every_readme_command_runs_as_written_and_exits_as_the_readme_says(readme_run: ReadmeRun) -> None:
    ran = [r for r in readme_run.ran if r.returncode is not None]
    assert len(ran) >= 30, [r.step.text for r in readme_run.ran]  # the README's commands, not a few
    wrong = [
        f"README.md:{r.step.line}: {r.step.text}\n  exited {r.returncode}, the README says {r.step.expected}"
        f"\n  stderr: {r.stderr[-1500:]}\n  stdout: {r.stdout[-500:]}"
        for r in ran
        if r.returncode != r.step.expected
    ]
    assert not wrong, "\n".join(wrong)
    # no command failed with a traceback, whatever its status
    assert not [r.step.line for r in ran if "Traceback" in r.stderr]
    # what was skipped is only pip installing the package under test
    assert all(r.step.text.startswith("pip install ") for r in readme_run.ran if r.returncode is None)
    # every status the README gives is one a command really had: an exit 1 is not an exit 2
    assert {r.step.expected for r in ran} >= {0, 1}
    print(f"\n{len(ran)} README commands in {readme_run.seconds:.1f} s ({readme_run.cpu_seconds:.1f} CPU-s)")


def test_every_enm_command_of_the_readme_reached_the_fake_enm(readme_run: ReadmeRun) -> None:
    reaching = [r for r in readme_run.ran if '"$ENM_URL"' in r.step.text]
    assert reaching, "the README shows no command reaching ENM"
    for r in reaching:
        assert readme_run.enm.url.removeprefix("https://") in r.stdout + r.stderr, (r.step.text, r.stderr)
    assert readme_run.enm.logins, "nobody logged in to the fake ENM"


def _values(tables: dict[str, pa.Table]) -> set[tuple[Any, ...]]:
    columns = ["fdn", "attribute", "member", "index", "value"]
    return {tuple(row[c] for c in columns) for row in tables["values"].select(columns).to_pylist()}


def _fdns(tables: dict[str, pa.Table]) -> set[str]:
    return {str(f) for f in tables["mos"].column("fdn").to_pylist()}


def _json(path: Path) -> dict[str, Any]:
    import json

    assert path.is_file(), f"the README no longer writes {path.name} where this test reads it ({path})"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_the_example_flow_plans_applies_verifies_and_rolls_back(readme_run: ReadmeRun) -> None:
    """check → expand → plan → apply on the simulator → verify → roll back, as the README runs
    it: the counts it gives are the ones the commands wrote."""
    out = readme_run.folder

    def said(command: str) -> str:
        runs = [r for r in readme_run.ran if r.step.text.startswith(command)]
        assert runs, f"the README no longer runs {command}"
        return runs[0].stdout + runs[0].stderr

    # the template sets what the node made (no create of a system-created MO), and plans as the
    # README says: 36 sets, 7 steps on 7 MOs, 27 writes that already hold
    expanded = said("rtbfast templates expand examples/templates/base_cell.yaml")
    assert "3 target(s): 36 row(s) (0 create, 36 set, 0 delete); 0 error(s), 0 warning(s)" in expanded
    planned = said(
        "rtbfast plan changes.parquet --catalog out/example --network examples/enodeb_mini_export.xml -o out/plan"
    )
    assert "7 step(s) on 7 MO(s) of 2 node(s): 0 create, 7 set, 0 delete, 0 lock; 27 write(s) already true" in planned
    before = read_network_tables(out / "examples" / "enodeb_mini_export.xml")
    after = read_network_tables(out / "after.xml")
    back = read_network_tables(out / "rolled-back.xml")
    # the plan changed values, and only values the plan names
    changed = _values(after) - _values(before)
    assert len(changed) == 9 and _fdns(after) == _fdns(before)
    plan = (out / "out" / "plan" / "plan.cmedit").read_text(encoding="utf-8")
    for fdn, attribute, _, _, value in changed:
        assert any(
            line.startswith(f"cmedit set {fdn} ") and f"{attribute}={value}" in line for line in plan.splitlines()
        )
    # verified on the network after it: every planned value held
    verified = _json(out / "out" / "verified" / "verify.json")
    assert verified["counts"]["held"] == verified["planned"] == 9, verified
    # on the network after the rollback: nothing held, all not taken, and nothing changed
    again = _json(out / "out" / "verified-back" / "verify.json")
    assert again["counts"]["not_taken"] == again["planned"] == 9, again
    assert _values(back) == _values(before) and _fdns(back) == _fdns(before)
    unchanged = _json(out / "out" / "unchanged" / "diff.json")
    assert (unchanged["values_changed"], unchanged["mos_added"], unchanged["mos_removed"]) == (0, 0, 0)
    diffed = _json(out / "out" / "changed" / "diff.json")
    assert diffed["values_changed"] == 9
    # ENM, after the README's ENM commands (the plan, its rollback, the plan again as an import
    # job), holds what the simulator held after the plan
    enm = readme_run.enm.simulator.tables()
    assert _values(enm) == _values(after) and _fdns(enm) == _fdns(after)


def test_the_readme_shows_json_on_stdout_for_audit_inspect_and_templates_check(readme_run: ReadmeRun) -> None:
    import json

    for command in ("rtbfast audit ", "rtbfast inspect ", "rtbfast templates check "):
        shown = [r for r in readme_run.ran if r.step.text.startswith(command) and "--format json" in r.step.text]
        assert shown, f"the README shows no {command.strip()} --format json"
        for r in shown:
            assert isinstance(json.loads(r.stdout), dict), r.stdout[:500]


# -- shell completion --------------------------------------------------------------------------------


def _complete(env: dict[str, str], *words: str) -> list[str]:
    """What bash completion offers for the last of `words`, as click's bash script asks for it."""
    done = subprocess.run(
        ["rtbfast"],
        env={
            **env,
            "COMP_WORDS": " ".join(words),
            "COMP_CWORD": str(len(words) - 1),
            "_RTBFAST_COMPLETE": "bash_complete",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_shell_completion_scripts_and_answers(readme_run: ReadmeRun, tmp_path: Path) -> None:
    home = readme_run.folder.parent / "home"
    bash_script = home / ".rtbfast-complete.bash"
    assert bash_script.is_file(), "the README's completion command did not write its script"
    script = bash_script.read_text(encoding="utf-8")
    assert "complete " in script and "rtbfast" in script and "_RTBFAST_COMPLETE=bash_complete" in script
    assert "compdef rtbfast" in (home / ".rtbfast-complete.zsh").read_text(encoding="utf-8")
    assert "complete " in (home / ".config" / "fish" / "completions" / "rtbfast.fish").read_text(encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{readme_run.folder.parent / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path(rtbfast.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    env.pop("_RTBFAST_COMPLETE", None)
    assert _complete(env, "rtbfast", "pl") == ["plain,plan"]
    assert _complete(env, "rtbfast", "apply", "--backend", "") == ["plain,simulator", "plain,enm"]
    assert set(_complete(env, "rtbfast", "templates", "")) >= {"plain,check", "plain,expand", "plain,variants"}
    # the script itself, read by bash and asked as bash asks it: COMPREPLY holds the command
    probe = (
        f". {bash_script}\n"
        "COMP_WORDS=(rtbfast ver); COMP_CWORD=1\n"
        "_rtbfast_completion rtbfast\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    asked = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert asked.returncode == 0, asked.stderr
    assert asked.stdout.split() == ["verify"]
