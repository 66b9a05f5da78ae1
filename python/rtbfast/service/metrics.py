"""The Prometheus metrics of the service. The names are a contract with ``deploy/`` (its
dashboard and alert rules): add, never rename."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from rtbfast import _native
from rtbfast.service.config import JOB_KINDS

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_STATES = ("queued", "running", "succeeded", "failed")
SEVERITIES = ("error", "warning", "info")
OUTCOMES = ("applied", "failed", "uncertain")

disable_created_metrics()  # type: ignore[no-untyped-call] # the *_created series: a sample per label set that no rule or panel reads


class Metrics:
    """One registry per app (so that apps made in one process do not share counts)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "rtbfast_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=r
        )
        self.duration = Histogram(
            "rtbfast_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            buckets=BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("rtbfast_http_requests_in_flight", "HTTP requests being answered", registry=r)
        self.findings = Counter(
            "rtbfast_template_findings", "Template check findings, by severity", ["severity"], registry=r
        )
        self.values_checked = Counter("rtbfast_values_checked", "Template values judged", registry=r)
        self.violations = Counter("rtbfast_violations", "Audit violations, by severity", ["severity"], registry=r)
        self.plan_steps = Counter("rtbfast_plan_steps", "Steps of the plans made", registry=r)
        self.apply_commands = Counter(
            "rtbfast_apply_commands",
            "Commands of rtbfast apply runs by outcome, as their journals record them",
            ["outcome"],
            registry=r,
        )
        self.jobs = Gauge("rtbfast_jobs", "Jobs in the store, by kind and state", ["kind", "state"], registry=r)
        self.queue_depth = Gauge("rtbfast_job_queue_depth", "Jobs waiting to run, by kind", ["kind"], registry=r)
        self.rejected = Counter(
            "rtbfast_jobs_rejected", "Jobs refused with 429 (queue full), by kind", ["kind"], registry=r
        )
        self.catalog_load = Gauge(
            "rtbfast_catalog_load_seconds", "Seconds a catalog took to load at start", ["catalog"], registry=r
        )
        self.ready = Gauge("rtbfast_ready", "1 when the service is ready, 0 when not", registry=r)
        self.build_info = Gauge("rtbfast_build_info", "The rtbfast version", ["version"], registry=r)
        self.build_info.labels(_native.__version__).set(1)
        for severity in SEVERITIES:
            self.findings.labels(severity)
            self.violations.labels(severity)
        for outcome in OUTCOMES:
            self.apply_commands.labels(outcome)
        for kind in JOB_KINDS:
            self.rejected.labels(kind)
            self.queue_depth.labels(kind).set(0)
            for state in JOB_STATES:
                self.jobs.labels(kind, state).set(0)
