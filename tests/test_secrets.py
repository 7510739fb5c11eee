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
import csv
import html
import io
import json
import os
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

_DIGIT_VALUES = {
    code: str(unicodedata.digit(chr(code)))
    for code in range(sys.maxunicode + 1)
    if unicodedata.digit(chr(code), None) is not None
}
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
        groups = [f"{rng.randrange(10**6):06d}" for _ in range(8)]
        self.digits[(place, spelling)] = "".join(groups)
        return SPELLINGS[spelling](groups)

    def text(self, place: str, spellings: Iterable[str] = SPELLINGS) -> str:
        """A field's text: the place's marker, then one password in each spelling."""
        return f"{marker(place)} " + " | ".join(self.password(place, s) for s in spellings)

    def leaks(self, text: str, run: int = 48) -> list[tuple[str, str]]:
        """The (place, spelling) of every planted password of which ``text`` still shows ``run``
        digits in order (all 48 by default; a renderer that cuts or wraps a password before
        masking it shows fewer)."""
        seen = set()
        for view in views(text):
            digits = digits_of(view)
            seen.update(digits[i : i + run] for i in range(len(digits) - run + 1))
        return [
            where
            for where, digits in self.digits.items()
            if any(digits[i : i + run] in seen for i in range(len(digits) - run + 1))
        ]


def marker(place: str) -> str:
    """A word that shows where a field reached an output (letters only: no format escapes it)."""
    return "Mk" + re.sub("[^A-Za-z]", "", place.title())


def test_the_oracle_sees_every_spelling_in_every_view():
    planted = Planted()
    for spelling in SPELLINGS:
        shown = planted.password("oracle", spelling)
        for text in (
            shown,
            json.dumps(shown),
            json.dumps(json.dumps(shown)),
            html.escape(shown),
            "".join(f"&#{ord(c)};" for c in shown),
            "".join(f"%{b:02X}" for b in shown.encode()),
        ):
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
        "uri": "".join(c if c.isascii() and c.isalnum() else "".join(f"%{b:02X}" for b in c.encode()) for c in text),
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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("X9{p}7", "X" + SECRET_MASK),  # digits joined to it go with it: where it starts is unknowable
        ("{p}", SECRET_MASK),
        ("a{p}b{p}c", f"a{SECRET_MASK}b{SECRET_MASK}c"),
        ('{{"key": "{p}"}}', '{"key": "' + SECRET_MASK + '"}'),
        # Read raw and with escapes read: "%20" would swallow the password's first digit.
        ("%2072792-300830-116143-896618-256084-104077-123482-101188", "%" + SECRET_MASK),
        (
            "123456\\u002d234567\\u002d345678\\u002d456789\\u002d567890\\u002d678901\\u002d789012\\u002d890123",
            SECRET_MASK,
        ),
        # Half a password in each field: four groups are masked when they are blocks BitLocker makes.
        ("id 013574-440000-720885-008547, name 055000-660000-353100-000132", f"id {SECRET_MASK}, name {SECRET_MASK}"),
    ],
)
def test_redact_replaces_the_whole_run(text, masked):
    password = "123456-234567-345678-456789-567890-678901-789012-890123"
    assert redact(text.format(p=password)) == masked


@pytest.mark.parametrize(
    "text",
    [
        "123456-234567-345678",  # three groups: three six-digit numbers are ordinary
        "013574-440000-720885",  # three groups, even of valid blocks
        "123456-234567-345678-456789",  # four groups that no password has (123456 is no multiple of 11)
        "013574-440000-720885-720896",  # 720896 = 11 * 65536: one past the last block
        "SE-01  error  152340  120003  100052  110011  title",  # a fleet table's counts at 400,000 devices
        "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10",  # a GUID
        "10.0.22631.3593 10.0.19045.4291 10.0.17763.0",  # builds
        "2024-09-02T07:48:13.0000000Z",
        "12345678901234567890123",  # 23 digits
        "123456 -- -- 234567 345678 456789",  # a gap of five separators
        "123456/234567/345678/456789/567890/678901/789012/890123",  # slashes are no separator
        "******-******-******-******-******-******-******-******",
    ],
)
def test_redact_leaves_ordinary_text_alone(text):
    assert redact(text) == text


def valid_groups(seed: str) -> list[str]:
    """Eight groups as BitLocker makes them: each a 16-bit number times 11."""
    rng = random.Random(seed)
    return [f"{11 * rng.randrange(1 << 16):06d}" for _ in range(8)]


def test_redact_masks_the_larger_part_of_a_password_split_over_two_fields():
    # Half in an id, half in a display name: each half (four groups) is masked wherever it is.
    groups = valid_groups("split")
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
    by_category = {
        "Pd": separators,
        "Pc": separators,
        "Zs": separators,
        "Zl": separators,
        "Zp": separators,
        "Cf": invisible,
    }
    for char in _EVERY_CHARACTER:
        where = by_category.get(unicodedata.category(char))
        assert where is None or char in where, f"U+{ord(char):04X} {unicodedata.name(char, '')}"
    assert {c for c in _EVERY_CHARACTER if c.isspace()} <= separators
    assert {c for c in separators if c.isascii()} == set(errors._ASCII_SEPARATOR)
    assert not separators & invisible and not (separators | invisible) & _matched(r"\d" + errors._OTHER_DIGITS)


@pytest.mark.parametrize("kind", ["separator", "invisible"])
def test_each_separator_and_invisible_character_is_read_as_such(kind):
    chars = sorted(_matched(errors._SEPARATOR if kind == "separator" else errors._INVISIBLE))
    for char in chars:
        groups = [f"{n}{n + 1}{n + 2}456" for n in range(1, 9)]
        text = char.join(groups) if kind == "separator" else "-".join(g[:2] + char + g[2:] for g in groups)
        assert digits_of(redact(f"x{text}x")) == "", f"U+{ord(char):04X}"


# ---------------------------------------------------------------------------------------------
# The pre-check can never miss, proved against the oracle

_noise = st.text(st.characters(blacklist_categories=("Cs",)), max_size=10) | st.sampled_from(
    [" ", "-", "\\", "\\u", "&#", "%2", "<wbr>", "\u200b", "9", "٣", "¹", "é", "\n", "\\n", "&nbsp;"]
)


@given(
    st.lists(_noise, max_size=6),
    st.sampled_from(sorted(SPELLINGS)),
    st.sampled_from(sorted(_escapings("x"))),
    st.integers(0, 6),
    st.booleans(),
)
def test_the_pre_check_never_misses_a_password_the_oracle_sees(noise, spelling, how, at, planted_one):
    planted = Planted()
    pieces = list(noise)
    if planted_one:
        pieces.insert(min(at, len(pieces)), _escapings(planted.password("property", spelling))[how])
    text = "".join(pieces)
    if planted.leaks(text):  # noise can break it (``&#`` before its first digits reads as one character)
        assert errors._may_hold_password(text), ascii(text)
        assert not planted.leaks(redact(text)), ascii(text)
    if not errors._may_hold_password(text):
        assert redact(text) == text, ascii(text)


_SOUP = [
    *"0123456789٠١٢٣٤٥٦٧٨٩¹²³ -_.\t\u200b\u00a0x",
    "\\u002d",
    "&#45;",
    "%20",
    "\\u0661",
    "&ndash;",
    "<wbr>",
    "\\n",
    "123456",
    "013574",
]
_digit_soup = st.lists(st.sampled_from(_SOUP), max_size=60).map("".join)


@given(_digit_soup)
def test_whatever_redact_masks_the_pre_check_lets_through(text):
    if redact(text) != text:
        assert errors._may_hold_password(text), ascii(text)
    assert redact(redact(text)) == redact(text)


# ---------------------------------------------------------------------------------------------
# What cuts text for a message masks it first


@pytest.mark.parametrize("edge", ["left", "right"])
@pytest.mark.parametrize("cut", range(1, 55, 6))
def test_a_snippet_window_never_cuts_a_password_open(edge, cut):
    # A long line shows a window of it around the error; the window's edge may fall anywhere,
    # here ``cut`` characters into the password, leaving three groups or fewer on one side.
    from bitlocker_rules.source import SNIPPET_WIDTH, SourceText, Span

    planted = Planted()
    password = planted.password("snippet", "dashes")
    line = "x" * 300 + password + "y" * 300
    before = SNIPPET_WIDTH // 3  # the window starts this far before the error (source.snippet)
    error = 300 + cut + (before if edge == "left" else before - SNIPPET_WIDTH)
    rendered = Diagnostic(
        "I005", "malformed JSON", source=SourceText(line, "f.json"), span=Span(error, error + 1)
    ).render()
    text, carets = rendered.splitlines()[1:3]
    assert not planted.leaks(rendered, PART) and "*" in text, rendered  # cut, but masked
    assert text[carets.index("^")] == (line[error] if line[error] in "xy" else "*")  # columns stay


def test_clip_masks_before_it_cuts():
    planted = Planted()
    clipped = errors.clip("x" * 190 + planted.password("clip", "no-separator"), 200)
    assert not planted.leaks(clipped, PART) and SECRET_MASK[:6] in clipped


@pytest.fixture(scope="module")
def silent_engine():
    from bitlocker_rules import Engine

    return Engine.load(["silent_enablement"])


@pytest.mark.parametrize("cut", range(1, 55, 6))
@pytest.mark.parametrize("check", ["not a mapping (U001)", "an untyped value (U003)"])
def test_the_apis_usage_errors_mask_a_value_before_they_clip_it(silent_engine, check, cut):
    # A usage error quotes the wrong value's repr, shortened (to 77 characters for U001, 57 for
    # U003): ``cut`` characters of the password are left before the "...".
    from bitlocker_rules import Facts, UsageError

    planted = Planted()
    password = planted.password("api", "dashes")
    if check.endswith("(U001)"):
        wrong = "x" * (76 - cut) + password  # repr adds a quote before it
        call = lambda: silent_engine.evaluate(wrong)  # noqa: E731 - one call, two cases
    else:
        wrong = "x" * (56 - cut) + password
        call = lambda: silent_engine.evaluate(Facts(values={"device.os_version": wrong}))  # noqa: E731
    with pytest.raises(UsageError) as error:
        call()
    rendered = "\n".join(d.render() for d in error.value.diagnostics)
    assert "xxx" in rendered and not planted.leaks(rendered, PART), rendered


# ---------------------------------------------------------------------------------------------
# Errors survive pickling (worker processes send them back), diagnostics and all


@pytest.mark.parametrize(
    "error",
    [
        InputError([Diagnostic("I201", "bad value", path="$.facts.tpm_version", file="d.json", help="expected 2.0")]),
        RulesError([Diagnostic("E102", "unexpected end of file", file="r.rules")]),
    ],
)
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


# ---------------------------------------------------------------------------------------------
# Messages quote bad values as written, masked before anything escapes them


def test_a_bad_value_is_quoted_as_written_with_its_password_masked(tmp_path):
    from bitlocker_rules.engine import shipped_vocabulary
    from bitlocker_rules.facts import facts_from_mapping

    planted = Planted()
    value = "PC-é " + planted.password("I201", "arabic-indic")
    with pytest.raises(InputError) as info:
        facts_from_mapping({"tpm_version": value, "x.é" + value: 1}, shipped_vocabulary(), origin="d.json")
    bad_value, unknown_key = info.value.diagnostics
    assert bad_value.message.startswith(f'"PC-é {SECRET_MASK}" is not a valid value'), bad_value.message
    # Masked before it is quoted: a path escapes other scripts' characters, digits included.
    assert unknown_key.path == f'$["x.\\u00e9PC-\\u00e9 {SECRET_MASK}"]', unknown_key.path
    assert not planted.leaks(info.value.render())


# ---------------------------------------------------------------------------------------------
# Every command, every format, a password planted in every kind of input
#
# One scenario holds every input kind at once, each field with one distinct password in every
# spelling (so one run checks them all, and a leak names its place and spelling). Each field
# also carries a marker word, so a test can tell the field reached the output at all.

# Rule ids and ruleset names allow only some spellings (letters, digits, `-` or `_`).
ID_SPELLINGS = ("dashes", "no-separator", "digits-joined", "digits-joined-no-separator")
# One spelling per file name (each name stays well under 255 bytes), covering the separators.
FILE_SPELLINGS = {
    "policy": "spaces",
    "graph-policy": "no-break-space",
    "device": "dashes",
    "managed-device": "arabic-indic",
    "recovery-keys": "underscore",
    "rules": "dot",
    "rules-b": "en-dash",
    "fleet": "no-separator",
    "csv": "fullwidth",
    "assignments": "digits-joined",
}


class Scenario:
    """Every input kind in one folder, each with passwords planted (see Planted)."""

    def __init__(self, folder: Path) -> None:
        from bitlocker_rules.engine import shipped_vocabulary

        self.folder, self.planted = folder, Planted()
        self.vocabulary = shipped_vocabulary()
        self.files: dict[str, str] = {}
        self.rule_ids = [f"C-{self.planted.password('rule id', s)}" for s in ID_SPELLINGS]
        self._write_policies()
        self._write_devices()
        self._write_rules()
        self._write_fleets()

    def text(self, place: str, spellings: Iterable[str] = SPELLINGS) -> str:
        return self.planted.text(place, spellings)

    def write(self, kind: str, suffix: str, content: str) -> str:
        """Write ``content`` to a file whose name holds a password; return its name."""
        name = f"{kind} {self.planted.password(f'{kind} file name', FILE_SPELLINGS[kind])}{suffix}"
        (self.folder / name).write_text(content, encoding="utf-8")
        self.files[kind] = name
        return name

    def _write_policies(self) -> None:
        self.write(
            "policy",
            ".json",
            json.dumps(
                {
                    "id": "p-1",
                    "displayName": self.text("policy displayName"),
                    "settings": {
                        "preboot_recovery_message": self.text("policy recovery message"),
                        "tpm_startup_pin": "Blocked",
                    },
                },
                indent=2,
            ),
        )
        graph = json.loads((ROOT / "examples/graph/endpoint-protection-beta.json").read_text())
        graph["displayName"], graph["id"] = self.text("graph policy displayName"), self.text("graph policy id")
        graph["description"] = self.text("graph policy description")
        graph["bitLockerSystemDrivePolicy"]["prebootRecoveryMessage"] = self.text("graph policy recovery message")
        self.write("graph-policy", ".json", json.dumps(graph, indent=2, ensure_ascii=False))

    def _write_devices(self) -> None:
        self.write(
            "device",
            ".json",
            json.dumps(
                {
                    "id": self.text("device id"),
                    "deviceName": self.text("device name"),
                    "facts": {"os_version": "10.0.19045.4291"},
                }
            ),
        )
        managed = json.loads((ROOT / "examples/graph/managed-device.json").read_text())
        managed["deviceName"] = self.text("managed device name")
        managed["azureADDeviceId"] = managed["azureActiveDirectoryDeviceId"] = self.text("managed device entra id")
        managed["serialNumber"] = self.text("managed device serial number")
        self.write("managed-device", ".json", json.dumps(managed, indent=2))
        keys = json.loads((ROOT / "examples/graph/recovery-keys.json").read_text())
        for record in keys["value"]:
            record["key"] = self.text("recovery key")  # where Graph really puts one: never read
            record["id"] = self.text("recovery key id")
        self.write("recovery-keys", ".json", json.dumps(keys, indent=2))

    def _write_rules(self) -> None:
        literal = json.dumps(self.text("rule literal"), ensure_ascii=False)
        rules = [
            f"""ruleset r_{self.planted.password("ruleset name", "underscore")} {self._string("ruleset title")}
  source {self._string("ruleset source")}
"""
        ]
        for n, rule_id in enumerate(self.rule_ids):
            rules.append(f"""
rule {rule_id} {self._string(f"rule title {'abcd'[n]}")}
  severity error
  sources S4
  rationale {self._string("rationale")}
  remediation {self._string("remediation")}
  require device.azure_ad_device_id in {{{self._string("rule literal")}, "x"}}
""")
        rules.append(f"""
rule P-01 "The recovery message is the approved one"
  severity warning
  sources S4
  require policy.preboot_recovery_message == {literal}
""")
        self.write("rules", ".rules", "".join(rules))
        name = f"r{self.planted.password('ruleset b name', 'no-separator')}"
        self.write(
            "rules-b",
            ".rules",
            f"""ruleset {name} {self._string("ruleset b title")}

rule D-{self.planted.password("rule b id", "dashes")} {self._string("rule b title")}
  severity error
  sources S4
  require device.azure_ad_device_id == {self._string("rule b literal")}
""",
        )

    def _string(self, place: str) -> str:
        """A quoted rule-language string holding the place's passwords (``\\n`` for a newline)."""
        return '"' + self.text(place).replace("\\", "\\\\").replace("\n", "\\n") + '"'

    def _write_fleets(self) -> None:
        graph_row = json.loads((ROOT / "examples/graph/managed-device.json").read_text())
        graph_row["deviceName"] = self.text("fleet graph row name")
        graph_row["azureADDeviceId"] = self.text("fleet graph row entra id")
        bad_values = {
            fact: self.planted.password("fleet bad value", spelling)
            for fact, spelling in zip(self.typed_device_facts(), SPELLINGS)
        }
        # Assignment files name the policy and device by plain ids: names are masked when read.
        rows = [
            {
                "deviceName": self.text("fleet row name"),
                "id": "row-1",
                "facts": {"azure_ad_device_id": self.text("fleet row entra id"), "os_version": "1809"},
            },
            graph_row,
            {"deviceName": self.text("fleet bad row name"), "facts": bad_values},
        ]
        self.write("fleet", ".jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        buffer = io.StringIO()
        csv.writer(buffer).writerows(
            [
                ["deviceName", "azure_ad_device_id", "os_version", "tpm_version"],
                [self.text("csv name"), self.text("csv entra id"), "1809", "2.0"],
                ["BAD", "", "1809", self.text("csv bad value")],
            ]
        )
        self.write("csv", ".csv", buffer.getvalue())
        self.write(
            "assignments",
            ".json",
            json.dumps(
                {
                    "groups": {self.text("assignment group"): {"members": ["row-1"], "policies": ["p-1"]}},
                    "devices": {"row-1": ["p-1"]},
                },
                ensure_ascii=False,
            ),
        )

    def typed_device_facts(self) -> list[str]:
        """Device facts a string is never a valid value of, one per spelling (each gets an error)."""
        facts = [
            name
            for name, fact in self.vocabulary.facts.items()
            if fact.namespace == "device" and fact.type.kind in ("bool", "integer", "decimal", "version")
        ]
        assert len(facts) >= len(SPELLINGS)
        return facts[: len(SPELLINGS)]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    return Scenario(tmp_path_factory.mktemp("planted"))


def run_cli(argv: list[str], folder: Path) -> tuple[int, str]:
    """Run the command line in-process in ``folder``; the exit code and everything it wrote
    (standard output, standard error, and every file it created there)."""
    before = set(folder.iterdir())
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    written = [path.read_text(encoding="utf-8") for path in sorted(set(folder.iterdir()) - before)]
    for path in set(folder.iterdir()) - before:
        path.unlink()
    return code, "\n".join([out.getvalue(), err.getvalue(), *written])


# Three groups: no renderer may show even part of a whole planted password (cut or wrapped
# before it was masked); the rule masks runs of four groups.
PART = 18
MASKED = "******"  # a piece of SECRET_MASK: shows a masked password where no marker can (ids)


def assert_nothing_leaks(planted: Planted, text: str, *, shown: Iterable[str] = ()) -> None:
    """Not even three groups of a planted password in ``text``; every place in ``shown``
    reached it (its marker is there)."""
    leaks = planted.leaks(text, PART)
    assert not leaks, "recovery passwords leaked: " + ", ".join(f"{place} ({spelling})" for place, spelling in leaks)
    missing = [place for place in shown if (place if place == MASKED else marker(place)) not in text]
    assert not missing, f"these inputs never reached the output, so the test proves nothing about them: {missing}"


def _rules_and_policies(s: Scenario) -> list[str]:
    f = s.files
    return ["--rules", f["rules"], "--policy", f["policy"], "--policy", f["graph-policy"]]


def _one_device(s: Scenario) -> list[str]:
    f = s.files
    return [
        *_rules_and_policies(s),
        "--device",
        f["device"],
        "--device",
        f["managed-device"],
        "--device",
        f["recovery-keys"],
    ]


def _fleet(s: Scenario) -> list[str]:
    f = s.files
    return [
        *_rules_and_policies(s),
        "--fleet",
        f["fleet"],
        "--assignments",
        f["assignments"],
    ]


def _rule_files(s: Scenario) -> list[str]:
    return [s.files["rules"], s.files["rules-b"]]


RULE_TITLES = ("rule title a", "rule title b", "rule title c", "rule title d")
CHECK_SHOWN = (
    "device id",
    "device name",
    "managed device name",
    "managed device entra id",
    "policy displayName",
    "policy recovery message",
    "graph policy displayName",
    "graph policy id",
    "graph policy recovery message",
    "remediation",
    "rule literal",
    *RULE_TITLES,
)
FLEET_SHOWN = (
    "fleet row name",
    "fleet row entra id",
    "fleet graph row name",
    "fleet graph row entra id",
    "policy displayName",
    "policy recovery message",
    "rule literal",
    *RULE_TITLES,
)
FLEET_SARIF_SHOWN = ("policy displayName", "policy recovery message", "rule literal", *RULE_TITLES)
FORMATS = ("table", "json", "markdown", "sarif", "junit", "html")

# name: (arguments, given the scenario; exit code; the places that must reach the output,
# or MASKED where only a masked password can show)
COMMANDS: dict[str, tuple[Callable[[Scenario], list[str]], int, tuple[str, ...]]] = {
    **{
        f"check --format {fmt}": (
            lambda s, fmt=fmt: ["check", *_one_device(s), "--format", fmt, "--verbose"],
            1,
            CHECK_SHOWN,
        )
        for fmt in FORMATS
    },
    "check --output": (
        lambda s: ["check", *_one_device(s), "--format", "html", "--output", "report.html"],
        1,
        CHECK_SHOWN,
    ),
    **{
        f"check --fleet --format {fmt}": (
            lambda s, fmt=fmt: ["check", *_fleet(s), "--format", fmt, "--output", "out", "--jsonl", "out.jsonl"],
            2,
            FLEET_SARIF_SHOWN if fmt == "sarif" else FLEET_SHOWN,
        )
        for fmt in FORMATS
    },
    "check --fleet (CSV)": (
        lambda s: [
            "check",
            "--rules",
            s.files["rules"],
            "--policy",
            s.files["policy"],
            "--fleet",
            s.files["csv"],
            "--jsonl",
            "out.jsonl",
        ],
        2,
        ("csv name", "csv entra id", *RULE_TITLES),
    ),
    "check --fleet --jobs 2": (
        lambda s: ["check", *_fleet(s), "--format", "json", "--jobs", "2"],
        2,
        ("fleet row entra id", *RULE_TITLES),
    ),
    **{
        f"repair --format {fmt}": (
            lambda s, fmt=fmt: ["repair", *_one_device(s), "--format", fmt],
            1,
            ("managed device entra id", "rule literal"),
        )
        for fmt in ("text", "json")
    },
    # One policy: with two, their recovery messages conflict and no repair shows either.
    **{
        f"repair --fleet --format {fmt}": (
            lambda s, fmt=fmt: [
                "repair",
                "--rules",
                s.files["rules"],
                "--policy",
                s.files["policy"],
                "--fleet",
                s.files["fleet"],
                "--format",
                fmt,
            ],
            2,
            ("policy recovery message", "rule literal") if fmt == "json" else (),
        )
        for fmt in ("text", "json")
    },
    **{
        f"lint --format {fmt}": (
            lambda s, fmt=fmt: ["lint", *_rule_files(s), "--format", fmt],
            1,
            ("rule literal", "rule b literal"),
        )
        for fmt in ("text", "json", "sarif")
    },
    "lint --output": (
        lambda s: ["lint", *_rule_files(s), "--format", "sarif", "--output", "lint.sarif"],
        1,
        ("rule literal", "rule b literal"),
    ),
    **{
        f"compare --format {fmt}": (
            lambda s, fmt=fmt: ["compare", *_rule_files(s), "--format", fmt],
            1,
            ("rule literal", "rule b literal"),
        )
        for fmt in ("text", "json")
    },
    "explain": (
        lambda s: ["explain", "--rules", s.files["rules"], "--", s.rule_ids[0]],
        0,
        ("rule title a", "rationale", "remediation", "rule literal"),
    ),
    "rules": (
        lambda s: ["rules", "--rules", s.files["rules"], "--rules", s.files["rules-b"]],
        0,
        (*RULE_TITLES, "rule b title"),
    ),
    "rules --coverage": (
        lambda s: ["rules", "--coverage", "--rules", s.files["rules"], "--rules", s.files["rules-b"]],
        1,
        (MASKED,),
    ),  # rule ids only (no marker), masked, then wrapped at 40 columns
}


@pytest.mark.parametrize("command", COMMANDS)
def test_no_command_shows_a_planted_password(scenario, command):
    arguments, code, shown = COMMANDS[command]
    exit_code, written = run_cli(arguments(scenario), scenario.folder)
    assert exit_code == code, written[-3000:]
    assert_nothing_leaks(scenario.planted, written, shown=shown)


def test_the_command_as_installed_masks_what_it_prints(scenario):
    # Once through a real process: the module entry point, real standard streams (not capsys).
    env = {
        **os.environ,
        "PYTHONIOENCODING": "utf-8",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bitlocker_rules", "check", *_one_device(scenario), "--verbose"],
        cwd=scenario.folder,
        env=env,
        capture_output=True,
        timeout=120,
    )
    written = (done.stdout + done.stderr).decode("utf-8", "replace")
    assert done.returncode == 1, written[-3000:]
    assert_nothing_leaks(scenario.planted, written, shown=CHECK_SHOWN)


def test_the_matrix_sees_a_leak_when_the_output_stops_masking(scenario, monkeypatch):
    # The oracle is only worth what it catches: with the masking of the command line's output
    # removed, lint's and compare's reports (masked nowhere else) must show it the passwords.
    monkeypatch.setattr("bitlocker_rules.cli.output.redact", lambda text: text)
    for argv in (["lint", "--format", "json"], ["compare"]):
        _, written = run_cli([*argv, *_rule_files(scenario)], scenario.folder)
        assert {"rule literal", "rule b literal"} <= {place for place, _ in scenario.planted.leaks(written)}


# ---------------------------------------------------------------------------------------------
# Inputs that are wrong: the error messages quote them, masked


def _malformed(scenario: Scenario, place: str, ascii_only: bool) -> str:
    """A JSON object whose first line holds the place's passwords and, after them, a syntax
    error, so the message's snippet quotes that line (as JSON escapes it when ``ascii_only``):
    a window of it around the error, cut through a password unless it was masked first."""
    return f'{{"displayName": {json.dumps(scenario.text(place), ensure_ascii=ascii_only)} "settings": {{}}}}\n'


def _bad_device_values(scenario: Scenario) -> str:
    facts: dict[str, object] = {
        fact: scenario.planted.password("device bad value", spelling)
        for fact, spelling in zip(scenario.typed_device_facts(), SPELLINGS)
    }
    facts[scenario.text("unknown fact key")] = 1  # I202, its JSON path quoting the key
    facts["device." + scenario.text("unknown dotted key")] = 1
    return json.dumps({"deviceName": "D", "facts": facts}, ensure_ascii=False)


def _bad_policy_values(scenario: Scenario) -> str:
    enums = [
        name
        for name, fact in scenario.vocabulary.facts.items()
        if fact.namespace == "policy" and fact.type.kind == "enum"
    ]
    settings = {
        fact: scenario.planted.password("policy bad value", spelling) for fact, spelling in zip(enums, SPELLINGS)
    }
    return json.dumps({"displayName": "P", "settings": settings}, ensure_ascii=False)


def _bad_graph_policy(scenario: Scenario) -> str:
    graph = json.loads((ROOT / "examples/graph/endpoint-protection-beta.json").read_text())
    drive = graph["bitLockerSystemDrivePolicy"]
    for key in (
        "encryptionMethod",
        "startupAuthenticationTpmUsage",
        "startupAuthenticationTpmPinUsage",
        "startupAuthenticationTpmKeyUsage",
        "startupAuthenticationTpmPinAndKeyUsage",
    ):
        drive[key] = scenario.text(f"graph bad {key}")
    graph["bitLockerRecoveryPasswordRotation"] = scenario.text("graph bad rotation")
    return json.dumps(graph, ensure_ascii=False)


def _bad_managed_device(scenario: Scenario) -> str:
    managed = json.loads((ROOT / "examples/graph/managed-device.json").read_text())
    managed["osVersion"] = scenario.text("graph bad os version")
    managed["isEncrypted"] = scenario.text("graph bad encrypted")
    return json.dumps(managed)  # non-ASCII digits as \\u escapes, as Graph writes them


def _unchecked_rules(scenario: Scenario) -> str:
    return f"""ruleset unchecked "U"

rule C-01 "T"
  severity error
  require device.x_{scenario.planted.password("unknown fact in a rule", "underscore")} == "a"
    and device.os_version == {scenario._string("version compared with text")}
"""


def _malformed_rules(scenario: Scenario) -> str:
    return f'ruleset malformed "M"\n\nrule C-01 {scenario._string("title before a syntax error")} require (\n'


# name: (file name, its content, the arguments that read it, the places its message must quote)
Arguments = Callable[[str, dict[str, str]], list[str]]  # (a path or a planted argument, the files) -> argv

BAD_INPUTS: dict[str, tuple[str, Callable[[Scenario], str], Arguments, tuple[str, ...]]] = {
    "malformed policy JSON, escaped": (
        "bad-policy.json",
        lambda s: _malformed(s, "malformed policy", True),
        lambda path, f: ["check", "--policy", path],
        (MASKED,),
    ),
    "malformed device JSON": (
        "bad-device.json",
        lambda s: _malformed(s, "malformed device", False),
        lambda path, f: ["check", "--device", path],
        (MASKED,),
    ),
    "malformed Graph export": (
        "bad-graph.json",
        lambda s: _malformed(s, "malformed graph", True),
        lambda path, f: ["check", "--device", f["managed-device"], "--device", path],
        (MASKED,),
    ),
    "malformed fleet row": (
        "bad-fleet.jsonl",
        lambda s: _malformed(s, "malformed fleet row", False),
        lambda path, f: ["check", "--fleet", path, "--format", "markdown"],
        (),
    ),
    "malformed assignment file": (
        "bad-assignments.json",
        lambda s: _malformed(s, "malformed assignments", False),
        lambda path, f: ["check", "--policy", f["policy"], "--fleet", f["fleet"], "--assignments", path],
        (MASKED,),
    ),
    "assignment of an unknown policy": (
        "unknown-policy.json",
        lambda s: json.dumps({"all_devices": [s.text("unknown policy")]}, ensure_ascii=False),
        lambda path, f: ["check", "--policy", f["policy"], "--fleet", f["fleet"], "--assignments", path],
        ("unknown policy",),
    ),
    "bad device values and keys": (
        "bad-values.json",
        _bad_device_values,
        lambda path, f: ["check", "--device", path],
        ("unknown fact key", "unknown dotted key"),
    ),
    "bad policy values": (
        "bad-settings.json",
        _bad_policy_values,
        lambda path, f: ["check", "--policy", path],
        (MASKED,),
    ),
    "bad Graph policy values": (
        "bad-ep.json",
        _bad_graph_policy,
        lambda path, f: ["check", "--policy", path],
        ("graph bad encryptionMethod",),
    ),
    "bad managed device values": (
        "bad-managed.json",
        _bad_managed_device,
        lambda path, f: ["check", "--device", path],
        ("graph bad os version",),
    ),
    "rule file that does not check": (
        "unchecked.rules",
        _unchecked_rules,
        lambda path, f: ["check", "--rules", path, "--device", f["device"]],
        ("version compared with text",),
    ),
    "malformed rule file": (
        "malformed.rules",
        _malformed_rules,
        lambda path, f: ["check", "--rules", path, "--device", f["device"]],
        (MASKED,),
    ),
    **{
        f"malformed rule file, lint --format {fmt}": (
            "malformed.rules",
            _malformed_rules,
            lambda path, f, fmt=fmt: ["lint", path, "--format", fmt],
            (),
        )
        for fmt in ("text", "json", "sarif")
    },
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_no_error_message_shows_a_planted_password(scenario, case):
    name, content, arguments, shown = BAD_INPUTS[case]
    (scenario.folder / name).write_text(content(scenario), encoding="utf-8")
    exit_code, written = run_cli(arguments(name, scenario.files), scenario.folder)
    assert exit_code == 2, written[-3000:]
    assert "Traceback" not in written
    assert_nothing_leaks(scenario.planted, written, shown=shown)


# ---------------------------------------------------------------------------------------------
# Command-line arguments the output repeats


def planted_argument(scenario: Scenario, place: str) -> str:
    """An argument with the place's passwords, one per path segment (a file name may not be
    longer than 255 bytes)."""
    return f"{marker(place)} " + "/".join(scenario.planted.password(place, s) for s in SPELLINGS)


# name: the arguments, given the planted argument and the scenario's files
ARGUMENTS: dict[str, Arguments] = {
    "check --rules NAME": lambda arg, f: ["check", "--rules", arg, "--device", f["device"]],
    "check --policy FILE": lambda arg, f: ["check", "--policy", arg],
    "check --device FILE": lambda arg, f: ["check", "--device", arg],
    "check --fleet FILE": lambda arg, f: ["check", "--fleet", arg],
    "check --assignments FILE": lambda arg, f: [
        "check",
        "--policy",
        f["policy"],
        "--fleet",
        f["fleet"],
        "--assignments",
        arg,
    ],
    "check --scenario NAME": lambda arg, f: ["check", "--scenario", arg, "--device", f["device"]],
    "check --output FILE": lambda arg, f: ["check", "--device", f["device"], "--output", f"missing/{arg}"],
    "repair --rules NAME": lambda arg, f: ["repair", "--rules", arg, "--device", f["device"]],
    "lint PATH": lambda arg, f: ["lint", arg],
    "compare A B": lambda arg, f: ["compare", arg, f["rules"]],
    "rules --rules NAME": lambda arg, f: ["rules", "--rules", arg],
    "explain --rules NAME": lambda arg, f: ["explain", "C-01", "--rules", arg],
}


def assert_argument_masked(scenario: Scenario, case: str, arguments: Arguments) -> None:
    """The command refuses the planted argument (exit 2) and repeats it only masked."""
    exit_code, written = run_cli(arguments(planted_argument(scenario, case), scenario.files), scenario.folder)
    assert exit_code == 2, written[-3000:]
    assert_nothing_leaks(scenario.planted, written, shown=(case,))


@pytest.mark.parametrize("case", ARGUMENTS)
def test_no_echoed_argument_shows_a_planted_password(scenario, case):
    assert_argument_masked(scenario, case, ARGUMENTS[case])


# What the lead's cli/output.py (every message through one masking function, a crash exit code
# and a masked --debug traceback) made pass: written before it, they failed on the branch.
ECHOED_BY_THE_PARSER_AND_EXPLAIN = {
    "explain RULE_ID": lambda arg, f: ["explain", "--rules", f["rules"], "--", arg],
    "check --format (invalid choice)": lambda arg, f: ["check", "--format", arg, "--device", f["device"]],
    "lint --fail-on (invalid choice)": lambda arg, f: ["lint", "--fail-on", arg],
    "COMMAND (invalid choice)": lambda arg, f: [arg],
}


@pytest.mark.parametrize("case", ECHOED_BY_THE_PARSER_AND_EXPLAIN)
def test_arguments_echoed_by_the_parser_and_explain_are_masked(scenario, case):
    assert_argument_masked(scenario, case, ECHOED_BY_THE_PARSER_AND_EXPLAIN[case])


def _crash(secret: str):
    def crash(*args, **kwargs):
        raise RuntimeError(f"an unforeseen failure near {secret}")

    return crash


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "--debug"])
def test_a_crash_is_exit_code_3_and_its_message_and_traceback_are_masked(scenario, monkeypatch, debug):
    from bitlocker_rules.engine import Engine

    secret = scenario.text("crash message")
    monkeypatch.setattr(Engine, "evaluate", _crash(secret))
    argv = ["--debug"] * debug + ["check", *_one_device(scenario)]
    exit_code, written = run_cli(argv, scenario.folder)
    assert exit_code == 3
    assert ("Traceback" in written) == debug and "RuntimeError" in written
    assert_nothing_leaks(scenario.planted, written, shown=("crash message",))


@pytest.mark.parametrize("command", ["check", "lint"])
def test_a_name_too_long_for_the_file_system_is_bad_input_shown_masked(scenario, command):
    # Path.is_file() and is_dir() raise OSError (ENAMETOOLONG) for a name over 255 bytes: bad
    # input (2), never a crash (3), with the name masked.
    name = scenario.text("name too long")
    argv = ["check", "--rules", name, "--device", scenario.files["device"]] if command == "check" else ["lint", name]
    exit_code, written = run_cli(argv, scenario.folder)
    assert exit_code == 2
    assert_nothing_leaks(scenario.planted, written, shown=("name too long",))


@pytest.fixture
def scans(monkeypatch) -> list[str]:
    """Every text the masking scans from now on (redact's full scan, counted)."""
    found: list[str] = []
    real = errors._masked
    monkeypatch.setattr(errors, "_masked", lambda text, mask: found.append(text) or real(text, mask))
    return found


def test_masked_text_is_not_scanned_again_but_a_join_of_two_is(scans):
    """Masking happens once per text: what redact returned passes the output door as it is; a
    join of masked parts is new text, scanned again (two harmless halves can make a password)."""
    halves = ("id 123456-234567-345678-456789", "-567890-678901-789012-890123")
    masked = [redact(half) for half in halves]
    assert masked == list(halves)  # four groups that BitLocker would not make: each half alone is shown
    scanned = len(scans)  # the two halves were each scanned once
    assert redact(masked[0]) is masked[0] and len(scans) == scanned
    assert SECRET_MASK in redact(masked[0] + masked[1]) and len(scans) == scanned + 1


_bracketed = st.tuples(st.sampled_from("{["), _digit_soup, st.sampled_from("}]")).map("".join)


@given(st.lists(_bracketed, max_size=6), st.sampled_from(["", ", ", "\n", "123456-", "\x1b"]))
def test_shown_pieces_joined_at_brackets_read_as_their_join_shown(pieces, separator):
    """A fleet's JSON lines are joined from entries shown once each: the join must be what
    showing the whole line gives (no password reaches across a bracket; escaping is per character)."""
    joined = errors.joined_values([errors.shown_text(p) for p in pieces], separator)
    assert joined == errors.escape_controls(redact(separator.join(pieces)))
    assert type(joined) is errors.ShownText


def test_shown_pieces_not_bracketed_are_shown_again_when_joined():
    halves = [errors.shown_text(h) for h in ("{id 123456-234567-345678-456789", "-567890-678901-789012-890123}")]
    assert halves == ["{id 123456-234567-345678-456789", "-567890-678901-789012-890123}"]
    assert SECRET_MASK in errors.joined_values(halves)


def test_a_report_is_masked_once_on_its_way_out(scans, capsys):
    """``check --format json``: the renderer masks the report; the command line's door, which
    masks everything it writes, does not scan the same text a second time."""
    examples = Path(__file__).resolve().parent.parent / "examples"
    main(
        [
            "check",
            "--policy",
            str(examples / "policy-silent.json"),
            "--device",
            str(examples / "device-ready.json"),
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr().out
    assert out.startswith("{") and sum(text.startswith("{") and len(text) > 1000 for text in scans) == 1
