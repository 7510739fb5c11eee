"""Raw input values to the typed values the evaluators compare, for one fact's type.

``parse_typed`` is the definition (every error says what was expected); ``value_converter``
builds, once per fact, a function with fast paths for common well-formed inputs that gives
the same value or the same error; ``is_typed`` says whether a value is already typed.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import suggest
from ..versions import WindowsVersion, other_digits, parse_windows_version
from .declarations import EnumType, FactType


def parse_typed(ftype: FactType, raw: Any, releases: Mapping[str, WindowsVersion]) -> Any:
    """Convert ``raw`` to a value of ``ftype``; raise ValueError naming what was expected."""
    kind = ftype.kind
    if kind == "bool":
        return _parse_bool(raw)
    if kind == "integer":
        return _parse_integer(raw)
    if kind == "decimal":
        return _parse_decimal(raw)
    if kind == "string":
        if not isinstance(raw, str):
            raise ValueError("a string")
        return raw
    if kind == "version":
        return parse_windows_version(raw, releases)
    if kind == "enum":
        return _parse_member(ftype.enum, raw)
    return _parse_collection(ftype, raw, releases)


def is_typed(ftype: FactType, value: Any) -> bool:
    """Whether ``value`` is already a value of ``ftype`` as ``parse_typed`` gives it (an int
    counts as a decimal; a collection is a tuple of record mappings)."""
    kind = ftype.kind
    if kind == "bool":
        return type(value) is bool
    if kind in ("integer", "decimal"):
        numeric = int if kind == "integer" else (int, float)
        return isinstance(value, numeric) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "version":
        return isinstance(value, WindowsVersion)
    if kind == "enum":
        return isinstance(value, str) and ftype.enum is not None and ftype.enum.member(value) is not None
    return isinstance(value, tuple) and all(
        isinstance(item, Mapping) and all(_typed_field(ftype, key, field_value) for key, field_value in item.items())
        for item in value
    )


def _typed_field(ftype: FactType, key: Any, value: Any) -> bool:
    spec = ftype.field(key)
    return spec is not None and (value is None or is_typed(spec.type, value))


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("true or false")


# Numbers in text are written as Windows, Graph and JSON write them: ASCII digits only, no
# digit-group underscores, so "٣٥٠" or "1_000" is an error rather than a silent conversion.
_INTEGER_TEXT = re.compile(r"\s*-?[0-9]{1,4000}\s*", re.ASCII)  # Python reads up to 4300 digits
_DECIMAL_TEXT = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*", re.ASCII)


def _parse_integer(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, str) and _INTEGER_TEXT.fullmatch(raw):
        return int(raw)
    raise ValueError("an integer" + other_digits(raw))


def _parse_decimal(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Real, str)):
        raise ValueError("a number such as 2.0")
    if isinstance(raw, str) and not _DECIMAL_TEXT.fullmatch(raw):
        raise ValueError("a number such as 2.0" + other_digits(raw))
    try:
        value = float(raw)
    except OverflowError:  # an int too large for a float
        raise ValueError("a number such as 2.0") from None
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return value


def _parse_member(enum: EnumType | None, raw: Any) -> str:
    assert enum is not None
    if isinstance(raw, str):
        if enum.member(raw):
            return raw
        folded = {m.name.lower(): m.name for m in enum.members}
        if raw.lower() in folded:
            return folded[raw.lower()]
    hint = suggest(str(raw), enum.member_names) if isinstance(raw, str) else None
    expected = f"one of {', '.join(enum.member_names)} (enum {enum.name})"
    raise ValueError(expected + (f"; {hint}" if hint else ""))


def _parse_collection(
    ftype: FactType, raw: Any, releases: Mapping[str, WindowsVersion]
) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(raw, list):
        raise ValueError("a list of records")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"a list of records (item {index} is not an object)")
        record = {}
        for key, value in item.items():
            spec = ftype.field(key)
            if spec is None:
                hint = suggest(str(key), [f.name for f in ftype.fields])
                raise ValueError(f"item {index}: no field `{key}`" + (f"; {hint}" if hint else ""))
            if value is not None:
                try:
                    record[key] = parse_typed(spec.type, value, releases)
                except ValueError as exc:
                    raise ValueError(f"item {index}, field `{key}`: {exc}") from None
        items.append(MappingProxyType(record))
    return tuple(items)


# ---------------------------------------------------------------------------
# Converters built once per fact, for inputs typed by the thousand (fleets).

Converter = Callable[[Any], Any]


def value_converter(ftype: FactType, releases: Mapping[str, WindowsVersion]) -> Converter:
    """``parse_typed(ftype, ·, releases)`` as one function, built once.

    Common well-formed inputs take a type check or a dict lookup; everything else, every error
    included, goes through ``parse_typed`` itself, so the two always give the same value or
    the same ValueError.
    """

    def parsed(raw: Any) -> Any:
        return parse_typed(ftype, raw, releases)

    kind = ftype.kind
    if kind == "collection":
        return _collection_converter(ftype, parsed, releases)
    slow = _remembered(parsed)
    if kind == "version":
        return slow  # a fleet repeats a few hundred versions
    if kind == "enum":
        return _enum_converter(ftype.enum, slow)
    exact = kept_type(ftype)
    if exact is not None:
        return lambda raw: raw if type(raw) is exact else slow(raw)
    return lambda raw: raw if type(raw) is float and math.isfinite(raw) else slow(raw)


def kept_type(ftype: FactType) -> type | None:
    """The one type whose raw values of ``ftype`` are already typed, every one of them (a bool
    for a bool fact, an int for an integer, a str for a string), or None: callers that type
    values by the thousand keep such a value without a call."""
    return _KEPT_TYPES.get(ftype.kind)


_KEPT_TYPES: dict[str, type] = {"bool": bool, "integer": int, "string": str}


def _remembered(parsed: Converter) -> Converter:
    """``parsed``, remembering what it gives for raw text and integers: a fleet spells a scalar
    fact a few ways ("true", "350", "2.0", "azureadjoined"), each parsed once. An error is
    raised again each time, never remembered."""
    known: dict[Any, Any] = {}  # str and int keys only: 1 and True (or 1.0) must not meet

    def convert(raw: Any) -> Any:
        if type(raw) is not str and type(raw) is not int:
            return parsed(raw)
        found = known.get(raw, _UNSEEN)
        if found is _UNSEEN:
            found = parsed(raw)
            if len(known) < _KNOWN_VALUES:
                known[raw] = found
        return found

    return convert


_UNSEEN = object()
_KNOWN_VALUES = 4096  # distinct raw values remembered per fact: a fleet's spellings of one fact are few


def _enum_converter(enum: EnumType | None, slow: Converter) -> Converter:
    assert enum is not None
    names = frozenset(enum.member_names)
    folded = {m.lower(): m for m in enum.member_names}  # the last wins, as in _parse_member

    def convert(raw: Any) -> Any:
        if type(raw) is str:
            if raw in names:
                return raw
            found = folded.get(raw.lower())
            if found is not None:
                return found
        return slow(raw)

    return convert


def _collection_converter(ftype: FactType, slow: Converter, releases: Mapping[str, WindowsVersion]) -> Converter:
    fields = {f.name: value_converter(f.type, releases) for f in reversed(ftype.fields)}
    # Per field, the type of the raw values kept as they are and, for an enum, its members'
    # names (None: any value of the type): an item holding only such values is its own record.
    kept: dict[str, tuple[type, frozenset[str] | None]] = {}
    for f in ftype.fields:
        exact = kept_type(f.type)
        if exact is not None:
            kept[f.name] = (exact, None)
        elif f.type.kind == "enum" and f.type.enum is not None:
            kept[f.name] = (str, frozenset(f.type.enum.member_names))

    def record(item: Any) -> Mapping[str, Any]:
        if type(item) is not dict:
            raise TypeError("not an object")
        for key, value in item.items():
            spec = kept.get(key)
            if spec is None or type(value) is not spec[0] or (spec[1] is not None and value not in spec[1]):
                return converted(item)
        # Every value is typed already (no null to drop): the decoded item, read-only, is the record.
        # The row it came from is read and never changed (fleets, importers).
        return MappingProxyType(item)

    def converted(item: dict[str, Any]) -> Mapping[str, Any]:
        typed = {}
        for key, value in item.items():
            convert = fields[key]  # an unknown field is an error even when its value is null
            if value is not None:
                typed[key] = convert(value)
        return MappingProxyType(typed)

    def convert(raw: Any) -> Any:
        if type(raw) is list:
            try:
                return tuple([record(item) for item in raw])
            except (KeyError, TypeError, ValueError):
                pass  # parse_typed says what is wrong, in its words
        return slow(raw)

    return convert
