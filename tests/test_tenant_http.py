"""The pull's HTTP exchange: ``connection.GraphResponse`` reads a response exactly as
``http.client.HTTPResponse`` does (the oracle is ``http.client`` itself, on generated responses),
and ``GraphConnection`` sends a request's head and body in one write."""

from __future__ import annotations

import http.client
import io

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bitlocker_rules.tenant.connection import MAX_HEADERS, GraphConnection, GraphResponse


class _Socket:
    """What ``HTTPResponse`` reads from (``makefile``) and what a connection writes to (``sendall``)."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = data
        self.sent: list[bytes] = []

    def makefile(self, mode: str) -> io.BytesIO:
        return io.BytesIO(self.data)

    def sendall(self, data: bytes) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        pass


_NAME = st.text(alphabet="ABCXYZabcxyz-_0123456789!#$%&'*+.^`|~", min_size=1, max_size=12)
_VALUE = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters=":"), max_size=20)
_FIELD = st.one_of(
    st.tuples(_NAME, _VALUE),
    st.tuples(
        st.sampled_from(
            [
                "Content-Length",
                "content-length",
                "Transfer-Encoding",
                "Connection",
                "Keep-Alive",
                "Proxy-Connection",
                "Retry-After",
                "Content-Type",
            ]
        ),
        st.sampled_from(
            [
                "0",
                "5",
                "12",
                "-3",
                "x",
                "chunked",
                "Chunked",
                "gzip, chunked",
                "close",
                "keep-alive",
                "Keep-Alive",
                "timeout=5",
                "120",
                "application/json",
                "",
            ]
        ),
    ),
)


@st.composite
def _responses(draw):
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 304, 400, 404, 429, 503]))
    fields = draw(st.lists(_FIELD, max_size=8))
    lines = [f"{name}:{draw(st.sampled_from(['', ' ', '  ', chr(9)]))}{value}" for name, value in fields]
    if lines and draw(st.booleans()):  # an obsolete folded line
        lines.insert(draw(st.integers(1, len(lines))), draw(st.sampled_from([" more", "\tmore"])))
    interim = "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\n" if draw(st.booleans()) else ""
    body = b"0123456789abcdef" * 2
    head = f"{interim}{version} {status} {draw(st.sampled_from(['OK', 'Too Many', '']))}\r\n"
    return (head + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode("latin-1") + body


def _read(cls: type[http.client.HTTPResponse], raw: bytes, method: str) -> tuple:
    response = cls(_Socket(raw), method=method)  # type: ignore[arg-type]
    try:
        response.begin()
        body = response.read()
    except (http.client.HTTPException, ValueError, OverflowError) as exc:  # the same in both, or a difference
        return (type(exc).__name__,)
    return (
        response.status,
        response.reason,
        response.version,
        response.headers.items(),
        response.getheader("retry-after"),
        response.chunked,
        response.will_close,
        body,
    )


@given(_responses(), st.sampled_from(["GET", "POST", "HEAD"]))
@example(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "GET")
@example(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 4\r\n\r\nbody", "GET")
@example(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nbody", "GET")
@example(b"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\nbody", "GET")
def test_a_response_reads_as_http_client_reads_it(raw, method):
    assert _read(GraphResponse, raw, method) == _read(http.client.HTTPResponse, raw, method)


def test_a_head_too_long_or_with_too_many_fields_is_refused_as_http_client_refuses_it():
    many = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(MAX_HEADERS + 1)) + b"\r\n"
    long = b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n"
    for raw in (many, long):
        assert _read(GraphResponse, raw, "GET") == _read(http.client.HTTPResponse, raw, "GET")
        assert len(_read(GraphResponse, raw, "GET")) == 1  # an exception's name


def test_a_request_with_a_body_goes_out_in_one_write():
    for cls, writes in ((GraphConnection, 1), (http.client.HTTPConnection, 2)):
        connection = cls("graph.example")
        connection.sock = _Socket()  # type: ignore[assignment]
        connection.request(
            "POST", "/beta/$batch", body=b'{"requests":[]}', headers={"Content-Type": "application/json"}
        )
        sent = connection.sock.sent  # type: ignore[union-attr]
        assert len(sent) == writes
        head, _, body = b"".join(sent).partition(b"\r\n\r\n")
        assert head.startswith(b"POST /beta/$batch HTTP/1.1\r\n") and b"Content-Length: 15" in head
        assert body == b'{"requests":[]}'


@pytest.mark.parametrize("body", [None, b""])
def test_a_request_without_a_body_is_sent_as_http_client_sends_it(body):
    sent = []
    for cls in (GraphConnection, http.client.HTTPConnection):
        connection = cls("graph.example")
        connection.sock = _Socket()  # type: ignore[assignment]
        connection.request("GET", "/v1.0/groups", body=body)
        sent.append(b"".join(connection.sock.sent))  # type: ignore[union-attr]
    assert sent[0] == sent[1]
