"""``rtbfast serve`` over real HTTP on loopback: every endpoint, auth and roles, limits, jobs,
content negotiation, path confinement, the journals of apply, metrics and docs. The answers
are checked against what the CLI (or the public API, run apart) makes of the same inputs."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import generate
from rtbfast.catalog_view import CatalogView
from rtbfast.changeset import write_changeset
from rtbfast.enm.planning import plan_changes, write_plan_folder
from rtbfast.enm.simulator import Simulator
from rtbfast.service.checks import CheckAnswer, check_answer, check_answers
from rtbfast.templates.expand import expand_whole
from tests.conftest import rtbfast as run_cli
from tests.enm_fixtures import CELL, CELL1, ENB, Changes
from tests.fake_enm import FakeEnm
from tests.serve_fixtures import Server, tokens_file
from tests.template_corpus import write_corpus

pytest.importorskip("fastapi")

CONTRACT = """
rtbfast_http_requests_total rtbfast_http_request_duration_seconds_bucket rtbfast_http_requests_in_flight
rtbfast_template_findings_total rtbfast_values_checked_total rtbfast_violations_total rtbfast_plan_steps_total
rtbfast_apply_commands_total rtbfast_jobs rtbfast_job_queue_depth rtbfast_jobs_rejected_total
rtbfast_catalog_load_seconds rtbfast_ready rtbfast_build_info
""".split()
"""Every metric name of the contract with deploy/ (docs/service.md), as a scrape shows it."""
EXAMPLE_TEMPLATE = Path(__file__).resolve().parents[1] / "examples" / "templates" / "base_cell.yaml"


@pytest.fixture(scope="module")
def volume(tmp_path_factory: pytest.TempPathFactory, export: Path) -> Path:
    """The data volume: the network export, a ChangeSet and templates of the example catalog."""
    data = tmp_path_factory.mktemp("data")
    shutil.copyfile(export, data / "export.xml")
    changes = (
        Changes()
        .add("create", f"{ENB},SectorCarrier=9")
        .add("create", f"{ENB},SectorCarrier=9", "noOfTxAntennas", "4")
        .add("set", CELL, "earfcndl", "500")
        .add("set", CELL, "qRxLevMin", "-120")
        .add("set", CELL1, "userLabel", "north")
    )
    write_changeset(changes.table(), data / "changes.parquet", {"by": "test"})
    generate.write_templates(data / "templates", 40)
    (data / "outside-link").symlink_to("/etc")
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, example_out: Path, volume: Path) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("serve")
    s = Server(
        folder,
        "--catalog",
        f"example={example_out}",
        "--data-dir",
        volume,
        "--jobs-dir",
        folder / "jobs",
        "--journals-dir",
        folder / "journals",
        "--threads",
        "1",
    )
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def _templates(volume: Path) -> list[Path]:
    return sorted((volume / "templates").glob("*.json"))


# -- ops -----------------------------------------------------------------------------------------


def test_health_ready_and_every_metric_of_the_contract_exported(server: Server) -> None:
    assert server.client.get("/health").json() == {"status": "ok"}
    ready = server.client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True and ready.json()["job_store_writable"]
    text = server.client.get("/metrics").text
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    missing = [n for n in CONTRACT if n not in names]
    assert not missing, missing
    assert "rtbfast_ready 1.0" in text
    assert 'rtbfast_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert 'rtbfast_catalog_load_seconds{catalog="example"}' in text


def test_every_metric_the_dashboard_and_the_alert_rules_read_is_in_a_scrape(server: Server) -> None:
    """deploy/'s dashboard and rules against what a running server exports (its /metrics read
    by Prometheus's own text parser), not against a list kept by hand."""
    from prometheus_client.parser import text_string_to_metric_families

    from deploy import check

    server.client.post("/v1/templates/check", content=b'[{"EUtranCellFDD": {"qRxLevMin": "-80"}}]')
    exported: set[str] = set()
    for family in text_string_to_metric_families(server.client.get("/metrics").text):
        exported |= {sample.name for sample in family.samples}
    for where, exprs in (("dashboard", check.dashboard_exprs()), ("rules", check.rule_exprs())):
        for expr in exprs:
            for name in check.metric_names(expr) - check.PROMETHEUS_OWN:
                series = f"{name}_bucket" if check.contract_metrics().get(name) == "histogram" else name
                assert series in exported, f"{where}: {expr!r} reads {series}, which /metrics does not export"


def test_docs_are_served_without_any_cdn_and_the_schema_lists_every_route(server: Server) -> None:
    page = server.client.get("/docs")
    assert page.status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing fetched from elsewhere
    redoc = server.client.get("/redoc")
    assert redoc.status_code == 200 and "/docs/assets/redoc.standalone.js" in redoc.text
    assert "http://" not in redoc.text and "https://" not in redoc.text
    for asset in (
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/redoc.standalone.js",
    ):
        assert asset in page.text + redoc.text
        got = server.client.get(asset)
        assert got.status_code == 200 and len(got.content) > 10_000
    schema = server.client.get("/openapi.json").json()
    paths = set(schema["paths"])
    expected = {
        "/health", "/ready", "/metrics",
        "/v1/catalogs", "/v1/catalog/classes/{cls}", "/v1/catalog/search",
        "/v1/templates/check", "/v1/templates/expand", "/v1/plan", "/v1/audit", "/v1/apply", "/v1/uploads",
        "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/jobs/{job_id}/files/{name}",
        "/v1/runs", "/v1/runs/{run_id}",
    }  # fmt: skip
    assert paths == expected
    assert "bearerAuth" in json.dumps(schema["components"]["securitySchemes"]) or "HTTPBearer" in json.dumps(
        schema["components"]["securitySchemes"]
    )
    # every path of the schema is a route the server answers (not 404 for the path itself)
    for path, ops in schema["paths"].items():
        concrete = path.replace("{cls}", "EUtranCellFDD").replace("{job_id}", "0" * 32).replace("{run_id}", "x:1")
        concrete = concrete.replace("{name}", "f")
        for method in ops:
            answer = server.client.request(method.upper(), concrete, params={"q": "cell"} if "search" in path else None)
            detail = answer.json().get("detail", "") if answer.headers.get("content-type") == "application/json" else ""
            assert answer.status_code != 405, (method, path)
            assert answer.status_code != 404 or "no " in str(detail), (method, path, answer.text[:200])


def test_docs_render_in_headless_chromium(server: Server) -> None:
    """What a person sees at /docs: Swagger UI draws every route from the schema, offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no chromium here (Debian's chromium package)")
    run = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom",
         "--virtual-time-budget=15000", f"{server.url}/docs"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    dom = run.stdout
    assert "Unable to render this definition" not in dom
    assert dom.count("opblock-summary-path") >= 17, dom[-2000:]
    for path in ("/v1/templates/check", "/v1/jobs/{job_id}", "/health"):
        assert f'data-path="{path}"' in dom


# -- templates ------------------------------------------------------------------------------------


def test_check_gives_the_findings_the_cli_gives(server: Server, volume: Path, example_out: Path) -> None:
    for path in _templates(volume)[:25]:
        cli = run_cli("templates", "check", path, "--catalog", example_out, "--format", "json")
        expected = json.loads(cli.stdout)["findings"]  # the CLI's object: a summary and the findings
        answer = server.client.post("/v1/templates/check", params={"name": path.name}, content=path.read_bytes())
        assert answer.status_code == 200, answer.text
        got = answer.json()
        for f in expected:
            f["template"] = path.name
        assert got["findings"] == expected
        assert got["errors"] == sum(1 for f in expected if f["severity"] == "error")
        assert (cli.returncode == 1) == (got["errors"] > 0)
        if got["errors"]:
            first = next(f for f in got["findings"] if f["severity"] == "error")
            assert first["line"] > 0 and first["column"] > 0 and first["path"].startswith("/")
            break
    else:
        raise AssertionError("no generated template with an error among the first 25")


def test_check_as_arrow_parquet_and_many_templates_at_once(server: Server, volume: Path, example_out: Path) -> None:
    files = _templates(volume)[:12]
    answer = server.client.post(
        "/v1/templates/check", files=[("templates", (p.name, p.read_bytes(), "application/json")) for p in files]
    )
    assert answer.status_code == 200, answer.text
    many = answer.json()
    assert many["templates"] == 12
    cli = json.loads(run_cli("templates", "check", *files, "--catalog", example_out, "--format", "json").stdout)
    assert len(many["findings"]) == len(cli["findings"])
    assert cli["summary"]["templates"] == many["templates"]
    assert {f["template"] for f in many["findings"]} <= {p.name for p in files}
    body = files[0].read_bytes()
    arrow = server.client.post(
        "/v1/templates/check", content=body, headers={"accept": "application/vnd.apache.arrow.stream"}
    )
    assert arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(arrow.content).read_all()
    parquet = server.client.post(
        "/v1/templates/check", content=body, headers={"accept": "application/vnd.apache.parquet"}
    )
    assert pq.read_table(io.BytesIO(parquet.content)).equals(table)
    as_json = server.client.post("/v1/templates/check", content=body).json()
    assert table.num_rows == len(as_json["findings"]) and table["line"].to_pylist() == [
        f["line"] for f in as_json["findings"]
    ]
    # a typed template (YAML) is told by its name
    typed = Path(__file__).resolve().parents[1] / "examples" / "templates" / "base_cell.yaml"
    yaml_answer = server.client.post(
        "/v1/templates/check", params={"name": "base_cell.yaml"}, content=typed.read_bytes()
    )
    assert yaml_answer.status_code == 200 and yaml_answer.json()["templates"] == 1


def test_checks_in_one_batch_answer_what_each_answers_alone(example_out: Path, tmp_path: Path) -> None:
    """A worker checks the checks waiting for it in one batch: each answer (JSON or Arrow) is
    the one its check alone gets, the findings, counts and values judged, over a corpus spoilt
    in every way the check reports (a template with more findings of a code than are listed
    among them, and the checks asking several templates)."""
    view = CatalogView.load(example_out)
    paths = write_corpus(tmp_path / "corpus", view.tables, view.constraints.table, 110, 11)
    given = [(p.name, p.read_bytes()) for p in paths]
    asked: list[tuple[list[tuple[str, bytes]], str]] = []
    at, size = 0, 1
    while at < len(given):
        asked.append((given[at : at + size], "arrow" if len(asked) % 3 == 2 else "json"))
        at, size = at + size, size % 3 + 1
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    batch = [a for a in check_answers(view, "example", asked, scratch, 1, True) if isinstance(a, CheckAnswer)]
    assert len(batch) == len(asked)  # none failed
    unlisted = 0
    for (one, kind), got in zip(asked, batch, strict=True):
        alone = check_answer(view, "example", one, scratch, 1, True, kind)
        assert (got.status, got.media_type, got.findings, got.values_checked) == (
            alone.status,
            alone.media_type,
            alone.findings,
            alone.values_checked,
        )
        if kind == "json":
            assert json.loads(got.body) == json.loads(alone.body)
            messages = [f["message"] for f in json.loads(got.body)["findings"]]
        else:
            table = pa.ipc.open_stream(got.body).read_all()
            assert table.equals(pa.ipc.open_stream(alone.body).read_all())
            messages = table["message"].to_pylist()
        unlisted += any(m.startswith("and ") and "not listed" in m for m in messages)
    assert unlisted and sum(a.values_checked for a in batch) > 0
    assert not list(scratch.iterdir())  # every check's folder removed


def test_a_check_that_fails_in_a_batch_fails_alone(
    example_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch whose check fails is checked again one check at a time: the others get their
    answers, the failing one its own exception (a fault put into the check: no template makes
    the check raise)."""
    import rtbfast.templates.check as check_module

    real = check_module.check_templates

    def failing(paths: Any, *args: Any, **kwargs: Any) -> Any:
        if any(Path(p).name == "bad.json" for p in paths):
            raise RuntimeError("the check failed")
        return real(paths, *args, **kwargs)

    view = CatalogView.load(example_out)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    good = (EXAMPLE_TEMPLATE.name, EXAMPLE_TEMPLATE.read_bytes())
    alone = check_answer(view, "example", [good], scratch, 1, True, "json")
    monkeypatch.setattr(check_module, "check_templates", failing)
    first, bad, last = check_answers(
        view, "example", [([good], "json"), ([("bad.json", b"[]")], "json"), ([good], "json")], scratch, 1, True
    )
    assert first == alone and last == alone
    assert isinstance(bad, RuntimeError) and str(bad) == "the check failed"
    with pytest.raises(RuntimeError, match="the check failed"):
        check_answer(view, "example", [("bad.json", b"[]")], scratch, 1, True, "json")


def test_concurrent_checks_each_get_their_own_answer(server: Server, volume: Path) -> None:
    """Checks asked at once (batched in the workers while they are busy) each get the answer
    they get asked alone."""
    files = _templates(volume)[:24]
    alone = [
        server.client.post("/v1/templates/check", params={"name": p.name}, content=p.read_bytes()).json() for p in files
    ]
    with ThreadPoolExecutor(12) as pool:
        at_once = list(
            pool.map(
                lambda p: httpx.post(
                    f"{server.url}/v1/templates/check", params={"name": p.name}, content=p.read_bytes(), timeout=60
                ).json(),
                files * 3,
            )
        )
    assert at_once == alone * 3
    assert any(a["findings"] for a in alone)


def test_check_refuses_bad_names_and_reports_broken_json_with_its_place(server: Server) -> None:
    bad = server.client.post("/v1/templates/check", params={"name": "../x.json"}, content=b"[]")
    assert bad.status_code == 422
    broken = server.client.post("/v1/templates/check", params={"name": "b.json"}, content=b'[\n  {"A": }\n]')
    assert broken.status_code == 200
    found = broken.json()["findings"]
    assert found and found[0]["severity"] == "error" and found[0]["line"] == 2 and found[0]["template"] == "b.json"


def test_hostile_bodies_get_located_findings_or_a_4xx_never_a_5xx(server: Server) -> None:
    for name, body in (
        ("x.json", b""),
        ("x.json", b"\xff\xfe\x00garbage"),
        ("x.json", b'{"a":'),
        ("x.json", b"[" * 100_000),
        ("x.yaml", b"a: [1"),
        ("x.toml", b"= = ="),
    ):
        answer = server.client.post("/v1/templates/check", params={"name": name}, content=body)
        assert answer.status_code == 200, (name, body[:20], answer.text[:300])
        found = answer.json()["findings"]
        assert found and found[0]["severity"] == "error" and found[0]["line"] >= 1, (body[:20], found)
    multipart = server.client.post(
        "/v1/templates/check", content=b"garbage", headers={"content-type": "multipart/form-data; boundary=x"}
    )
    assert multipart.status_code == 400
    text_field = server.client.post("/v1/templates/check", data={"templates": "[]"}, files={"other": ("a", b"")})
    assert text_field.status_code == 422
    bad: list[object] = [{"export": 5}, {"export": {"path": "a\x00b"}}, {}, [1]]
    for given in bad:
        assert server.client.post("/v1/audit", json=given).status_code == 422, given
    assert (
        server.client.post("/v1/audit", content=b"{not json", headers={"content-type": "application/json"}).status_code
        == 422
    )
    assert not [x for x in server.lines() if x["level"] == "error"]


def test_catalog_class_and_search(server: Server) -> None:
    cls = server.client.get("/v1/catalog/classes/EUtranCellFDD").json()
    names = {a["attribute"] for a in cls["attributes"]}
    assert {"qRxLevMin", "earfcndl"} <= names and "ENodeBFunction" in cls["parents"]
    arrow = server.client.get(
        "/v1/catalog/classes/EUtranCellFDD", headers={"accept": "application/vnd.apache.arrow.stream"}
    )
    assert set(pa.ipc.open_stream(arrow.content).read_all()["attribute"].to_pylist()) == names
    missing = server.client.get("/v1/catalog/classes/EUtranCellFdd")
    assert missing.status_code == 404 and "did you mean EUtranCellFDD" in missing.json()["detail"]
    found = server.client.get("/v1/catalog/search", params={"q": "qrxlev"}).json()
    assert {"class": "EUtranCellFDD", "attribute": "qRxLevMin"} in found["attributes"]
    assert (
        server.client.get("/v1/catalog/search", params={"q": "EUtranCelFDD"}).json()["did_you_mean"] == "EUtranCellFDD"
    )
    assert server.client.get("/v1/catalog/classes/X", params={"catalog": "nope"}).status_code == 404
    assert server.client.get("/v1/catalogs").json()["catalogs"][0]["name"] == "example"


# -- jobs -------------------------------------------------------------------------------------------


def test_audit_job_from_the_volume_and_from_an_upload_gives_the_cli_violations(
    server: Server, volume: Path, example_out: Path, tmp_path: Path
) -> None:
    cli = run_cli("audit", volume / "export.xml", "--catalog", example_out, "-o", tmp_path / "audit")
    expected = pq.read_table(tmp_path / "audit" / "violations.parquet")
    by_path = server.client.post("/v1/audit", json={"export": {"path": "export.xml"}})
    assert by_path.status_code == 202 and by_path.headers["location"] == f"/v1/jobs/{by_path.json()['id']}"
    upload = server.client.post("/v1/uploads", content=(volume / "export.xml").read_bytes()).json()
    assert upload["bytes"] == (volume / "export.xml").stat().st_size
    by_upload = server.client.post("/v1/audit", json={"export": {"upload": upload["upload"]}})
    for started in (by_path, by_upload):
        job = server.wait_job(started.json()["id"], "succeeded", "failed")
        assert job["state"] == "succeeded", job
        assert job["result"]["summary"]["violations"] == expected.num_rows
        parquet = server.client.get(job["links"]["result"], headers={"accept": "application/vnd.apache.parquet"})
        got = pq.read_table(io.BytesIO(parquet.content))
        assert sorted(got["subject"].to_pylist()) == sorted(expected["subject"].to_pylist())
        rows = server.client.get(job["links"]["result"]).json()
        assert rows["rows"] == expected.num_rows
        html = [f for f in job["links"]["files"] if f.endswith("report.html")]
        assert html and server.client.get(html[0]).status_code == 200
    assert cli.returncode in (0, 1)
    metrics = server.client.get("/metrics").text
    assert 'rtbfast_jobs{kind="audit",state="succeeded"}' in metrics


def test_plan_job_writes_the_plan_the_api_writes(
    server: Server, volume: Path, example_out: Path, tmp_path: Path
) -> None:
    planned = plan_changes(volume / "changes.parquet", example_out, volume / "export.xml")
    write_plan_folder(planned, tmp_path / "plan")
    started = server.client.post(
        "/v1/plan", json={"changeset": {"path": "changes.parquet"}, "network": {"path": "export.xml"}}
    )
    assert started.status_code == 202, started.text
    job = server.wait_job(started.json()["id"], "succeeded", "failed")
    assert job["state"] == "succeeded", job
    assert job["result"]["report"]["counts"]["steps"] == planned.plan.step_count
    for name in ("plan.cmedit", "rollback.cmedit", "plan.dynamic.txt"):
        link = f"/v1/jobs/{job['id']}/files/plan/{name}"
        assert link in job["links"]["files"]
        assert server.client.get(link).content == (tmp_path / "plan" / name).read_bytes()
    steps = server.client.get(job["links"]["result"], headers={"accept": "application/vnd.apache.arrow.stream"})
    assert pa.ipc.open_stream(steps.content).read_all().num_rows == planned.plan.steps.num_rows
    assert server.client.get(f"/v1/jobs/{job['id']}/files/../../jobs.sqlite").status_code == 404
    assert "rtbfast_plan_steps_total " in server.client.get("/metrics").text


def test_expand_job_and_a_failing_plan_job_keep_what_they_found(
    server: Server, volume: Path, example_out: Path, tmp_path: Path
) -> None:
    template = Path(__file__).resolve().parents[1] / "examples" / "templates" / "base_cell.yaml"
    started = server.client.post(
        "/v1/templates/expand",
        json={
            "template": {"name": "base_cell.yaml", "text": template.read_text()},
            "network": {"path": "export.xml"},
            "targets": ["*"],
            "allow_errors": True,
        },
    )
    assert started.status_code == 202, started.text
    job = server.wait_job(started.json()["id"], "succeeded", "failed")
    assert job["state"] == "succeeded", job
    assert job["result"]["targets"] >= 1 and job["result"]["rows"] > 0
    changes = server.client.get(job["links"]["result"], headers={"accept": "application/vnd.apache.parquet"})
    table = pq.read_table(io.BytesIO(changes.content))
    assert table.num_rows == job["result"]["rows"] and set(table["op"].to_pylist()) <= {"create", "set", "delete"}
    # the job expands node batch by node batch: what the whole network's expansion (what it ran
    # before) gives, written by write_changeset with the job's metadata, byte for byte (the
    # sources name the server's copy of the template: theirs taken, their pointers compared)
    made_from = json.loads(pq.read_schema(io.BytesIO(changes.content)).metadata[b"rtbfast.changeset"])
    whole = expand_whole(template, CatalogView.load(example_out), volume / "export.xml", ["*"])
    sources = [s.partition("#")[2] for s in table["source"].to_pylist()]
    assert sources == [s.partition("#")[2] for s in whole.changes["source"].to_pylist()]
    at = whole.changes.schema.get_field_index("source")
    same = whole.changes.set_column(at, whole.changes.schema.field(at), table["source"])
    write_changeset(same, tmp_path / "whole.parquet", made_from)
    written = server.client.get(f"/v1/jobs/{job['id']}/files/changes.parquet")  # the file, as written
    assert written.status_code == 200 and pq.read_table(io.BytesIO(written.content)).equals(table)
    assert (tmp_path / "whole.parquet").read_bytes() == written.content
    assert job["result"]["targets"] == len(whole.targets)
    assert job["result"]["ops"] == {op: whole.changes["op"].to_pylist().count(op) for op in ("create", "set", "delete")}
    assert len(job["result"]["notes"]) == len(whole.notes)
    bad = server.client.post(
        "/v1/plan",
        json={
            "template": {"name": "t.json", "text": '[{"EUtranCellFDD": {"qRxLevMinX": "1"}}]'},
            "network": {"path": "export.xml"},
            "targets": ["*"],
        },
    )
    failed = server.wait_job(bad.json()["id"], "succeeded", "failed")
    assert failed["state"] == "failed" and failed["result"]["problems"], failed
    assert any("qRxLevMinX" in p for p in failed["result"]["problems"])
    assert all("/in/" not in p for p in failed["result"]["problems"])  # the client's name, not the server's path


def test_paths_outside_the_data_volume_are_refused(server: Server) -> None:
    for given, code in (
        ("../../etc/passwd", 403),
        ("/etc/passwd", 403),
        ("outside-link/passwd", 403),
        ("missing.xml", 422),
    ):
        answer = server.client.post("/v1/audit", json={"export": {"path": given}})
        assert answer.status_code == code, (given, answer.text)
    assert server.client.post("/v1/audit", json={"export": {"upload": "../x"}}).status_code == 422
    assert server.client.post("/v1/audit", json={"export": {"path": "a", "upload": "b"}}).status_code == 422
    assert server.client.get("/v1/jobs/nope").status_code == 404


# -- runs (journals of apply) -----------------------------------------------------------------------


def test_runs_read_the_journals_and_apply_needs_no_credentials_from_the_request(
    server: Server, volume: Path, example_out: Path, tmp_path: Path
) -> None:
    planned = plan_changes(volume / "changes.parquet", example_out, volume / "export.xml")
    write_plan_folder(planned, tmp_path / "plan")
    upload = server.client.post("/v1/uploads", content=(tmp_path / "plan" / "plan.cmedit").read_bytes()).json()
    started = server.client.post(
        "/v1/apply",
        json={"script": {"upload": upload["upload"]}, "network": {"path": "export.xml"}, "journal": "lab"},
    )
    assert started.status_code == 202, started.text
    job = server.wait_job(started.json()["id"], "succeeded", "failed")
    assert job["state"] == "succeeded", job
    runs = server.client.get("/v1/runs").json()
    mine = [r for r in runs["runs"] if r["journal"].startswith("lab.")]
    assert len(mine) == 1 and mine[0]["state"] == "done"
    assert mine[0]["applied"] == planned.plan.step_count and mine[0]["failed"] == 0 == mine[0]["uncertain"]
    one = server.client.get(f"/v1/runs/{mine[0]['id']}").json()
    assert one["detail"]["commands"] == mine[0]["applied"]
    assert server.client.get("/v1/runs/lab.journal.sqlite:99").status_code == 404
    assert server.client.get("/v1/runs/..:1").status_code == 404
    metrics = server.client.get("/metrics").text
    assert f'rtbfast_apply_commands_total{{outcome="applied"}} {float(mine[0]["applied"])}' in metrics
    # ENM's credentials are the server's own: a request cannot carry any
    given = {"script": {"upload": upload["upload"]}, "backend": "enm", "password": "x"}
    refused = server.client.post("/v1/apply", json=given)
    assert refused.status_code == 422 and "password" in refused.text
    # ENM is the server's: asking for it without ENM_URL on the server fails the job, with no secret asked
    enm = server.client.post("/v1/apply", json={"script": {"upload": upload["upload"]}, "backend": "enm"})
    failed = server.wait_job(enm.json()["id"], "succeeded", "failed")
    assert failed["state"] == "failed" and "ENM_URL" in failed["error"]


def test_apply_on_enm_with_the_servers_credentials(
    tmp_path: Path, example_out: Path, volume: Path, tables: dict[str, pa.Table], catalog: CatalogView
) -> None:
    """An operator's apply goes to the ENM of the server's environment (ENM_URL, ENM_USERNAME,
    ENM_PASSWORD_FILE: a mounted secret), here a fake ENM on loopback; the password is never
    logged, and the run shows in /v1/runs."""
    planned = plan_changes(volume / "changes.parquet", example_out, volume / "export.xml")
    write_plan_folder(planned, tmp_path / "plan")
    secret = tmp_path / "enm-password"
    secret.write_text("s3cret-of-the-server\n")
    fake = FakeEnm(Simulator(tables, catalog), "svc-rtbfast", "s3cret-of-the-server").start()
    env = {"ENM_URL": fake.url, "ENM_USERNAME": "svc-rtbfast", "ENM_PASSWORD_FILE": str(secret)}
    s = Server(
        tmp_path, "--catalog", example_out, "--data-dir", tmp_path, "--jobs-dir", tmp_path / "jobs",
        "--journals-dir", tmp_path / "journals", env=env,
    )  # fmt: skip
    try:
        shutil.copyfile(volume / "export.xml", tmp_path / "export.xml")
        s.wait_ready()
        started = s.client.post(
            "/v1/apply",
            json={"script": {"path": "plan/plan.cmedit"}, "network": {"path": "export.xml"}, "backend": "enm"},
        )
        assert started.status_code == 202, started.text
        job = s.wait_job(started.json()["id"], "succeeded", "failed")
        assert job["state"] == "succeeded", job
        runs = s.client.get("/v1/runs").json()["runs"]
        assert len(runs) == 1 and runs[0]["backend"] == "enm" and runs[0]["applied"] == planned.plan.step_count
        assert runs[0]["target"] == fake.url
        assert "s3cret-of-the-server" not in s.log.read_text()
    finally:
        s.stop()
        fake.stop()


# -- auth and limits: a server with tokens -----------------------------------------------------------


@pytest.fixture(scope="module")
def strict(
    tmp_path_factory: pytest.TempPathFactory, example_out: Path, volume: Path
) -> Iterator[tuple[Server, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("strict")
    tokens, secrets = tokens_file(
        folder, planner=["reader"], noc=["operator"], prometheus=["metrics"], admin=["reader", "operator"]
    )
    s = Server(
        folder,
        "--catalog",
        f"a={example_out}",
        "--catalog",
        f"b={example_out}",
        "--tokens",
        tokens,
        "--metrics-auth",
        "--data-dir",
        volume,
        "--jobs-dir",
        folder / "jobs",
        "--max-body-mb",
        "0.01",
        "--max-templates-mb",
        "2",
        "--max-upload-mb",
        "0.05",
        "--queue",
        "1",
        "--threads",
        "1",
    )
    try:
        s.wait_ready()
        yield s, secrets
    finally:
        s.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_tokens_and_roles(strict: tuple[Server, dict[str, str]], volume: Path) -> None:
    s, tokens = strict
    c = s.client
    assert c.get("/health").status_code == 200 and c.get("/ready").status_code == 200
    assert c.get("/v1/catalogs").status_code == 401
    assert c.get("/v1/catalogs").headers["www-authenticate"] == "Bearer"
    assert c.get("/v1/catalogs", headers=_bearer("not-a-token")).status_code == 401
    assert c.get("/v1/catalogs", headers={"authorization": f"Basic {tokens['planner']}"}).status_code == 401
    assert c.get("/v1/catalogs", headers=_bearer(tokens["prometheus"])).status_code == 403
    assert c.get("/v1/catalogs", headers=_bearer(tokens["planner"])).status_code == 200
    # /metrics needs the metrics role (--metrics-auth)
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers=_bearer(tokens["planner"])).status_code == 403
    assert "rtbfast_ready 1.0" in c.get("/metrics", headers=_bearer(tokens["prometheus"])).text
    # apply is the operator's
    body = {"script": {"path": "export.xml"}}
    assert c.post("/v1/apply", json=body, headers=_bearer(tokens["planner"])).status_code == 403
    assert c.post("/v1/apply", json=body, headers=_bearer(tokens["noc"])).status_code == 409  # no journals volume
    # two catalogs: a request names one
    template = _templates(volume)[0].read_bytes()
    reader = _bearer(tokens["planner"])
    assert c.post("/v1/templates/check", content=template, headers=reader).status_code == 400
    assert c.post("/v1/templates/check", content=template, headers=reader, params={"catalog": "b"}).status_code == 200
    # no token is ever logged; the principal's name is
    lines = s.lines()
    text = s.log.read_text()
    for token in tokens.values():
        assert token not in text
    logged = [x for x in lines if x.get("path") == "/v1/catalogs" and x.get("status") == 200]
    assert logged and logged[0]["principal"] == "planner" and len(logged[0]["request_id"]) == 32
    given = c.get("/health", headers={"x-request-id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"


def test_limits_body_upload_time_and_queue(strict: tuple[Server, dict[str, str]], volume: Path) -> None:
    s, tokens = strict
    c, reader = s.client, _bearer(tokens["planner"])
    big = {"export": {"path": "x" * 20_000}}
    assert c.post("/v1/audit", json=big, headers=reader, params={"catalog": "a"}).status_code == 413
    too_big = c.post("/v1/uploads", content=b"x" * 60_000, headers=reader)
    assert too_big.status_code == 413
    # streamed without a length: refused past the limit too, and nothing kept
    chunks = (b"y" * 10_000 for _ in range(8))
    assert c.post("/v1/uploads", content=chunks, headers=reader).status_code == 413
    uploads = (
        list((s.log.parent / "jobs" / "uploads").glob("*")) if (s.log.parent / "jobs" / "uploads").exists() else []
    )
    assert uploads == []
    # the queue holds one job of a kind: past it, 429 with Retry-After
    answers = [
        c.post("/v1/audit", json={"export": {"path": "export.xml"}}, headers=reader, params={"catalog": "a"})
        for _ in range(6)
    ]
    codes = [a.status_code for a in answers]
    assert 429 in codes and codes[0] == 202, codes
    refused = next(a for a in answers if a.status_code == 429)
    assert int(refused.headers["retry-after"]) > 0
    metrics = c.get("/metrics", headers=_bearer(tokens["prometheus"])).text
    assert 'rtbfast_jobs_rejected_total{kind="audit"}' in metrics
    assert 'rtbfast_jobs_rejected_total{kind="audit"} 0.0' not in metrics
    for a in answers:
        if a.status_code == 202:
            s.wait_job(a.json()["id"], "succeeded", "failed", headers=reader)


def test_a_request_past_the_time_limit_gets_504(tmp_path: Path, example_out: Path) -> None:
    mo = {"EUtranCellFDD": {"qRxLevMin": "-80", "cellRange": "KM_100", "administrativeState": "LOCKED"}}
    big = json.dumps([mo] * 30_000).encode()  # 90,000 values: about a second of checking
    s = Server(tmp_path, "--catalog", example_out, "--jobs-dir", tmp_path / "jobs", "--request-seconds", "0.1")
    try:
        s.wait_ready()
        started = time.monotonic()
        slow = s.client.post("/v1/templates/check", content=big)
        answered = time.monotonic() - started
        assert slow.status_code == 504, slow.text[:300]
        # the same check with time to finish: the 504 came before it would have
        s.stop()
        s = Server(tmp_path, "--catalog", example_out, "--jobs-dir", tmp_path / "jobs")
        s.wait_ready()
        started = time.monotonic()
        assert s.client.post("/v1/templates/check", content=big).status_code == 200
        assert answered < time.monotonic() - started
        assert "time limit of 0.1 s" in slow.json()["error"]
    finally:
        s.stop()


def test_a_catalog_that_cannot_load_keeps_the_server_alive_and_not_ready(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    s = Server(tmp_path, "--catalog", tmp_path / "empty", "--jobs-dir", tmp_path / "jobs")
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = s.client.get("/ready")
                if ready.json()["catalog_error"]:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and s.process.poll() is None, s.log.read_text()[-2000:]
            time.sleep(0.1)
        assert ready.status_code == 503 and "empty" in ready.json()["catalog_error"]
        assert s.client.get("/health").status_code == 200
        check = s.client.post("/v1/templates/check", content=b"[]")
        assert check.status_code == 503 and "could not be loaded" in check.json()["detail"]
        assert "rtbfast_ready 0.0" in s.client.get("/metrics").text
    finally:
        s.stop()


def test_configured_by_the_container_environment_with_two_workers(
    tmp_path: Path, example_out: Path, volume: Path
) -> None:
    """What the image sets (RTBFAST_CATALOGS, RTBFAST_TOKENS_FILE, RTBFAST_DATA_DIR,
    RTBFAST_JOBS_DIR), and --workers 2: both processes answer, over one job store."""
    tokens, secrets = tokens_file(tmp_path, ci=["reader"])
    env = {
        "RTBFAST_CATALOGS": f"lte={example_out},copy={example_out}",
        "RTBFAST_TOKENS_FILE": str(tokens),
        "RTBFAST_DATA_DIR": str(volume),
        "RTBFAST_JOBS_DIR": str(tmp_path / "jobs"),
    }
    s = Server(tmp_path, "--workers", "2", env=env)
    try:
        s.wait_ready()
        reader = _bearer(secrets["ci"])
        assert s.client.get("/v1/catalogs").status_code == 401
        names = [c["name"] for c in s.client.get("/v1/catalogs", headers=reader).json()["catalogs"]]
        assert names == ["lte", "copy"]
        started = [
            s.client.post(
                "/v1/audit", json={"export": {"path": "export.xml"}}, headers=reader, params={"catalog": "lte"}
            )
            for _ in range(4)
        ]
        for answer in started:
            assert answer.status_code == 202
            # whichever process answers, the job is in the one store
            assert s.wait_job(answer.json()["id"], "succeeded", "failed", headers=reader)["state"] == "succeeded"
        pids = {x.get("message") for x in s.lines() if "Started server process" in x.get("message", "")}
        assert len(pids) == 2, pids
    finally:
        s.stop()


def test_an_open_server_refuses_a_non_loopback_address(example_out: Path) -> None:
    run = run_cli("serve", "--catalog", example_out, "--host", "0.0.0.0", "--port", "1")
    assert run.returncode == 2 and "loopback" in run.stderr and "Traceback" not in run.stderr
    missing = run_cli("serve", "--catalog", example_out / "missing")
    assert missing.returncode == 2 and missing.stderr.startswith("error: --catalog missing=")
    tokens = run_cli("serve", "--catalog", example_out, "--tokens", example_out / "report.json")
    assert tokens.returncode == 2 and "the tokens file is a JSON list" in tokens.stderr


def test_the_job_store_is_sqlite_with_every_job(server: Server) -> None:
    store = Path(str(server.args[server.args.index("--jobs-dir") + 1])) / "jobs.sqlite"
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        states = {s for (s,) in db.execute("SELECT DISTINCT state FROM job")}
    assert states <= {"queued", "running", "succeeded", "failed"}


@pytest.mark.parametrize(
    ("text", "cpus"),
    [("200000 100000\n", 2), ("150000 100000\n", 2), ("50000 100000\n", 1), ("max 100000\n", None), ("", None)],
)
def test_check_workers_default_to_the_cgroups_cpu_limit(tmp_path: Path, text: str, cpus: int | None) -> None:
    from rtbfast.cli_serve import cgroup_cpu_limit

    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(text, encoding="ascii")
    assert cgroup_cpu_limit(cpu_max) == cpus
    assert cgroup_cpu_limit(tmp_path / "missing") is None
