"""Diagnostic records and the exception family that carries them."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from typing import Any

from attrs import frozen

from .source import SourceText, Span


@frozen
class Diagnostic:
    """One finding about an input: a code, a message, where it is, and help.

    ``source`` and ``span`` locate rule text; ``path`` locates a field in JSON input
    (a JSONPath such as ``$.bitLockerSystemDrivePolicy.encryptionMethod``).
    """

    code: str
    message: str
    severity: str = "error"
    source: SourceText | None = None
    span: Span | None = None
    path: str | None = None
    help: str | None = None
    file: str | None = None

    @property
    def location(self) -> str:
        """``file:line:column`` (or ``file``, or ``file: $.path``) for this diagnostic."""
        name = self.source.name if self.source is not None else self.file
        if self.source is None or self.span is None:
            parts = [p for p in (name, self.path) if p]
            return ": ".join(parts) or "<input>"
        line, column = self.source.position(self.span.start)
        return f"{self.source.name}:{line}:{column}"

    def render(self) -> str:
        """The diagnostic as a user reads it: location, message, caret snippet, help."""
        lines = [f"{self.location}: {self.severity}[{self.code}]: {self.message}"]
        if self.source is not None and self.span is not None:
            lines.append(self.source.snippet(self.span))
        if self.help:
            lines.append(f"  help: {self.help}")
        return redact("\n".join(lines))


class BitLockerRulesError(Exception):
    """Base of every error this library raises on purpose; carries diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        """All diagnostics, rendered, one block each."""
        return "\n\n".join(d.render() for d in self.diagnostics)


class RulesError(BitLockerRulesError):
    """Rule text that does not parse or does not check against the vocabulary."""


class InputError(BitLockerRulesError):
    """Policy, device or fleet input that cannot be read as facts."""


class VocabularyError(BitLockerRulesError):
    """A vocabulary file that is not well formed."""


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint: the closest choice to ``word``, if any is close."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in choices}
        match = lowered.get(word.lower())
        return f"did you mean `{match}`?" if match else None
    return f"did you mean `{matches[0]}`?"


# A BitLocker recovery password: eight groups of six digits (the separator may vary).
_RECOVERY_PASSWORD = re.compile(r"(?<!\d)\d{6}(?:[- ]?\d{6}){7}(?!\d)")
SECRET_MASK = "******-******-******-******-******-******-******-******"


def _digit_folding() -> bytes:
    table = bytearray(range(256))
    for byte in b"0123456789":
        table[byte] = ord("0")
    table[ord(" ")] = ord("-")
    for byte in range(0x80, 0x100):  # any byte of a non-ASCII character: \d also matches other scripts' digits
        table[byte] = ord("0")
    return bytes(table)


_DIGIT_FOLDING = _digit_folding()


def redact(text: str) -> str:
    """Mask every recovery password in ``text``; every renderer passes output through this."""
    if not _may_hold_password(text):
        return text
    return _RECOVERY_PASSWORD.sub(SECRET_MASK, text)


def _may_hold_password(text: str) -> bool:
    """False only when ``text`` has no two adjacent six-digit groups, which every password has.

    Scanning with the full pattern costs ~20 ns a character; this check, ~1 ns. Digits fold
    to ``0`` and spaces to ``-`` as bytes; every byte of a non-ASCII character also folds to
    ``0``, so other scripts' digits can never slip past (such text merely takes the full scan).
    """
    folded = text.encode("utf-8", "surrogatepass").translate(_DIGIT_FOLDING)
    return b"000000-000000" in folded or b"000000000000" in folded


# Characters that would drive a terminal (C0 and C1 controls, DEL) or reorder text on screen
# (bidirectional overrides), except the newline and tab that the output's own layout uses.
_SGR = re.compile("\x1b\\[[0-9;]*m")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def escape_controls(text: str, *, keep_colour: bool = False) -> str:
    r"""``text`` with every control character shown as an escape (ESC as ``\u001b``), so text read
    from an input can never clear a screen, retitle a terminal or hide itself in a report.

    The escape is JSON's, so a JSON document stays valid (and means the same) once escaped.
    ``keep_colour`` keeps SGR colour codes (``ESC [ … m``): a renderer's own, added after it
    escaped its inputs' text.
    """
    if text.isprintable():
        return text
    if not keep_colour:
        return _CONTROLS.sub(_escaped, text)
    pieces, codes = _SGR.split(text), _SGR.findall(text)
    return "".join(_CONTROLS.sub(_escaped, piece) + code for piece, code in zip(pieces, [*codes, ""]))


def _escaped(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def clip(text: str, limit: int = 200) -> str:
    """``text`` shortened to about ``limit`` characters for a message, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


class DuplicateKeyError(ValueError):
    """A JSON object that gives one key twice, refused by ``unique_keys``."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"the key {escape_controls(clip(json.dumps(key, ensure_ascii=False), 80))} "
                         "is given twice in one object")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object from its pairs, refusing a key given twice (``DuplicateKeyError``): plain
    ``json.loads`` keeps the last value and drops the others without a word. Use it as
    ``json.loads(text, object_pairs_hook=unique_keys)``."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKeyError(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return obj
