"""Diagnostic records and the exception family that carries them."""

from __future__ import annotations

import bisect
import difflib
import functools
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from attrs import frozen

from .source import InputPlace, JsonPath, Location, SourceText, Span


@frozen(init=False)
class Diagnostic:
    """One finding about an input: a code, a message, where it is, and help.

    ``source`` and ``span`` locate rule text (``place`` is that ``Location``); ``input_place``
    locates anything else: an input file and, in it, a JSON path as segments (or, in another
    kind of input, where in words). It is made from ``file`` and ``path`` when those are given
    instead, and they read back from it (``path`` as text: ``$.bitLockerSystemDrivePolicy.x``).
    """

    code: str
    message: str
    severity: str = "error"
    source: SourceText | None = None
    span: Span | None = None
    input_place: InputPlace | None = None
    help: str | None = None

    def __init__(
        self,
        code: str,
        message: str,
        severity: str = "error",
        source: SourceText | None = None,
        span: Span | None = None,
        input_place: InputPlace | None = None,
        help: str | None = None,
        *,
        path: JsonPath | str | None = None,
        file: str | None = None,
    ) -> None:
        if input_place is None and (path is not None or file is not None):
            input_place = InputPlace(file, path)
        self.__attrs_init__(code, message, severity, source, span, input_place, help)

    @property
    def path(self) -> str | None:
        """Where in the input file, as text (``$.a.b[0]``); None for rule text or a whole file."""
        return self.input_place.path_text() if self.input_place is not None else None

    @property
    def file(self) -> str | None:
        """The input file the diagnostic is about (None for rule text, which ``source`` names)."""
        return self.input_place.file if self.input_place is not None else None

    @property
    def place(self) -> Location | None:
        """Where in rule text, as a record; None for input (``input_place`` says where)."""
        if self.source is None or self.span is None:
            return None
        return self.source.location(self.span)

    @property
    def location(self) -> str:
        """``file:line:column`` (or ``file``, or ``file: $.path``) for this diagnostic."""
        place = self.place
        if place is None:
            parts = [p for p in (self.source.name if self.source is not None else self.file, self.path) if p]
            return ": ".join(parts) or "<input>"
        return str(place)

    def render(self) -> str:
        """The diagnostic as a user reads it: location, message, caret snippet, help."""
        lines = [f"{self.location}: {self.severity}[{self.code}]: {self.message}"]
        if self.source is not None and self.span is not None:
            lines.append(_masked_near(self.source, self.span.start).snippet(self.span))
        if self.help:
            lines.append(f"  help: {self.help}")
        return redact("\n".join(lines))


def _masked_near(source: SourceText, offset: int) -> SourceText:
    """``source`` with every recovery password near ``offset`` (as far as a snippet shows, and
    as far again for context) turned into as many ``*``: the snippet may cut a long line to a
    window, and masked first, the cut can leave no part of one; columns and carets stay."""
    start, end = max(0, offset - _SNIPPET_REACH), offset + _SNIPPET_REACH
    near = source.text[start:end]
    masked = _masked_in_place(near)
    return source if masked == near else SourceText(source.text[:start] + masked + source.text[end:], source.name)


class BitLockerRulesError(Exception):
    """Base of every error this library raises on purpose; carries diagnostics."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(self.render())

    def render(self) -> str:
        """All diagnostics, rendered, one block each."""
        return "\n\n".join(d.render() for d in self.diagnostics)

    def __reduce__(self) -> tuple[Callable[..., BitLockerRulesError], tuple[Any, ...]]:
        # Worker processes send errors back pickled. Exception's own reduction calls the class
        # with ``args`` (the rendered text), which no __init__ here takes; a subclass's own
        # __init__ (``Undecided(limit, doing)``) takes other arguments again. So the copy is
        # made without calling __init__: the same class, message and attributes (diagnostics
        # included), whatever its constructor.
        return _restored, (type(self), self.args, self.__dict__)


def _restored(cls: type[BitLockerRulesError], args: tuple[Any, ...], state: dict[str, Any]) -> BitLockerRulesError:
    """An error of class ``cls`` rebuilt from its pickled message and attributes."""
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class RulesError(BitLockerRulesError):
    """Rule text that does not parse or does not check against the vocabulary."""


class InputError(BitLockerRulesError):
    """Policy, device or fleet input that cannot be read as facts."""


MAX_LISTED_PROBLEMS = 100  # problems of one input listed whole; past them, I010 says how many more
UNLISTED_PROBLEMS = "I010"


class ProblemList:
    """The problems found in one input: the first ``MAX_LISTED_PROBLEMS`` kept, the others only
    counted, and not made (a "did you mean" search per unknown name). A device file of 400,000
    unreadable items, or a row of 50,000 unknown fact names, took half a minute to report in full.
    """

    def __init__(self) -> None:
        self.listed: list[Diagnostic] = []
        self.unlisted = 0
        self.stopped = False  # the reader stopped at the limit: the rest of the input was not read

    def __bool__(self) -> bool:
        return bool(self.listed)

    def __len__(self) -> int:
        """How many problems were found, listed or only counted."""
        return len(self.listed) + self.unlisted

    @property
    def full(self) -> bool:
        """Whether the limit is reached: another problem would only be counted."""
        return len(self.listed) >= MAX_LISTED_PROBLEMS

    def counted(self) -> bool:
        """Once the limit is reached, count one more problem unlisted and say so (True): the
        caller then makes no diagnostic (what it would cost is saved). False while there is room."""
        if self.full:
            self.unlisted += 1
            return True
        return False

    def append(self, diagnostic: Diagnostic) -> None:
        """Keep ``diagnostic``, or count it once the limit is reached."""
        if self.full:
            self.unlisted += 1
        else:
            self.listed.append(diagnostic)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Keep these (as far as the limit), count the rest."""
        for diagnostic in diagnostics:
            self.append(diagnostic)

    def error(self) -> InputError:
        """The problems as one InputError; the last diagnostic (I010) counts those not listed."""
        if not self.unlisted and not self.stopped:
            return InputError(self.listed)
        if self.stopped:
            total, listed = len(self.listed) + self.unlisted, len(self.listed)
            said = f"reading stopped after {total} problems, the first {listed} listed: the rest was not checked"
        else:
            said = f"{self.unlisted} more problems in this input are not listed (the first {len(self.listed)} are)"
        return InputError([*self.listed, Diagnostic(UNLISTED_PROBLEMS, said, file=self.listed[0].file)])


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


# ---------------------------------------------------------------------------------------------
# Recovery passwords
#
# The character classes are written out (computing them from ``unicodedata`` at import would
# cost every start-up ~0.3 s); tests/test_secrets.py checks them against ``unicodedata``.

# Characters other than decimal digits (``\d``) that Unicode gives a digit value: superscripts,
# subscripts, circled and dingbat digits. Read as the ASCII digit they stand for.
_OTHER_DIGITS = (
    r"\u00b2\u00b3\u00b9\u1369-\u1371\u19da\u2070\u2074-\u2079\u2080-\u2089\u2460-\u2468"
    r"\u2474-\u247c\u2488-\u2490\u24ea\u24f5-\u24fd\u24ff\u2776-\u277e\u2780-\u2788\u278a-\u2792"
    r"\U00010a40-\U00010a43\U00010e60-\U00010e68\U00011052-\U0001105a\U0001f100-\U0001f10a"
)
# Separators between groups: any white space (tab, line breaks, no-break and other spaces), every
# dash (Unicode Pd: hyphen, U+2011 non-breaking hyphen, en and em dash…) and minus sign, every
# connector (``_``), full stops and middle dots.
_SEPARATOR = (
    r"\s\u2212\u02d7"
    r"\-\u058a\u05be\u1400\u1806\u2010-\u2015\u2e17\u2e1a\u2e3a\u2e3b\u2e40\u2e5d\u301c\u3030"
    r"\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
    r"_\u203f\u2040\u2054\ufe33\ufe34\ufe4d-\ufe4f\uff3f"
    r".\u00b7\u2024\u2027\u30fb\uff0e\uff65"
)
# Invisible characters, ignored anywhere, even inside a group: Unicode format characters (Cf:
# zero-width space and joiners, soft hyphen, bidirectional marks, BOM, tags), the combining
# grapheme joiner, variation selectors and the keycap mark.
_INVISIBLE = (
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    r"\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
    r"\u034f\ufe00-\ufe0f\U000e0100-\U000e01ef\u20e3"
)
_ASCII_SEPARATOR = "\t\n\v\f\r\x1c\x1d\x1e\x1f -._"  # the ASCII characters of _SEPARATOR
_MAX_GAP = 4  # separator characters between two groups ("123456 - 234567" has three)
_MIN_GROUPS = 4  # see redact: of a password split in two, the larger part is masked (if its blocks are valid)


def _password_pattern(digit: str, separator: str) -> re.Pattern:
    group = f"{digit}{{6}}"
    return re.compile(f"{group}(?:[{separator}]{{0,{_MAX_GAP}}}{group}){{{_MIN_GROUPS - 1},}}{digit}*")


# On normalised text (escapes read, invisible characters dropped, other digits made ASCII); the
# ASCII pattern is the same for ASCII text, and three times faster to search.
_RECOVERY_PASSWORD = _password_pattern(r"\d", _SEPARATOR)
_RECOVERY_PASSWORD_ASCII = _password_pattern("[0-9]", re.escape(_ASCII_SEPARATOR))
_PASSWORD_PART = re.compile(rf"[\d{_OTHER_DIGITS}{_SEPARATOR}{_INVISIBLE}]")
_SEPARATORS = re.compile(f"[{_SEPARATOR}]+")
_NO_ASCII_SEPARATORS = str.maketrans("", "", _ASCII_SEPARATOR)
_UNUSUAL = re.compile(f"[{_OTHER_DIGITS}{_INVISIBLE}]")
# The same without the characters beyond U+FFFF: re tests those ranges one by one, but the rest
# with one table look-up, six times faster, for the text that has none (nearly all).
_UNUSUAL_BMP = re.compile("[" + re.sub(r"\\U[0-9a-f]{8}(?:-\\U[0-9a-f]{8})?", "", _OTHER_DIGITS + _INVISIBLE) + "]")
_INVISIBLE_CHAR = re.compile(f"[{_INVISIBLE}]")
SECRET_MASK = "******-******-******-******-******-******-******-******"


# How outputs and inputs escape a character: JSON and Python (``\u002d``, a surrogate pair,
# ``\U…``, ``\x…``, ``\n``; any number of backslashes, as JSON in JSON doubles them), Markdown
# (``\_``), HTML and XML (``&#45;``, ``&#x2d;``, ``&ndash;``, and ``<wbr>``, a line-break
# opportunity, read as nothing) and URIs (``%20``, UTF-8 bytes as in SARIF's artifact URIs).
# Every alternative starts with a literal, so the search skips to the next \ & < or % fast.
@functools.cache
def _escape_pattern() -> re.Pattern:
    import html.entities  # noqa: PLC0415 - built on first use: most output has no escapes

    # Only the named references of a digit, separator or invisible character: the common
    # ones (&amp; &lt; &quot;) are not even matched.
    names = sorted(
        {
            name.rstrip(";")
            for name, char in html.entities.html5.items()
            if name.endswith(";") and len(char) == 1 and _PASSWORD_PART.match(char)
        }
    )
    return re.compile(
        r"\\\\*u(?P<high>[dD][89abAB][0-9a-fA-F]{2})\\+u(?P<low>[dD][c-fC-F][0-9a-fA-F]{2})"
        r"|\\\\*(?:U(?P<hex8>[0-9a-fA-F]{8})|u(?P<hex>[0-9a-fA-F]{4})|x(?P<hex2>[0-9a-fA-F]{2})"
        r"|(?P<control>[ntrfv])|(?P<punct>[-_.]))"
        r"|&(?:#(?P<decimal>[0-9]{1,7})|#[xX](?P<ref>[0-9a-fA-F]{1,6})|(?P<entity>" + "|".join(names) + "));"
        r"|<(?P<wbr>wbr\s*/?>)"
        r"|%(?P<percent>[0-7][0-9a-fA-F]|[cdCD][0-9a-fA-F]%[89abAB][0-9a-fA-F]"
        r"|[eE][0-9a-fA-F](?:%[89abAB][0-9a-fA-F]){2}|[fF][0-4](?:%[89abAB][0-9a-fA-F]){3})"
    )


_CONTROL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v"}
_ESCAPE_CHARS = "\\&%<"  # the characters escapes start with
_ESCAPE_NESTING = 3
_SNIPPET_REACH = 600  # characters either side of a diagnostic's offset masked before its snippet is cut

_Anchors = list[tuple[int, int, int, int]]  # see _rewritten


def redact(text: str) -> MaskedText:
    """``text`` with every recovery password replaced by SECRET_MASK; all output passes through this.

    A BitLocker recovery password is 48 digits in eight groups of six. What is masked, so that
    no spelling an admin pastes and no escaping an output format applies lets one through:

    - **digits** of any script (``\\d``: Arabic-Indic, full-width…) and every other character
      Unicode gives a digit value (superscript, circled);
    - **groups** of six digits, joined by nothing or by a gap of at most four separators: any
      white space (double space, tab, line break, no-break space), any dash (``-``, en dash,
      U+2011) or minus sign, ``_``, ``.``, middle dot. Invisible characters (zero-width space,
      soft hyphen, bidirectional marks, variation selectors) are ignored anywhere, even inside
      a group;
    - **escapes** of those characters count as the characters, and the whole escaped text is
      masked: JSON and Python (``\\u002d``, ``\\u0661``, ``\\n``, ``\\x2d``, doubled backslashes),
      Markdown (``\\_``), HTML and XML (``&#45;``, ``&ndash;``, ``<wbr>``), URIs (``%20``);
    - **digits joined** to the groups without a separator (``9<password>7``) go with them:
      where a password starts in a run of digits cannot be told, so the whole run is masked;
    - a run of **48 digits or more** is always masked, whatever the digits; a run of **four to
      seven groups** (24 to 47 digits: part of a password) is masked when each group is a block
      BitLocker makes: a multiple of 11 below 720,896 (a 16-bit number times 11), as every group
      of a real password is. Of a password split over two fields (an id and a display name),
      the larger part has four groups or more and is masked, so at most three groups (18 of the
      48 digits) can show. The check keeps a row of four six-digit counts readable (a fleet
      table's pass, fail, unknown and n/a columns): ten thousand such rows leave about one
      masked. Three groups would be too ordinary a shape to mask even so.

    A password written any other way (spelt out, reversed, broken by letters or by more than
    four separators) is not recognised: masking catches carelessness, not deliberate encoding.
    Text that cannot hold one returns after a byte scan (see ``may_hold_password``). The
    result is a ``MaskedText``: masking it again returns it at once.
    """
    if type(text) is MaskedText or type(text) is ShownText:
        return text
    return MaskedText(_masked(text, lambda span: SECRET_MASK))


class MaskedText(str):
    """Text ``redact`` returned: the door that writes it (the command line's output) does not
    scan it again. Joined with other text it is a plain ``str`` again, masked again where it
    leaves: a join can make a password of two harmless parts."""

    __slots__ = ()


def _masked_in_place(text: str) -> str:
    """``text`` with every recovery password (as redact finds them) turned into as many ``*``."""
    return _masked(text, lambda span: "*" * (span[1] - span[0]))


def _masked(text: str, mask: Callable[[tuple[int, int]], str]) -> str:
    """``text`` with each password's span replaced by ``mask(span)``."""
    if not _may_escape(text) and not _digit_run_possible(text):
        return text  # nearly all text: one byte scan (see _readings)
    spans: list[list[int]] = []
    for start, end in sorted(span for normal, layers in _readings(text) for span in _password_spans(normal, layers)):
        if spans and start < spans[-1][1]:  # the two readings found the same password: one mask
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    pieces, last = [], 0
    for start, end in spans:
        pieces += [text[last:start], mask((start, end))]
        last = end
    return "".join(pieces) + text[last:] if pieces else text


def _readings(text: str) -> Iterator[tuple[str, list[_Anchors]]]:
    """``text`` as the pattern reads it (see _normalised): as written, and, when it has escapes,
    with them read; each only when the byte scan finds it may hold a password. Both readings:
    an escape can hide a password (``123456\\u002d234567…``), and reading one can swallow a
    digit a reader sees (``%2`` before ``0123…`` reads as ``%20``)."""
    # Reading as written only drops characters and makes digits ASCII, and each character it
    # keeps folds to one zero or more in the text itself, so the text's own scan rules it out.
    if _digit_run_possible(text):
        yield _normalised(text, escapes=False)
    if _may_escape(text):
        normal, layers = _normalised(text, escapes=True)
        if _digit_run_possible(normal):
            yield normal, layers


def _may_escape(text: str) -> bool:
    """Whether ``text`` has a character an escape starts with (``in`` is the fastest scan)."""
    # One character first: ``in`` with one character is a memchr, with four a slower search.
    return "\\" in text or "&" in text or "%" in text or ("<" in text and "<wbr" in text)


def _password_spans(normal: str, layers: list[_Anchors]) -> Iterator[tuple[int, int]]:
    """Where in the original text the passwords the pattern finds in ``normal`` are."""
    pattern = _RECOVERY_PASSWORD_ASCII if normal.isascii() else _RECOVERY_PASSWORD
    for match in pattern.finditer(normal):
        start = match.start()
        while start and normal[start - 1].isdecimal():  # digits joined in front go too
            start -= 1
        if _masked_run(normal[start : match.end()], match.group()):
            yield _original(layers, start), _original(layers, match.end())


def _masked_run(run: str, groups: str) -> bool:
    """Whether a run the pattern found (``groups``, with the digits joined in front: ``run``) is
    masked: with 48 digits or more always, with fewer only when each group is a block BitLocker
    makes (see redact)."""
    digits = run.translate(_NO_ASCII_SEPARATORS) if run.isascii() else _SEPARATORS.sub("", run)
    if len(digits) >= 48:  # the run holds digits and separators only
        return True
    chunks = _SEPARATORS.split(groups)  # runs of whole groups; the last may end in joined digits
    blocks = [int(chunk[i : i + 6]) for chunk in chunks for i in range(0, len(chunk) - 5, 6)]
    return all(block % 11 == 0 and block < 11 << 16 for block in blocks)


def _normalised(text: str, escapes: bool) -> tuple[str, list[_Anchors]]:
    """``text`` as the pattern reads it: invisible characters dropped, other digits as ASCII
    digits, and with ``escapes`` the escapes of digits, separators and invisible characters read
    as those characters; and the anchors of each rewriting, to map positions back.

    An escape may spell the backslash (``&#92;``, ``%5C``) that starts another escape, so escapes
    are read again while a reading made one, up to _ESCAPE_NESTING levels deep."""
    layers = []
    for _ in range(_ESCAPE_NESTING if escapes else 0):
        text, anchors = _rewritten(text, _escape_pattern(), lambda match: _escaped_plain(match.group()))
        if anchors:
            layers.append(anchors)
        if not any(length and text[end - 1] in _ESCAPE_CHARS for end, _, _, length in anchors):
            break
    if not text.isascii():
        beyond_bmp = len(text.encode("utf-16-le", "surrogatepass")) > 2 * len(text)
        text, anchors = _rewritten(text, _UNUSUAL if beyond_bmp else _UNUSUAL_BMP, lambda match: _plain(match.group()))
        if anchors:
            layers.append(anchors)
    return text, layers


def _rewritten(
    text: str, pattern: re.Pattern[str], plain_of: Callable[[re.Match[str]], str | None]
) -> tuple[str, _Anchors]:
    """``text`` with each match of ``pattern`` replaced by ``plain_of(match)`` (left alone when
    that is None); anchors (where the change ends in the new text, its start and end in
    ``text``, its length in the new text: 0 or 1) map positions back."""
    pieces, anchors, last, shift = [], [], 0, 0
    for match in pattern.finditer(text):
        plain = plain_of(match)
        if plain is None:
            continue
        start, end = match.span()
        pieces += [text[last:start], plain]
        shift += end - start - len(plain)
        anchors.append((end - shift, start, end, len(plain)))
        last = end
    if not anchors:
        return text, anchors
    pieces.append(text[last:])
    return "".join(pieces), anchors


def _plain(char: str) -> str | None:
    """How the pattern reads ``char``: itself, an ASCII digit, nothing (invisible), or None when it
    cannot be part of a password."""
    if len(char) != 1 or not _PASSWORD_PART.match(char):
        return None
    if _INVISIBLE_CHAR.match(char):
        return ""
    return char if char.isdecimal() or not char.isdigit() else str(unicodedata.digit(char))


@functools.lru_cache(maxsize=1024)  # a text repeats its escapes (&#x27;, <wbr>, \n) many times
def _escaped_plain(escape: str) -> str | None:
    """How the pattern reads an escape: as _plain reads its character, or as the character
    itself when that starts another escape; None (left as it is) for anything else."""
    match = _escape_pattern().fullmatch(escape)
    char = _escaped_char(match) if match is not None else None
    if char is None:
        return None
    return char if char in _ESCAPE_CHARS else _plain(char)


def _escaped_char(match: re.Match[str]) -> str | None:
    """The character an escape stands for, or None when it is no valid escape of one."""
    kind = match.lastgroup
    if kind is None:  # the pattern's alternatives are all named groups: one of them matched
        return None
    value = match.group(kind)
    if kind == "low":  # a surrogate pair: both halves matched
        high, low = int(match.group("high"), 16), int(value, 16)
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    if kind in ("hex", "hex8", "hex2", "ref", "decimal"):
        code = int(value, 10 if kind == "decimal" else 16)
        return chr(code) if code <= 0x10FFFF else None
    if kind in ("control", "punct"):
        return _CONTROL_ESCAPES.get(value, value)
    if kind == "wbr":
        return "\u200b"  # a line-break opportunity shows nothing: as a zero-width space
    if kind == "entity":
        import html.entities  # noqa: PLC0415 - loaded by the pattern above, on first use

        return html.entities.html5[value + ";"]
    try:  # percent: the bytes of one UTF-8 encoded character
        return bytes.fromhex(value.replace("%", "")).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _original(layers: list[_Anchors], index: int) -> int:
    """Where position ``index`` of the normalised text is in the original text."""
    for anchors in reversed(layers):
        k = bisect.bisect_right(anchors, (index, sys.maxsize))
        if k < len(anchors) and anchors[k][3] and anchors[k][0] == index + 1:
            index = anchors[k][1]  # the character a rewriting made: where that rewriting starts
        elif k:
            new_end, _, end, _ = anchors[k - 1]
            index = end + index - new_end
    return index


def _digit_folding() -> bytes:
    table = bytearray(range(256))
    for byte in b"0123456789":
        table[byte] = ord("0")
    for byte in range(0x80, 0x100):  # any byte of a non-ASCII character: it may be a digit or a
        table[byte] = ord("0")  # separator; either way it only lengthens a run of zeros
    return bytes(table)


_DIGIT_FOLDING = _digit_folding()
_ASCII_SEPARATORS = _ASCII_SEPARATOR.encode("ascii")
_MIN_DIGITS = b"0" * (6 * _MIN_GROUPS)


def may_hold_password(text: str) -> bool:
    """False only when ``text`` cannot hold anything ``redact`` masks: the byte scan ``redact``
    starts with, public for the benchmarks that time it alone.

    Searching with the pattern costs ~10-30 ns a character; this check ~1-2 ns on ASCII text
    without escapes. On each reading of the text (see ``_readings``), as bytes, ASCII digits
    fold to ``0``, ASCII separators are deleted and every byte of a non-ASCII character folds to
    ``0``: whatever the pattern matches (at least 24 digits and separators, nothing else) then
    becomes a run of at least 24 zeros. Text with many non-ASCII letters merely takes the search.
    """
    # _readings' first test, then its second only where an escape may start: most texts take
    # one scan, without a generator.
    if _digit_run_possible(text):
        return True
    return _may_escape(text) and any(True for _ in _readings(text))


_may_hold_password = may_hold_password  # its name before it was public, which the tests use


def _digit_run_possible(normal: str) -> bool:
    folded = normal.encode("utf-8", "surrogatepass").translate(_DIGIT_FOLDING, _ASCII_SEPARATORS)
    return _MIN_DIGITS in folded


# Characters that would drive a terminal (C0 and C1 controls, DEL) or reorder text on screen
# (bidirectional overrides), except the newline and tab that the output's own layout uses; and
# lone surrogates, which JSON input may carry (``"\ud800"``) but no output can encode.
_SGR = re.compile("\x1b\\[[0-9;]*m")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def escape_controls(text: str, *, keep_colour: bool = False) -> str:
    r"""``text`` with every control character shown as an escape (ESC as ``\u001b``), so text read
    from an input can never clear a screen, retitle a terminal or hide itself in a report.

    The escape is JSON's, so a JSON document stays valid (and means the same) once escaped.
    ``keep_colour`` keeps SGR colour codes (``ESC [ … m``): a renderer's own, added after it
    escaped its inputs' text.
    """
    if type(text) is ShownText or text.isprintable():
        return text
    if not keep_colour:
        return _CONTROLS.sub(_escaped, text)
    pieces, codes = _SGR.split(text), _SGR.findall(text)
    return "".join(_CONTROLS.sub(_escaped, piece) + code for piece, code in zip(pieces, [*codes, ""]))


class ShownText(MaskedText):
    """Text as it may be shown: masked, and its control characters escaped (``shown_text``, or
    ``joined_values`` of such texts). The door that writes it neither masks nor escapes it again."""

    __slots__ = ()


def shown_text(text: str) -> ShownText:
    """``text`` masked and escaped, once: a part of many outputs (a fleet's shared record entries)."""
    return text if type(text) is ShownText else ShownText(escape_controls(redact(text)))


def joined_values(pieces: Sequence[str], separator: str = "") -> ShownText:
    """Shown pieces of JSON text joined, shown without a scan of the whole when each piece is a
    ``ShownText`` that starts and ends with a bracket or brace (a JSON object or array, or the
    head or tail of one); else the join is shown from scratch.

    Masking the pieces masks the join: a password, and every reading of an escape in one, is
    made of digits, separators, invisible characters and escapes, none of them a bracket, so no
    password can reach across a bracket into the next piece. Escaping is per character.
    """
    text = separator.join(pieces)
    if separator not in _PLAIN_SEPARATORS and shown_text(separator) != separator:
        return shown_text(text)
    for piece in pieces:
        if type(piece) is not ShownText or not piece or piece[0] not in _BRACKETS or piece[-1] not in _BRACKETS:
            return shown_text(text)
    return ShownText(text)


_BRACKETS = frozenset("[]{}")
_PLAIN_SEPARATORS = frozenset(("", ", ", ","))  # shown as they are: nothing in them to mask or escape


def _escaped(match: re.Match) -> str:
    return f"\\u{ord(match.group()):04x}"


def clip(text: str, limit: int = 200) -> str:
    """``text`` shortened to about ``limit`` characters for a message, saying how much was left
    out; masked first, so the cut can leave no part of a recovery password."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def shortened(text: str, limit: int, ellipsis: str = "...") -> str:
    """``text`` masked, then, when longer than ``limit`` characters, cut to ``limit`` ending in
    ``ellipsis`` (a value quoted in a message). Masked first: the cut could leave a part of a
    recovery password that no later mask recognises."""
    text = redact(text)
    return text if len(text) <= limit else text[: limit - len(ellipsis)] + ellipsis


class DuplicateKeyError(ValueError):
    """A JSON object that gives one key twice, refused by ``unique_keys``."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"the key {escape_controls(clip(json.dumps(key, ensure_ascii=False), 80))} is given twice in one object"
        )

    def __reduce__(self) -> tuple[type[DuplicateKeyError], tuple[str]]:
        # Rebuilt from the key: Exception's reduction would pass the message as the key.
        return type(self), (self.key,)


def _first_repeated(keys: Iterable[str]) -> str:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            return key
        seen.add(key)
    raise ValueError("no key is repeated")


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object from its pairs, refusing a key given twice (``DuplicateKeyError``): plain
    ``json.loads`` keeps the last value and drops the others without a word. Use it as
    ``json.loads(text, object_pairs_hook=unique_keys)``."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise DuplicateKeyError(_first_repeated(key for key, _ in pairs))
    return obj
