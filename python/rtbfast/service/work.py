"""What a job of each kind does: the public API functions the CLI calls, on the catalog loaded
at start, writing into the job's folder. Each returns the job's result (what the CLI prints,
as data) and, where there is one, the table the job's ``/result`` answers with."""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rtbfast.catalog_view import CatalogView
from rtbfast.service.jobs import JobFailed, Report, Work
from rtbfast.service.metrics import Metrics


def _progress(report: Report) -> Any:
    def on_progress(done: int, total: int) -> None:
        report(min(1.0, done / total) if total else None, None)

    return on_progress


def _files(folder: Path, under: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in under.rglob("*") if p.is_file())


def audit_work(view: CatalogView, export: Path, threads: int, metrics: Metrics) -> Work:
    def work(folder: Path, report: Report) -> dict[str, Any]:
        from rtbfast.audit import audit

        report(0.0, "auditing")
        out = folder / "audit"
        result = audit(export, view, out, _progress(report), threads=threads, at=datetime.now())
        for severity, n in result.summary["by_severity"].items():
            metrics.violations.labels(severity).inc(n)
        return {"summary": result.summary, "table": "audit/violations.parquet", "files": _files(folder, out)}

    return work


def expand_work(
    view: CatalogView,
    template: Path,
    shown: str,
    network: Path,
    targets: Sequence[str],
    allow_errors: bool,
    threads: int,
) -> Work:
    def work(folder: Path, report: Report) -> dict[str, Any]:
        from rtbfast.changeset import write_changeset_batches
        from rtbfast.enm.node_groups import Workspace
        from rtbfast.templates.expand_stream import expand_streamed
        from rtbfast.templates.verdicts import verdict_lines

        report(0.0, "expanding")
        with Workspace() as spools:  # node batch by node batch, as ``templates expand``
            result = expand_streamed(
                template, view, network, list(targets), spools.path, threads=threads, on_progress=_progress(report)
            )
            errors = len(result.errors) + result.verdict_errors
            lines = [line.replace(str(template), shown) for line in verdict_lines(result.verdicts, template)]
            found: dict[str, Any] = {
                "targets": result.target_cells,
                "rows": result.rows,
                "ops": dict(result.ops),
                "errors": errors,
                "notes": [{"severity": n.severity, "text": str(n).replace(str(template), shown)} for n in result.notes],
                "verdicts": lines,
            }
            if errors and not allow_errors:
                raise JobFailed(
                    f"{errors} error(s) in the expansion; the ChangeSet is not written (allow_errors)", found
                )
            report(None, "writing the ChangeSet")
            write_changeset_batches(
                result.batches,
                folder / "changes.parquet",
                {"template": shown, "catalog": view.origin, "network": network.name, "targets": list(targets)[:100]},
            )
        return {**found, "table": "changes.parquet", "files": ["changes.parquet"]}

    return work


def plan_work(
    view: CatalogView,
    source: Path,
    shown: str,
    network: Path,
    targets: Sequence[str],
    options: dict[str, Any],
    threads: int,
    metrics: Metrics,
) -> Work:
    def work(folder: Path, report: Report) -> dict[str, Any]:
        from rtbfast.enm.plan import PlanError
        from rtbfast.enm.planning import ExpansionFailed, plan_folder
        from rtbfast.text_safety import one_line

        def phase(name: str) -> None:
            report(None, name)

        out = folder / "plan"
        try:
            # what `rtbfast plan` runs: node group by node group, in bounded memory
            written = plan_folder(
                source,
                view,
                network,
                out,
                list(targets),
                form=str(options.get("form", "fdn")),
                dialects=options.get("dialects") or None,
                import_chunk=options.get("import_chunk"),
                threads=threads,
                allow_unknown_rollback=bool(options.get("allow_unknown_rollback")),
                on_phase=phase,
            )
        except PlanError as err:
            problems = [one_line(str(p)).replace(str(source), shown) for p in err.problems]
            raise JobFailed(f"{len(problems)} problem(s); nothing planned", {"problems": problems}) from err
        except ExpansionFailed as err:
            lines = [one_line(x).replace(str(source), shown) for x in err.lines[:200]]
            raise JobFailed(str(err).replace(str(source), shown), {"problems": lines}) from err
        metrics.plan_steps.inc(int(written["counts"]["steps"]))
        return {"report": written, "table": "plan/plan.parquet", "files": _files(folder, out)}

    return work


def apply_work(
    script: Path,
    view: CatalogView | None,
    network: Path | None,
    journal: Path,
    options: dict[str, Any],
) -> Work:
    """An apply, with ENM's address and credentials from the server's environment
    (``ENM_URL``, ``ENM_USERNAME``, ``ENM_PASSWORD_FILE`` or ``ENM_PASSWORD``), never from a request."""

    def work(folder: Path, report: Report) -> dict[str, Any]:
        from rtbfast.enm.apply import ApplyRequest, apply_script
        from rtbfast.enm.enm_client import Credentials

        backend = str(options.get("backend", "simulator"))
        credentials = None
        url = None
        if backend == "enm" and not options.get("dry_run"):
            url = os.environ.get("ENM_URL")
            user = os.environ.get("ENM_USERNAME")
            password_file = os.environ.get("ENM_PASSWORD_FILE")
            password = (
                Path(password_file).read_text(encoding="utf-8").strip()
                if password_file
                else os.environ.get("ENM_PASSWORD")
            )
            if not url or not user or not password:
                raise JobFailed(
                    "no ENM on this server: ENM_URL, ENM_USERNAME and ENM_PASSWORD_FILE are not all set", {}
                )
            credentials = Credentials(user, password)
        notes: list[str] = []
        report(0.0, "applying")
        request = ApplyRequest(
            script=script,
            backend=backend,
            catalog=Path(view.origin) if view is not None and view.origin else None,
            network=network,
            journal=journal,
            resume=bool(options.get("resume")),
            rollback=bool(options.get("rollback")),
            dry_run=bool(options.get("dry_run")),
            allow_unknown_rollback=bool(options.get("allow_unknown_rollback")),
            url=url,
            credentials=credentials,
            prompt=False,
            command=f"rtbfast serve (job {folder.name})",
            simulator_job_seconds=float(options.get("simulator_job_seconds", 0.0)),
            poll_interval=float(options.get("poll_interval", 5.0)),
        )
        result = apply_script(request, on_note=notes.append, on_progress=_progress(report))
        found = {"summary": result.summary(), "counts": result.counts(), "notes": notes, "journal": journal.name}
        if not result.ok:
            raise JobFailed(result.error() or "the apply did not complete", found)
        return found

    return work
