"""The Graph client: GET with a bearer token, paging, JSON batches, retries, and errors in words;
PATCH and PUT for ``apply`` (``write``).

Transport is ``connection`` (``http.client``, a kept-alive connection per thread): a dropped
connection or a body cut short shows as one failure, so every transport fault is retried the
same way. ``Retry-After`` is honoured on 429 and 503; other 5xx, dropped connections, timeouts
and pages that are not JSON are retried with capped exponential backoff and jitter
(``pacing``). A 401 asks the token source for a new token once; a 403 names the Graph permission
the call needs (``endpoints``). The token is sent only to the Graph root the run was given: a
``@odata.nextLink`` elsewhere is refused.

``batch`` reads up to 20 objects in one ``$batch`` request (Graph's JSON batching): Graph answers
each request of a batch on its own, so each is retried on its own, after the longest
``Retry-After`` its throttled neighbours were given.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from attrs import define, field

from ..errors import Diagnostic, clip
from ..reading import loads_json
from .connection import Answer, Connections
from .endpoints import permission_for
from .failures import FORBIDDEN, MALFORMED, SERVER, UNAUTHORISED, TenantError, tenant_error
from .pacing import Pacing, retry_after_seconds
from .sent_text import SentAnswer, read_batch, read_page
from .signin import TokenSource


class NotFound(TenantError):
    """Graph answered 404: the object is gone (a deleted group still named by an assignment)."""


class BadRequest(TenantError):
    """Graph answered 400: it refused the request as asked (a query option it does not take there)."""


@define
class Traffic:
    """What the client has done so far, for progress and the manifest (updated under a lock)."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    waited: float = 0.0
    lock: threading.Lock = field(factory=threading.Lock, repr=False, eq=False)

    def count(self, *, request: bool = False, retry: bool = False, throttled: bool = False, wait: float = 0) -> None:
        """Add one event."""
        with self.lock:
            self.requests += request
            self.retries += retry
            self.throttled += throttled
            self.waited += wait


BATCH_SIZE = 20  # Graph's limit of requests in one JSON batch
RETRY_LATER = "try again later (a pull that stopped there is continued by pull --resume)"
WRITE_METHODS = ("PATCH", "PUT", "POST")  # POST: an intent's updateSettings, which replaces by definitionId


class GraphClient:
    """GET requests to one Graph service root, for one token source."""

    def __init__(
        self,
        root: str,
        tokens: TokenSource,
        pacing: Pacing | None = None,
        *,
        user_agent: str = "bitlocker-rules",
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        self.root = root.rstrip("/")
        self.tokens = tokens
        self.pacing = pacing or Pacing()
        self.user_agent = user_agent
        self.on_wait = on_wait
        self.traffic = Traffic()
        self._connections = Connections(self.root, self.pacing.timeout)

    def url(self, version: str, path: str) -> str:
        """The absolute URL of ``path`` under ``version`` (``beta`` or ``v1.0``)."""
        return f"{self.root}/{version}/{path.lstrip('/')}"

    def get(self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> dict:
        """One JSON object from ``url``, retried as the module says."""
        return self._object("GET", url, params, headers)

    def write(self, method: str, url: str, body: Mapping[str, Any], *, needs: str = "") -> dict:
        """A PATCH or PUT of ``body`` to ``url``, or a POST of an intent's ``updateSettings``:
        Graph's answer, ``{}`` for 204 No Content. Each is idempotent (the same body sent twice
        leaves the same object; ``updateSettings`` replaces each setting by its definitionId), so
        a write is retried like a read; a 403 names ``needs``, the permission a write takes."""
        if method not in WRITE_METHODS:
            raise ValueError(f"a Graph write is one of {WRITE_METHODS}, not {method!r}")
        return self._object(method, url, body=body, needs=needs, empty_ok=True)

    def batch(self, version: str, targets: Sequence[str]) -> list[dict | None]:
        """The objects at ``targets`` (paths with their query, under ``version``; at most
        ``BATCH_SIZE``), read in one ``$batch`` request: None where Graph answered 404."""
        return [record for record, _, _ in self.sent_batch(version, targets)]

    def sent_batch(self, version: str, targets: Sequence[str]) -> list[tuple[dict | None, str | None, bool]]:
        """``batch``, each object with the text Graph wrote for it where that text can be kept
        as it came, and whether the answer's records hold nothing the snapshot's scrub changes
        (``sent_text.read_batch``)."""
        if len(targets) > BATCH_SIZE:
            raise ValueError(f"a Graph batch holds at most {BATCH_SIZE} requests")
        url = self.url(version, "$batch")
        found: dict[int, tuple[dict | None, str | None, bool]] = {}
        pending, fault = list(range(len(targets))), ""
        for attempt in range(self.pacing.attempts):
            asked = batch_requests([(str(i), targets[i]) for i in pending])
            sent = self._object("POST", url, body=asked, decode=_sent_batch)
            answers = _batch_answers(sent, url)
            retried: dict[int, Answer] = {}
            for i in pending:
                answer, text = answers.get(str(i), (None, None))
                outcome = self._batch_outcome(version, targets[i], answer)
                if isinstance(outcome, Answer):
                    retried[i] = outcome
                else:
                    found[i] = (outcome[0], text if outcome[0] is not None else None, sent.clean)
            if not retried:
                return [found[i] for i in range(len(targets))]
            pending, longest = list(retried), max(retried.values(), key=_wait_asked)
            fault = longest.failure or f"HTTP {longest.status}"
            if attempt + 1 < self.pacing.attempts:
                self._wait(longest, attempt, fault)
        raise tenant_error(
            SERVER,
            f"Graph kept failing a request of a batch: {fault}, {self.pacing.attempts} times",
            where=_shown_url(self.url(version, targets[pending[0]])),
            help=RETRY_LATER,
        )

    def pages(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[list[dict]]:
        """The items of a collection, a page at a time, following ``@odata.nextLink``."""
        for page in self._pages(url, params, headers, _plain_page):
            yield page.data["value"]

    def sent_pages(
        self, url: str, params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[SentAnswer]:
        """``pages``, each item with the text Graph wrote for it where that text can be kept as it
        came (``sent_text``): a collection of many small records is not encoded again to be written."""
        yield from self._pages(url, params, headers, _sent_page)

    def _pages(
        self,
        url: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        decode: Callable[[bytes], Any],
    ) -> Iterator[SentAnswer]:
        next_url: str | None = url
        seen: set[str] = set()
        while next_url:
            sent = self._object("GET", next_url, params, headers, decode=decode)
            params = None  # the nextLink carries the query
            page_items(sent.data, next_url)
            yield sent
            link = sent.data.get("@odata.nextLink")
            if link is not None and not isinstance(link, str):
                raise _malformed(next_url, "its @odata.nextLink is not a URL")
            if link in seen:  # a server that pages in a circle would keep the pull going forever
                raise _malformed(next_url, "its @odata.nextLink points back to an earlier page")
            seen.add(next_url)
            next_url = link

    # -- one request ---------------------------------------------------------------------

    def _object(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | bytes | None = None,
        *,
        needs: str = "",
        empty_ok: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """The JSON object Graph answers ``method`` on ``url`` with, retried as the module says
        (``body``: a JSON object, or its encoding; ``empty_ok``: an empty answer, a write's 204,
        is ``{}``); ``decode`` reads the body (``_json_object`` by default; None for what is not
        a JSON object)."""
        self._check_host(url)
        target = _target(url, params)
        sent = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
        payload = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        token, renewed = self.tokens.token(), False
        code, fault = SERVER, ""
        for attempt in range(self.pacing.attempts):
            answer = self._send(method, target, sent, token, payload)
            if answer.status == 401:
                token, renewed = self._after_401(url, token, renewed)
                fault = "HTTP 401"
                continue
            if not answer.retryable:
                self._refuse(url, answer, needs)
                if empty_ok and not answer.body.strip():
                    return {}
                data = (decode or _json_object)(answer.body)
                if data is not None:
                    return data
                code, fault = MALFORMED, "an answer that is not a JSON object"
            else:
                code, fault = SERVER, answer.failure or f"HTTP {answer.status}"
            if attempt + 1 < self.pacing.attempts:
                self._wait(answer, attempt, fault)
        raise tenant_error(
            code,
            f"Graph kept failing: {fault}, {self.pacing.attempts} times",
            where=_shown_url(url),
            help=RETRY_LATER,
        )

    def _send(self, method: str, target: str, headers: Mapping[str, str], token: str, body: bytes | None) -> Answer:
        sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": self.user_agent}
        self.traffic.count(request=True)
        return self._connections.exchange(method, target, {**sent, **headers}, body)

    def _batch_outcome(self, version: str, target: str, answer: Any) -> tuple[dict | None] | Answer:
        """One request's answer in a batch: ``(object,)``, ``(None,)`` for a 404, or the
        ``Answer`` to retry it after; a refusal no retry can change raises."""
        if not isinstance(answer, dict) or not isinstance(answer.get("status"), int):
            return Answer(None, failure="a batch that left a request unanswered")
        status, body = answer["status"], answer.get("body")
        if status == 429 or status >= 500:
            return Answer(status, _header(answer, "Retry-After"))
        if status == 404:
            return (None,)
        if status >= 300:
            self._refuse(self.url(version, target), Answer(status, body=json.dumps(body).encode()))
        if not isinstance(body, dict):
            return Answer(None, failure="an answer that is not a JSON object")
        return (body,)

    def _after_401(self, url: str, token: str, renewed: bool) -> tuple[str, bool]:
        """A new token after a 401 (asked once); a second refusal is an error."""
        fresh = None if renewed else self.tokens.renewed(token)
        if fresh is None:
            raise tenant_error(
                UNAUTHORISED,
                "Graph refused the access token (401: missing, expired or for another resource)"
                + (" also after a new one was asked for" if renewed else ""),
                where=_shown_url(url),
                help="sign in again; a token for --auth token-env must be issued for this Graph URL",
            )
        return fresh, True

    def _refuse(self, url: str, answer: Answer, needs: str = "") -> None:
        """Raise for an answer no retry can change (403, 404, other 4xx); a success passes."""
        status = answer.status or 0
        if status < 400:
            return
        message = graph_error(answer.body)
        said = f"{status}: {message}" if message else str(status)
        if status == 403:
            needed = needs or permission_for(url)
            raise tenant_error(
                FORBIDDEN,
                f"Graph refused this call ({said})" + (f"; this call needs {needed}" if needed else ""),
                where=_shown_url(url),
                help="grant the app (or the signed-in user) the permissions docs/tenant.md lists, with admin consent",
            )
        if status == 404:
            raise NotFound([Diagnostic(SERVER, f"not found ({said})", file=_shown_url(url))])
        if status == 400:
            raise BadRequest([Diagnostic(SERVER, f"Graph refused the request ({said})", file=_shown_url(url))])
        raise tenant_error(SERVER, f"Graph answered {said}", where=_shown_url(url))

    def _wait(self, answer: Answer, attempt: int, why: str) -> None:
        seconds = self.pacing.wait_for(answer.status, answer.retry_after, attempt)
        throttled = answer.status in (429, 503)
        self.traffic.count(retry=True, throttled=throttled, wait=seconds)
        if self.on_wait is not None:
            self.on_wait(seconds, "throttled" if throttled else why)
        self.pacing.sleep(seconds)

    def _check_host(self, url: str) -> None:
        here, root = urlsplit(url), urlsplit(self.root)
        if (here.scheme, here.netloc) != (root.scheme, root.netloc):
            raise _malformed(url, f"it points outside {self.root}; the token is sent only there")


def page_items(page: Mapping[str, Any], url: str) -> list[dict]:
    """A page's ``value``: a list of JSON objects, or an error naming the page."""
    items = page.get("value")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _malformed(url, "its `value` is not a list of objects")
    return items


def batch_requests(asked: Sequence[tuple[str, str]]) -> bytes:
    """The JSON of a ``$batch`` request reading each ``(id, target)`` of ``asked``: what
    ``json.dumps`` writes for ``{"requests": [{"id", "method": "GET", "url": "/" + target}, ...]}``.
    The targets of a batch share one query (the same ``$select`` for every device, most of
    each target): it is encoded once, not once a device."""
    requests = []
    query, encoded = None, ""
    for request_id, target in asked:
        path, mark, query_now = target.lstrip("/").partition("?")
        if query_now != query:
            query, encoded = query_now, _json_string(query_now)[1:-1]
        url = f'"/{_json_string(path)[1:-1]}{mark}{encoded}"'
        requests.append(f'{{"id": {_json_string(request_id)}, "method": "GET", "url": {url}}}')
    return ('{"requests": [' + ", ".join(requests) + "]}").encode()


def graph_error(body: bytes) -> str:
    """Graph's own words from an error body (``error.code: error.message``), shortened."""
    try:
        error = loads_json(body).get("error") or {}
    except (ValueError, AttributeError):
        return ""
    if not isinstance(error, dict):
        return ""
    parts = [str(error[k]) for k in ("code", "message") if isinstance(error.get(k), str) and error[k]]
    return clip(": ".join(parts), 200)


def _batch_answers(sent: SentAnswer, url: str) -> dict[str, tuple[Any, str | None]]:
    """A batch's answers by request id, each with its body's text where it was kept."""
    answers = sent.data.get("responses")
    if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
        raise _malformed(url, "its `responses` is not a list of objects")
    return {str(a.get("id")): (a, sent.text(n)) for n, a in enumerate(answers)}


def _header(answer: Mapping[str, Any], name: str) -> str | None:
    """A header of a batch's answer (names compared without case, as HTTP does)."""
    headers = answer.get("headers")
    if not isinstance(headers, dict):
        return None
    found = [v for k, v in headers.items() if isinstance(k, str) and k.lower() == name.lower()]
    return str(found[0]) if found else None


def _wait_asked(answer: Answer) -> tuple[float, bool]:
    """How long ``answer`` asks to be left alone, then whether it throttles: the batch waits
    for the neighbour that asked most."""
    asked = retry_after_seconds(answer.retry_after) if answer.retry_after else None
    return (asked or 0.0, answer.status in (429, 503))


def _target(url: str, params: Mapping[str, str] | None) -> str:
    """The request target (path and query) of ``url`` with ``params`` added to its query."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params or {})) if q)
    return parts.path + (f"?{query}" if query else "")


def _sent_page(body: bytes) -> SentAnswer | None:
    """A page with its items' texts where ``sent_text`` can keep them, else read the plain way."""
    return read_page(body) or _plain_page(body)


def _sent_batch(body: bytes) -> SentAnswer | None:
    """A batch's answer with its bodies' texts where ``sent_text`` can keep them, else read the plain way."""
    return read_batch(body) or _plain_page(body)


def _plain_page(body: bytes) -> SentAnswer | None:
    """An answer decoded the plain way: no record's text kept, each checked as it is written."""
    data = _json_object(body)
    return None if data is None else SentAnswer(data)


# A string as json.dumps writes it (ASCII, escaped), without its encoder's set-up for each call.
_json_string = json.encoder.encode_basestring_ascii


def _json_object(body: bytes) -> dict | None:
    try:
        data = loads_json(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _shown_url(url: str) -> str:
    """A URL as messages show it: without the query (a $filter may name a device)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def _malformed(url: str, what: str) -> TenantError:
    return tenant_error(MALFORMED, f"Graph sent a page that cannot be read: {what}", where=_shown_url(url))
