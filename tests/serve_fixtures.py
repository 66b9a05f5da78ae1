"""A real ``rtbfast serve`` on loopback, in a process of its own, for the service tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from rtbfast.service.auth import new_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tokens_file(folder: Path, **roles: list[str]) -> tuple[Path, dict[str, str]]:
    """A tokens file with one token per name (its roles); the tokens in the clear."""
    entries, tokens = [], {}
    for name, given in roles.items():
        token, entry = new_token(name, given)
        entries.append(entry)
        tokens[name] = token
    path = folder / "tokens.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path, tokens


class Server:
    """``rtbfast serve ARGS`` on a free loopback port, its log (stderr) in a file."""

    def __init__(self, folder: Path, *args: str | Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        folder.mkdir(parents=True, exist_ok=True)
        self.log = folder / f"serve-{self.port}.log"
        self.args = [sys.executable, "-m", "rtbfast.cli", "serve", "--port", str(self.port), *map(str, args)]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(env or {})},
            )
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}): {self.log.read_text()[-3000:]}")
            try:
                if self.client.get("/ready").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server was not ready in {seconds} s: {self.log.read_text()[-3000:]}")

    def wait_job(self, job_id: str, *states: str, headers: dict[str, str] | None = None, seconds: float = 60) -> Any:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            job = self.client.get(f"/v1/jobs/{job_id}", headers=headers).json()
            if job["state"] in states:
                return job
            time.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached {states}: {job}")

    def stop(self, sig: int = signal.SIGTERM, seconds: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code: int = self.process.wait(seconds)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.client.close()
        return code

    def lines(self) -> list[dict[str, Any]]:
        """The JSON log lines."""
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out
