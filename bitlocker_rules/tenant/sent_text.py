"""Graph's answers read with the text Graph wrote for each record in them.

A snapshot keeps each record as one line of JSON. Decoding an answer, then encoding each record
again to write it, paid twice for every record. Here an answer is walked with ``json``'s own
scanner: every value is decoded once, as ``json.loads`` would, and the stretch of the answer
that spelled each record is kept, to be written as it came. Two shapes hold records: a page
(the items of ``value``) and a JSON batch's answer (the ``body`` of each of ``responses``).
A compact batch answer, as Graph writes it, is read faster still: each body is cut out and
decoded once, and what is left (ids, statuses, headers) is read in one ``json.loads``; the
member-by-member walk reads whatever that cannot.

Texts are kept only when the records show nothing to scrub (``is_clean``) and no line break;
otherwise the caller encodes each record again, and checks it unless the records were found
clean (``scrub.is_clean``). A body that is not a JSON object is left to the plain reading, which says what is wrong.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any

from attrs import frozen

from .scrub import is_clean

# The scanner ``json.loads`` decodes with: the value at an index, and where it ends.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed types it oddly
_SPACE = re.compile(r"[ \t\n\r]*")
_WHITE = " \t\n\r"  # JSON's whitespace: Graph sends none, so the pattern is asked only where some is


@frozen
class SentAnswer:
    """A decoded answer (the JSON object); the text of each of its records, or none kept; and
    whether its records hold nothing the snapshot's scrub changes."""

    data: dict[str, Any]
    texts: tuple[str | None, ...] = ()
    clean: bool = False

    def text(self, index: int) -> str | None:
        """The text of record ``index``; None when it was not kept."""
        return self.texts[index] if index < len(self.texts) else None


def read_page(body: bytes) -> SentAnswer | None:
    """A page (``{"value": [record, ...], ...}``) decoded as ``json.loads`` would, with each
    record's text where it can be kept; None when the body is not a UTF-8 JSON object."""
    return _read(body, "value", _whole)


def read_batch(body: bytes) -> SentAnswer | None:
    """A JSON batch's answer (``{"responses": [{"id", "status", "body"}, ...]}``) decoded as
    ``json.loads`` would, with the text of each response's ``body`` where it can be kept (None for
    a response without one); None when the body is not a UTF-8 JSON object."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return _bodies_apart(text) or _read(body, "responses", _response)


# A body cut out of a batch's answer stands there as a string that starts with NUL: JSON spells
# NUL only as an escape, and an answer with any ``\u`` escape is not cut.
_CUT = "\x00"
_BODY = '"body":'


def _bodies_apart(text: str) -> SentAnswer | None:
    """The batch's answer read with every body cut out first, for a compact answer (Graph's):
    each body is decoded once, the rest (ids, statuses, headers) in one ``json.loads``. None
    where a cut does not come out as exactly one response's body (a repeated key, a ``body``
    in headers, spaces): the member-by-member walk then reads it."""
    if "\\" in text and "\\u" in text:
        return None
    parts: list[str] = []
    bodies: list[Any] = []
    texts: list[str] = []
    at = 0
    try:
        while (found := text.find(_BODY, at)) >= 0:
            start = found + len(_BODY)
            value, end = _SCAN(text, start)
            parts += (text[at:start], f'"\\u0000{len(bodies)}"')
            bodies.append(value)
            texts.append(text[start:end])
            at = end
        parts.append(text[at:])
        data = json.loads("".join(parts))
    except (ValueError, StopIteration, RecursionError):
        return None
    kept = _bodies_back(data, bodies, texts)
    if kept is None:
        return None
    clean = is_clean(text)
    return SentAnswer(data, kept if clean and "\n" not in text and "\r" not in text else (), clean)


def _bodies_back(data: Any, bodies: list[Any], texts: list[str]) -> tuple[str | None, ...] | None:
    """Each response's body put back in ``data`` where it was cut, and each response's text (None
    without a body); None unless every cut is one response's body and every body was cut."""
    responses = data.get("responses") if isinstance(data, dict) else None
    if not isinstance(responses, list):
        return None
    kept: list[str | None] = []
    for response in responses:
        cut = response.get("body", _CUT) if isinstance(response, dict) else _CUT
        if not isinstance(cut, str) or not cut.startswith(_CUT):
            return None  # a body the cutting did not see
        if cut == _CUT:
            kept.append(None)
            continue
        n = int(cut[1:])
        response["body"] = bodies[n]
        kept.append(texts[n])
    return tuple(kept) if len(kept) - kept.count(None) == len(bodies) else None


# How the records of a collection are read: an item's value, the text kept of it, where it ends.
_Record = Callable[[str, int], tuple[Any, "str | None", int]]


def _read(body: bytes, records: str, record: _Record) -> SentAnswer | None:
    try:
        text = body.decode("utf-8")
        at = _skip(text, 0)
        if text[at] != "{":
            return None
        return _answer(text, at, records, record)
    except (UnicodeDecodeError, ValueError, IndexError, StopIteration, RecursionError):
        return None


def _answer(text: str, at: int, records: str, record: _Record) -> SentAnswer | None:
    """The object at ``at``, member by member; ``records`` (an array) item by item. What is kept
    is the last such member's (a repeated key's last value wins, as in ``json.loads``); None for
    text after the object."""
    data: dict[str, Any] = {}
    texts: tuple[str | None, ...] = ()
    clean = False
    at = _skip(text, at + 1)
    closed = text[at] == "}"
    at += closed
    while not closed:
        key, at = _name(text, at)
        if key == records and text[at] == "[":
            start = at
            data[key], texts, at = _array(text, at, record)
            found = text[start:at]  # only the records: the page's own links (their & and %) are not scanned
            clean = is_clean(found)
            texts = texts if clean and "\n" not in found and "\r" not in found else ()
        else:
            data[key], at = _SCAN(text, at)
            if key == records:
                texts, clean = (), False
        at = _skip(text, at)
        closed = text[at] == "}"
        if not closed and text[at] != ",":
            raise ValueError("expected , or }")
        at = _skip(text, at + 1)
    if text[at:].strip():
        return None
    return SentAnswer(data, texts, clean)


def _array(text: str, at: int, record: _Record) -> tuple[list[Any], tuple[str | None, ...], int]:
    """The array at ``at``: its items, the text ``record`` keeps of each, and where it ends."""
    items: list[Any] = []
    texts: list[str | None] = []
    at = _skip(text, at + 1)
    if text[at] == "]":
        return items, (), at + 1
    while True:
        item, kept, at = record(text, at)
        items.append(item)
        texts.append(kept)
        if text[at] in _WHITE:
            at = _skip(text, at)
        if text[at] == "]":
            return items, tuple(texts), at + 1
        if text[at] != ",":
            raise ValueError("expected , or ]")
        at += 1
        if text[at] in _WHITE:
            at = _skip(text, at)


def _whole(text: str, at: int) -> tuple[Any, str | None, int]:
    """A page's item and its whole text."""
    item, end = _SCAN(text, at)
    return item, text[at:end], end


def _response(text: str, at: int) -> tuple[Any, str | None, int]:
    """A batch's response, member by member, and the text of its ``body``."""
    if text[at] != "{":
        item, end = _SCAN(text, at)
        return item, None, end
    response: dict[str, Any] = {}
    body = None
    at += 1
    if text[at] in _WHITE:
        at = _skip(text, at)
    if text[at] == "}":
        return response, None, at + 1
    while True:
        key, at = _name(text, at)
        start = at
        response[key], at = _SCAN(text, at)
        if key == "body":
            body = text[start:at]
        if text[at] in _WHITE:
            at = _skip(text, at)
        if text[at] == "}":
            return response, body, at + 1
        if text[at] != ",":
            raise ValueError("expected , or }")
        at += 1
        if text[at] in _WHITE:
            at = _skip(text, at)


def _name(text: str, at: int) -> tuple[str, int]:
    """A member's name at ``at``, and where its value starts."""
    if text[at] != '"':
        raise ValueError("expected a member's name")
    key, at = _SCAN(text, at)
    if text[at] in _WHITE:
        at = _skip(text, at)
    if text[at] != ":":
        raise ValueError("expected :")
    at += 1
    if text[at] in _WHITE:
        at = _skip(text, at)
    return key, at


def _skip(text: str, at: int) -> int:
    return _SPACE.match(text, at).end()  # type: ignore[union-attr]  # the pattern matches anywhere
