"""The routes of ``rtbfast serve``. Every route calls the public API the CLI calls, with the
catalogs loaded once at start; long work runs as jobs (:mod:`rtbfast.service.jobs`)."""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rtbfast import _native
from rtbfast.catalog_view import CatalogView
from rtbfast.errors import RtbfastError
from rtbfast.service import volumes, work
from rtbfast.service.auth import OPEN, Principal, Tokens
from rtbfast.service.checks import CheckAnswer, CheckPool, WorkerLost, check_answer
from rtbfast.service.config import JOB_KINDS, ServiceConfig
from rtbfast.service.jobs import Job, JobRunner, JobStore, QueueFull, Work
from rtbfast.service.limits import RequestMiddleware
from rtbfast.service.metrics import JOB_STATES, Metrics
from rtbfast.service.tables import ARROW, PARQUET, rows, table_response, wanted

log = logging.getLogger("rtbfast.service")

TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.(json|ya?ml|toml)$")
JOURNAL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
RUNS_REFRESH_SECONDS = 10.0
CHECK_THREADS = max(2, os.cpu_count() or 1)


@dataclass
class Service:
    """What the routes share: the configuration, the catalogs, the job store and the metrics."""

    config: ServiceConfig
    metrics: Metrics
    tokens: Tokens | None
    store: JobStore
    runner: JobRunner
    boot: str
    catalogs: dict[str, CatalogView] = field(default_factory=dict)
    load_error: str | None = None
    loaded: bool = False
    stopping: bool = False
    scratch: Path = Path()
    runs_seen: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)
    runs_read: float = 0.0
    runs_lock: threading.Lock = field(default_factory=threading.Lock)
    checks: CheckPool | None = None
    """The worker processes template checks run in (:mod:`rtbfast.service.checks`); None: on
    threads of this process (``check_workers=0``)."""
    check_limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(CHECK_THREADS))
    """Checks run at once on threads, without check workers: one per core (more threads only
    contend for the GIL between the native calls; the others wait their turn)."""

    def load_catalogs(self) -> None:
        try:
            for name, path in self.config.catalogs.items():
                start = time.perf_counter()
                self.catalogs[name] = CatalogView.load(path, self.config.threads)
                # the lookups every check makes, made now rather than at the first request
                view = self.catalogs[name]
                _ = (view.compiled, view.classes, view.children, view.attributes, view.attribute_names)
                _ = (view.factor_of, view.enum_names)
                seconds = time.perf_counter() - start
                self.metrics.catalog_load.labels(name).set(seconds)
                log.info("catalog loaded", extra={"fields": {"catalog": name, "path": str(path), "seconds": seconds}})
            if self.checks is not None:
                start = time.perf_counter()
                try:
                    self.checks.start()
                except OSError as err:  # multiprocessing's semaphores: sem_open in /dev/shm
                    raise OSError(
                        f"the check workers cannot start: {err} (worker processes need a writable /dev/shm; "
                        "--check-workers 0 runs checks on threads instead)"
                    ) from err
                log.info(
                    "check workers started, their catalogs loaded",
                    extra={"fields": {"workers": self.checks.workers, "seconds": time.perf_counter() - start}},
                )
            self.loaded = True
            self.metrics.ready.set(1)
        except (RtbfastError, OSError, BrokenProcessPool) as err:
            self.load_error = str(err) or type(err).__name__
            log.error("a catalog cannot be loaded: the service stays not ready", extra={"fields": {"error": str(err)}})

    def catalog(self, name: str | None) -> tuple[str, CatalogView]:
        if self.load_error is not None:
            raise HTTPException(503, f"a catalog could not be loaded: {self.load_error}")
        if not self.loaded:
            raise HTTPException(503, "the catalogs are loading", headers={"Retry-After": "5"})
        if name is None:
            if len(self.catalogs) == 1:
                return next(iter(self.catalogs.items()))
            raise HTTPException(400, f"several catalogs: name one with ?catalog= ({', '.join(self.catalogs)})")
        if name not in self.catalogs:
            raise HTTPException(404, f"no catalog {name!r}; there are: {', '.join(self.catalogs)}")
        return name, self.catalogs[name]


def service_of(request: Request) -> Service:
    s: Service = request.app.state.service
    return s


bearer = HTTPBearer(auto_error=False, description="A token of the server's tokens file (stored there hashed).")


def role(name: str) -> Any:
    """A dependency: the request's principal, which must hold the role `name` (401 / 403)."""

    async def check(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> Principal:
        s = service_of(request)
        if s.tokens is None:
            principal = OPEN
        else:
            principal_or_none = s.tokens.who(request.headers.get("authorization"))
            if principal_or_none is None:
                raise HTTPException(401, "a valid bearer token is needed", headers={"WWW-Authenticate": "Bearer"})
            principal = principal_or_none
            if name not in principal.roles:
                raise HTTPException(403, f"this token does not have the role {name!r}")
        request.state.principal = principal.name
        return principal

    return Depends(check)


READER = role("reader")
OPERATOR = role("operator")
METRICS_ROLE = role("metrics")
CatalogName = Annotated[str | None, Query(description="The catalog to use, when the server has several.")]


# -- request and response models ------------------------------------------------------------


class Strict(BaseModel):
    """A request's body: a field it does not know is refused (422), not ignored: a typo is
    said, and nothing a client adds (credentials, say) is taken for something else."""

    model_config = ConfigDict(extra="forbid")


class Input(Strict):
    """A file: a path on the server's data volume, or the id of an upload (POST /v1/uploads)."""

    path: str | None = None
    upload: str | None = None

    @model_validator(mode="after")
    def one(self) -> Input:
        if (self.path is None) == (self.upload is None):
            raise ValueError("give exactly one of path (on the data volume) and upload (an upload id)")
        return self


class TemplateText(Strict):
    name: str = Field("template.json", description="File name; its suffix tells the format (.json .yaml .toml).")
    text: str = Field(description="The template as written (line and column of findings refer to it).")


class ExpandRequest(Strict):
    template: TemplateText
    network: Input
    targets: list[str] = Field(min_length=1, max_length=100_000, description="Cells: FDNs, ids or globs.")
    allow_errors: bool = False


class PlanRequest(Strict):
    template: TemplateText | None = None
    changeset: Input | None = None
    network: Input
    targets: list[str] = Field(default_factory=list, max_length=100_000)
    form: Literal["fdn", "node"] = "fdn"
    dialects: list[Literal["cmedit", "dynamic", "moshell", "3gpp"]] = Field(default_factory=list)
    allow_unknown_rollback: bool = False
    import_chunk: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def one(self) -> PlanRequest:
        if (self.template is None) == (self.changeset is None):
            raise ValueError("give exactly one of template and changeset")
        return self


class AuditRequest(Strict):
    export: Input


class ApplyBody(Strict):
    script: Input
    network: Input | None = None
    backend: Literal["simulator", "enm"] = "simulator"
    journal: str = Field("service", description="The journal's name in the journals volume (NAME.journal.sqlite).")
    dry_run: bool = False
    resume: bool = False
    rollback: bool = False
    allow_unknown_rollback: bool = False
    simulator_job_seconds: float = Field(0.0, ge=0, le=3600)
    poll_interval: float = Field(5.0, ge=0, le=600)


class JobLinks(BaseModel):
    self: str
    result: str | None = None
    files: list[str] = Field(default_factory=list)


class JobOut(BaseModel):
    id: str
    kind: str
    state: Literal["queued", "running", "succeeded", "failed"]
    catalog: str | None
    created: str
    started: str | None
    finished: str | None
    progress: float | None
    phase: str | None
    error: str | None
    resumable: bool
    result: dict[str, Any] | None
    links: JobLinks


class Finding(BaseModel):
    template: str
    path: str | None
    line: int | None
    column: int | None
    severity: str
    code: str
    message: str
    suggestion: str | None


class CheckOut(BaseModel):
    catalog: str
    templates: int
    values_checked: int
    errors: int
    warnings: int
    findings: list[Finding]


def job_out(job: Job) -> JobOut:
    base = f"/v1/jobs/{job.id}"
    result = job.result or {}
    files = [f"{base}/files/{f}" for f in result.get("files", [])]
    return JobOut(
        id=job.id,
        kind=job.kind,
        state=job.state,  # type: ignore[arg-type]
        catalog=job.catalog,
        created=job.created,
        started=job.started,
        finished=job.finished,
        progress=job.progress,
        phase=job.phase,
        error=job.error,
        resumable=job.resumable,
        result=job.result,
        links=JobLinks(self=base, result=f"{base}/result" if result.get("table") else None, files=files),
    )


# -- the app --------------------------------------------------------------------------------


def create_app(config: ServiceConfig, boot: str | None = None) -> FastAPI:
    """The app for `config`. The catalogs load in the background at start (``/ready`` answers
    503 until they are); jobs an earlier start left queued or running are marked failed."""
    config.check()
    metrics = Metrics()
    metrics.ready.set(0)
    tokens = Tokens.load(config.tokens_file) if config.tokens_file is not None else None
    boot = boot or uuid.uuid4().hex
    store = JobStore(config.jobs_dir)
    recovered = store.recover(boot)
    runner = JobRunner(store, config.limits, boot)
    scratch = _scratch(config.jobs_dir)
    service = Service(config, metrics, tokens, store, runner, boot, scratch=scratch)
    if config.check_workers > 0:
        service.checks = CheckPool(config.catalogs, config.threads, scratch, config.check_workers)
    if recovered:
        log.warning(
            "jobs of an earlier start were queued or running: marked failed (resumable)",
            extra={"fields": {"jobs": recovered}},
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if tokens is None:
            log.warning(
                "no --tokens: the API is open to anyone who can reach this address; listening on loopback only",
                extra={"fields": {"host": config.host}},
            )
        threading.Thread(target=service.load_catalogs, name="catalog-load", daemon=True).start()
        yield
        service.stopping = True
        metrics.ready.set(0)
        stopped = runner.stop()
        if service.checks is not None:
            service.checks.close()
        log.info("stopped", extra={"fields": {"jobs_marked_failed": stopped}})
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)

    app = FastAPI(
        title="rtbfast",
        version=_native.__version__,
        description="Ericsson RAN templates, catalogs, audits and ENM plans over HTTP: the same checks and "
        "tables as the `rtbfast` command. Auth: a bearer token with role reader (operator for apply).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(RequestMiddleware, limits=config.limits, metrics=metrics)
    _ops_routes(app, service)
    _catalog_routes(app)
    _template_routes(app)
    _job_routes(app)
    _run_routes(app)
    return app


def _scratch(jobs_dir: Path) -> Path:
    """Where a check writes its templates for the moment it runs: memory (``/dev/shm``, a
    tmpfs) where the system has it, as creating and removing files on a busy disk costs a
    millisecond or more a check; else the jobs volume. ``RTBFAST_SCRATCH_DIR`` chooses."""
    given = os.environ.get("RTBFAST_SCRATCH_DIR")
    shm = Path("/dev/shm")
    if given:
        base = Path(given)
    elif shm.is_dir() and os.access(shm, os.W_OK):
        base = shm
    else:
        base = jobs_dir
    for left in base.glob("rtbfast-scratch-*"):  # a killed server's (its process is gone)
        pid = left.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(left, ignore_errors=True)
    folder = base / f"rtbfast-scratch-{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ops_routes(app: FastAPI, service: Service) -> None:
    try:
        import fastapi_offline  # Swagger UI 5 and ReDoc, shipped in the package: no CDN

        assets: Path | None = Path(fastapi_offline.__file__).parent / "static"
    except ImportError:
        assets = None
        log.warning("no docs: fastapi-offline is not installed (pip install 'rtbfast[serve]'); /docs answers 503")
    if assets is not None:
        app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/health", tags=["ops"], summary="The process is alive (no I/O)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["ops"], summary="Catalogs loaded and the job store writable (200), else 503")
    async def ready() -> JSONResponse:
        writable = await run_in_threadpool(service.store.writable)
        ok = service.loaded and writable and not service.stopping
        service.metrics.ready.set(1 if ok else 0)
        body = {
            "ready": ok,
            "catalogs": {name: service.catalogs[name].origin for name in service.catalogs},
            "catalogs_loaded": service.loaded,
            "catalog_error": service.load_error,
            "job_store_writable": writable,
            "stopping": service.stopping,
        }
        return JSONResponse(body, 200 if ok else 503)

    async def metrics_text(request: Request) -> Response:
        await run_in_threadpool(_refresh_gauges, service)
        return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    if service.config.metrics_auth:

        @app.get("/metrics", tags=["ops"], summary="Prometheus metrics (role metrics)")
        async def metrics_closed(request: Request, _: Principal = METRICS_ROLE) -> Response:
            return await metrics_text(request)

    else:

        @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
        async def metrics_open(request: Request) -> Response:
            return await metrics_text(request)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if assets is None:
            return HTMLResponse("the docs' files are not installed: pip install 'rtbfast[serve]'", 503)
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="rtbfast API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        if assets is None:
            return HTMLResponse("the docs' files are not installed: pip install 'rtbfast[serve]'", 503)
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="rtbfast API",
            redoc_js_url="/docs/assets/redoc.standalone.js",
            redoc_favicon_url="/docs/assets/favicon.png",
            with_google_fonts=False,
        )


def _refresh_gauges(service: Service) -> None:
    counts = service.store.counts()
    for kind in JOB_KINDS:
        for state in JOB_STATES:
            service.metrics.jobs.labels(kind, state).set(counts.get((kind, state), 0))
        service.metrics.queue_depth.labels(kind).set(service.runner.waiting[kind])
    if service.config.journals_dir is not None and time.monotonic() - service.runs_read > RUNS_REFRESH_SECONDS:
        _read_journals(service)


# -- catalog ----------------------------------------------------------------------------------


def _catalog_routes(app: FastAPI) -> None:
    @app.get("/v1/catalogs", tags=["catalog"], summary="The catalogs this server loaded")
    async def catalogs(request: Request, _: Principal = READER) -> dict[str, Any]:
        s = service_of(request)
        return {
            "catalogs": [
                {"name": n, "origin": v.origin, "classes": len(v.classes), "constraints": v.constraints.table.num_rows}
                for n, v in s.catalogs.items()
            ],
            "loaded": s.loaded,
        }

    @app.get(
        "/v1/catalog/classes/{cls}",
        tags=["catalog"],
        summary="One MO class: its definitions, attributes and containment (attributes as Arrow/Parquet on Accept)",
        responses={200: {"content": {ARROW: {}, PARQUET: {}}}},
    )
    async def catalog_class(request: Request, cls: str, catalog: CatalogName = None, _: Principal = READER) -> Response:
        name, view = service_of(request).catalog(catalog)
        if cls not in view.classes:
            from rtbfast.suggest import closest

            near = closest(cls, view.classes)
            hint = f"; did you mean {near}?" if near else ""
            raise HTTPException(404, f"no class {cls!r} in the catalog {name!r}{hint}")
        attributes = view.tables.get("attributes")
        rows_of_class = (
            attributes.filter(pc.equal(attributes["class"], cls)) if attributes is not None else pa.table({})
        )
        classes = view.tables.get("classes")
        definitions = rows(classes.filter(pc.equal(classes["class"], cls))) if classes is not None else []
        body = {
            "catalog": name,
            "class": cls,
            "definitions": definitions,
            "system_created": cls in view.system_created,
            "children": sorted(view.children.get(cls, set())),
            "parents": sorted(p for p, children in view.children.items() if cls in children),
            "attributes": rows(rows_of_class),
        }
        return table_response(request.headers.get("accept"), rows_of_class, body)

    @app.get("/v1/catalog/search", tags=["catalog"], summary="Classes and attributes whose name holds q")
    async def catalog_search(
        request: Request,
        q: Annotated[str, Query(min_length=1, max_length=200)],
        catalog: CatalogName = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        _: Principal = READER,
    ) -> dict[str, Any]:
        name, view = service_of(request).catalog(catalog)
        needle = q.lower()
        classes = sorted(c for c in view.classes if needle in c.lower())
        attributes = sorted(
            (c, a) for c, attrs in view.attributes.items() for a in attrs if needle in a.lower() or needle in c.lower()
        )
        body: dict[str, Any] = {
            "catalog": name,
            "q": q,
            "classes": classes[:limit],
            "classes_found": len(classes),
            "attributes": [{"class": c, "attribute": a} for c, a in attributes[:limit]],
            "attributes_found": len(attributes),
        }
        if not classes and not attributes:
            from rtbfast.suggest import closest

            body["did_you_mean"] = closest(q, view.classes | view.attribute_names)
        return body


# -- templates --------------------------------------------------------------------------------

CHECK_BODY = {
    "requestBody": {
        "required": True,
        "description": "One template as the body (JSON, YAML or TOML; ?name= gives its file name), or "
        "several as multipart/form-data files (field `templates`).",
        "content": {
            "application/json": {"schema": {}},
            "application/yaml": {"schema": {"type": "string"}},
            "application/toml": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"templates": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                }
            },
        },
    }
}


def safe_name(name: str) -> str:
    base = name
    if not TEMPLATE_NAME.match(base):
        raise HTTPException(
            422,
            f"{name!r}: a template's name is a file name ending in .json, .yaml, .yml or .toml (letters, digits, ._-)",
        )
    return base


def _template_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/templates/check",
        tags=["templates"],
        summary="Check templates against the catalog (what `rtbfast templates check` does)",
        response_model=CheckOut,
        responses={200: {"content": {ARROW: {}, PARQUET: {}}}},
        openapi_extra=CHECK_BODY,
    )
    async def templates_check(
        request: Request,
        catalog: CatalogName = None,
        name: Annotated[str, Query(description="The file name of a template sent as the body.")] = "template.json",
        dynamic: Annotated[bool, Query(description="Also list the dynamic parts (info findings).")] = True,
        _: Principal = READER,
    ) -> Response:
        s = service_of(request)
        cat_name, view = s.catalog(catalog)
        content_type = request.headers.get("content-type", "")
        given: list[tuple[str, bytes]] = []
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=s.config.limits.templates_per_check)
            for item in form.getlist("templates"):
                if isinstance(item, str):
                    raise HTTPException(422, "multipart field `templates`: files, not text fields")
                given.append((safe_name(item.filename or "template.json"), await item.read()))
            if not given:
                raise HTTPException(422, "no file in the multipart field `templates`")
        else:
            given.append((safe_name(name), await request.body()))
        names = [n for n, _ in given]
        if len(set(names)) != len(names):
            raise HTTPException(422, "two templates have the same name")
        threads = 1 if len(given) <= 4 else s.config.threads
        kind = wanted(request.headers.get("accept"))
        answer: CheckAnswer
        if s.checks is not None:
            try:
                answer = await s.checks.check(cat_name, given, threads, dynamic, kind)
            except WorkerLost as err:
                raise HTTPException(503, f"the check's worker stopped ({err}); retry", {"Retry-After": "1"}) from err
        else:
            # past the time limit the answer (504) does not wait for the thread: it finishes
            # its check alone and is dropped
            answer = await anyio.to_thread.run_sync(
                check_answer,
                view,
                cat_name,
                given,
                s.scratch,
                threads,
                dynamic,
                kind,
                limiter=s.check_limiter,
                abandon_on_cancel=True,
            )
        if answer.status == 200:
            for severity, n in answer.findings.items():
                if n:
                    s.metrics.findings.labels(severity).inc(n)
            s.metrics.values_checked.inc(answer.values_checked)
        return Response(answer.body, answer.status, media_type=answer.media_type)

    @app.post(
        "/v1/templates/expand",
        tags=["templates"],
        status_code=202,
        response_model=JobOut,
        summary="Expand a template over target cells of a network into a ChangeSet (a job)",
    )
    async def templates_expand(
        request: Request, body: ExpandRequest, catalog: CatalogName = None, _: Principal = READER
    ) -> JSONResponse:
        s = service_of(request)
        cat_name, view = s.catalog(catalog)
        name = safe_name(body.template.name)
        network = _input(s, body.network)

        def make(folder_text: tuple[Path, str]) -> Work:
            template_path, shown = folder_text
            return work.expand_work(
                view, template_path, shown, network, body.targets, body.allow_errors, s.config.threads
            )

        return _submit(s, "expand", cat_name, body.model_dump(exclude={"template"}), make, (name, body.template.text))

    @app.post(
        "/v1/plan",
        tags=["templates"],
        status_code=202,
        response_model=JobOut,
        summary="Plan a ChangeSet or a template on a network: ENM commands and their rollback (a job)",
    )
    async def plan(
        request: Request, body: PlanRequest, catalog: CatalogName = None, _: Principal = READER
    ) -> JSONResponse:
        s = service_of(request)
        cat_name, view = s.catalog(catalog)
        network = _input(s, body.network)
        options = body.model_dump(include={"form", "dialects", "allow_unknown_rollback", "import_chunk"})
        if body.template is not None:
            if not body.targets:
                raise HTTPException(422, "a template is planned over target cells: give targets")
            name = safe_name(body.template.name)

            def make(folder_text: tuple[Path, str]) -> Work:
                path, shown = folder_text
                return work.plan_work(view, path, shown, network, body.targets, options, s.config.threads, s.metrics)

            return _submit(s, "plan", cat_name, body.model_dump(exclude={"template"}), make, (name, body.template.text))
        assert body.changeset is not None
        changes = _input(s, body.changeset)

        def make_changes(folder_text: tuple[Path, str]) -> Work:
            folder = folder_text[0].parent
            link = folder / "changes.parquet"
            link.symlink_to(changes)
            return work.plan_work(
                view, link, "changes.parquet", network, body.targets, options, s.config.threads, s.metrics
            )

        return _submit(s, "plan", cat_name, body.model_dump(), make_changes, ("changes.parquet", None))

    @app.post("/v1/audit", tags=["audit"], status_code=202, response_model=JobOut, summary="Audit an export (a job)")
    async def audit(
        request: Request, body: AuditRequest, catalog: CatalogName = None, _: Principal = READER
    ) -> JSONResponse:
        s = service_of(request)
        cat_name, view = s.catalog(catalog)
        export = _input(s, body.export)
        return _submit(
            s,
            "audit",
            cat_name,
            body.model_dump(),
            lambda _: work.audit_work(view, export, s.config.threads, s.metrics),
            None,
        )

    @app.post(
        "/v1/apply",
        tags=["runs"],
        status_code=202,
        response_model=JobOut,
        summary="Apply a script or import file (role operator; ENM credentials are the server's own)",
    )
    async def apply(
        request: Request, body: ApplyBody, catalog: CatalogName = None, _: Principal = OPERATOR
    ) -> JSONResponse:
        s = service_of(request)
        if s.config.journals_dir is None:
            raise HTTPException(409, "no journals volume is configured (--journals-dir): applies are not run here")
        if not JOURNAL_NAME.match(body.journal):
            raise HTTPException(422, "journal: a name of letters, digits and ._- (a file of the journals volume)")
        cat_name, view = s.catalog(catalog)
        script = _input(s, body.script)
        network = _input(s, body.network) if body.network is not None else None
        journal = s.config.journals_dir / f"{body.journal}.journal.sqlite"
        s.config.journals_dir.mkdir(parents=True, exist_ok=True)
        options = body.model_dump()

        def make(folder_text: tuple[Path, str]) -> Work:
            folder = folder_text[0].parent
            kept = folder / ("script.xml" if _looks_xml(script) else "script.txt")
            shutil.copyfile(script, kept)
            return work.apply_work(kept, view, network, journal, options)

        return _submit(s, "apply", cat_name, options, make, ("script", None))

    @app.post(
        "/v1/uploads",
        tags=["jobs"],
        status_code=201,
        summary="Upload a file (an export, a ChangeSet, a script): streamed to disk; use its id in a job",
        openapi_extra={
            "requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
        },
    )
    async def upload(request: Request, _: Principal = READER) -> dict[str, Any]:
        s = service_of(request)
        try:
            upload_id, size = await volumes.stream_to_disk(
                request.stream(), s.config.jobs_dir, s.config.limits.upload_bytes
            )
        except volumes.TooLarge as err:
            raise HTTPException(413, str(err)) from err
        return {"upload": upload_id, "bytes": size}


def _looks_xml(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(64).lstrip().startswith(b"<")


def _input(s: Service, given: Input) -> Path:
    try:
        if given.upload is not None:
            return volumes.uploaded(s.config.jobs_dir, given.upload)
        return volumes.on_volume(s.config.data_dir, given.path or "")
    except volumes.RefusedPath as err:
        raise HTTPException(403 if "outside" in str(err) else 422, str(err)) from err


def _submit(
    s: Service,
    kind: str,
    catalog: str,
    request: dict[str, Any],
    make: Any,
    text: tuple[str, str | None] | None,
) -> JSONResponse:
    """A job: its files prepared in its folder (a template's text written as `name`), then queued."""
    try:
        job_id = s.runner.submit(kind, catalog, request, _Deferred(make, text))
    except QueueFull as err:
        s.metrics.rejected.labels(kind).inc()
        return JSONResponse({"detail": str(err)}, 429, headers={"Retry-After": str(err.retry_after)})
    job = s.store.get(job_id)
    assert job is not None
    return JSONResponse(job_out(job).model_dump(), 202, headers={"Location": f"/v1/jobs/{job_id}"})


class _Deferred:
    """A job's work made in its own folder when it starts (the template's text written there)."""

    def __init__(self, make: Any, text: tuple[str, str | None] | None) -> None:
        self.make = make
        self.text = text

    def __call__(self, folder: Path, report: Any) -> dict[str, Any]:
        inputs = folder / "in"
        inputs.mkdir(exist_ok=True)
        arg: tuple[Path, str] | None = None
        if self.text is not None:
            name, content = self.text
            path = inputs / name
            if content is not None:
                path.write_text(content, encoding="utf-8")
            arg = (path, name)
        made: Work = self.make(arg)
        return made(folder, report)


# -- jobs -------------------------------------------------------------------------------------


def _job_routes(app: FastAPI) -> None:
    @app.get("/v1/jobs/{job_id}", tags=["jobs"], response_model=JobOut, summary="A job: state, progress, result links")
    async def job(request: Request, job_id: str, _: Principal = READER) -> JobOut:
        found = service_of(request).store.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id}")
        return job_out(found)

    @app.get(
        "/v1/jobs/{job_id}/result",
        tags=["jobs"],
        summary="A finished job's table: violations, changes or plan steps (JSON, Arrow or Parquet on Accept)",
        responses={200: {"content": {ARROW: {}, PARQUET: {}}}},
    )
    async def job_result(
        request: Request,
        job_id: str,
        limit: Annotated[int, Query(ge=1, le=1_000_000)] = 10_000,
        _: Principal = READER,
    ) -> Response:
        s = service_of(request)
        found = s.store.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id}")
        table_file = (found.result or {}).get("table")
        if found.state != "succeeded" or not table_file:
            raise HTTPException(409, f"job {job_id} is {found.state}: no result table")
        table = await run_in_threadpool(pq.read_table, s.store.folder_of(job_id) / table_file)
        body = {
            "job": job_id,
            "rows": table.num_rows,
            "listed": min(limit, table.num_rows),
            "table": rows(table, limit),
        }
        return table_response(request.headers.get("accept"), table, body)

    @app.get("/v1/jobs/{job_id}/files/{name:path}", tags=["jobs"], summary="A file a job wrote")
    async def job_file(request: Request, job_id: str, name: str, _: Principal = READER) -> FileResponse:
        s = service_of(request)
        found = s.store.get(job_id)
        if found is None or name not in (found.result or {}).get("files", []):
            raise HTTPException(404, f"job {job_id} has no file {name!r}")
        return FileResponse(s.store.folder_of(job_id) / name)


# -- runs (journals of rtbfast apply) ---------------------------------------------------------


def _journals(s: Service) -> list[Path]:
    folder = s.config.journals_dir
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(".sqlite"))


def _outcomes(entry: dict[str, Any]) -> dict[str, int]:
    imported = entry.get("import") or {}
    return {
        "applied": int(entry.get("applied", 0)) + int(entry.get("verified", 0)) + int(imported.get("applied", 0)),
        "failed": int(entry.get("failed", 0)) + int(imported.get("failed", 0)),
        "uncertain": int(entry.get("sending", 0)) + int(imported.get("unknown", 0)),
    }


def _read_journals(s: Service) -> list[dict[str, Any]]:
    """Every journal's report (:func:`rtbfast.enm.journal.journal_report`), the apply-command
    counters moved on by what is new since the last read."""
    from rtbfast.enm.journal import JournalError, journal_report

    reports: list[dict[str, Any]] = []
    with s.runs_lock:
        for path in _journals(s):
            try:
                report = journal_report(path)
            except JournalError as err:
                reports.append({"journal": path.name, "error": str(err), "runs": []})
                continue
            report["journal"] = path.name
            for entry in report["runs"]:  # type: ignore[attr-defined]
                key = (path.name, int(entry["run"]))
                now = _outcomes(entry)
                before = s.runs_seen.get(key, {})
                for outcome, n in now.items():
                    if n > before.get(outcome, 0):
                        s.metrics.apply_commands.labels(outcome).inc(n - before.get(outcome, 0))
                s.runs_seen[key] = {k: max(v, before.get(k, 0)) for k, v in now.items()}
            reports.append(report)
        s.runs_read = time.monotonic()
    return reports


def _run_summary(journal: str, entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{journal}:{entry['run']}",
        "journal": journal,
        **{k: entry.get(k) for k in ("run", "kind", "script", "backend", "target", "started", "finished", "state")},
        **_outcomes(entry),
        "import_job": (entry.get("import") or {}).get("job_id"),
    }


def _run_routes(app: FastAPI) -> None:
    @app.get("/v1/runs", tags=["runs"], summary="The runs of rtbfast apply, from the journals volume")
    async def runs(request: Request, _: Principal = READER) -> dict[str, Any]:
        s = service_of(request)
        reports = await run_in_threadpool(_read_journals, s)
        return {
            "journals": [
                {
                    "journal": r["journal"],
                    "last_activity": r.get("last_activity"),
                    "running": r.get("running"),
                    "error": r.get("error"),
                    "uncertain": len(r.get("uncertain", [])),
                    "uncertain_uploads": len(r.get("uncertain_uploads", [])),
                }
                for r in reports
            ],
            "runs": [_run_summary(r["journal"], e) for r in reports for e in r["runs"]],
        }

    @app.get("/v1/runs/{run_id}", tags=["runs"], summary="One run: its counts, where it stopped, uncertain commands")
    async def run(request: Request, run_id: str, _: Principal = READER) -> dict[str, Any]:
        s = service_of(request)
        journal, _sep, number = run_id.rpartition(":")
        if not journal or not number.isdigit() or "/" in journal or journal.startswith("."):
            raise HTTPException(404, f"no run {run_id!r} (ids are JOURNAL:RUN, as /v1/runs lists them)")
        reports = await run_in_threadpool(_read_journals, s)
        for r in reports:
            if r["journal"] != journal:
                continue
            for entry in r["runs"]:
                if int(entry["run"]) == int(number):
                    return {
                        **_run_summary(journal, entry),
                        "detail": entry,
                        "uncertain_commands": [u for u in r.get("uncertain", []) if u["run"] == entry["run"]],
                        "last_activity": r.get("last_activity"),
                    }
        raise HTTPException(404, f"no run {run_id!r}")


CONFIG_ENV = "RTBFAST_SERVE_CONFIG"


def app_from_env() -> FastAPI:
    """The app of one worker process of ``rtbfast serve --workers N`` (uvicorn's factory)."""
    import os

    from rtbfast.service.config import config_from_json
    from rtbfast.service.limits import json_logging

    json_logging()
    config, boot = config_from_json(os.environ[CONFIG_ENV])
    return create_app(config, boot)
