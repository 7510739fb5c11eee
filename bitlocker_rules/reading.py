"""Input files read safely: a path, or ``-`` for standard input.

Pipes are read once, never seeked; at most ``MAX_INPUT_BYTES`` are read, counted as they
come (``/dev/zero`` ends in a clear error, not in an exhausted memory); UTF-8 (with or without
a byte-order mark) and UTF-16 with a byte-order mark, as PowerShell writes it, are decoded.
JSON is parsed with limits on nesting and on the length of numbers, and a key given twice in
one object is an error: which of the two values was meant cannot be known. JSON inside a larger
input (``loads_json``) and TOML (``parse_toml``) are held to the same limits.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

from .errors import Diagnostic, DuplicateKeyError, InputError, clip, unique_keys
from .source import SourceText, Span

STANDARD_INPUT = "-"
MAX_INPUT_BYTES = 64 * 1024 * 1024
MAX_JSON_DEPTH = 64
_MAX_NUMBER_DIGITS = 4300  # Python's own limit on converting digits to an integer
_JSON_TOKENS = re.compile(r'\\.|["\[\]{}:,]', re.DOTALL)
_LONG_NUMBER = re.compile(rf"\d{{{_MAX_NUMBER_DIGITS + 1},}}")
_TOML_TOKENS = re.compile(r"[#\"'\[\]{}]")


def input_name(path: str | Path) -> str:
    """How diagnostics name an input: its path, or ``<stdin>``."""
    return "<stdin>" if str(path) == STANDARD_INPUT else str(path)


_read_from_standard_input: dict[str, str] = {}  # standard input can be read once: its text, kept


def fleet_format(path: str | Path, head: bytes) -> str:
    """How a fleet file is read: ``csv``, ``jsonl`` or ``array``, by its extension, else by
    ``head``, its first byte that is not white space (a JSON array starts with ``[``). What a
    row's number means follows: a line for ``csv`` and ``jsonl``, an element for ``array``."""
    suffix = Path(str(path)).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    return "array" if head == b"[" else "jsonl"


def read_source(path: str | Path) -> SourceText:
    """The text of an input file (``-``: standard input), decoded, within the size limit."""
    name = input_name(path)
    if str(path) == STANDARD_INPUT:
        # Standard input can be read once: a second reader of ``-`` (a fleet's report naming its
        # inputs, a forked worker loading the policies) gets the text the first one read.
        if name not in _read_from_standard_input:
            _read_from_standard_input[name] = _decoded(_read_bytes(path, name), name)
        return SourceText(_read_from_standard_input[name], name)
    return SourceText(_decoded(_read_bytes(path, name), name), name)


def input_text(name: str) -> str:
    """The text of an input already read, by the name diagnostics give it (a report locating its
    findings reads its inputs again; standard input cannot be read again, so its text is kept)."""
    if name in _read_from_standard_input:
        return _read_from_standard_input[name]
    return read_source(name).text


def read_json(path: str | Path) -> tuple[Any, SourceText]:
    """Parse a JSON input file; errors carry file, line and column; size and depth are limited."""
    source = read_source(path)
    return parse_json(source.text, source.name), source


def _read_bytes(path: str | Path, name: str) -> bytes:
    try:
        if str(path) == STANDARD_INPUT:
            data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as stream:
                data = stream.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError([Diagnostic("I002", f"cannot read the file: {exc.strerror or exc}", file=name)]) from None
    if len(data) > MAX_INPUT_BYTES:
        raise InputError(
            [
                Diagnostic(
                    "I001",
                    f"larger than {MAX_INPUT_BYTES} bytes",
                    file=name,
                    help="split the export, or give the devices as a --fleet, read as a stream",
                )
            ]
        )
    return data


def _decoded(data: bytes, name: str) -> str:
    """UTF-8 (a BOM skipped), or UTF-16 when a BOM says so; anything else is an error saying where."""
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        text = data[: exc.start].decode(encoding, "replace")
        line = text.count("\n") + 1
        column = len(text) - (text.rfind("\n") + 1) + 1
        kind = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise InputError(
            [
                Diagnostic(
                    "I003",
                    f"not {kind} text: byte 0x{data[exc.start]:02x} at line {line}, column {column} cannot be decoded",
                    file=name,
                    help="save the export as UTF-8 (or UTF-16 with a byte-order mark)",
                )
            ]
        ) from None


def parse_json(text: str, name: str = "<input>") -> Any:
    """Parse JSON text with the same errors and limits as ``read_json``."""
    source = SourceText(text, name)
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except json.JSONDecodeError as exc:
        raise _error(source, "I005", f"malformed JSON: {exc.msg}", exc.pos) from None
    except DuplicateKeyError as exc:
        at = _structure(text).duplicate_at
        raise _error(
            source,
            "I007",
            f"the key {clip(json.dumps(exc.key, ensure_ascii=False), 80)} is given twice "
            "in one object: which value is meant cannot be known",
            at,
            help_text="keep one of the two",
        ) from None
    except RecursionError:
        raise _too_deep(source) from None
    except ValueError as exc:  # only a number too long to convert raises a bare ValueError
        found = _LONG_NUMBER.search(text)
        raise _error(
            source,
            "I005",
            f"malformed JSON: a number longer than {_MAX_NUMBER_DIGITS} digits",
            found.start() if found else 0,
        ) from exc
    if too_deep(text, data):
        raise _too_deep(source)
    return data


class JsonLimitError(ValueError):
    """JSON text past a limit every input has: nested deeper than ``MAX_JSON_DEPTH``, or a number
    too long to convert. A ``ValueError``, as malformed JSON's ``JSONDecodeError`` is, so a reader
    that reports one reports both."""


def loads_json(text: str | bytes) -> Any:
    """``json.loads`` within the limits of ``parse_json``, for JSON that is part of a larger input
    (a line of a run or of a snapshot, a setting's ``valueJson``): past a limit it raises
    ``JsonLimitError``, never the ``RecursionError`` the decoder raises a thousand levels down."""
    try:
        data = json.loads(text)
    except RecursionError:
        raise JsonLimitError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # int() refuses numbers over sys.get_int_max_str_digits() digits
        raise JsonLimitError(f"a JSON number longer than {_MAX_NUMBER_DIGITS} digits") from None
    if too_deep(text, data):
        raise JsonLimitError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return data


def parse_toml(text: str) -> dict[str, Any]:
    """``tomllib.loads`` with JSON's nesting limit. Deeper TOML (``tomllib`` recurses for each
    nested array or inline table) and a number too long to convert are a ``TOMLDecodeError``
    saying where, as a syntax error is, not a ``RecursionError`` or a bare ``ValueError``."""
    try:
        data = tomllib.loads(text)
    except RecursionError:
        data = None
    except tomllib.TOMLDecodeError:
        raise
    except ValueError:  # int() refuses numbers over sys.get_int_max_str_digits() digits
        found = _LONG_NUMBER.search(text)
        at = found.start() if found else 0
        raise _toml_error(text, f"a number longer than {_MAX_NUMBER_DIGITS} digits", at) from None
    if data is None or json_depth(data) > MAX_JSON_DEPTH:
        raise _toml_error(text, f"nested deeper than {MAX_JSON_DEPTH} levels", _toml_deep_at(text))
    return data


def _toml_error(text: str, message: str, offset: int) -> tomllib.TOMLDecodeError:
    """A TOML error at ``offset``, its place written as ``tomllib`` writes its own."""
    line, column = SourceText(text).position(offset)
    return tomllib.TOMLDecodeError(f"{message} (at line {line}, column {column})")


def _toml_deep_at(text: str) -> int:
    """Where TOML's arrays and inline tables first nest past the limit, counted outside strings
    and comments; the start when nesting comes from dotted keys instead. Only run to locate an
    error already found; linear, as ``_structure`` is for JSON."""
    depth = 0
    found = _TOML_TOKENS.search(text)
    while found is not None:
        at, char = found.start(), found.group()
        after = at + 1
        if char == "#":
            after = text.find("\n", at)
            if after < 0:
                break
        elif char in "\"'":
            quote = char * 3 if text.startswith(char * 3, at) else char
            after = _string_end(text, at + len(quote), quote)
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return at
        else:
            depth -= 1
        found = _TOML_TOKENS.search(text, after)
    return 0


def _string_end(text: str, at: int, quote: str) -> int:
    """Where the TOML string whose text starts at ``at`` ends (after its closing ``quote``): a
    basic string's quote after an odd run of backslashes is escaped, a literal string has no escapes."""
    while (found := text.find(quote, at)) >= 0:
        run = found
        while quote[0] == '"' and run > at and text[run - 1] == "\\":
            run -= 1
        if (found - run) % 2 == 0:
            return found + len(quote)
        at = found + 1
    return len(text)


def _error(source: SourceText, code: str, message: str, offset: int | None, help_text: str | None = None) -> InputError:
    if offset is None:
        return InputError([Diagnostic(code, message, file=source.name, help=help_text)])
    offset = min(offset, max(len(source.text) - 1, 0))
    return InputError([Diagnostic(code, message, source=source, span=Span(offset, offset + 1), help=help_text)])


def _too_deep(source: SourceText) -> InputError:
    return _error(source, "I004", f"JSON nested deeper than {MAX_JSON_DEPTH} levels", _structure(source.text).deep_at)


def too_deep(text: str | bytes, data: Any) -> bool:
    """Whether ``data``, decoded from ``text``, nests deeper than ``MAX_JSON_DEPTH``.

    Every array and object opens with a bracket, so the text's brackets bound how many
    containers there are (brackets inside strings only raise the bound). Text with no more than
    the limit is shallow enough without a walk: a count in C. Otherwise the walk goes level by
    level and stops once the containers not yet visited could no longer make a chain past the
    limit: a row of many records stops at the records, not after visiting every value in them.
    """
    budget = text.count(b"{") + text.count(b"[") if isinstance(text, bytes) else text.count("{") + text.count("[")
    if budget <= MAX_JSON_DEPTH:
        return False
    depth, level = 0, [data] if isinstance(data, dict | list) else []
    while level and depth <= MAX_JSON_DEPTH:
        depth += 1
        budget -= len(level)
        if depth + budget <= MAX_JSON_DEPTH:  # even all the rest nested in one chain would fit
            return False
        level = _next_level(level)
    return depth > MAX_JSON_DEPTH


def json_depth(data: Any) -> int:
    """How deeply ``data`` nests arrays and objects (level by level: no recursion to exhaust;
    stops counting past ``MAX_JSON_DEPTH``, which is already too deep)."""
    depth, level = 0, [data] if isinstance(data, dict | list) else []
    while level and depth <= MAX_JSON_DEPTH:
        depth += 1
        level = _next_level(level)
    return depth


def _next_level(level: list[Any]) -> list[Any]:
    """The arrays and objects directly inside those of ``level``."""
    return [
        item
        for value in level
        for item in (value.values() if isinstance(value, dict) else value)
        if isinstance(item, dict | list)
    ]


class _Structure:
    """One pass over JSON text, in linear time: where the nesting first goes past the limit and
    where an object first repeats a key. Only run to locate an error already found."""

    def __init__(self) -> None:
        self.deep_at: int | None = None
        self.duplicate_at: int | None = None


def _structure(text: str) -> _Structure:
    found, depth = _Structure(), 0
    keys: list[set[str] | None] = []  # per open bracket: an object's keys so far (None for an array)
    string_start: int | None = None
    last_string: tuple[int, int] | None = None
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if string_start is not None:  # inside a string only its closing quote matters (escapes are skipped whole)
            if token == '"':
                last_string, string_start = (string_start, match.end()), None
            continue
        if token == '"':
            string_start = match.start()
        elif token in "[{":
            depth += 1
            keys.append(set() if token == "{" else None)
            if depth > MAX_JSON_DEPTH and found.deep_at is None:
                found.deep_at = match.start()
        elif token in "]}":
            depth -= 1
            if keys:
                keys.pop()
        elif token == ":" and last_string and keys and keys[-1] is not None and found.duplicate_at is None:
            key = _decoded_key(text[last_string[0] : last_string[1]])
            if key in keys[-1]:
                found.duplicate_at = last_string[0]
            keys[-1].add(key)
    return found


def _decoded_key(token: str) -> str:
    """A key as JSON means it (``"\\u0061"`` is ``"a"``); as written when it does not decode."""
    try:
        return json.loads(token)
    except ValueError:
        return token
