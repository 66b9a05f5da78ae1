"""A fake ENM on loopback for the tests, written from ENM's scripting protocol as
``../shared/reference/enm-cli.md`` §1.1 ("Transport") gives it, not from rtbfast's client
(``docs/enm.md`` says which parts are verified):

- ``POST /login`` (form ``IDToken1``, ``IDToken2``): 302 and the cookie ``iPlanetDirectoryPro``;
  401 ``{"code": "FAILED", "message": …}`` for wrong credentials (or ``refuse_login``); 200
  ``{"code": "PASSWORD_RESET", …}`` when ``password_reset`` is set;
- every request without ``X-Requested-With: XMLHttpRequest`` is refused (400);
- ``POST /server-scripting/services/command`` with ``Accept:
  application/vnd.com.ericsson.oss.scripting+text;VERSION="1"`` and a multipart body whose parts
  are checked by name and content type (``name=command``, ``command``, ``stream_output=true``,
  ``requestSequence``, each ``text/plain; charset=utf-8``; with a file: the part ``file:`` with
  its file name and ``fileName``, the command naming ``file:NAME``): 201, the request id as the
  body, ``CommandStatus: RUNNING``;
- ``GET /server-scripting/services/command/output/<id>/stream[?_wait_milli=N]`` with the
  terminal JSON Accept header: the output in replies of ``chunk_size`` elements (a table's rows
  count one each, and a table split across replies is continued by a group of the same
  ``_group_key``), ``FETCHING`` until the last, which is ``COMPLETE``; a reply with nothing new
  waits for it up to ``_wait_milli`` (at most ``max_wait`` seconds);
- ``GET /server-scripting/services/file/<app>/<file>?_requestId=<id>``: a file an output offered;
- ``GET /logout`` ends the session; a request without a live session gets 401.

Commands are answered by ``handlers`` (a list of ``(predicate, handler)``: the first whose
predicate takes the command text answers it, given the text and the uploaded file, with the
elements of its output; the place for ``cmedit import`` jobs), else by the offline simulator,
each line a ``text`` element (a ``cmedit get FDN … -t`` as a table).

Failures on purpose: ``fail_http`` (a command holding this text gets HTTP 500 and is not run),
``hold`` (a command holding this text is run, but its output stays ``FETCHING`` with nothing new
until ``release()``: what a client sees when ENM is slow, or when it is killed meanwhile),
``refuse_login``, ``password_reset``, ``session_cookie`` (another name: a 302 without the session
cookie), ``fail_polls`` (the next N polls get 503), ``drop_polls`` (the next N polls: the
connection is closed without an answer), ``expire_after_polls`` (after N more polls every
session ends: the next poll gets 401), ``ready_after`` (the output comes that many seconds after
the command).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import json
import secrets
import ssl
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rtbfast.enm import cmedit
from rtbfast.enm.simulator import Simulator

SESSION_COOKIE = "iPlanetDirectoryPro"
COMMAND_MEDIA = 'application/vnd.com.ericsson.oss.scripting+text;VERSION="1"'
OUTPUT_MEDIA = 'application/vnd.com.ericsson.oss.scripting.terminal+json;VERSION="3"'
COMMAND = "/server-scripting/services/command"
OUTPUT = "/server-scripting/services/command/output/"
FILE = "/server-scripting/services/file/"
TEXT_PARTS = {"name", "command", "stream_output", "requestSequence", "fileName"}

Element = dict[str, Any]
Upload = tuple[str, bytes]
Handler = Callable[[str, Upload | None], list[Element]]


# -- the elements of an output ------------------------------------------------------------------


def text(value: str) -> Element:
    return {"type": "text", "value": value}


def table(labels: list[str], rows: list[list[str]], key: str = "0") -> Element:
    """A table as ENM's terminal JSON gives one: a group with a ``_group_key`` and the column
    labels, a group per row whose cells are labelled texts."""
    return {
        "type": "group",
        "_group_key": key,
        "_label": list(labels),
        "_elements": [
            {
                "type": "group",
                "_elements": [{"type": "text", "_label": [c], "value": v} for c, v in zip(labels, row, strict=True)],
            }
            for row in rows
        ],
    }


def attachment(name: str, application_id: str, file_id: str) -> Element:
    return {"type": "attachment", "name": name, "_applicationId": application_id, "_fileId": file_id}


def _chunks(tree: list[Element], size: int) -> list[list[Element]]:
    """`tree` in replies of `size` units (an element, or one row of a table); a table cut by a
    reply goes on in the next as a group of the same key."""
    units: list[tuple[Element, Element | None]] = []  # (element, table it is a row of)
    for element in tree:
        rows = element.get("_elements") if "_group_key" in element else None
        if rows:
            units.extend((row, element) for row in rows)
        else:
            units.append((element, None))
    chunks: list[list[Element]] = []
    for start in range(0, len(units), max(1, size)):
        chunk: list[Element] = []
        for element, of in units[start : start + max(1, size)]:
            if of is None:
                chunk.append(element)
            elif chunk and chunk[-1].get("_of") is of:
                chunk[-1]["_elements"].append(element)
            else:
                chunk.append({**of, "_elements": [element], "_of": of})
        for element in chunk:
            element.pop("_of", None)
        chunks.append(chunk)
    return chunks or [[]]


def _as_table(lines: list[str]) -> list[Element] | None:
    """``cmedit get FDN -t`` as ENM's table mode shows it: the MO's class, then a table
    (``NodeId``, ``<Class>Id``, the attributes) of its one row, then the count."""
    if not lines or not lines[0].startswith("FDN : "):
        return None
    fdn = lines[0][len("FDN : ") :]
    rdns = [rdn.split("=", 1) for rdn in fdn.split(",")]
    names = dict(rdns)
    node = names.get("MeContext") or names.get("ManagedElement") or rdns[0][1]
    cls, mo_id = rdns[-1]
    attributes = [line.split(" : ", 1) for line in lines[1:] if " : " in line]
    labels = ["NodeId", f"{cls}Id", *(a for a, _ in attributes)]
    row = [node, mo_id, *(v for _, v in attributes)]
    return [text(cls), table(labels, [row]), text(""), text(lines[-1])]


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Seen:
    """A request the fake received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    """Names in lower case."""


@dataclass
class _Output:
    command: str
    chunks: list[list[Element]]
    files: set[tuple[str, str]]
    ready_at: float
    held: bool
    given: int = 0


@dataclass
class FakeEnm:
    simulator: Simulator
    username: str = "operator"
    password: str = "s3cret!"
    certificate: tuple[str, str] | None = None
    chunk_size: int = 3
    """Elements per reply (a table's rows count one each)."""
    max_wait: float = 1.0
    """The longest a poll's ``_wait_milli`` is honoured, in seconds."""
    ready_after: float = 0.0

    handlers: list[tuple[Callable[[str], bool], Handler]] = field(default_factory=list)
    files: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    """What ``GET …/file/<app>/<file>`` serves: (application id, file id) → (name, content)."""
    sessions: set[str] = field(default_factory=set)
    outputs: dict[str, _Output] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    """Request ids whose output is held."""
    executed: list[str] = field(default_factory=list)
    """Every command run, in order (gets included)."""
    uploads: list[tuple[str, Upload]] = field(default_factory=list)
    """(command, (file name, content)) of every command run with a file."""
    requests: list[Seen] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    polls: list[tuple[str, int | None]] = field(default_factory=list)
    """(request id, ``_wait_milli`` or None) of every poll."""
    downloads: list[tuple[str, str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    """Why each request refused as malformed (HTTP 400, 406, 415) was refused."""

    fail_http: str | None = None
    hold: str | None = None
    refuse_login: bool = False
    password_reset: bool = False
    session_cookie: str = SESSION_COOKIE
    fail_polls: int = 0
    drop_polls: int = 0
    expire_after_polls: int | None = None

    def __post_init__(self) -> None:
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.scheme = "http"
        if self.certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.certificate)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> FakeEnm:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self.released.set()

    def expire_sessions(self) -> None:
        """ENM ends every session (its idle timeout): the next request gets 401."""
        with self.lock:
            self.sessions.clear()

    def changes(self) -> list[str]:
        return [c for c in self.executed if not c.startswith("cmedit get")]

    def offer(self, name: str, content: bytes, application_id: str = "cmedit") -> Element:
        """An attachment element for a handler's output, its file served for download."""
        file_id = uuid.uuid4().hex
        self.files[(application_id, file_id)] = (name, content)
        return attachment(name, application_id, file_id)

    def answer(self, command: str, upload: Upload | None) -> list[Element]:
        """The elements of `command`'s output (a handler's, else the simulator's)."""
        for wanted, handler in self.handlers:
            if wanted(command):
                return handler(command, upload)
        response = self.simulator.execute(command)
        if response.ok:
            try:
                options = cmedit.parse_line(command).options
            except cmedit.CmeditSyntaxError:
                options = {}
            if "-t" in options or "--table" in options:
                tabled = _as_table(response.lines)
                if tabled is not None:
                    return tabled
        return [text(line) for line in response.lines]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept alive, as a real server does
            disable_nagle_algorithm = True  # headers and body leave at once

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(
                self, status: int, body: bytes, ctype: str = "text/plain", headers: dict[str, str] | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self, status: int, why: str) -> None:
                fake.refused.append(why)
                self._send(status, why.encode())

            def _json(self, status: int, payload: Any, ctype: str = "application/json") -> None:
                self._send(status, json.dumps(payload).encode(), ctype)

            def _token(self) -> str | None:
                for cookie in self.headers.get("Cookie", "").split(";"):
                    name, _, value = cookie.strip().partition("=")
                    if name == SESSION_COOKIE:
                        return value
                return None

            def _seen(self) -> tuple[str, dict[str, str]] | None:
                """The path and query of the request, recorded; None when refused (no
                X-Requested-With)."""
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                headers = {k.lower(): v for k, v in self.headers.items()}
                fake.requests.append(Seen(self.command, parts.path, query, headers))
                if self.headers.get("X-Requested-With") != "XMLHttpRequest":
                    self._refuse(400, "X-Requested-With: XMLHttpRequest expected")
                    return None
                return parts.path, query

            def _live(self) -> bool:
                token = self._token()
                with fake.lock:
                    live = token is not None and token in fake.sessions
                if not live:
                    self._json(401, {"code": "UNAUTHORIZED", "message": "no session"})
                return live

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                seen = self._seen()
                if seen is None:
                    return
                path, _ = seen
                if path == "/login":
                    self._login(body)
                elif path == COMMAND:
                    self._command(body)
                else:
                    self._send(404, b"no such service")

            def _login(self, body: bytes) -> None:
                form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
                fake.logins.append(form)
                if fake.refuse_login or form.get("IDToken1") != fake.username or form.get("IDToken2") != fake.password:
                    self._json(401, {"code": "FAILED", "message": "Authentication failed"})
                    return
                if fake.password_reset:
                    self._json(200, {"code": "PASSWORD_RESET", "message": "The password has expired"})
                    return
                token = secrets.token_hex(16)
                with fake.lock:
                    fake.sessions.add(token)
                secure = "; Secure" if fake.scheme == "https" else ""
                self._send(
                    302,
                    b"",
                    headers={
                        "Location": "/#launcher",
                        "Set-Cookie": f"{fake.session_cookie}={token}; Path=/; HttpOnly{secure}",
                    },
                )

            def _parts(self, body: bytes) -> list[tuple[str, str | None, email.message.MIMEPart]] | None:
                ctype = self.headers.get("Content-Type", "")
                if not ctype.startswith("multipart/form-data"):
                    self._refuse(415, f"multipart/form-data expected, not {ctype!r}")
                    return None
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {ctype}\r\n\r\n".encode() + body
                )
                if not message.is_multipart():
                    self._refuse(400, "a multipart body expected")
                    return None
                parts = []
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if not isinstance(name, str):
                        self._refuse(400, "a part without a name")
                        return None
                    parts.append((name, part.get_filename(), part))
                return parts

            def _command(self, body: bytes) -> None:
                if not self._live():
                    return
                if self.headers.get("Accept") != COMMAND_MEDIA:
                    self._refuse(406, f"Accept: {COMMAND_MEDIA} expected")
                    return
                parts = self._parts(body)
                if parts is None:
                    return
                names = [name for name, _, _ in parts]
                fields: dict[str, str] = {}
                upload: Upload | None = None
                for name, filename, part in parts:
                    if name == "file:":
                        if not filename:
                            self._refuse(400, "the part file: has no file name")
                            return
                        payload = part.get_payload(decode=True)
                        upload = (filename, payload if isinstance(payload, bytes) else b"")
                        continue
                    if name not in TEXT_PARTS:
                        self._refuse(400, f"unexpected part {name!r}")
                        return
                    charset = part.get_content_charset()
                    if part.get_content_type() != "text/plain" or (charset or "").lower() != "utf-8":
                        self._refuse(
                            400, f"part {name!r}: text/plain; charset=utf-8 expected, not {part['Content-Type']}"
                        )
                        return
                    payload = part.get_payload(decode=True)
                    fields[name] = payload.decode("utf-8") if isinstance(payload, bytes) else ""
                if upload is None:
                    expected = {"name", "command", "stream_output", "requestSequence"}
                    allowed = expected
                else:  # the name part is optional with a file
                    expected = {"command", "fileName", "stream_output", "requestSequence", "file:"}
                    allowed = expected | {"name"}
                if len(names) != len(set(names)) or not expected <= set(names) or not set(names) <= allowed:
                    self._refuse(400, f"parts {names} where {sorted(expected)} expected")
                    return
                if "name" in fields and fields["name"] != "command":
                    self._refuse(400, "name=command expected")
                    return
                if fields.get("stream_output") != "true" or not fields.get("requestSequence"):
                    self._refuse(400, "stream_output=true and a requestSequence expected")
                    return
                command = fields.get("command", "").strip()
                if upload is not None:
                    if fields.get("fileName") != upload[0]:
                        self._refuse(400, f"fileName {fields.get('fileName')!r} is not the file sent ({upload[0]!r})")
                        return
                    if f"file:{upload[0]}" not in command:
                        self._refuse(400, f"the command does not name file:{upload[0]}")
                        return
                if fake.fail_http is not None and fake.fail_http in command:
                    self._send(500, b"Internal Server Error")
                    return
                with fake.lock:
                    tree = fake.answer(command, upload)
                    fake.executed.append(command)
                    if upload is not None:
                        fake.uploads.append((command, upload))
                request_id = str(uuid.uuid4())
                held = fake.hold is not None and fake.hold in command
                offered = {
                    (str(e.get("_applicationId")), str(e.get("_fileId")))
                    for e in _walk(tree)
                    if e.get("type") == "attachment"
                }
                fake.outputs[request_id] = _Output(
                    command, _chunks(tree, fake.chunk_size), offered, time.monotonic() + fake.ready_after, held
                )
                if held:
                    fake.held.add(request_id)
                self._send(201, request_id.encode(), headers={"CommandStatus": "RUNNING"})

            def do_GET(self) -> None:
                seen = self._seen()
                if seen is None:
                    return
                path, query = seen
                if path == "/logout":
                    token = self._token()
                    with fake.lock:
                        fake.sessions.discard(token or "")
                    self._send(200, b"logged out")
                elif path.startswith(OUTPUT) and path.endswith("/stream"):
                    self._poll(urllib.parse.unquote(path[len(OUTPUT) : -len("/stream")]), query)
                elif path.startswith(FILE):
                    self._download(path[len(FILE) :], query)
                else:
                    self._send(404, b"no such service")

            def _poll(self, request_id: str, query: dict[str, str]) -> None:
                wait_milli = int(query["_wait_milli"]) if "_wait_milli" in query else None
                fake.polls.append((request_id, wait_milli))
                if fake.expire_after_polls is not None:
                    if fake.expire_after_polls <= 0:
                        fake.expire_after_polls = None
                        fake.expire_sessions()
                    else:
                        fake.expire_after_polls -= 1
                if not self._live():
                    return
                if self.headers.get("Accept") != OUTPUT_MEDIA:
                    self._refuse(406, f"Accept: {OUTPUT_MEDIA} expected")
                    return
                if fake.fail_polls > 0:
                    fake.fail_polls -= 1
                    self._send(503, b"Service Unavailable")
                    return
                if fake.drop_polls > 0:
                    fake.drop_polls -= 1
                    self.close_connection = True  # no answer: the connection is closed
                    return
                output = fake.outputs.get(request_id)
                if output is None:
                    self._send(404, b"no such request")
                    return
                waited = min((wait_milli or 0) / 1000, fake.max_wait)
                until = time.monotonic() + waited
                if output.held and not fake.released.is_set():
                    fake.released.wait(waited)
                if time.monotonic() < output.ready_at:
                    time.sleep(max(0.0, min(output.ready_at, until) - time.monotonic()))
                ready = (not output.held or fake.released.is_set()) and time.monotonic() >= output.ready_at
                elements: list[Element] = []
                if ready and output.given < len(output.chunks):
                    elements = output.chunks[output.given]
                    output.given += 1
                status = "COMPLETE" if output.given == len(output.chunks) else "FETCHING"
                payload = {
                    "output": {"type": "group", "_elements": elements},
                    "command": output.command,
                    "_response_status": status,
                    "v": "2",
                }
                self._json(200, payload, OUTPUT_MEDIA)

            def _download(self, rest: str, query: dict[str, str]) -> None:
                if not self._live():
                    return
                application_id, _, file_id = (urllib.parse.unquote(p) for p in rest.partition("/"))
                output = fake.outputs.get(query.get("_requestId", ""))
                found = fake.files.get((application_id, file_id))
                if found is None or output is None or (application_id, file_id) not in output.files:
                    self._send(404, b"no such file for this request")
                    return
                fake.downloads.append((query["_requestId"], application_id, file_id))
                name, content = found
                self._send(
                    200,
                    content,
                    "application/octet-stream",
                    {"Content-Disposition": f'attachment; filename="{name}"'},
                )

        return Handler


def _walk(tree: list[Element]) -> list[Element]:
    out: list[Element] = []
    for element in tree:
        out.append(element)
        children = element.get("_elements")
        if isinstance(children, list):
            out.extend(_walk(children))
    return out
