"""JSON paths: parsed into segments, written back, and located in a JSON text.

A path is a tuple of segments (a member name or an array index) below the root ``$``. It is
written as reports show it (``$.settings.tpm_startup_pin``, ``$.omaSettings[4].value``,
``$["@odata.type"]``) by ``json_path_text``, defined with the places in ``source`` (a
diagnostic writes its ``InputPlace``, and ``errors`` cannot import this module), and read back
by ``parse_json_path``. ``locate_json_path`` finds the line and column of the value at a path
in a file's JSON text with a small tokenizer (not ``json.loads``, which forgets where things
are), so a finding can point at the line of the setting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .source import JsonPath, Location, Segment, SourceText, Span, json_path_text

__all__ = [
    "JsonPath",
    "Segment",
    "json_path_text",
    "locate_json_offsets",
    "locate_json_path",
    "parse_json_path",
    "path_segments",
]


def parse_json_path(path: str, start: int = 0) -> tuple[tuple[Segment, ...], int]:
    """The segments of a JSONPath at ``path[start:]`` and the offset just after it.

    Accepts ``$``, ``.name``, ``[3]``, ``["name"]`` (a JSON string, escapes allowed) and
    ``['name']``; stops at the first character that cannot continue the path (a space
    before a note such as ``<data id=...>``). Raises ValueError when there is no path.
    """
    if path[start : start + 1] != "$":
        raise ValueError(f"a JSON path starts with $: {path[start:]!r}")
    i, segments = start + 1, list[Segment]()
    while i < len(path):
        ch = path[i]
        if ch == ".":
            j = i + 1
            while j < len(path) and path[j] not in ".[ \t;":
                j += 1
            if j == i + 1:
                raise ValueError(f"empty name in JSON path at offset {i}")
            segments.append(path[i + 1 : j])
            i = j
        elif ch == "[":
            j = i + 1
            if path[j : j + 1] in ('"', "'"):
                name, j = _string(path, j)
                segments.append(name)
            else:
                k = j
                while k < len(path) and path[k].isdigit():
                    k += 1
                if k == j:
                    raise ValueError(f"expected an index or a quoted name in JSON path at offset {j}")
                segments.append(int(path[j:k]))
                j = k
            if path[j : j + 1] != "]":
                raise ValueError(f"expected ] in JSON path at offset {j}")
            i = j + 1
        else:
            break
    return tuple(segments), i


def path_segments(text: str) -> JsonPath | None:
    """The segments of ``text`` when the whole of it is a JSON path, else None."""
    try:
        segments, end = parse_json_path(text)
    except ValueError:
        return None
    return segments if end == len(text) else None


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_WHITESPACE = " \t\n\r\ufeff"
_LITERAL_END = ",]}:" + _WHITESPACE
_DECODER = json.JSONDecoder(strict=False)  # control characters in strings skipped, as the tokenizer does
_SCAN_STRING = json.decoder.scanstring  # type: ignore[attr-defined]  # CPython has it; typeshed leaves it out


def _string(text: str, i: int) -> tuple[str, int]:
    """Decode the quoted string starting at ``text[i]``; return it and the offset after it."""
    quote_char, out, i = text[i], list[str](), i + 1
    while i < len(text):
        ch = text[i]
        if ch == quote_char:
            return "".join(out), i + 1
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        escape = text[i + 1 : i + 2]
        if escape == "u":
            code = int(text[i + 2 : i + 6], 16) if len(text[i + 2 : i + 6]) == 4 else -1
            if code < 0:
                raise ValueError(f"bad \\u escape at offset {i}")
            i += 6
            if 0xD800 <= code < 0xDC00 and text[i : i + 2] == "\\u":  # a surrogate pair
                low = int(text[i + 2 : i + 6], 16)
                if 0xDC00 <= low < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
            out.append(chr(code))
        elif escape in _ESCAPES:
            out.append(_ESCAPES[escape])
            i += 2
        else:
            raise ValueError(f"bad escape at offset {i}")
    raise ValueError("unterminated string")


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _WHITESPACE:
        i += 1
    return i


def _skip_value(text: str, i: int) -> int:
    """The offset just after the JSON value starting at ``text[i]`` (no recursion)."""
    if i >= len(text):
        raise ValueError("expected a value, found the end of the text")
    ch = text[i]
    if ch in '"[{':
        try:  # a valid string, array or object ends where json's C scanner says (50x the loop below)
            return _DECODER.raw_decode(text, i)[1]
        except (ValueError, RecursionError):
            pass  # not strict JSON, or nested too deep for it: the tokenizer below, as before
    if ch == '"':
        return _string(text, i)[1]
    if ch not in "[{":
        j = i
        while j < len(text) and text[j] not in _LITERAL_END:
            j += 1
        if j == i:
            raise ValueError(f"expected a value at offset {i}")
        return j
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch == '"':
            i = _string(text, i)[1]
            continue
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unterminated array or object")


def _key(text: str, i: int) -> tuple[str, int]:
    """The member name quoted at ``text[i]`` and the offset after it (json's C scanner for valid JSON)."""
    try:
        return _SCAN_STRING(text, i + 1, False)
    except ValueError:
        return _string(text, i)


def _member(text: str, i: int, name: str) -> tuple[int, int] | None:
    """In the object at ``text[i]``, the offsets of the key and of the value of ``name``.

    Like a JSON parser, the last of duplicate keys wins.
    """
    found = None
    i = _skip_ws(text, i + 1)
    if text[i : i + 1] == "}":
        return None
    while i < len(text):
        if text[i] != '"':
            raise ValueError(f"expected a key at offset {i}")
        key, after = _key(text, i)
        colon = _skip_ws(text, after)
        if text[colon : colon + 1] != ":":
            raise ValueError(f"expected : at offset {colon}")
        value = _skip_ws(text, colon + 1)
        if key == name:
            found = (i, value)
        i = _skip_ws(text, _skip_value(text, value))
        if text[i : i + 1] == ",":
            i = _skip_ws(text, i + 1)
        elif text[i : i + 1] == "}":
            return found
        else:
            raise ValueError(f"expected , or }} at offset {i}")
    raise ValueError("unterminated object")


def _element(text: str, i: int, index: int) -> int | None:
    """In the array at ``text[i]``, the offset of element ``index``."""
    i = _skip_ws(text, i + 1)
    if text[i : i + 1] == "]":
        return None
    for n in range(index + 1):
        if n == index:
            return i
        i = _skip_ws(text, _skip_value(text, i))
        if text[i : i + 1] == ",":
            i = _skip_ws(text, i + 1)
        else:
            return None
    return None


def locate_json_offsets(text: str, segments: Sequence[Segment]) -> tuple[int, int, int]:
    """Offsets (start, end, depth) of the deepest value on ``segments`` that exists.

    ``start`` is the member's key for an object member (so the region starts on the line
    that names the property), the value itself for an array element or the root; ``end`` is
    just after the value; ``depth`` is how many segments were resolved (all of them when
    the path exists). Raises ValueError for text that is not JSON on the way.
    """
    value = _skip_ws(text, 0)
    start, depth = value, 0
    for segment in segments:
        ch = text[value : value + 1]
        if ch == "{" and isinstance(segment, str):
            found = _member(text, value, segment)
            if found is None:
                break
            start, value = found
        elif ch == "[" and isinstance(segment, int):
            element = _element(text, value, segment)
            if element is None:
                break
            start = value = element
        else:
            break
        depth += 1
    return start, _skip_value(text, value), depth


def locate_json_path(text: str, path: str | Sequence[Segment], file: str = "") -> Location | None:
    """Where the value at a JSONPath is in JSON ``text`` (read from ``file``), or None if it is not there."""
    segments = parse_json_path(path)[0] if isinstance(path, str) else tuple(path)
    try:
        start, end, depth = locate_json_offsets(text, segments)
    except ValueError:
        return None
    if depth < len(segments):
        return None
    return SourceText(text, file).location(Span(start, end))
