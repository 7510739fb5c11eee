"""Recovery passwords never reach any output (issue 11).

A BitLocker recovery password is 48 digits in eight groups of six. These tests plant distinct
passwords in every kind of input (policy and device files, Graph exports, fleet rows and CSV
cells, assignment files, rule text and rule ids, malformed JSON, file names and command-line
arguments), in every spelling (dashes, none, spaces, other scripts' digits, odd separators,
invisible characters, escapes, digits joined on either side), run every command in every
format, and look for the planted digits in everything written: standard output, standard error
and ``--output`` files.

The oracle that looks is written without ``errors.redact``: it reads an output as a person
and as decoders would (the raw text; with JSON/Python escapes decoded; with HTML/XML references
decoded and tags dropped; percent-decoded), keeps only the characters Unicode gives a digit
value (``unicodedata.digit``), and looks for each planted password's 48 digits in order.
"""

from __future__ import annotations

import codecs
import contextlib
import html
import io
import json
import pickle
import random
import re
import subprocess
import sys
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules import errors
from bitlocker_rules.cli import main
from bitlocker_rules.errors import SECRET_MASK, Diagnostic, InputError, RulesError, redact

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------------------------------------
# The oracle: written from unicodedata and the standard library's decoders, not from errors.py

_DIGIT_VALUES = {code: str(unicodedata.digit(chr(code))) for code in range(sys.maxunicode + 1)
                 if unicodedata.digit(chr(code), None) is not None}
_DIGITS_ONLY = re.compile("[^" + "".join(re.escape(chr(code)) for code in _DIGIT_VALUES) + "]+")


def digits_of(text: str) -> str:
    """Every character of ``text`` that Unicode gives a digit value, as that ASCII digit."""
    return _DIGITS_ONLY.sub("", text).translate(_DIGIT_VALUES)


def _backslash_decoded(text: str) -> str:
    r"""JSON and Python escapes decoded (``\u002d``, ``\n``, ``\x2d``), again and again, for JSON
    in JSON (a password that was itself JSON-escaped, written in a JSON report, escaped again)."""
    for _ in range(4):
        raw = text.encode("latin-1", "backslashreplace")
        with warnings.catch_warnings():  # "\_" and other unknown escapes stay as they are
            warnings.simplefilter("ignore", DeprecationWarning)
            text = codecs.decode(raw, "unicode_escape", "replace")
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")  # surrogate pairs
    return text


def _markup_decoded(text: str) -> str:
    """HTML and XML: tags (``<wbr>``) dropped, character references decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", "", text))


def views(text: str) -> list[str]:
    """``text`` as a reader or a decoder may see it: as it is, each decoding alone, and all
    of them over and over (escapes inside references inside escapes)."""
    every = text
    for _ in range(3):
        every = unquote(_backslash_decoded(_markup_decoded(every)))
    return [text, _backslash_decoded(text), _markup_decoded(text), unquote(text), every]


# ---------------------------------------------------------------------------------------------
# Spellings: how a careless admin, an export tool or an attacker writes a password

def _script(digits: str) -> Callable[[str], str]:
    table = str.maketrans("0123456789", digits)
    return lambda text: text.translate(table)


ARABIC_INDIC, FULLWIDTH = _script("٠١٢٣٤٥٦٧٨٩"), _script("０１２３４５６７８９")
DEVANAGARI, SUPERSCRIPT = _script("०१२३४५६७८९"), _script("⁰¹²³⁴⁵⁶⁷⁸⁹")
MATH_BOLD = _script("𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗")  # outside the BMP: JSON escapes it as a surrogate pair


def _mixed_scripts(groups: list[str]) -> str:
    scripts = [ARABIC_INDIC, DEVANAGARI, FULLWIDTH, str]
    return " ".join(scripts[i % 4](group) for i, group in enumerate(groups))


SPELLINGS: dict[str, Callable[[list[str]], str]] = {
    "dashes": "-".join,
    "no-separator": "".join,
    "spaces": " ".join,
    "double-space": "  ".join,
    "tab": "\t".join,
    "newline": "\n".join,
    "no-break-space": "\u00a0".join,
    "en-dash": "\u2013".join,
    "non-breaking-hyphen": "\u2011".join,
    "underscore": "_".join,
    "dot": ".".join,
    "spaced-dash": " - ".join,
    "zero-width-space": "\u200b".join,
    "zero-width-inside-groups": lambda groups: "-".join(g[:3] + "\u200b" + g[3:] for g in groups),
    "arabic-indic": lambda groups: ARABIC_INDIC("-".join(groups)),
    "fullwidth": lambda groups: FULLWIDTH(" ".join(groups)),
    "mixed-scripts": _mixed_scripts,
    "superscript": lambda groups: SUPERSCRIPT("-".join(groups)),
    "math-bold": lambda groups: MATH_BOLD("-".join(groups)),
    "json-escaped-dash": "\\u002d".join,  # the text an admin copied out of a JSON file
    "digits-joined": lambda groups: "9" + "-".join(groups) + "7",
    "digits-joined-no-separator": lambda groups: "98" + "".join(groups) + "76",
}


class Planted:
    """The passwords planted in a scenario: distinct digits for each place and spelling."""

    def __init__(self) -> None:
        self.digits: dict[tuple[str, str], str] = {}

    def password(self, place: str, spelling: str) -> str:
        """The password planted at ``place`` in ``spelling``."""
        rng = random.Random(f"{place}/{spelling}")
        groups = [f"{rng.randrange(10 ** 6):06d}" for _ in range(8)]
        self.digits[(place, spelling)] = "".join(groups)
        return SPELLINGS[spelling](groups)

    def text(self, place: str, spellings: Iterable[str] = SPELLINGS) -> str:
        """A field's text: the place's marker, then one password in each spelling."""
        return f"{marker(place)} " + " | ".join(self.password(place, s) for s in spellings)

    def leaks(self, text: str) -> list[tuple[str, str]]:
        """The (place, spelling) of every planted password whose digits ``text`` still shows."""
        seen = [digits_of(view) for view in views(text)]
        return [where for where, digits in self.digits.items() if any(digits in s for s in seen)]


def marker(place: str) -> str:
    """A word that shows where a field reached an output (letters only: no format escapes it)."""
    return "Mk" + re.sub("[^A-Za-z]", "", place.title())


def test_the_oracle_sees_every_spelling_in_every_view():
    planted = Planted()
    for spelling in SPELLINGS:
        shown = planted.password("oracle", spelling)
        for text in (shown, json.dumps(shown), json.dumps(json.dumps(shown)), html.escape(shown),
                     "".join(f"&#{ord(c)};" for c in shown), "".join(f"%{b:02X}" for b in shown.encode())):
            assert planted.leaks(text) == [("oracle", spelling)], (spelling, text)
    assert planted.leaks(SECRET_MASK) == []


# ---------------------------------------------------------------------------------------------
# redact: every spelling, escaped every way, masked; ordinary text left alone

def _escapings(text: str) -> dict[str, str]:
    """``text`` as outputs and inputs may carry it."""
    return {
        "plain": text,
        "json": json.dumps(text),
        "json-in-json": json.dumps(json.dumps(text)),
        "python-repr": repr(text),
        "html-references": "".join(f"&#{ord(c)};" if not c.isalnum() else c for c in text),
        "html-named": text.replace("\u00a0", "&nbsp;").replace("\u2013", "&ndash;").replace("-", "&#x2d;"),
        "wbr": text.replace(".", ".<wbr>").replace("_", "_<wbr>"),
        "markdown": text.replace("_", "\\_"),
        "uri": "".join(c if c.isascii() and c.isalnum() else "".join(f"%{b:02X}" for b in c.encode())
                       for c in text),
    }


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_redact_masks_every_spelling_however_escaped(spelling):
    planted = Planted()
    password = planted.password("redact", spelling)
    for how, text in _escapings(f"key: {password}.").items():
        assert planted.leaks(text), (how, "the oracle must see the planted password")
        masked = redact(text)
        assert not planted.leaks(masked), (how, masked)
        assert SECRET_MASK in masked, (how, masked)


@pytest.mark.parametrize(("text", "masked"), [
    ("X9{p}7", "X" + SECRET_MASK),  # digits joined to it go with it: where it starts is unknowable
    ("{p}", SECRET_MASK),
    ("a{p}b{p}c", f"a{SECRET_MASK}b{SECRET_MASK}c"),
    ('{{"key": "{p}"}}', '{"key": "' + SECRET_MASK + '"}'),
    ("id 123456-234567-345678-456789, name 567890-678901-789012-890123", f"id {SECRET_MASK}, name {SECRET_MASK}"),
])
def test_redact_replaces_the_whole_run(text, masked):
    password = "123456-234567-345678-456789-567890-678901-789012-890123"
    assert redact(text.format(p=password)) == masked


@pytest.mark.parametrize("text", [
    "123456-234567-345678",  # three groups: three six-digit numbers are ordinary
    "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10",  # a GUID
    "10.0.22631.3593 10.0.19045.4291 10.0.17763.0",  # builds
    "2024-09-02T07:48:13.0000000Z",
    "12345678901234567890123",  # 23 digits
    "123456 -- -- 234567 345678 456789",  # a gap of five separators
    "123456/234567/345678/456789/567890/678901/789012/890123",  # slashes are no separator
    "******-******-******-******-******-******-******-******",
])
def test_redact_leaves_ordinary_text_alone(text):
    assert redact(text) == text


def test_redact_masks_the_larger_part_of_a_password_split_over_two_fields():
    # Half in an id, half in a display name: each half (four groups) is masked wherever it is.
    groups = ["123456", "234567", "345678", "456789", "567890", "678901", "789012", "890123"]
    for cut in range(1, 8):
        first, second = "-".join(groups[:cut]), "-".join(groups[cut:])
        shown = redact(f"policy '{second}' ({first})")
        larger = second if cut <= 4 else first
        assert digits_of(larger) not in digits_of(shown), (cut, shown)
        if cut == 4:
            assert shown == f"policy '{SECRET_MASK}' ({SECRET_MASK})"
        # What may show is the smaller part only: at most three groups, 18 digits.
        assert len(digits_of(shown)) == 6 * min(cut, 8 - cut) if cut != 4 else not digits_of(shown)


# ---------------------------------------------------------------------------------------------
# The character classes redact writes out, against unicodedata

_EVERY_CHARACTER = "".join(chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code < 0xE000)


def _matched(char_class: str) -> set[str]:
    return set(re.findall(f"[{char_class}]", _EVERY_CHARACTER))


def test_every_character_with_a_digit_value_is_a_digit_to_redact():
    expected = {chr(code) for code in _DIGIT_VALUES}
    assert _matched(r"\d" + errors._OTHER_DIGITS) == expected
    assert not _matched(errors._OTHER_DIGITS) & _matched(r"\d")


def test_every_space_dash_connector_and_format_character_is_a_separator_or_invisible():
    separators, invisible = _matched(errors._SEPARATOR), _matched(errors._INVISIBLE)
    by_category = {"Pd": separators, "Pc": separators, "Zs": separators, "Zl": separators, "Zp": separators,
                   "Cf": invisible}
    for char in _EVERY_CHARACTER:
        where = by_category.get(unicodedata.category(char))
        assert where is None or char in where, f"U+{ord(char):04X} {unicodedata.name(char, '')}"
    assert {c for c in _EVERY_CHARACTER if c.isspace()} <= separators
    assert {c for c in separators if c.isascii()} == _matched(errors._ASCII_SEPARATOR)
    assert not separators & invisible and not (separators | invisible) & _matched(r"\d" + errors._OTHER_DIGITS)


@pytest.mark.parametrize("kind", ["separator", "invisible"])
def test_each_separator_and_invisible_character_is_read_as_such(kind):
    chars = sorted(_matched(errors._SEPARATOR if kind == "separator" else errors._INVISIBLE))
    planted = Planted()
    for char in chars:
        groups = [f"{n}{n + 1}{n + 2}456" for n in range(1, 9)]
        text = char.join(groups) if kind == "separator" else "-".join(g[:2] + char + g[2:] for g in groups)
        assert digits_of(redact(f"x{text}x")) == "", f"U+{ord(char):04X}"


# ---------------------------------------------------------------------------------------------
# The pre-check can never miss, proved against the oracle

_noise = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10) | st.sampled_from(
    [" ", "-", "\\", "\\u", "&#", "%2", "<wbr>", "\u200b", "9", "٣", "¹", "é", "\n", "\\n", "&nbsp;"])


@given(st.lists(_noise, max_size=6), st.sampled_from(sorted(SPELLINGS)), st.sampled_from(sorted(_escapings("x"))),
       st.integers(0, 6), st.booleans())
def test_the_pre_check_never_misses_a_password_the_oracle_sees(noise, spelling, how, at, planted_one):
    planted = Planted()
    pieces = list(noise)
    if planted_one:
        pieces.insert(min(at, len(pieces)), _escapings(planted.password("property", spelling))[how])
    text = "".join(pieces)
    if planted_one:
        assert planted.leaks(text) and errors._may_hold_password(text), ascii(text)
        assert not planted.leaks(redact(text)), ascii(text)
    if not errors._may_hold_password(text):
        assert redact(text) == text, ascii(text)


_digit_soup = st.text(st.sampled_from("0123456789٠١٢٣٤٥٦٧٨٩¹²³ -_.\t\u200b\u00a0\\u002d&#45;%20x"), max_size=120)


@given(_digit_soup)
def test_whatever_redact_masks_the_pre_check_lets_through(text):
    if redact(text) != text:
        assert errors._may_hold_password(text), ascii(text)
    assert redact(redact(text)) == redact(text)


# ---------------------------------------------------------------------------------------------
# Errors survive pickling (worker processes send them back), diagnostics and all

@pytest.mark.parametrize("error", [
    InputError([Diagnostic("I201", "bad value", path="$.facts.tpm_version", file="d.json", help="expected 2.0")]),
    RulesError([Diagnostic("E102", "unexpected end of file", file="r.rules")]),
])
def test_errors_survive_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert copy.diagnostics == error.diagnostics
    assert str(copy) == str(error) == copy.render()


def test_a_rules_error_with_its_source_survives_pickling():
    from bitlocker_rules.syntax import parse_ruleset

    with pytest.raises(RulesError) as info:
        parse_ruleset('ruleset r "R"\nrule C-01 "T" require ((', "r.rules")
    copy = pickle.loads(pickle.dumps(info.value))
    assert copy.render() == info.value.render() and "^" in copy.render()
