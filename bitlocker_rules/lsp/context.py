"""What the text around the cursor is in the middle of: the word under it, a dotted name being
typed, a comparison whose right side is being typed, the quantifier variables in scope.

These read the text near the cursor, not the whole file, because completion runs on text that
does not parse yet (``device.`` alone is a syntax error); what the words mean is looked up in
the vocabulary by the callers.
"""

from __future__ import annotations

import re

from attrs import frozen

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = rf"{_NAME}(?:\.{_NAME})*"
_WORD_CHAR = re.compile(r"[A-Za-z0-9_.\-]")
# The last dotted name, a dot and the part of the next segment typed so far.
_AFTER_DOT = re.compile(rf"(?<![\w.])({_DOTTED})\.({_NAME})?$")
# A comparison or a set whose next operand is being typed.
_COMPARED = re.compile(rf"(?<![\w.])({_DOTTED})\s*(?:==|!=|<=|>=|<|>)\s*({_NAME})?$")
_IN_SET = re.compile(rf"(?<![\w.])({_DOTTED})\s+(?:not\s+)?in\s*\{{[^{{}}]*?({_NAME})?$")
# A clause whose value is a list of names: `severity error`, `sources S5, F4`, `scenario x, y`.
_CLAUSE = re.compile(r"(?<![\w.])(severity|sources|related|scenario)\s+(?:[\w\-]+\s*,\s*)*([\w\-]*)$")
# Where a quantifier binds a variable to a collection: `any v in device.volumes:`, `count(v in …:`.
_BINDER = re.compile(rf"\b(?:(?:any|all)\s+|count\s*\(\s*)({_NAME})\s+in\s+({_DOTTED})\s*:")
# A line that starts a new item: no binding before it is in scope after it.
_ITEM_START = re.compile(r"^\s*(?:rule|note|define|ruleset)\b", re.MULTILINE)


@frozen
class Word:
    """The run of name, id or version characters under the cursor (``device.os_version``, ``SE-05``)."""

    text: str
    start: int
    end: int


@frozen
class Typing:
    """A name being completed: what comes before it (a dotted name, or the compared operand)
    and the part typed so far."""

    before: str
    typed: str


def code_only(line: str) -> str:
    """A line with what is not code blanked: the inside of each quoted text (quotes kept, so
    columns stay) and the comment, which is cut off. Quoted texts never span lines."""
    out, quoted, escaped = [], False, False
    for ch in line:
        if ch == "#" and not quoted:
            break
        if quoted and not escaped and ch == "\\":
            escaped = True
            out.append(" ")
            continue
        if ch == '"' and not escaped:
            quoted = not quoted
            out.append(ch)
        else:
            out.append(" " if quoted else ch)
        escaped = False
    return "".join(out)


def word_at(text: str, offset: int) -> Word | None:
    """The word of code the cursor is in or just after; None between words, in a text or a comment."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    line = code_only(text[line_start : len(text) if line_end < 0 else line_end])
    text = text[:line_start] + line + " " * (len(text) - line_start - len(line))
    start = offset
    while start > 0 and _WORD_CHAR.match(text[start - 1]):
        start -= 1
    end = offset
    while end < len(text) and _WORD_CHAR.match(text[end]):
        end += 1
    word = text[start:end].strip(".-")
    if not word:
        return None
    start += len(text[start:end]) - len(text[start:end].lstrip(".-"))
    return Word(word, start, start + len(word))


def _line_before(text: str, offset: int) -> str:
    """The code from the start of the cursor's line to the cursor (texts blanked); "" in a comment."""
    line = text[text.rfind("\n", 0, offset) + 1 : offset]
    code = code_only(line)
    return code if len(code) == len(line) else ""


def after_dot(text: str, offset: int) -> Typing | None:
    """``device.os_`` → before ``device``, typed ``os_``; None when the cursor is not after a dot."""
    found = _AFTER_DOT.search(_line_before(text, offset))
    if found is None:
        return None
    return Typing(found.group(1), found.group(2) or "")


def compared(text: str, offset: int) -> Typing | None:
    """``device.firmware_mode == UE`` or ``… in {AzureADJoined, Hy`` → before is the compared name."""
    line = _line_before(text, offset)
    found = _COMPARED.search(line) or _IN_SET.search(line)
    if found is None:
        return None
    return Typing(found.group(1), found.group(2) or "")


def clause_value(text: str, offset: int) -> Typing | None:
    """``sources S5, F`` → before is the clause's keyword, typed ``F``; None outside such a clause."""
    found = _CLAUSE.search(_line_before(text, offset))
    return Typing(found.group(1), found.group(2)) if found is not None else None


def bindings(text: str, offset: int) -> dict[str, str]:
    """The quantifier variables bound before the cursor in its item: variable → collection name."""
    starts = [m.start() for m in _ITEM_START.finditer(text, 0, offset)]
    item = text[starts[-1] if starts else 0 : offset]
    return {m.group(1): m.group(2) for m in _BINDER.finditer(item)}
