"""ENM's scripting service over HTTP (httpx), as ``docs/enm.md`` describes it.

- login: ``POST <url>/login`` with the form fields ``IDToken1`` (user) and ``IDToken2``
  (password), redirects not followed; success is a 302 setting the cookie
  ``iPlanetDirectoryPro``; a 401 ``{"code": "FAILED"}`` is a refusal; a 200
  ``{"code": "PASSWORD_RESET"}`` says the password must be changed in ENM first;
- every request carries ``X-Requested-With: XMLHttpRequest``;
- a command: ``POST <url>/server-scripting/services/command`` (multipart ``name=command``,
  ``command``, ``stream_output=true``, ``requestSequence``; a file for ``file:NAME`` goes in
  the same request, as a part ``file:`` and a part ``fileName``); ENM answers 201 with the
  request id;
- its output: ``GET <url>/server-scripting/services/command/output/<id>/stream`` with
  ``_wait_milli`` 1000, then 500, then none; each reply holds only the elements new since
  the last one, until ``_response_status`` is ``COMPLETE``; :func:`flatten` makes lines of
  the element tree (tables as TAB-separated rows, their rows merged across replies);
- files a command returns: ``GET <url>/server-scripting/services/file/<app>/<file>?_requestId=<id>``;
- logout: ``GET <url>/logout``.

A 401 means the session ended: during a poll the client logs in again and polls the same
request (the command ran); on the command's POST ENM did not take it, and it is sent once more
after a new login. GETs are retried with backoff on a 5xx answer and on a dropped connection; a
connection that cannot be made is retried for any request (nothing was sent); a command's POST
is never retried once ENM may have taken it: its error says so (``EnmError.sent``).

TLS certificates are verified unless told otherwise (``ca_file`` for ENM's own CA);
credentials come from the environment (``ENM_USERNAME``, ``ENM_PASSWORD``) or a prompt, never
from the command line, and are never printed nor logged: they leave only in the login form.
"""

from __future__ import annotations

import itertools
import json
import os
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from rtbfast.errors import RtbfastError

SESSION_COOKIE = "iPlanetDirectoryPro"
COMMAND_PATH = "/server-scripting/services/command"
OUTPUT_PATH = "/server-scripting/services/command/output/{id}/stream"
FILE_PATH = "/server-scripting/services/file/{application}/{file}"
ACCEPT_COMMAND = 'application/vnd.com.ericsson.oss.scripting+text;VERSION="1"'
ACCEPT_OUTPUT = 'application/vnd.com.ericsson.oss.scripting.terminal+json;VERSION="3"'
ACCEPT_FILE = "application/octet-stream"
TEXT_PART = "text/plain; charset=utf-8"
FILE_PART = "application/octet-stream"
WAITS_MILLI = (1000, 500)
"""``_wait_milli`` of a command's first polls; the later ones ask no wait."""
POLL_SLEEP = (0.1, 1.0)
"""Pause between polls that asked no server-side wait and brought nothing new: the first, and
the cap it doubles up to."""
_SEQUENCE = itertools.count(1)
"""``requestSequence`` of the process's commands: ``<pid>.<n>``."""
RELOGINS = 3
"""New logins one command may need (its session ending again and again is a failure)."""


class EnmError(RtbfastError):
    """ENM could not be reached, refused the login, failed a request or did not answer in time.
    `sent`: the command may have reached ENM, so its outcome is unknown (False: it certainly
    did not run)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class LoginError(EnmError):
    """ENM refused the login (wrong credentials, or an answer that is not a session)."""


class PasswordResetError(EnmError):
    """ENM asks for the user's password to be changed before it opens a session."""


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
            raise EnmError("no ENM credentials: set ENM_USERNAME and ENM_PASSWORD", sent=False)
        import getpass

        user = user or input("ENM user: ")
        return cls(user, getpass.getpass("ENM password: "))


@dataclass(frozen=True)
class Attachment:
    """A file a command's output offers (``attachment`` element)."""

    name: str
    application_id: str
    file_id: str


@dataclass
class CommandOutput:
    request_id: str
    lines: list[str]
    attachments: list[Attachment] = field(default_factory=list)
    round_trips: int = 0
    """HTTP requests the command took: its POST and its polls (and any new login, retry or
    second POST it needed)."""


# -- the output's element tree ------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _labels(element: Mapping[str, Any]) -> list[str]:
    labels = element.get("_label")
    if labels is None:
        return []
    if isinstance(labels, str):
        return [labels]
    return [_text(label) for label in labels] if isinstance(labels, list) else [_text(labels)]


def _children(element: Mapping[str, Any]) -> list[Any]:
    children = element.get("_elements")
    return children if isinstance(children, list) else []


def _row(row: Any) -> str:
    """A table row: its cells' values joined by TAB (a cell that is a group: its lines joined
    by a space)."""
    if not isinstance(row, Mapping):
        return _text(row)
    if row.get("type") == "text" or "value" in row:
        return _text(row.get("value"))
    cells = []
    for cell in _children(row):
        if isinstance(cell, Mapping) and (cell.get("type") == "text" or "value" in cell):
            cells.append(_text(cell.get("value")))
        else:
            cells.append(" ".join(flatten([cell])))
    return "\t".join(cells)


@dataclass
class _Table:
    labels: list[str]
    rows: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return (["\t".join(self.labels)] if self.labels else []) + self.rows


def flatten(elements: Iterable[Any]) -> list[str]:
    """The lines of an output's element tree (the ``_elements`` of every reply of a command,
    appended in order):

    - a ``text`` element: its ``value``;
    - a group with ``_group_key``: a table, its column labels joined by TAB, then one
      TAB-joined line per row; the rows of groups of the same key (a table continued in a
      later reply) are added to the first, where it stands;
    - a group with ``_label``: its labels joined by a space, then its elements;
    - any other group: its elements, in order;
    - an ``attachment``: no line (:func:`attachments` lists them).

    An element of another type gives its ``value`` when it has one, else its elements."""
    out: list[str | _Table] = []
    tables: dict[str, _Table] = {}

    def walk(items: Iterable[Any]) -> None:
        for element in items:
            if not isinstance(element, Mapping):
                continue
            kind = element.get("type")
            if kind == "attachment":
                continue
            if kind == "text":
                out.append(_text(element.get("value")))
            elif "_group_key" in element:
                key = _text(element.get("_group_key"))
                table = tables.get(key)
                if table is None:
                    table = tables[key] = _Table(_labels(element))
                    out.append(table)
                table.rows.extend(_row(row) for row in _children(element))
            elif kind == "group":
                labels = _labels(element)
                if labels:
                    out.append(" ".join(labels))
                walk(_children(element))
            elif "value" in element:
                out.append(_text(element.get("value")))
            else:
                walk(_children(element))

    walk(elements)
    lines: list[str] = []
    for item in out:
        if isinstance(item, _Table):
            lines.extend(item.lines())
        else:
            lines.append(item)
    return lines


def attachments(elements: Iterable[Any]) -> list[Attachment]:
    """The ``attachment`` elements of an output's tree, in order (``name``, ``_applicationId``,
    ``_fileId``)."""
    found: list[Attachment] = []

    def walk(items: Iterable[Any]) -> None:
        for element in items:
            if not isinstance(element, Mapping):
                continue
            if element.get("type") == "attachment":
                found.append(
                    Attachment(
                        _text(element.get("name")),
                        _text(element.get("_applicationId")),
                        _text(element.get("_fileId")),
                    )
                )
            else:
                walk(_children(element))

    walk(elements)
    return found


# -- transport ----------------------------------------------------------------------------------


class _Counting(httpx.BaseTransport):
    """Counts every request that goes out, and retries a GET (never anything else) with
    exponential backoff on a 5xx answer or a connection that failed (dropped, reset, timed
    out); the last answer or error stands."""

    def __init__(self, inner: httpx.BaseTransport, retries: int, backoff: float) -> None:
        self.inner = inner
        self.retries = retries
        self.backoff = backoff
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        attempt = 0
        while True:
            self.sent += 1
            last = request.method != "GET" or attempt >= self.retries
            try:
                response = self.inner.handle_request(request)
            except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError):
                raise
            except httpx.TransportError:
                if last:
                    raise
            else:
                if response.status_code < 500 or last:
                    return response
                response.close()
            time.sleep(self.backoff * 2**attempt)
            attempt += 1

    def close(self) -> None:
        self.inner.close()


def _tls_failure(err: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = err
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for `url` (``https_proxy``, ``no_proxy``), if any."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(urllib.parse.urlsplit(url).scheme)


def _json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


class EnmClient:
    """A session with ENM's scripting service.

    `transport` replaces the HTTP transport (tests); `retries` is how many times a GET is
    tried again (and a connection that cannot be made), `backoff` the first pause between
    tries (doubled each time)."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        *,
        verify_tls: bool = True,
        ca_file: str | None = None,
        timeout: float = 30.0,
        command_timeout: float = 600.0,
        transport: httpx.BaseTransport | None = None,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.command_timeout = command_timeout
        self.logged_in = False
        verify: ssl.SSLContext | bool
        if not verify_tls:
            verify = False
        else:
            try:
                verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as err:
                raise EnmError(
                    f"ENM CA file {ca_file}: cannot be read as PEM certificates: {err}", sent=False
                ) from None
        if transport is None:
            # connections that cannot be made are tried again by the transport (nothing was sent)
            transport = httpx.HTTPTransport(verify=verify, retries=retries, proxy=_proxy_for(self.url))
        self._transport = _Counting(transport, retries, backoff)
        self._http = httpx.Client(
            base_url=self.url,
            transport=self._transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"X-Requested-With": "XMLHttpRequest"},
            trust_env=False,  # the proxy is the transport's; the CAs are the context's
        )

    @property
    def requests_made(self) -> int:
        """HTTP requests sent so far (each retry counted)."""
        return self._transport.sent

    def __enter__(self) -> EnmClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            self.logout()
        finally:
            self.close()

    def close(self) -> None:
        self._http.close()

    # -- requests -------------------------------------------------------------------------------

    def _redact(self, text: str) -> str:
        """`text` with the password, and the user name (unless it is too short to be told from
        other words), replaced by ``***``."""
        if self.credentials.password:
            text = text.replace(self.credentials.password, "***")
        if len(self.credentials.username) >= 3:
            text = text.replace(self.credentials.username, "***")
        return text

    def _body(self, response: httpx.Response) -> str:
        """The start of an answer's body, on one line, credentials left out."""
        text = " ".join(response.content[:300].decode("utf-8", "replace").split())
        return self._redact(text)

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        sent: bool,
        command: bool = False,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request; an error that leaves no answer is an :class:`EnmError` that says
        whether the command may have reached ENM: `sent`, or for the `command`'s own POST, once
        the request may have gone out (not when no connection could be made)."""
        try:
            return self._http.request(method, path, timeout=timeout if timeout is not None else self.timeout, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as err:
            tls = _tls_failure(err)
            if tls is not None:
                reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or tls
                raise EnmError(
                    f"ENM {what}: TLS with {self.url} failed: {reason} (give the ENM's CA with --ca-file)", sent=sent
                ) from None
            raise EnmError(
                f"ENM {what}: {self.url} cannot be reached: {err or type(err).__name__}", sent=sent
            ) from None
        except httpx.TimeoutException:
            raise EnmError(
                f"ENM {what}: no answer from {self.url} in {self.timeout:g} s", sent=sent or command
            ) from None
        except httpx.TransportError as err:
            raise EnmError(
                f"ENM {what}: the connection to {self.url} failed: {err or type(err).__name__}", sent=sent or command
            ) from None

    def login(self) -> None:
        """Open a session (any earlier one is forgotten)."""
        self._http.cookies.clear()
        self.logged_in = False
        response = self._request(
            "POST",
            "/login",
            "login",
            sent=False,
            data={"IDToken1": self.credentials.username, "IDToken2": self.credentials.password},
        )
        answer = _json(response)
        code = answer.get("code") if isinstance(answer, dict) else None
        if response.status_code == 302:
            if response.cookies.get(SESSION_COOKIE) is None:
                raise LoginError(
                    f"ENM login at {self.url}: HTTP 302 without the session cookie {SESSION_COOKIE}; "
                    "is this ENM's address?",
                    sent=False,
                )
            self.logged_in = True
            return
        if code == "PASSWORD_RESET":
            raise PasswordResetError(
                f"ENM at {self.url} asks for this user's password to be changed: log in to ENM's web interface, "
                "change it there, then run again with the new password",
                sent=False,
            )
        message = answer.get("message") if isinstance(answer, dict) else None
        said = self._redact(" ".join(str(message).split())) if message else self._body(response)
        if response.status_code == 401:
            raise LoginError(
                f"ENM login refused (HTTP 401{f' {code}' if code else ''}): {said or 'wrong user or password'}",
                sent=False,
            )
        raise LoginError(
            f"ENM login at {self.url}: HTTP {response.status_code} where 302 and a session were expected: {said}",
            sent=False,
        )

    def logout(self) -> None:
        """End the session (what goes wrong meanwhile is ignored: ENM ends it in time anyway)."""
        if not self.logged_in:
            return
        self.logged_in = False
        try:
            self._request("GET", "/logout", "logout", sent=False)
        except EnmError:
            pass
        finally:
            self._http.cookies.clear()

    def _relogin(self, logins: list[int], what: str, *, sent: bool) -> None:
        """A new session after a 401 during a command (`sent`: the command ran already, so an
        error now leaves its outcome unknown)."""
        logins[0] += 1
        if logins[0] > RELOGINS:
            raise EnmError(f"ENM {what}: the session ended {logins[0]} times during one command", sent=sent)
        try:
            self.login()
        except EnmError as err:
            raise type(err)(f"{err} (logging in again for the {what})", sent=sent) from None

    def _parts(self, command: str, file: tuple[str, bytes] | None) -> list[tuple[str, tuple[str | None, bytes, str]]]:
        """The multipart body of a command (each text part UTF-8 ``text/plain``)."""

        def text(name: str, value: str) -> tuple[str, tuple[str | None, bytes, str]]:
            return name, (None, value.encode("utf-8"), TEXT_PART)

        sequence = f"{os.getpid()}.{next(_SEQUENCE)}"
        if file is None:
            return [
                text("name", "command"),
                text("command", command),
                text("stream_output", "true"),
                text("requestSequence", sequence),
            ]
        name, content = file
        return [
            text("command", command),
            text("fileName", name),
            text("stream_output", "true"),
            text("requestSequence", sequence),
            ("file:", (name, content, FILE_PART)),
        ]

    def _post(self, command: str, file: tuple[str, bytes] | None, logins: list[int]) -> str:
        """Send the command; its request id. A 401 (the session ended: ENM did not take it) is
        sent once more after a new login."""
        for attempt in (1, 2):
            response = self._request(
                "POST",
                COMMAND_PATH,
                "command",
                sent=False,
                command=True,
                headers={"Accept": ACCEPT_COMMAND},
                files=self._parts(command, file),
            )
            status = response.status_code
            if status == 201:
                request_id = response.text.strip()
                if not request_id or any(c.isspace() for c in request_id) or len(request_id) > 200:
                    raise EnmError(
                        f"ENM command: HTTP 201 without a request id to read its output ({self._body(response)!r})",
                        sent=True,
                    )
                return request_id
            if status == 401 and attempt == 1:
                self._relogin(logins, "command", sent=False)
                continue
            if status == 401:
                raise EnmError("ENM command: HTTP 401 again after a new login (the command was not taken)", sent=False)
            if 400 <= status < 500:
                raise EnmError(
                    f"ENM command refused: HTTP {status} {response.reason_phrase}: {self._body(response)}", sent=False
                )
            raise EnmError(
                f"ENM command: HTTP {status} {response.reason_phrase} (201 expected): {self._body(response)}",
                sent=True,
            )
        raise AssertionError("unreachable")

    def _poll(self, command: str, request_id: str, logins: list[int]) -> list[Any]:
        """Every element of the command's output, reply after reply until ``COMPLETE``."""
        deadline = time.monotonic() + self.command_timeout
        path = OUTPUT_PATH.format(id=urllib.parse.quote(request_id, safe=""))
        elements: list[Any] = []
        waits: Iterator[int] = iter(WAITS_MILLI)
        pause = POLL_SLEEP[0]
        what = f"output of request {request_id}"
        while True:
            wait = next(waits, None)
            response = self._request(
                "GET",
                path,
                what,
                sent=True,
                headers={"Accept": ACCEPT_OUTPUT},
                params={"_wait_milli": wait} if wait else None,
                timeout=self.timeout + (wait or 0) / 1000,
            )
            if response.status_code == 401:
                self._relogin(logins, what, sent=True)
                continue  # the same request: the command already ran
            if response.status_code != 200:
                raise EnmError(
                    f"ENM {what}: HTTP {response.status_code} {response.reason_phrase}: {self._body(response)}",
                    sent=True,
                )
            reply = _json(response)
            output = reply.get("output") if isinstance(reply, dict) else None
            status = reply.get("_response_status") if isinstance(reply, dict) else None
            if not isinstance(output, dict) or status not in ("FETCHING", "COMPLETE"):
                raise EnmError(
                    f"ENM {what}: not the terminal JSON expected (an output and a _response_status): "
                    f"{self._body(response)!r}",
                    sent=True,
                )
            new = _children(output)
            elements.extend(new)
            if status == "COMPLETE":
                return elements
            if time.monotonic() > deadline:
                raise EnmError(
                    f"ENM did not complete request {request_id} ({command!r}) in {self.command_timeout:g} s", sent=True
                )
            if wait is None and not new:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, POLL_SLEEP[1])
            elif new:
                pause = POLL_SLEEP[0]

    def execute(self, command: str, *, file: tuple[str, bytes] | None = None) -> CommandOutput:
        """Run one command (with `file`, ``(NAME, content)``, uploaded for its ``file:NAME``);
        its output."""
        if file is not None:
            name = file[0]
            if not name or "/" in name or "\\" in name:
                raise EnmError(f"ENM command: {name!r} is not a file name to upload", sent=False)
            if f"file:{name}" not in command:
                raise EnmError(
                    f"ENM command: the file {name} is uploaded for file:{name}, which {command!r} does not name; "
                    "not sent",
                    sent=False,
                )
        if not self.logged_in:
            self.login()
        start = self.requests_made
        logins = [0]
        request_id = self._post(command, file, logins)
        elements = self._poll(command, request_id, logins)
        return CommandOutput(request_id, flatten(elements), attachments(elements), self.requests_made - start)

    def download(self, output: CommandOutput, attachment: Attachment) -> bytes:
        """The content of a file `output` offers."""
        path = FILE_PATH.format(
            application=urllib.parse.quote(attachment.application_id, safe=""),
            file=urllib.parse.quote(attachment.file_id, safe=""),
        )
        what = f"file {attachment.name} of request {output.request_id}"
        logins = [0]
        while True:
            if not self.logged_in:
                self.login()
            response = self._request(
                "GET", path, what, sent=True, headers={"Accept": ACCEPT_FILE}, params={"_requestId": output.request_id}
            )
            if response.status_code == 401:
                self._relogin(logins, what, sent=True)
                continue
            if response.status_code != 200:
                raise EnmError(
                    f"ENM {what}: HTTP {response.status_code} {response.reason_phrase}: {self._body(response)}",
                    sent=True,
                )
            return response.content
