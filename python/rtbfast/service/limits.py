"""What wraps every request (one ASGI middleware): a request id, the body-size limit of its
route, its time limit, its metrics and one JSON log line. Nothing of the headers is logged (a
token never is), and the path without its query."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from rtbfast.service.config import Limits
from rtbfast.service.metrics import Metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

access = logging.getLogger("rtbfast.service.access")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
UNLIMITED_TIME = ("/v1/uploads",)
"""Routes without the time limit (an upload takes as long as the client sends it)."""


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_logging(level: int = logging.INFO) -> None:
    """Every log of the service (and uvicorn's) as JSON lines on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("rtbfast", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our own access line replaces it


def body_limit(path: str, limits: Limits) -> int:
    if path.startswith("/v1/uploads"):
        return limits.upload_bytes
    if path.startswith("/v1/templates/check"):
        return limits.template_bytes
    return limits.body_bytes


class BodyTooLarge(Exception):
    pass


class RequestMiddleware:
    def __init__(self, app: ASGIApp, limits: Limits, metrics: Metrics) -> None:
        self.app = app
        self.limits = limits
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope.get("path", "")
        method: str = scope.get("method", "")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        given = headers.get("x-request-id", "")
        request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = [0]
        limit = body_limit(path, self.limits)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        received = [0]

        async def receive_bounded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                received[0] += len(message.get("body", b""))
                if received[0] > limit:
                    raise BodyTooLarge
            return message

        async def refuse(code: int, error: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
            if status[0]:
                return
            body = json.dumps({"error": error, "request_id": request_id}).encode()
            await send_with_id(
                {
                    "type": "http.response.start",
                    "status": code,
                    "headers": [(b"content-type", b"application/json"), *(extra or [])],
                }
            )
            await send_with_id({"type": "http.response.body", "body": body})

        self.metrics.in_flight.inc()
        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > limit:
                await refuse(413, f"the body is larger than this route's limit of {limit:,} bytes")
            elif path.startswith(UNLIMITED_TIME):
                await self.app(scope, receive_bounded, send_with_id)
            else:
                try:
                    await asyncio.wait_for(
                        self.app(scope, receive_bounded, send_with_id), timeout=self.limits.request_seconds
                    )
                except TimeoutError:
                    await refuse(
                        504, f"not answered within the time limit of {self.limits.request_seconds:g} s; use a job"
                    )
        except BodyTooLarge:
            await refuse(413, f"the body is larger than this route's limit of {limit:,} bytes")
        except Exception:
            access.exception("request failed", extra={"fields": {"request_id": request_id, "path": path}})
            await refuse(500, "internal error (see the server's log for this request id)")
        finally:
            self.metrics.in_flight.dec()
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or ("(refused)" if status[0] == 413 else "(unmatched)")
            self.metrics.requests.labels(template, method, str(status[0])).inc()
            self.metrics.duration.labels(template, method).observe(elapsed)
            client = scope.get("client")
            access.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": method,
                        "path": path,
                        "route": template,
                        "status": status[0],
                        "duration_ms": round(elapsed * 1000, 3),
                        "client": client[0] if client else None,
                        "principal": scope["state"].get("principal"),
                    }
                },
            )
