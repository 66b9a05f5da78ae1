"""The fake ENM's import jobs: ``cmedit import -f file:NAME --filetype dynamic|3GPP [--error
stop|node|operation]`` with the file uploaded, and ``cmedit import -st -j ID [-v]``, answered as
ENM answers them (``../shared/reference/enm-cli.md`` §7; what is ENM's published behaviour and
what is assumed is in ``docs/enm.md`` (Import jobs)) by the offline simulator's import jobs
(:meth:`rtbfast.enm.simulator.Simulator.execute_import`), its tables as ENM's terminal JSON
gives tables (a group with a ``_group_key``, its column labels, a group per row).

It plugs into the fake ENM's ``handlers`` (a ``(predicate, handler)`` pair consulted before the
simulator, given the command text and the uploaded file, if any)::

    jobs = ImportJobs(fake.simulator)
    fake.handlers.append(jobs.handler)

and counts what it is sent: every upload (:attr:`uploads`), every status read
(:attr:`status_reads`), so that a test can say ENM saw one upload, and which job was followed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from rtbfast.enm.simulator import Simulator
from tests.fake_enm import Element, Handler, Upload, table, text


@dataclass(frozen=True)
class Sent:
    """An import command ENM was sent with a file: the command, the file's name and sha256, and
    the job it started (None when it answered without one)."""

    command: str
    name: str | None
    sha256: str | None
    job_id: int | None


def elements(lines: list[str]) -> list[Element]:
    """The simulator's answer lines as ENM's output elements: a TAB-joined line followed by rows
    of as many cells is a table (labels, rows), a key of its own each; any other line a text."""
    out: list[Element] = []
    i = 0
    while i < len(lines):
        cells = lines[i].split("\t")
        if len(cells) > 1:
            rows = []
            i += 1
            while i < len(lines) and len(lines[i].split("\t")) == len(cells):
                rows.append(lines[i].split("\t"))
                i += 1
            out.append(table(cells, rows, key=str(len(out))))
            continue
        out.append(text(lines[i]))
        i += 1
    return out


class ImportJobs:
    """A handler of ``cmedit import`` commands for the fake ENM (see the module)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.uploads: list[Sent] = []
        self.status_reads: list[tuple[int | None, bool]] = []
        """(job id, verbose) of every ``cmedit import -st``."""
        self.lock = threading.Lock()

    @staticmethod
    def handles(command: str) -> bool:
        return command.split(None, 2)[:2] == ["cmedit", "import"]

    def __call__(self, command: str, file: Upload | None = None) -> list[Element]:
        """ENM's answer to `command` (`file`: the uploaded file's name and bytes)."""
        words = command.split()
        with self.lock:
            answer = self.simulator.execute_import(command, file)
            if "-st" in words or "--status" in words:
                job = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-j", "--job")), "")
                self.status_reads.append((int(job) if job.isdigit() else None, "-v" in words or "--verbose" in words))
            else:
                started = self.simulator.uploads[-1][0] if answer.ok and self.simulator.uploads else None
                self.uploads.append(
                    Sent(
                        command,
                        file[0] if file else None,
                        hashlib.sha256(file[1]).hexdigest() if file else None,
                        started,
                    )
                )
        return elements(answer.lines)

    @property
    def handler(self) -> tuple[Callable[[str], bool], Handler]:
        """The ``(predicate, handler)`` pair for the fake ENM's ``handlers``."""
        return self.handles, self
