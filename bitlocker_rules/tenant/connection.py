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
from urllib.parse import urlsplit

from attrs import frozen

try:  # installed with azure-identity (through requests); used where present, not required
    import certifi
except ImportError:  # pragma: no cover - every install of the project has it
    certifi = None  # type: ignore[assignment]

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
                connection = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._tls)
            else:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
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
