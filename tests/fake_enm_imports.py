"""The fake ENM's import jobs: ``cmedit import -f file:NAME --filetype dynamic|3GPP [--error
stop|node|operation]`` with the file uploaded, and ``cmedit import -st -j ID [-v]``, answered as
ENM answers them (``../shared/reference/enm-cli.md`` §7; what is ENM's published behaviour and
what is assumed is in ``docs/enm-imports.md``) by the offline simulator's import jobs
(:meth:`rtbfast.enm.simulator.Simulator.execute_import`).

It plugs into the fake ENM's ``handlers`` (a ``(predicate, callable)`` pair consulted before
the simulator, given the command text and the uploaded file, if any)::

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


@dataclass(frozen=True)
class Upload:
    """An import command ENM was sent with a file: the command, the file's name and sha256, and
    the job it started (None when it answered without one)."""

    command: str
    name: str | None
    sha256: str | None
    job_id: int | None


class ImportJobs:
    """A handler of ``cmedit import`` commands for the fake ENM (see the module)."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.uploads: list[Upload] = []
        self.status_reads: list[tuple[int | None, bool]] = []
        """(job id, verbose) of every ``cmedit import -st``."""
        self.lock = threading.Lock()

    @staticmethod
    def handles(command: str) -> bool:
        return command.split(None, 2)[:2] == ["cmedit", "import"]

    def __call__(self, command: str, file: tuple[str, bytes] | None = None) -> list[str]:
        """ENM's answer lines to `command` (`file`: the uploaded file's name and bytes)."""
        words = command.split()
        with self.lock:
            answer = self.simulator.execute_import(command, file)
            if "-st" in words or "--status" in words:
                job = next((words[i + 1] for i, w in enumerate(words[:-1]) if w in ("-j", "--job")), "")
                self.status_reads.append((int(job) if job.isdigit() else None, "-v" in words or "--verbose" in words))
            else:
                started = self.simulator.uploads[-1][0] if answer.ok and self.simulator.uploads else None
                self.uploads.append(
                    Upload(
                        command,
                        file[0] if file else None,
                        hashlib.sha256(file[1]).hexdigest() if file else None,
                        started,
                    )
                )
        return answer.lines

    @property
    def handler(self) -> tuple[Callable[[str], bool], Callable[..., list[str]]]:
        """The ``(predicate, callable)`` pair for the fake ENM's ``handlers``."""
        return self.handles, self
