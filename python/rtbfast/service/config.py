"""What the server is told: catalogs, volumes, tokens and limits (from the command line or the
container's environment)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from rtbfast.errors import InputError

JOB_KINDS = ("audit", "expand", "plan", "apply")

MiB = 2**20


class ConfigError(InputError):
    """The server cannot start as configured (the CLI exits with 2)."""


@dataclass
class Limits:
    """Bounds of one request and of the job queues."""

    body_bytes: int = 4 * MiB
    """A JSON body (a template check, a job's request)."""
    template_bytes: int = 16 * MiB
    """The templates of one check, all together."""
    upload_bytes: int = 4096 * MiB
    """One upload (an export, a ChangeSet, a script), streamed to disk."""
    request_seconds: float = 60.0
    """A request not answered in this time gets 504 (long work belongs in a job)."""
    job_concurrency: dict[str, int] = field(default_factory=lambda: dict.fromkeys(JOB_KINDS, 1))
    """Jobs of a kind running at once."""
    queue: int = 16
    """Jobs of a kind waiting at most; past it a new one gets 429 with Retry-After."""
    retry_after_seconds: int = 30
    templates_per_check: int = 1000


@dataclass
class ServiceConfig:
    catalogs: dict[str, Path]
    """Name → a build folder (or MP XML model); the first is the default."""
    jobs_dir: Path
    host: str = "127.0.0.1"
    port: int = 8080
    tokens_file: Path | None = None
    data_dir: Path | None = None
    """The data volume: networks, exports, ChangeSets and scripts named by path must be under it."""
    journals_dir: Path | None = None
    """Where `rtbfast apply` journals live (read by /v1/runs; applies started here write there)."""
    metrics_auth: bool = False
    """/metrics needs a token with role ``metrics``."""
    workers: int = 1
    threads: int = 0
    """Threads each check, audit or plan runs on (0: one per core)."""
    check_workers: int = 0
    """Processes template checks run in, each with the catalogs loaded (0: threads of the
    server's process, which hold the GIL the event loop needs)."""
    limits: Limits = field(default_factory=Limits)

    def check(self) -> None:
        """Refuse what must not start: no catalog, an open server on a non-loopback address."""
        if not self.catalogs:
            raise ConfigError("no catalog: give --catalog OUT (or RTBFAST_CATALOGS=NAME=PATH,...)")
        if self.tokens_file is None and not is_loopback(self.host):
            raise ConfigError(
                f"--host {self.host}: without --tokens the server is open and listens on loopback only "
                "(127.0.0.1, ::1 or localhost); give --tokens FILE to listen on another address"
            )
        if self.workers < 1:
            raise ConfigError(f"--workers {self.workers}: at least 1")
        if self.check_workers < 0:
            raise ConfigError(f"--check-workers {self.check_workers}: 0 or more")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_catalogs(given: list[str]) -> dict[str, Path]:
    """``OUT`` or ``NAME=OUT`` items (a bare OUT is named by its folder); names are unique."""
    found: dict[str, Path] = {}
    for item in given:
        item = item.strip()
        if not item:
            continue
        name, sep, path = item.partition("=")
        if not sep:
            path, name = name, Path(name).name or "default"
        name = name.strip()
        if not name or not path:
            raise ConfigError(f"--catalog {item!r}: give OUT or NAME=OUT")
        if not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ConfigError(f"--catalog {item!r}: a catalog name is letters, digits, '-', '_' and '.'")
        if name in found:
            raise ConfigError(f"--catalog {item!r}: the name {name!r} is given twice")
        found[name] = Path(path)
    return found


def catalogs_from_env() -> list[str]:
    return [p for p in os.environ.get("RTBFAST_CATALOGS", "").split(",") if p.strip()]


def config_to_json(config: ServiceConfig, boot: str) -> str:
    """The configuration for worker processes (``--workers N``), which read it from the
    environment (:func:`config_from_json`)."""
    import json
    from dataclasses import asdict

    data = asdict(config)
    for key in ("jobs_dir", "tokens_file", "data_dir", "journals_dir"):
        data[key] = str(data[key]) if data[key] is not None else None
    data["catalogs"] = {k: str(v) for k, v in config.catalogs.items()}
    data["boot"] = boot
    return json.dumps(data)


def config_from_json(text: str) -> tuple[ServiceConfig, str]:
    import json

    data = json.loads(text)
    boot = data.pop("boot")
    limits = Limits(**data.pop("limits"))
    for key in ("jobs_dir", "tokens_file", "data_dir", "journals_dir"):
        data[key] = Path(data[key]) if data[key] is not None else None
    data["catalogs"] = {k: Path(v) for k, v in data["catalogs"].items()}
    return ServiceConfig(limits=limits, **data), str(boot)
