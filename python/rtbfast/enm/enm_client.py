"""ENM's scripting protocol over HTTP, as the ``enmscripting`` client library speaks it
(``../shared/reference/enm-cli.md`` §1.1):

- login: ``POST <url>/login`` with the form fields ``IDToken1`` (user) and ``IDToken2``
  (password); the session is the cookies ENM sets;
- a command: ``POST <url>/server-scripting/services/command`` (multipart: ``command``,
  ``stream_output=true``, ``requestSequence``); the ``201`` body is a request id;
- its output: ``GET <url>/server-scripting/services/command/output/<id>`` with ``Accept:
  application/vnd.com.ericsson.oss.scripting.terminal+json;VERSION="3"``, polled until ENM says
  it is complete;
- logout: ``GET <url>/logout``.

The reference does not give the output's JSON body. This client reads ``{"status":
"COMPLETE" | "RUNNING", "output": [line, …]}`` (the shape rtbfast's fake ENM answers in the
tests); a real ENM's body should be checked against it before production use.

TLS certificates are verified unless told otherwise; credentials come from the environment
(``ENM_USERNAME``, ``ENM_PASSWORD``) or a prompt, never from the command line, and are never
logged.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass

from rtbfast.errors import RtbfastError

ACCEPT = 'application/vnd.com.ericsson.oss.scripting.terminal+json;VERSION="3"'


class EnmError(RtbfastError):
    """ENM could not be reached, refused the login, failed a request or did not answer in time.
    `sent` says the command may have reached ENM (its outcome is then unknown)."""

    def __init__(self, message: str, *, sent: bool = False) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never shown
        return f"Credentials(username={self.username!r}, password=***)"

    @classmethod
    def from_environment(cls, prompt: bool = True) -> Credentials:
        """``ENM_USERNAME`` and ``ENM_PASSWORD``, or asked on the terminal."""
        user = os.environ.get("ENM_USERNAME")
        password = os.environ.get("ENM_PASSWORD")
        if user and password:
            return cls(user, password)
        if not prompt:
            raise EnmError("no ENM credentials: set ENM_USERNAME and ENM_PASSWORD")
        import getpass

        user = user or input("ENM user: ")
        return cls(user, getpass.getpass("ENM password: "))


class EnmClient:
    """A session with ENM's scripting service."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        verify_tls: bool = True,
        ca_file: str | None = None,
        timeout: float = 30.0,
        command_timeout: float = 600.0,
        poll_interval: float = 0.2,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.poll_interval = poll_interval
        self.sequence = 0
        context = ssl.create_default_context(cafile=ca_file)
        if not verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), urllib.request.HTTPSHandler(context=context)
        )
        self.logged_in = False

    def _open(self, request: urllib.request.Request, what: str, *, sent: bool = False) -> tuple[int, bytes]:
        """One request; an error says whether the command may have reached ENM (`sent`: it
        had, or a timeout left it unknown)."""
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            body = err.read()[:300].decode("utf-8", "replace")
            raise EnmError(f"ENM {what}: HTTP {err.code} {err.reason}: {body}", sent=sent) from None
        except (TimeoutError, urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if isinstance(reason, TimeoutError) or isinstance(err, TimeoutError):
                raise EnmError(
                    f"ENM {what}: no answer from {self.url} in {self.timeout:g} s", sent=sent or what == "command"
                ) from None
            if isinstance(reason, ssl.SSLError):
                raise EnmError(
                    f"ENM {what}: TLS with {self.url} failed: {reason} (give the ENM's CA with --ca-file)", sent=sent
                ) from None
            raise EnmError(f"ENM {what}: {self.url} cannot be reached: {reason}", sent=sent) from None

    def login(self) -> None:
        form = urllib.parse.urlencode(
            {"IDToken1": self.credentials.username, "IDToken2": self.credentials.password}
        ).encode()
        request = urllib.request.Request(f"{self.url}/login", data=form, method="POST")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        status, body = self._open(request, "login")
        if status not in (200, 302) or not any(True for _ in self.cookies):
            raise EnmError(f"ENM login refused (HTTP {status}): {body[:200].decode('utf-8', 'replace')}")
        self.logged_in = True

    def logout(self) -> None:
        if self.logged_in:
            try:
                self._open(urllib.request.Request(f"{self.url}/logout"), "logout")
            finally:
                self.logged_in = False

    def execute(self, command: str) -> list[str]:
        """Run one command; its output lines."""
        if not self.logged_in:
            self.login()
        self.sequence += 1
        boundary = uuid.uuid4().hex
        fields = {"command": command, "stream_output": "true", "requestSequence": str(self.sequence)}
        body = (
            b"".join(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            )
            + f"--{boundary}--\r\n".encode()
        )

        def post() -> tuple[int, bytes]:
            # a new request each time: the session cookie is added to a request only once
            request = urllib.request.Request(f"{self.url}/server-scripting/services/command", data=body, method="POST")
            request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
            return self._open(request, "command")

        try:
            status, answer = post()
        except EnmError as err:
            # the session ended (ENM logs idle sessions out): the command was refused, not run;
            # log in again and send it once more
            if not str(err).startswith("ENM command: HTTP 401"):
                raise
            self.logged_in = False
            self.login()
            status, answer = post()
        if status != 201:
            raise EnmError(f"ENM command: HTTP {status} (201 expected)")
        request_id = answer.decode("utf-8", "replace").strip()
        deadline = time.monotonic() + self.command_timeout
        while True:
            poll = urllib.request.Request(
                f"{self.url}/server-scripting/services/command/output/{urllib.parse.quote(request_id)}"
            )
            poll.add_header("Accept", ACCEPT)
            _, raw = self._open(poll, "output", sent=True)
            try:
                data = json.loads(raw)
            except ValueError:
                raise EnmError(f"ENM output of request {request_id}: not JSON: {raw[:200]!r}", sent=True) from None
            if data.get("status") == "COMPLETE":
                output = data.get("output", [])
                return [str(line) for line in output]
            if time.monotonic() > deadline:
                raise EnmError(f"ENM did not complete request {request_id} in {self.command_timeout:g} s", sent=True)
            time.sleep(self.poll_interval)
