"""A fake ENM on loopback for the tests: it speaks the scripting service's HTTP protocol as
``../shared/reference/enm-cli.md`` §1.1 gives it (login form, multipart command, a request id,
polled output with the terminal Accept header, logout) and answers every command through the
offline simulator.

Failures on purpose: ``fail_http`` (a command holding this text gets HTTP 500 and is not run),
``hold`` (a command holding this text is run, but its output stays ``RUNNING`` until
``release()``: what a client sees when ENM is slow, or when the client is killed meanwhile),
and ``refuse_login``.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import secrets
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rtbfast.enm.enm_client import ACCEPT
from rtbfast.enm.simulator import Simulator


class FakeEnm:
    def __init__(
        self,
        simulator: Simulator,
        username: str = "operator",
        password: str = "s3cret!",
        *,
        certificate: tuple[str, str] | None = None,
    ) -> None:
        self.simulator = simulator
        self.username = username
        self.password = password
        self.sessions: set[str] = set()
        self.outputs: dict[str, list[str]] = {}
        self.held: set[str] = set()
        self.executed: list[str] = []
        """Every command run, in order (gets included)."""
        self.requests: list[tuple[str, str]] = []
        self.logins: list[dict[str, str]] = []
        self.fail_http: str | None = None
        self.hold: str | None = None
        self.refuse_login = False
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
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

    def changes(self) -> list[str]:
        return [c for c in self.executed if not c.startswith("cmedit get")]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
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

            def _session(self) -> bool:
                cookie = self.headers.get("Cookie", "")
                tokens = {
                    c.strip().split("=", 1)[1]
                    for c in cookie.split(";")
                    if c.strip().startswith("iPlanetDirectoryPro=")
                }
                return bool(tokens & fake.sessions)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                fake.requests.append(("POST", self.path))
                if self.path == "/login":
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    fake.logins.append(form)
                    if (
                        fake.refuse_login
                        or form.get("IDToken1") != fake.username
                        or form.get("IDToken2") != fake.password
                    ):
                        self._send(401, b"Authentication failed")
                        return
                    token = secrets.token_hex(8)
                    fake.sessions.add(token)
                    self._send(200, b"OK", headers={"Set-Cookie": f"iPlanetDirectoryPro={token}; Path=/"})
                    return
                if self.path != "/server-scripting/services/command":
                    self._send(404, b"no such service")
                    return
                if not self._session():
                    self._send(401, b"no session")
                    return
                message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                    f"Content-Type: {self.headers.get('Content-Type')}\r\n\r\n".encode() + body
                )
                fields = {
                    part.get_param("name", header="content-disposition"): part.get_content()
                    for part in message.iter_parts()
                }
                command = str(fields.get("command", "")).strip()
                if fields.get("stream_output") != "true" or "requestSequence" not in fields:
                    self._send(400, b"stream_output and requestSequence expected")
                    return
                if fake.fail_http is not None and fake.fail_http in command:
                    self._send(500, b"Internal Server Error")
                    return
                with fake.lock:
                    response = fake.simulator.execute(command)
                    fake.executed.append(command)
                request_id = secrets.token_hex(6)
                fake.outputs[request_id] = [command, *response.lines]
                if fake.hold is not None and fake.hold in command:
                    fake.held.add(request_id)
                self._send(201, request_id.encode())

            def do_GET(self) -> None:
                fake.requests.append(("GET", self.path))
                if self.path == "/logout":
                    self._send(200, b"logged out")
                    return
                prefix = "/server-scripting/services/command/output/"
                if not self.path.startswith(prefix):
                    self._send(404, b"no such service")
                    return
                if not self._session():
                    self._send(401, b"no session")
                    return
                if self.headers.get("Accept") != ACCEPT:
                    self._send(406, b"terminal json expected")
                    return
                request_id = urllib.parse.unquote(self.path[len(prefix) :].split("?", 1)[0])
                lines = fake.outputs.get(request_id)
                if lines is None:
                    self._send(404, b"no such request")
                    return
                if request_id in fake.held and not fake.released.is_set():
                    payload = {"status": "RUNNING", "output": []}
                else:
                    payload = {"status": "COMPLETE", "output": lines[1:]}
                self._send(200, json.dumps(payload).encode(), ACCEPT)

        return Handler
