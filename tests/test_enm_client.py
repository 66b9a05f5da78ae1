"""rtbfast's ENM client (rtbfast.enm.enm_client) against ENM's scripting protocol: the output
element tree flattened into lines (on replies written from the protocol's shapes,
tests/data/enm_replies), and the client end to end against the fake ENM over TLS on loopback
(tests/fake_enm.py, written from the protocol, not from the client): login, headers, the
multipart command, chunked output and its waits, tables, attachments, uploads, an ended
session, retries, what a failed POST means, TLS, and credentials kept out of every error."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import json
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from rtbfast.catalog_view import CatalogView
from rtbfast.enm.enm_client import (
    Attachment,
    CommandOutput,
    Credentials,
    EnmClient,
    EnmError,
    LoginError,
    PasswordResetError,
    attachments,
    flatten,
)
from rtbfast.enm.simulator import Simulator
from tests.enm_fixtures import CELL, CELL1
from tests.fake_enm import FakeEnm, Upload, table, text

USER, PASSWORD = "operator", "s3cret!"
REPLIES = Path(__file__).parent / "data" / "enm_replies"
COMMAND_MEDIA = 'application/vnd.com.ericsson.oss.scripting+text;VERSION="1"'
OUTPUT_MEDIA = 'application/vnd.com.ericsson.oss.scripting.terminal+json;VERSION="3"'


# -- the element tree ---------------------------------------------------------------------------


def _recorded() -> list[Path]:
    return sorted(REPLIES.glob("*.json"))


@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.stem)
def test_flatten_gives_the_lines_of_each_written_reply(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    elements = [e for reply in data["replies"] for e in reply["output"]["_elements"]]
    assert flatten(elements) == data["lines"]
    assert attachments(elements) == [Attachment(**a) for a in data["attachments"]]
    assert [r["_response_status"] for r in data["replies"]][-1] == "COMPLETE"
    assert all(r["_response_status"] == "FETCHING" for r in data["replies"][:-1])


def test_the_replies_cover_what_the_client_must_read() -> None:
    assert {p.stem for p in _recorded()} >= {
        "get_fdn_attributes",
        "get_table_in_two_replies",
        "set_updated",
        "error_unknown_attribute",
        "attachment",
    }
    table_replies = json.loads((REPLIES / "get_table_in_two_replies.json").read_text())["replies"]
    keys = [e.get("_group_key") for r in table_replies for e in r["output"]["_elements"] if "_group_key" in e]
    assert keys == ["0", "0"]  # one table, continued in the second reply


def test_a_table_continued_in_a_later_reply_is_merged_where_it_began() -> None:
    labels = ["NodeId", "EUtranCellFDDId"]
    first = [text("EUtranCellFDD"), table(labels, [["N1", "C1"]], key="7"), table(["A"], [["x"]], key="8")]
    second = [table(labels, [["N1", "C2"], ["N2", "C3"]], key="7"), text(""), text("3 instance(s)")]
    assert flatten(first + second) == [
        "EUtranCellFDD",
        "NodeId\tEUtranCellFDDId",
        "N1\tC1",
        "N1\tC2",
        "N2\tC3",
        "A",
        "x",
        "",
        "3 instance(s)",
    ]


def test_labelled_and_plain_groups_and_attachments() -> None:
    tree: list[Any] = [
        {"type": "group", "_label": ["SUCCESS", "FDN", ":", "X=1"], "_elements": [text("inner")]},
        {"type": "group", "_elements": [text("a"), {"type": "group", "_elements": [text("b")]}, text("c")]},
        {"type": "attachment", "name": "f.txt", "_applicationId": "app", "_fileId": "9"},
        {"type": "something-new", "value": "Error 9999 : kept"},
        "not an element",
    ]
    assert flatten(tree) == ["SUCCESS FDN : X=1", "inner", "a", "b", "c", "Error 9999 : kept"]
    assert attachments(tree) == [Attachment("f.txt", "app", "9")]


def _replay(replies: list[dict[str, Any]], seen: list[httpx.Request]) -> Callable[[httpx.Request], httpx.Response]:
    """An ENM that answers the login, the command, then `replies` one poll after the other."""
    queue = list(replies)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/login":
            return httpx.Response(302, headers={"Set-Cookie": "iPlanetDirectoryPro=t0k; Path=/"})
        if request.url.path == "/logout":
            return httpx.Response(200)
        if request.method == "POST":
            return httpx.Response(201, text="req-1", headers={"CommandStatus": "RUNNING"})
        return httpx.Response(200, json=queue.pop(0))

    return answer


@pytest.mark.parametrize("path", _recorded(), ids=lambda p: p.stem)
def test_the_client_appends_the_written_replies_poll_after_poll(path: Path) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(_replay(data["replies"], seen))
    with EnmClient("https://enm.test/", Credentials(USER, PASSWORD), transport=transport) as enm:
        assert enm.url == "https://enm.test"
        out = enm.execute(data["command"])
    assert out.lines == data["lines"] and out.request_id == "req-1"
    assert out.attachments == [Attachment(**a) for a in data["attachments"]]
    assert out.round_trips == 1 + len(data["replies"])
    polls = [r for r in seen if r.method == "GET" and r.url.path.endswith("/stream")]
    assert len(polls) == len(data["replies"])
    assert {r.url.path for r in polls} == {"/server-scripting/services/command/output/req-1/stream"}


# -- the fake ENM over TLS ----------------------------------------------------------------------


@pytest.fixture
def fake(tables: dict[str, pa.Table], catalog: CatalogView, tls: tuple[Path, Path, Path]) -> Iterator[FakeEnm]:
    _, cert, key = tls
    server = FakeEnm(Simulator(tables, catalog), USER, PASSWORD, certificate=(str(cert), str(key))).start()
    yield server
    server.stop()


@pytest.fixture
def connect(fake: FakeEnm, tls: tuple[Path, Path, Path]) -> Iterator[Callable[..., EnmClient]]:
    """Clients of `fake` trusting the test's CA (closed after the test)."""
    made: list[EnmClient] = []

    def make(**options: Any) -> EnmClient:
        options = {"ca_file": str(tls[0]), "backoff": 0.01, **options}
        client = EnmClient(
            fake.url, Credentials(options.pop("user", USER), options.pop("password", PASSWORD)), **options
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def _polls_of(fake: FakeEnm, output: CommandOutput) -> list[int | None]:
    return [wait for request_id, wait in fake.polls if request_id == output.request_id]


def test_login_is_a_302_with_the_session_cookie_by_name(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    enm = connect()
    enm.login()
    assert enm.logged_in and len(fake.sessions) == 1
    login = fake.requests[-1]
    assert (login.method, login.path) == ("POST", "/login")
    fake.session_cookie = "JSESSIONID"  # a 302 that sets another cookie is not a session
    other = connect()
    with pytest.raises(LoginError, match="HTTP 302 without the session cookie iPlanetDirectoryPro") as refused:
        other.execute(f"cmedit get {CELL}")
    assert not refused.value.sent and not other.logged_in
    assert not fake.executed  # nothing was sent


def test_wrong_credentials_are_a_401_login_error(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    enm = connect(password="wrong-Pa55")
    with pytest.raises(LoginError) as refused:
        enm.execute(f"cmedit set {CELL} userLabel=x")
    message = str(refused.value)
    assert "HTTP 401 FAILED" in message and "Authentication failed" in message and not refused.value.sent
    assert "wrong-Pa55" not in message and USER not in message
    assert fake.logins[-1] == {"IDToken1": USER, "IDToken2": "wrong-Pa55"} and not fake.executed
    fake.refuse_login = True  # the right password, refused all the same
    with pytest.raises(LoginError, match="HTTP 401"):
        connect().login()


def test_a_password_to_change_is_its_own_error(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    fake.password_reset = True
    with pytest.raises(PasswordResetError) as refused:
        connect().execute(f"cmedit get {CELL}")
    message = str(refused.value)
    assert "change" in message and "ENM's web interface" in message and "\n" not in message
    assert not refused.value.sent and not fake.executed and PASSWORD not in message


def test_every_request_carries_x_requested_with_and_its_accept_header(
    fake: FakeEnm, connect: Callable[..., EnmClient], tls: tuple[Path, Path, Path]
) -> None:
    fake.handlers.append((lambda c: c == "cmedit export -dl -j 1", lambda c, f: [text("file"), fake.offer("a", b"1")]))
    enm = connect()
    out = enm.execute("cmedit export -dl -j 1")
    assert enm.download(out, out.attachments[0]) == b"1"
    enm.logout()
    paths = {(r.method, r.path.rsplit("/", 3)[0] if "/file/" in r.path else r.path) for r in fake.requests}
    assert len(paths) == 5  # login, command, poll, file, logout
    assert all(r.headers.get("x-requested-with") == "XMLHttpRequest" for r in fake.requests)
    assert [r.headers["accept"] for r in fake.requests if r.path == "/server-scripting/services/command"] == [
        COMMAND_MEDIA
    ]
    polls = [r for r in fake.requests if r.path.endswith("/stream")]
    assert polls and all(r.headers["accept"] == OUTPUT_MEDIA for r in polls)
    assert not fake.refused
    # the fake refuses a request without the header (so the check above could fail)
    with httpx.Client(verify=ssl.create_default_context(cafile=str(tls[0]))) as raw:
        bare = raw.post(f"{fake.url}/login", data={"IDToken1": USER, "IDToken2": PASSWORD})
    assert bare.status_code == 400 and fake.refused == ["X-Requested-With: XMLHttpRequest expected"]


def _parts(request: httpx.Request) -> list[email.message.Message]:
    body = request.read()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode() + body
    )
    return list(message.iter_parts())


def test_the_command_is_the_protocols_multipart_body(
    fake: FakeEnm, connect: Callable[..., EnmClient], tls: tuple[Path, Path, Path]
) -> None:
    seen: list[httpx.Request] = []
    transport = httpx.MockTransport(_replay([{"output": {"_elements": []}, "_response_status": "COMPLETE"}], seen))
    with EnmClient("https://enm.test", Credentials(USER, PASSWORD), transport=transport) as enm:
        enm.execute('cmedit set X=1 userLabel="Zürich"')
    (post,) = [r for r in seen if r.url.path == "/server-scripting/services/command"]
    assert post.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = _parts(post)
    assert [p.get_param("name", header="content-disposition") for p in parts] == [
        "name",
        "command",
        "stream_output",
        "requestSequence",
    ]
    assert all(p.get_content_type() == "text/plain" and p.get_content_charset() == "utf-8" for p in parts)
    assert all(p.get_filename() is None for p in parts)
    assert b"Content-Type: text/plain; charset=utf-8\r\n" in post.read()
    values = [p.get_payload(decode=True) for p in parts]
    assert values[:3] == [b"command", 'cmedit set X=1 userLabel="Zürich"'.encode(), b"true"]
    assert isinstance(values[3], bytes) and values[3]
    # the fake checks the parts: the client's are taken, another body is refused
    assert connect().execute(f'cmedit set {CELL} userLabel="Zürich"').lines[-1] == "1 instance(s) updated"
    assert not fake.refused
    xhr = {"X-Requested-With": "XMLHttpRequest"}
    with httpx.Client(base_url=fake.url, verify=ssl.create_default_context(cafile=str(tls[0])), headers=xhr) as raw:
        assert raw.post("/login", data={"IDToken1": USER, "IDToken2": PASSWORD}).status_code == 302
        protocol = [("name", b"command"), ("command", b"cmedit get X=1"), ("stream_output", b"true")]
        protocol.append(("requestSequence", b"1"))
        for wrong in (
            [("command", (None, b"cmedit get X=1", "text/plain; charset=utf-8"))],  # three parts missing
            [(name, (None, value, "application/octet-stream")) for name, value in protocol],  # not text/plain
        ):
            bad = raw.post("/server-scripting/services/command", headers={"Accept": COMMAND_MEDIA}, files=wrong)
            assert bad.status_code == 400
    assert len(fake.refused) == 2 and "text/plain; charset=utf-8 expected" in fake.refused[-1]
    assert fake.executed == [f'cmedit set {CELL} userLabel="Zürich"']


def test_output_comes_in_fetching_replies_appended_until_complete(
    fake: FakeEnm, connect: Callable[..., EnmClient], tables: dict[str, pa.Table], catalog: CatalogView
) -> None:
    fake.chunk_size = 2
    expected = Simulator(tables, catalog).execute(f"cmedit get {CELL}").lines
    out = connect().execute(f"cmedit get {CELL}")
    assert out.lines == expected and len(expected) > 6
    assert len(_polls_of(fake, out)) == (len(expected) + 1) // 2  # two lines a reply
    assert out.round_trips == 1 + len(_polls_of(fake, out))


def test_wait_milli_is_1000_then_500_then_none(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    fake.chunk_size = 1
    out = connect().execute(f"cmedit get {CELL}")
    waits = _polls_of(fake, out)
    assert len(waits) > 3 and waits[:2] == [1000, 500] and set(waits[2:]) == {None}
    # a reply with nothing new yet is held by the server up to _wait_milli: the output ready after
    # 0.3 s comes in the first poll
    fake.chunk_size, fake.ready_after = 10, 0.3
    out = connect().execute(f"cmedit set {CELL} userLabel=late")
    assert out.lines[-1] == "1 instance(s) updated" and _polls_of(fake, out) == [1000]


def test_a_table_cut_across_replies_is_one_table(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    labels = ["NodeId", "EUtranCellFDDId", "earfcndl"]
    rows = [["LTE01", f"LTE01-{i}", str(1300 + i)] for i in range(5)]
    fake.handlers.append(
        (
            lambda c: c.endswith("-t") and "EUtranCellFDD.(earfcndl)" in c,
            lambda c, f: [text("EUtranCellFDD"), table(labels, rows), text("5 instance(s)")],
        )
    )
    fake.chunk_size = 2
    out = connect().execute("cmedit get LTE01 EUtranCellFDD.(earfcndl) -t")
    assert out.lines == ["EUtranCellFDD", "\t".join(labels), *("\t".join(r) for r in rows), "5 instance(s)"]
    assert len(_polls_of(fake, out)) == 4  # 7 units, two a reply: the table in three replies
    # and the simulator's answer to a -t get is such a table
    fake.chunk_size = 1
    tabled = connect().execute(f"cmedit get {CELL} -t")
    assert tabled.lines[0] == "EUtranCellFDD" and tabled.lines[1].startswith("NodeId\tEUtranCellFDDId\t")
    assert tabled.lines[2].startswith("NODE000000\tNODE000000_0\t") and tabled.lines[-1] == "1 instance(s)"


def test_an_attachment_is_downloaded(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    content = bytes(range(256)) * 10
    fake.handlers.append(
        (
            lambda c: c.startswith("cmedit export -dl"),
            lambda c, f: [text("ready"), fake.offer("export.xml.gz", content)],
        )
    )
    enm = connect()
    out = enm.execute("cmedit export -dl -j 42")
    assert out.lines == ["ready"]
    (found,) = out.attachments
    assert found.name == "export.xml.gz" and found.application_id == "cmedit"
    assert enm.download(out, found) == content
    assert fake.downloads == [(out.request_id, "cmedit", found.file_id)]
    other = enm.execute(f"cmedit get {CELL}")
    with pytest.raises(EnmError, match="HTTP 404") as missing:
        enm.download(other, found)  # not a file of that request
    assert missing.value.sent


def test_a_file_goes_up_in_the_same_post(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    got: list[tuple[str, Upload | None]] = []

    def job(command: str, upload: Upload | None) -> list[dict[str, Any]]:
        got.append((command, upload))
        return [text("Import job 7 started")]

    fake.handlers.append((lambda c: c.startswith("cmedit import"), job))
    content = "create\nFDN : X=1\nuserLabel : Zürich\n".encode()
    command = "cmedit import -f file:changes.txt --filetype dynamic"
    enm = connect()
    out = enm.execute(command, file=("changes.txt", content))
    assert out.lines == ["Import job 7 started"]
    assert got == [(command, ("changes.txt", content))] and fake.uploads == [(command, ("changes.txt", content))]
    posts = len([r for r in fake.requests if r.method == "POST"])
    for wrong, name in [
        ("cmedit import -f file:other.txt --filetype dynamic", "changes.txt"),
        (command, "../changes.txt"),
    ]:
        with pytest.raises(EnmError, match=r"not sent|not a file name") as refused:
            enm.execute(wrong, file=(name, content))
        assert not refused.value.sent
    assert len([r for r in fake.requests if r.method == "POST"]) == posts  # nothing sent
    assert len(fake.uploads) == 1


def test_a_401_in_mid_poll_logs_in_again_and_goes_on_with_the_same_request(
    fake: FakeEnm, connect: Callable[..., EnmClient], tables: dict[str, pa.Table], catalog: CatalogView
) -> None:
    fake.chunk_size = 2
    enm = connect()
    enm.login()
    fake.expire_after_polls = 2  # two replies, then the session ends
    out = enm.execute(f"cmedit get {CELL}")
    assert out.lines == Simulator(tables, catalog).execute(f"cmedit get {CELL}").lines
    assert len(fake.logins) == 2 and fake.executed == [f"cmedit get {CELL}"]  # not sent again
    assert {request_id for request_id, _ in fake.polls} == {out.request_id}
    statuses = [r.path for r in fake.requests]
    assert statuses.count("/login") == 2 and statuses.count("/server-scripting/services/command") == 1
    assert out.round_trips == 1 + len(fake.polls) + 1  # the POST, the polls (the one refused too), a login


def test_a_401_on_the_post_logs_in_again_and_sends_it_once_more(
    fake: FakeEnm, connect: Callable[..., EnmClient]
) -> None:
    enm = connect()
    enm.login()
    fake.expire_sessions()  # ENM ended the session: the POST gets 401 and is not run
    out = enm.execute(f"cmedit set {CELL} userLabel=again")
    assert out.lines[-1] == "1 instance(s) updated"
    assert fake.executed == [f"cmedit set {CELL} userLabel=again"]  # run once
    assert [r.path for r in fake.requests].count("/server-scripting/services/command") == 2
    assert len(fake.logins) == 2


def test_a_get_is_retried_on_a_5xx_and_on_a_dropped_connection(
    fake: FakeEnm, connect: Callable[..., EnmClient]
) -> None:
    enm = connect(retries=3)
    fake.fail_polls = 2
    out = enm.execute(f"cmedit set {CELL} userLabel=one")
    assert out.lines[-1] == "1 instance(s) updated" and out.round_trips == 4  # POST, 503, 503, the answer
    fake.drop_polls = 1
    out = enm.execute(f"cmedit set {CELL} userLabel=two")
    assert out.lines[-1] == "1 instance(s) updated" and out.round_trips == 3
    assert fake.changes() == [f"cmedit set {CELL} userLabel=one", f"cmedit set {CELL} userLabel=two"]
    fake.fail_polls = 10
    with pytest.raises(EnmError, match="HTTP 503") as failed:
        connect(retries=2).execute(f"cmedit set {CELL} userLabel=three")
    assert failed.value.sent  # the command ran: its outcome is unknown
    assert fake.changes()[-1] == f"cmedit set {CELL} userLabel=three"


def test_a_post_is_never_retried(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    fake.fail_http = "userLabel=never"
    enm = connect(retries=3)
    with pytest.raises(EnmError, match="HTTP 500") as failed:
        enm.execute(f"cmedit set {CELL} userLabel=never")
    assert failed.value.sent  # ENM may have taken it: unknown
    assert [r.path for r in fake.requests].count("/server-scripting/services/command") == 1
    assert not fake.executed


def _mock(command: Callable[[httpx.Request], httpx.Response]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/login":
            return httpx.Response(302, headers={"Set-Cookie": "iPlanetDirectoryPro=t; Path=/"})
        if request.url.path == "/logout":
            return httpx.Response(200)
        return command(request)

    return httpx.MockTransport(answer)


@pytest.mark.parametrize(
    ("what", "fails", "sent"),
    [
        ("refused connection", httpx.ConnectError("connection refused"), False),
        ("connect timeout", httpx.ConnectTimeout("timed out"), False),
        ("dropped after sending", httpx.RemoteProtocolError("Server disconnected without sending a response."), True),
        ("read timeout", httpx.ReadTimeout("timed out"), True),
        ("reset while reading", httpx.ReadError("connection reset"), True),
        ("HTTP 502", httpx.Response(502, text="Bad Gateway"), True),
        ("HTTP 400", httpx.Response(400, text="Bad Request"), False),
        ("HTTP 201 without an id", httpx.Response(201, text=""), True),
    ],
)
def test_what_a_failed_post_means(what: str, fails: Exception | httpx.Response, sent: bool) -> None:
    posts: list[httpx.Request] = []

    def command(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        if isinstance(fails, httpx.Response):
            return fails
        raise fails

    with (
        EnmClient("https://enm.test", Credentials(USER, PASSWORD), transport=_mock(command), backoff=0) as enm,
        pytest.raises(EnmError) as failed,
    ):
        enm.execute("cmedit set X=1 userLabel=y")
    assert failed.value.sent is sent, str(failed.value)
    assert len(posts) == 1  # never tried again
    assert "\n" not in str(failed.value)


def test_nothing_listening_is_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with (
        EnmClient(f"http://127.0.0.1:{port}", Credentials(USER, PASSWORD), retries=1) as enm,
        pytest.raises(EnmError, match="cannot be reached") as failed,
    ):
        enm.execute("cmedit set X=1 userLabel=y")
    assert not failed.value.sent and enm.requests_made == 1


def test_a_reply_that_is_not_the_terminal_json_is_an_error() -> None:
    def command(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, text="r1")
        return httpx.Response(200, text="<html>login</html>")

    with (
        EnmClient("https://enm.test", Credentials(USER, PASSWORD), transport=_mock(command)) as enm,
        pytest.raises(EnmError, match="not the terminal JSON expected") as failed,
    ):
        enm.execute("cmedit get X=1")
    assert failed.value.sent


def test_a_command_that_does_not_complete_in_time(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    fake.hold = "userLabel=slow"
    with pytest.raises(EnmError, match="did not complete") as failed:
        connect(command_timeout=0.2).execute(f"cmedit set {CELL} userLabel=slow")
    assert failed.value.sent and fake.changes() == [f"cmedit set {CELL} userLabel=slow"]


def test_tls_is_verified_against_the_given_ca(fake: FakeEnm, tls: tuple[Path, Path, Path]) -> None:
    assert fake.url.startswith("https://127.0.0.1:")
    with EnmClient(fake.url, Credentials(USER, PASSWORD), ca_file=str(tls[0])) as trusted:
        assert trusted.execute(f"cmedit get {CELL1}").lines[0] == f"FDN : {CELL1}"
    with EnmClient(fake.url, Credentials(USER, PASSWORD), retries=0) as untrusted, pytest.raises(EnmError) as refused:
        untrusted.execute(f"cmedit set {CELL1} userLabel=unverified")
    message = str(refused.value)
    assert "TLS" in message and "--ca-file" in message and "certificate" in message and not refused.value.sent
    with (
        EnmClient(fake.url, Credentials(USER, PASSWORD), ca_file=str(tls[1]), retries=0) as wrong_ca,
        pytest.raises(EnmError, match="TLS"),
    ):
        wrong_ca.login()  # the server's own certificate is no CA
    with EnmClient(fake.url, Credentials(USER, PASSWORD), verify_tls=False) as insecure:
        assert insecure.execute(f"cmedit set {CELL1} userLabel=insecure").lines[-1] == "1 instance(s) updated"
    assert fake.changes() == [f"cmedit set {CELL1} userLabel=insecure"]  # nothing over the unverified ones
    with pytest.raises(EnmError, match="CA file"):
        EnmClient(fake.url, Credentials(USER, PASSWORD), ca_file=str(tls[0].parent / "missing.pem"))


def test_the_proxy_the_environment_names_is_used(
    tables: dict[str, pa.Table], catalog: CatalogView, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENM's address reached only through a proxy (here the fake itself, on plain HTTP, which
    reads the absolute URL a proxy is sent)."""
    server = FakeEnm(Simulator(tables, catalog), USER, PASSWORD).start()
    try:
        monkeypatch.setenv("http_proxy", server.url)
        monkeypatch.setenv("no_proxy", "")
        with EnmClient("http://enm.invalid", Credentials(USER, PASSWORD)) as enm:
            assert enm.execute(f"cmedit set {CELL} userLabel=proxied").lines[-1] == "1 instance(s) updated"
        assert server.executed == [f"cmedit set {CELL} userLabel=proxied"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # nothing listens there once closed
        with EnmClient(closed, Credentials(USER, PASSWORD)) as proxied:
            proxied.login()  # through the proxy
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with (
            EnmClient(closed, Credentials(USER, PASSWORD), retries=0) as direct,
            pytest.raises(EnmError, match="cannot be reached"),
        ):
            direct.login()
        assert len(server.logins) == 2
    finally:
        server.stop()


SECRET_USER, SECRET_PASSWORD = "alice.ops", "Pa55w0rd-xyz"
ECHO = f"user {SECRET_USER} password {SECRET_PASSWORD} failed"
SESSION = httpx.Response(302, headers={"Set-Cookie": "iPlanetDirectoryPro=t; Path=/"})


@pytest.mark.parametrize(
    ("login", "post", "poll"),
    [
        (httpx.Response(401, json={"code": "FAILED", "message": ECHO}), None, None),
        (httpx.Response(200, json={"code": "PASSWORD_RESET", "message": ECHO}), None, None),
        (httpx.Response(403, text=ECHO), None, None),
        (SESSION, httpx.Response(500, text=ECHO), None),
        (SESSION, httpx.Response(400, text=ECHO), None),
        (SESSION, httpx.Response(201, text="r1"), httpx.Response(404, text=ECHO)),
        (SESSION, httpx.Response(201, text="r1"), httpx.Response(200, text=ECHO)),
    ],
    ids=["401", "password reset", "403", "post 500", "post 400", "poll 404", "poll not json"],
)
def test_credentials_are_in_no_error_text(
    login: httpx.Response, post: httpx.Response | None, poll: httpx.Response | None
) -> None:
    """An ENM that echoes the user and the password in its error bodies: what the client says
    leaves them out."""

    def echo(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/logout":
            return httpx.Response(200)
        answer = login if request.url.path == "/login" else post if request.method == "POST" else poll
        assert answer is not None
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    credentials = Credentials(SECRET_USER, SECRET_PASSWORD)
    with (
        EnmClient("https://enm.test", credentials, transport=httpx.MockTransport(echo), backoff=0) as enm,
        pytest.raises(EnmError) as failed,
    ):
        enm.execute("cmedit get X=1")
    message = str(failed.value)
    assert SECRET_PASSWORD not in message and SECRET_USER not in message, message
    assert "failed" in message or "change" in message, message
    assert SECRET_PASSWORD not in repr(credentials)


def test_round_trips_of_a_set_and_a_get(fake: FakeEnm, connect: Callable[..., EnmClient]) -> None:
    """What a command costs against the fake with its default replies of three elements."""
    enm = connect()
    enm.login()
    before = enm.requests_made
    done = enm.execute(f"cmedit set {CELL} userLabel=counted")
    got = enm.execute(f"cmedit get {CELL}")
    assert done.round_trips == 2  # the POST, one poll
    assert got.round_trips == 1 + len(_polls_of(fake, got)) == 1 + -(-len(got.lines) // fake.chunk_size)
    assert enm.requests_made - before == done.round_trips + got.round_trips
    print(f"round trips: set {done.round_trips}, get of {len(got.lines)} lines {got.round_trips}")
