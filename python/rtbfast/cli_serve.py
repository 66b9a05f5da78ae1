"""``rtbfast serve``: the click layer over :mod:`rtbfast.service`."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import click

from rtbfast.cli_common import _fail
from rtbfast.errors import RtbfastError

MiB = 2**20


@click.command()
@click.option(
    "--catalog",
    "catalogs",
    multiple=True,
    metavar="OUT|NAME=OUT",
    help="A folder written by `rtbfast build` (or an MP XML model), loaded once at start; repeat with NAME=OUT "
    "for several (requests then say ?catalog=NAME). Default: RTBFAST_CATALOGS=NAME=PATH,NAME=PATH.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(path_type=Path),
    envvar="RTBFAST_TOKENS_FILE",
    help="The tokens file: a JSON list of {name, sha256, roles} (roles: reader, operator, metrics); see "
    "`rtbfast serve-token`. Without it the server is open and listens on loopback only. [env: RTBFAST_TOKENS_FILE]",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    envvar="RTBFAST_DATA_DIR",
    help="The data volume: inputs named by path must be under it. [env: RTBFAST_DATA_DIR]",
)
@click.option(
    "--jobs-dir",
    type=click.Path(path_type=Path),
    envvar="RTBFAST_JOBS_DIR",
    help="The job store and the jobs' files (and uploads). [env: RTBFAST_JOBS_DIR; default: DATA_DIR/jobs, "
    "else ./rtbfast-jobs]",
)
@click.option(
    "--journals-dir",
    type=click.Path(path_type=Path),
    envvar="RTBFAST_JOURNALS_DIR",
    help="The journals of `rtbfast apply` (read by /v1/runs; applies started here write there). "
    "[env: RTBFAST_JOURNALS_DIR]",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Server processes. One per pod is the advice: scale with replicas (each worker loads the catalogs and "
    "counts its own metrics and job queues).",
)
@click.option(
    "--check-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes template checks run in, each with the catalogs loaded (a check is mostly Python: in the "
    "server's own process it would hold the GIL that /health and every other answer need). 0 runs them on "
    "threads of the server's process. [default: one per core, shared among --workers]",
)
@click.option("--metrics-auth", is_flag=True, help="/metrics needs a token with role metrics.")
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Threads a job (audit, expand, plan) runs on; 0 means one per core.",
)
@click.option(
    "--queue",
    type=click.IntRange(min=0),
    default=16,
    show_default=True,
    help="Jobs of a kind waiting at most (429 past it).",
)
@click.option(
    "--job-concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Jobs of a kind running at once.",
)
@click.option(
    "--request-seconds",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Time limit of a request (504 past it; long work goes in jobs).",
)
@click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=4.0, show_default=True, help="JSON bodies.")
@click.option(
    "--max-templates-mb",
    type=click.FloatRange(min=0.001),
    default=16.0,
    show_default=True,
    help="The templates of one check, together.",
)
@click.option(
    "--max-upload-mb", type=click.FloatRange(min=0.001), default=4096.0, show_default=True, help="One upload."
)
@click.option(
    "--keep-alive-seconds",
    type=click.IntRange(min=1),
    default=75,
    show_default=True,
    help="How long an idle connection is kept open: longer than the clients' and load balancers' own (httpx "
    "5 s, most balancers 60 s), so that the client always closes first and never sends on a connection the "
    "server is closing.",
)
@click.option(
    "--drain-seconds",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="On SIGTERM, how long requests in flight have to finish.",
)
def serve(
    catalogs: tuple[str, ...],
    host: str,
    port: int,
    tokens_file: Path | None,
    data_dir: Path | None,
    jobs_dir: Path | None,
    journals_dir: Path | None,
    workers: int,
    check_workers: int | None,
    metrics_auth: bool,
    threads: int,
    queue: int,
    job_concurrency: int,
    request_seconds: float,
    max_body_mb: float,
    max_templates_mb: float,
    max_upload_mb: float,
    keep_alive_seconds: int,
    drain_seconds: float,
) -> None:
    """Serve the API over HTTP: template checks, expansions, plans, audits, catalog lookups,
    jobs and the runs of `rtbfast apply`, with /health, /ready, /metrics (Prometheus) and
    interactive docs at /docs. Needs `pip install 'rtbfast[serve]'`.

    \b
    Example:
      rtbfast serve --catalog out/erbs                       # open, on 127.0.0.1:8080
      rtbfast serve --catalog lte=out/erbs --catalog nr=out/gnb --host 0.0.0.0 --tokens tokens.json

    SIGTERM drains requests in flight (--drain-seconds), marks running jobs failed (resumable)
    and exits. The API is described in docs/service.md and at /docs.
    """
    try:
        import uvicorn

        from rtbfast.service.app import CONFIG_ENV, create_app
        from rtbfast.service.config import (
            JOB_KINDS,
            ConfigError,
            Limits,
            ServiceConfig,
            catalogs_from_env,
            config_to_json,
            parse_catalogs,
        )
        from rtbfast.service.limits import json_logging
    except ImportError as err:
        click.echo(f"error: rtbfast serve needs its extra: pip install 'rtbfast[serve]' ({err})", err=True)
        sys.exit(2)

    try:
        named = parse_catalogs(list(catalogs) or catalogs_from_env())
        jobs = jobs_dir or (data_dir / "jobs" if data_dir is not None else Path("rtbfast-jobs"))
        limits = Limits(
            body_bytes=int(max_body_mb * MiB),
            template_bytes=int(max_templates_mb * MiB),
            upload_bytes=int(max_upload_mb * MiB),
            request_seconds=request_seconds,
            job_concurrency=dict.fromkeys(JOB_KINDS, job_concurrency),
            queue=queue,
        )
        config = ServiceConfig(
            catalogs=named,
            jobs_dir=jobs,
            host=host,
            port=port,
            tokens_file=tokens_file,
            data_dir=data_dir,
            journals_dir=journals_dir,
            metrics_auth=metrics_auth,
            workers=workers,
            check_workers=check_workers if check_workers is not None else _cores_per(workers),
            threads=threads,
            limits=limits,
        )
        config.check()
        for name, path in named.items():
            if not path.exists():
                raise ConfigError(f"--catalog {name}={path}: no such folder or file", str(path))
        json_logging()
        boot = uuid.uuid4().hex
        if workers == 1:
            app = create_app(config, boot)
            server = uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    log_config=None,
                    access_log=False,
                    timeout_graceful_shutdown=int(drain_seconds) or None,
                    timeout_keep_alive=keep_alive_seconds,
                    server_header=False,
                )
            )
            server.run()
        else:
            os.environ[CONFIG_ENV] = config_to_json(config, boot)
            uvicorn.run(
                "rtbfast.service.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=int(drain_seconds) or None,
                timeout_keep_alive=keep_alive_seconds,
                server_header=False,
            )
    except RtbfastError as err:
        _fail(err)


def _cores_per(workers: int) -> int:
    """The cores this process may use, shared among `workers` server processes (at least 1):
    those it may run on, and no more than its cgroup's CPU limit (a container's, such as the
    Helm chart's 2 CPUs on a node of many more cores)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    limit = cgroup_cpu_limit(Path("/sys/fs/cgroup/cpu.max"))
    if limit is not None:
        cores = min(cores, limit)
    return max(1, cores // workers)


def cgroup_cpu_limit(cpu_max: Path) -> int | None:
    """The CPUs a cgroup (v2) ``cpu.max`` allows, rounded up; None without a limit."""
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
    except (OSError, ValueError):
        return None
    if not quota.isdigit() or not period.isdigit() or int(period) == 0:
        return None  # "max": no limit
    return max(1, -(-int(quota) // int(period)))


@click.command("serve-token")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["reader", "operator", "metrics"]),
    help="A role of the token (repeat for more).",
)
def serve_token(name: str, roles: tuple[str, ...]) -> None:
    """Make a token for `rtbfast serve --tokens FILE`: the token on stdout's first line (give it
    to the client; it is not kept), and the JSON entry for the tokens file (its SHA-256 only)
    on the second.

    \b
    Example:
      rtbfast serve-token planning-tool --role reader
    """
    import json

    from rtbfast.service.auth import new_token

    token, entry = new_token(name, list(roles))
    click.echo(token)
    click.echo(json.dumps(entry))
