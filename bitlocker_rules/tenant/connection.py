"""One HTTP exchange with Graph over a kept-alive connection, one connection per thread.

``http.client`` from the standard library, not ``requests``: a pull is a hundred thousand small
exchanges with one host, and ``requests``/``urllib3`` spent about three quarters of the client's
CPU on each of them (header merging, hooks, adapters, a pool per session) for nothing this use
needs. What the client needs is here: keep-alive, a timeout, TLS verified against the system's
certificates (and ``certifi``'s bundle where installed, as ``requests`` used), no proxy or
``.netrc`` settings slipped in beside the token, and every transport fault (refused, reset,
dropped mid-body, timed out) reported the same way so that it is retried the same way.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from attrs import frozen

try:  # installed with azure-identity (through requests); used where present, not required
    import certifi
except ImportError:  # pragma: no cover - every install of the project has it
    certifi = None  # type: ignore[assignment]

# http.client's own limits on a response's head (``_MAXLINE``, ``_MAXHEADERS``), kept here.
MAX_LINE = 65536
MAX_HEADERS = 100

# A fault after which asking again may succeed; the connection is closed and opened anew.
TRANSPORT_FAULTS = (OSError, http.client.HTTPException)
# What a kept-alive connection the server closed while idle fails with: sent again at once, once.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@frozen
class Answer:
    """One response: its status, ``Retry-After`` and body; or, with no status, why none came."""

    status: int | None
    retry_after: str | None = None
    body: bytes = b""
    failure: str = ""

    @property
    def retryable(self) -> bool:
        """A dropped connection, throttling or a server error: asking again may succeed."""
        return self.status is None or self.status == 429 or self.status >= 500


class GraphResponse(http.client.HTTPResponse):
    """``http.client``'s response with its header lines read without ``email.parser``.

    ``http.client`` hands a response's head to the e-mail parser (built for mail: policies,
    defects, folding), which cost about 100 us a response in a pull, a tenth of the client's CPU
    and more than anything else an exchange costs. Here each header line is split at its first
    colon (RFC 9112 §5.1) into an ``HTTPMessage`` all the same, an obsolete continuation line
    joined to the one before. Everything ``begin`` decides from the head (interim 1xx answers
    skipped, the version, chunked or sized, whether the connection closes) is ``http.client``'s
    own logic, unchanged; a test holds both readings equal on generated heads.
    """

    def begin(self) -> None:
        """Read the status line and the head (``http.client.HTTPResponse.begin``, headers read faster)."""
        read: object = self.headers  # None until begun (typeshed does not say so)
        if read is not None:
            return
        while True:
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != http.client.CONTINUE:
                break
            read_head(self.fp)  # an interim 100 Continue's head, skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10
        elif version.startswith("HTTP/1."):
            self.version = 11
        else:
            raise http.client.UnknownProtocol(version)
        self.headers = self.msg = read_head(self.fp)
        encoding = self.headers.get("transfer-encoding")
        self.chunked = bool(encoding and encoding.lower() == "chunked")
        self.chunk_left = None
        self.will_close = self._check_close()  # type: ignore[attr-defined]
        self.length = None
        length = self.headers.get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            if self.length is not None and self.length < 0:
                self.length = None
        if status in (http.client.NO_CONTENT, http.client.NOT_MODIFIED) or 100 <= status < 200:
            self.length = 0
        if self._method == "HEAD":  # type: ignore[attr-defined]
            self.length = 0
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True


class GraphConnection(http.client.HTTPConnection):
    """An ``http.client`` connection whose responses are ``GraphResponse`` and whose requests go out
    in one write: ``http.client`` writes a request's head and its body separately, two segments
    and, on each side, two wake-ups for a 2 KB batch request."""

    response_class = GraphResponse

    def _send_output(self, message_body: Any = None, encode_chunked: bool = False) -> None:
        if isinstance(message_body, bytes) and not encode_chunked:
            self._buffer.extend((b"", message_body))  # type: ignore[attr-defined]
            message = b"\r\n".join(self._buffer)  # type: ignore[attr-defined]
            del self._buffer[:]  # type: ignore[attr-defined]
            self.send(message)
            return
        super()._send_output(message_body, encode_chunked=encode_chunked)  # type: ignore[misc]


class GraphTLSConnection(GraphConnection, http.client.HTTPSConnection):
    """``GraphConnection`` over TLS."""


def read_head(stream: Any) -> http.client.HTTPMessage:
    """The header lines of a response up to the empty line, as an ``HTTPMessage`` holding what
    ``http.client`` would: names as sent (looked up without case), values without the space
    after the colon or the line's end, an obsolete folded line kept with the value it continues."""
    fields: list[list[str]] = []
    for count in range(MAX_HEADERS + 2):
        line = stream.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            break
        if count >= MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and fields:
            fields[-1][1] += text
        else:
            name, _, value = text.partition(":")
            fields.append([name, value.lstrip(" \t")])
    head = http.client.HTTPMessage()
    for name, value in fields:
        head[name] = value.rstrip("\r\n")
    return head


class Connections:
    """Kept-alive connections to one origin (``https://host[:port]``), one per thread."""

    def __init__(self, origin: str, timeout: float) -> None:
        parts = urlsplit(origin)
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port
        self.timeout = timeout
        self._local = threading.local()
        self._tls: ssl.SSLContext | None = _tls_context() if self.secure else None

    def exchange(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None = None) -> Answer:
        """Send one request for ``target`` (path and query) and read the whole answer."""
        connection = self._connection()
        reused = connection.sock is not None
        try:
            return _read(connection, method, target, headers, body)
        except _STALE as exc:
            connection.close()
            if not reused:
                return _failed(exc)
        except TRANSPORT_FAULTS as exc:
            connection.close()
            return _failed(exc)
        try:
            return _read(connection, method, target, headers, body)
        except TRANSPORT_FAULTS as exc:
            connection.close()
            return _failed(exc)

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            if self.secure:
                connection = GraphTLSConnection(self.host, self.port, timeout=self.timeout, context=self._tls)
            else:
                connection = GraphConnection(self.host, self.port, timeout=self.timeout)
            self._local.connection = connection
        return connection


def _read(
    connection: http.client.HTTPConnection, method: str, target: str, headers: Mapping[str, str], body: bytes | None
) -> Answer:
    connection.request(method, target, body=body, headers=dict(headers))
    response = connection.getresponse()
    data = response.read()  # read whole here: a connection dropped mid-body raises now
    return Answer(response.status, response.getheader("Retry-After"), data)


def _failed(exc: BaseException) -> Answer:
    return Answer(None, failure=f"the connection failed ({_fault_words(exc)})")


def _fault_words(exc: BaseException) -> str:
    """A transport fault as a reader names it, with the exception's name for a search."""
    if isinstance(exc, http.client.IncompleteRead):
        return "closed before the whole answer came: IncompleteRead"
    if isinstance(exc, TimeoutError):
        return "no answer in time: TimeoutError"
    if isinstance(exc, ConnectionRefusedError):
        return "refused: ConnectionRefusedError"
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved: gaierror"
    return type(exc).__name__


def _tls_context() -> ssl.SSLContext:
    """Certificates verified, against the system's store and certifi's bundle when installed."""
    context = ssl.create_default_context()
    if certifi is not None:
        context.load_verify_locations(certifi.where())
    return context
