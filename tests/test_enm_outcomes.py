"""Outcomes judged from ENM's own answers (enm-cli.md §4.4, §6, §10): a change succeeded only
when ENM says it changed something, and the journal keeps ENM's answer whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtbfast.enm.enm_client import CommandOutput
from rtbfast.enm.executor import EnmBackend, judge, run_script
from rtbfast.enm.journal import Journal
from rtbfast.enm.script import read_script

FDN = "SubNetwork=R,MeContext=N,ManagedElement=N,ENodeBFunction=1,EUtranCellFDD=C1"


@pytest.mark.parametrize(
    ("verb", "lines", "ok"),
    [
        ("set", [f"FDN : {FDN}", "1 instance(s) updated"], True),
        ("set", ["12 instance(s) updated"], True),
        ("set", ["0 instance(s) updated"], False),
        ("set", ["0 instance(s) found"], False),
        ("set", [f"FDN : {FDN}"], False),  # no count: ENM did not say it did it
        ("set", ["1 instance(s) deleted"], False),
        ("create", [f"FDN : {FDN}", "1 instance(s) updated"], True),
        ("action", [f"SUCCESS FDN : {FDN}", "1 instance(s) updated"], True),
        ("action", [f"FAILED FDN : {FDN}", "1 instance(s) updated"], False),
        ("delete", [f"FDN : {FDN}", "3 instance(s) deleted"], True),
        ("delete", ["0 instance(s) found"], False),
        ("delete", ["1 instance(s) updated"], False),
        (
            "set",
            ["Error 1010 : An unknown attribute", "Suggested Solution : run cmedit describe", "1 instance(s)"],
            False,
        ),
        ("set", ["Error 5008 : The command executed on 2 out of 3 objects", "2 instance(s) updated"], False),
        ("get", [f"FDN : {FDN}", "userLabel : x", "", "1 instance(s)"], True),
        ("get", ["0 instance(s)"], True),
        ("get", ["Error 1049 : The scope is incorrect"], False),
    ],
)
def test_judged_by_enms_answer(verb: str, lines: list[str], ok: bool) -> None:
    assert judge(verb, lines)[0] is ok, lines


class CannedClient:
    """ENM answering each command with lines of a test's choosing."""

    url = "https://enm.example.com"

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.sent: list[str] = []

    def execute(self, command: str) -> CommandOutput:
        self.sent.append(command)
        for fragment, lines in self.answers.items():
            if fragment in command:
                return CommandOutput(str(len(self.sent)), lines)
        return CommandOutput(str(len(self.sent)), [f"FDN : {FDN}", "1 instance(s) updated"])

    def logout(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_nothing_updated_stops_the_run_and_is_not_journaled_as_applied(tmp_path: Path) -> None:
    script_path = tmp_path / "s.cmedit"
    script_path.write_text(
        f"cmedit set {FDN} qRxLevMin=-120\ncmedit set {FDN} userLabel=x\ncmedit set {FDN} cellRange=KM_15\n",
        encoding="utf-8",
    )
    suggested = ["Error 1010 : An unknown attribute has been encountered", "Suggested Solution : cmedit describe X.*"]
    client = CannedClient({"userLabel": ["0 instance(s) updated"], "cellRange": suggested})
    backend = EnmBackend(client)  # type: ignore[arg-type]
    with Journal(tmp_path / "j.sqlite") as journal:
        outcome = run_script(read_script(script_path), backend, journal)
        assert not outcome.ok and outcome.sent == 1 and outcome.failed is not None
        assert outcome.failed.number == 2 and outcome.answer == ["0 instance(s) updated"]
        states = [(r.state, r.answer) for r in journal.commands(outcome.run)]
        assert states == [("applied", f"FDN : {FDN}\n1 instance(s) updated"), ("failed", "0 instance(s) updated")]
    assert len(client.sent) == 2  # the run stopped: the third command never went out
    # an error is kept whole, its suggested solution with it
    client.answers = {"cellRange": suggested}
    with Journal(tmp_path / "k.sqlite") as journal:
        outcome = run_script(read_script(script_path), backend, journal)
        assert journal.commands(outcome.run)[-1].answer == "\n".join(suggested)
