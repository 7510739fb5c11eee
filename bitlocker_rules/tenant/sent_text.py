"""Graph's pages read with the text Graph wrote for each record on them.

A snapshot keeps each record as one line of JSON. Decoding a page, then encoding each record
again to write it, paid twice for every record of the large kinds (encryption report rows,
recovery key metadata). Here a page is walked with ``json``'s own scanner: every value is
decoded once, as ``json.loads`` would, and the stretch of the page that spelled each item of
``value`` is kept, to be written as it came. Texts are kept only when the items show nothing to
scrub (``is_clean``) and no line break; otherwise the caller encodes and scrubs each record as
before. A body that is not a JSON object is left to the plain reading, which says what is wrong.

A JSON batch's answers are not read so: walking each answer's members cost more than encoding
its body again (measured), since an answer holds one record where a page holds a thousand. A
batch is checked once instead (``read_checked``): records from a clean batch are encoded without
each being checked again.
"""

from __future__ import annotations

import json
import json.scanner
import re
from typing import Any

from attrs import frozen

from ..errors import may_hold_password
from ..importers.imported import SECRET_FIELDS

# The scanner ``json.loads`` decodes with: the value at an index, and where it ends.
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed types it oddly
_SPACE = re.compile(r"[ \t\n\r]*")
# A secret's name as a key shows as the quoted name in casefolded text, whatever the spacing.
_QUOTED_SECRETS = tuple(f'"{name}"' for name in sorted(SECRET_FIELDS))


@frozen
class SentPage:
    """A decoded page (the JSON object) and the text of each item of its ``value`` (empty: read
    the plain way)."""

    data: dict[str, Any]
    texts: tuple[str, ...] = ()

    def text(self, index: int) -> str | None:
        """The text of item ``index``; None when it was not kept."""
        return self.texts[index] if index < len(self.texts) else None


@frozen
class CheckedAnswer:
    """A decoded JSON object, and whether nothing in it is what the snapshot's scrub changes."""

    data: dict[str, Any]
    clean: bool


def read_checked(body: bytes) -> CheckedAnswer | None:
    """``body`` decoded as ``json.loads`` would, checked once for what the scrub changes (a JSON
    batch holds twenty records: one check of its text, not one of each record's encoding); None
    when it is not a JSON object."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    try:
        return CheckedAnswer(data, is_clean(body.decode("utf-8")))
    except UnicodeDecodeError:
        return CheckedAnswer(data, False)


def read_page(body: bytes) -> SentPage | None:
    """A page (``{"value": [record, ...], ...}``) decoded as ``json.loads`` would, with each
    item's text where those can be kept (the items show nothing to scrub and no line break);
    None when the body is not a UTF-8 JSON object (the caller reads it the plain way, which
    says what is wrong with it)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    try:
        at = _SPACE.match(text).end()  # type: ignore[union-attr]
        if text[at] != "{":
            return None
        page = _page(text, at)
    except (ValueError, IndexError, StopIteration, RecursionError):
        return None
    return page


def is_clean(text: str) -> bool:
    """Whether nothing in the JSON text ``text`` is what the snapshot's scrub changes: no key named
    as a secret, no encrypted OMA value, no string that could hold a recovery password.

    Stricter than ``scrub.clean_as_written`` (which reads compact text only): any spacing is
    allowed, a ``\\u`` escape (which could spell a secret's name) is refused, and a secret's
    name anywhere between quotes, a key or not, is refused."""
    if "\\u" in text or may_hold_password(text):
        return False
    folded = text.casefold()
    if '"isencrypted"' in folded and '"value"' in folded:
        return False
    # Every secret name ends in "key" or "password" (a test holds SECRET_FIELDS to it).
    if 'key"' not in folded and 'password"' not in folded:
        return True
    return not any(name in folded for name in _QUOTED_SECRETS)


def _page(text: str, at: int) -> SentPage | None:
    """The page object at ``at``, member by member; the texts kept are those of the last
    ``value`` (a repeated key's last value wins, as in ``json.loads``). None for trailing text."""
    space = _SPACE.match
    data: dict[str, Any] = {}
    texts: tuple[str, ...] = ()
    at = space(text, at + 1).end()  # type: ignore[union-attr]
    closed = text[at] == "}"
    at += closed
    while not closed:
        if text[at] != '"':
            raise ValueError("expected a member's name")
        key, at = _SCAN(text, at)
        at = space(text, at).end()  # type: ignore[union-attr]
        if text[at] != ":":
            raise ValueError("expected :")
        at = space(text, at + 1).end()  # type: ignore[union-attr]
        if key == "value" and text[at] == "[":
            start = at
            data[key], texts, at = _items(text, at)
            # Only the items are written: the page's own links (with their & and %) are not scanned.
            items = text[start:at]
            texts = texts if "\n" not in items and "\r" not in items and is_clean(items) else ()
        else:
            data[key], at = _SCAN(text, at)
            texts = () if key == "value" else texts
        at = space(text, at).end()  # type: ignore[union-attr]
        closed = text[at] == "}"
        if not closed and text[at] != ",":
            raise ValueError("expected , or }")
        at = space(text, at + 1).end()  # type: ignore[union-attr]
    return None if text[at:].strip() else SentPage(data, texts)


def _items(text: str, at: int) -> tuple[list[Any], tuple[str, ...], int]:
    """The array at ``at``: its items, the text of each, and where it ends."""
    space = _SPACE.match
    items: list[Any] = []
    texts: list[str] = []
    at = space(text, at + 1).end()  # type: ignore[union-attr]
    if text[at] == "]":
        return items, (), at + 1
    while True:
        item, end = _SCAN(text, at)
        items.append(item)
        texts.append(text[at:end])
        at = space(text, end).end()  # type: ignore[union-attr]
        if text[at] == "]":
            return items, tuple(texts), at + 1
        if text[at] != ",":
            raise ValueError("expected , or ]")
        at = space(text, at + 1).end()  # type: ignore[union-attr]
