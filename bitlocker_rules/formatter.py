"""Rule text → the same rules in canonical layout, comments kept where they were (``fmt``).

The layout is the printer's (``printer.print_ruleset`` with a width); the comments, which the
syntax tree drops, come from the lexer. Each comment is attached to an *anchor*, the keyword
that starts a header line, a definition, a rule or one of its clauses: a comment on a line
of its own leads the next anchor (or, inside a clause that spans lines, the clause it is in);
a comment after code on a line trails the anchor that line belongs to. Printing keeps each
anchor's comments with it, so a comment moves with its clause when clauses are put in
canonical order. Items stay in the order written; blank lines between items are kept (one at
most), and a rule is always set apart by one.

``format_text`` is idempotent, and the text it returns parses to the same tree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import attrs
from attrs import frozen

from . import nodes as n
from .errors import RulesError
from .printer import INDENT, Block, header_blocks, layout_text, print_definition, quote, rule_blocks
from .syntax import Lexeme, lexemes, parse_ruleset, unescape

WIDTH = 100  # columns a formatted line ends by, where the text allows it
_HEADER = ("ruleset", "source", "scenario")
_ITEMS = ("define", "rule", "note")
_CLAUSES = (
    "severity",
    "sources",
    "related",
    "scenario",
    "disputed",
    "unconfirmed",
    "events",
    "when",
    "require",
    "rationale",
    "remediation",
)
Key = tuple[str | int, ...]


@frozen
class Comment:
    """A comment as written (without trailing blanks), and whether a blank line came before it."""

    text: str
    blank_before: bool


@frozen
class Anchor:
    """A keyword that starts a printed block, with the comments that go with it."""

    key: Key
    start: int
    end: int  # just after the last token of its block in the source
    blank_before: bool
    strings: tuple[str, ...] = ()  # the quoted strings of its text as written, unescaped
    leading: tuple[Comment, ...] = ()
    trailing: tuple[Comment, ...] = ()


def format_text(text: str, name: str = "<string>", width: int = WIDTH) -> str:
    """``text`` (one rule file) in canonical layout; raises ``RulesError`` when it does not parse."""
    text = text.removeprefix("\ufeff")
    ruleset = parse_ruleset(text, name)
    if ruleset.problems:  # a clause given twice: printing would keep only one of them
        raise RulesError(ruleset.problems)
    anchors, closing = attached(text, lexemes(text))
    return _printed(ruleset, anchors, closing, width)


def attached(text: str, tokens: Sequence[Lexeme]) -> tuple[dict[Key, Anchor], tuple[Comment, ...]]:
    """Every anchor of ``tokens`` by key, its comments attached, and the comments after the last."""
    anchors = _anchors(text, tokens)
    leading: list[list[Comment]] = [[] for _ in anchors]
    trailing: list[list[Comment]] = [[] for _ in anchors]
    closing: list[Comment] = []
    previous_end = 0
    for token in tokens:
        if token.kind == "COMMENT":
            comment = Comment(token.text.rstrip(), _blank_between(text, previous_end, token.span.start))
            _attach(comment, _own_line(text, token.span.start), token.span.start, anchors, leading, trailing, closing)
        previous_end = token.span.end
    found = {
        a.key: attrs.evolve(a, leading=tuple(lead), trailing=tuple(trail))
        for a, lead, trail in zip(anchors, leading, trailing, strict=True)
    }
    return found, tuple(closing)


def _attach(
    comment: Comment,
    own_line: bool,
    at: int,
    anchors: Sequence[Anchor],
    leading: list[list[Comment]],
    trailing: list[list[Comment]],
    closing: list[Comment],
) -> None:
    """File ``comment`` (at offset ``at``) with the anchor it goes with."""
    before = [i for i, a in enumerate(anchors) if a.start < at]
    if not own_line and before:
        trailing[before[-1]].append(comment)
    elif before and at < anchors[before[-1]].end:  # inside a clause that spans lines: it leads that clause
        leading[before[-1]].append(comment)
    elif len(before) < len(anchors):
        leading[len(before)].append(comment)
    else:
        closing.append(comment)


def _anchors(text: str, tokens: Sequence[Lexeme]) -> list[Anchor]:
    """The anchors in source order, each keyed as the printer keys its block."""
    code = [t for t in tokens if t.kind != "COMMENT"]
    starts = [i for i, t in enumerate(code) if t.kind in (*_HEADER, *_ITEMS, *_CLAUSES)]
    ends = {t.span.start: previous.span.end for previous, t in itertools.pairwise(tokens)}
    anchors, item, requires = [], -1, 0
    for number, index in enumerate(starts):
        token = code[index]
        if token.kind in _ITEMS:
            item, requires = item + 1, 0
            key: Key = (item, "head")
        elif item < 0:
            key = (token.kind,)
        elif token.kind == "require":
            key, requires = (item, "require", requires), requires + 1
        else:
            key = (item, token.kind)
        last = code[starts[number + 1] - 1] if number + 1 < len(starts) else code[-1]
        blank = _blank_between(text, ends.get(token.span.start, 0), token.span.start)
        strings = tuple(
            unescape(t.text)
            for t in code[index : starts[number + 1] if number + 1 < len(starts) else None]
            if t.kind == "STRING"
        )
        anchors.append(Anchor(key, token.span.start, last.span.end, blank, strings))
    return anchors


def _own_line(text: str, offset: int) -> bool:
    """Whether only blanks come before ``offset`` on its line."""
    return not text[text.rfind("\n", 0, offset) + 1 : offset].strip()


def _blank_between(text: str, start: int, end: int) -> bool:
    """Whether a blank line lies between two offsets (comments between them excluded by the caller)."""
    return text.count("\n", start, end) >= 2


def _printed(ruleset: n.Ruleset, anchors: dict[Key, Anchor], closing: Iterable[Comment], width: int) -> str:
    printed = {b.key for b in header_blocks(ruleset, width)}
    printed |= {b.key for number, item in enumerate(_items(ruleset)) for b in _item_blocks(item, number, width)}
    anchors, closing = _rehomed(anchors, printed, closing)
    lines: list[str] = []
    for block in header_blocks(ruleset, width):
        level = 0 if block.key == ("ruleset",) else 1
        lines += _block_lines(block, anchors.get(block.key), level, group_blank=False, width=width)
    previous_kind = ""
    for number, item in enumerate(_items(ruleset)):
        kind = item.kind if isinstance(item, n.Rule) else "define"
        forced = number == 0 or kind != "define" or previous_kind != "define"  # a rule is always set apart
        for block in _item_blocks(item, number, width):
            level, group_blank = (0, forced) if block.key[1:] == ("head",) else (1, False)
            lines += _block_lines(block, anchors.get(block.key), level, group_blank=group_blank, width=width)
        previous_kind = kind
    for comment in closing:
        lines += [""] * comment.blank_before + [comment.text]
    return "\n".join(lines) + "\n"


def _rehomed(
    anchors: dict[Key, Anchor], printed: set[Key], closing: Iterable[Comment]
) -> tuple[dict[Key, Anchor], tuple[Comment, ...]]:
    """The comments of a clause that prints as nothing (``source ""``) lead the next one printed."""
    homed: dict[Key, Anchor] = {}
    carried: list[Comment] = []
    for key, anchor in anchors.items():
        if key not in printed:
            carried += [*anchor.leading, *(Comment(c.text, False) for c in anchor.trailing)]
            continue
        homed[key] = attrs.evolve(anchor, leading=(*carried, *anchor.leading)) if carried else anchor
        carried = []
    return homed, (*carried, *closing)


def _items(ruleset: n.Ruleset) -> list[n.Definition | n.Rule]:
    """Definitions, rules and notes in the order written."""
    items: list[n.Definition | n.Rule] = [*ruleset.definitions, *ruleset.rules]
    return sorted(items, key=lambda i: i.span.start if i.span is not None else 0)


def _item_blocks(item: n.Definition | n.Rule, number: int, width: int) -> list[Block]:
    if isinstance(item, n.Definition):
        return [Block((number, "head"), print_definition(item, width))]
    return rule_blocks(item, width, number)


def _as_written(printed: str, strings: Sequence[str], width: int) -> str:
    """A text clause with the author's breaks between its strings when each line fits ``width``:
    a text is re-filled only when a line is too long. Other blocks are returned as printed."""
    first = printed.split("\n", 1)[0]
    if len(strings) < 2 or '"' not in first:
        return printed
    prefix = first[: first.index('"')]
    if printed != prefix + "\n".join(layout_text(" ".join(strings), len(prefix), width)):
        return printed  # not a text clause (strings in a condition or a list of sources)
    lines = [prefix + quote(strings[0]), *(" " * len(prefix) + quote(s) for s in strings[1:])]
    return printed if any(len(line) > width for line in lines) else "\n".join(lines)


def _block_lines(block: Block, anchor: Anchor | None, level: int, *, group_blank: bool, width: int) -> list[str]:
    """A block's lines with its comments: the leading ones above it, indented as it is, the
    trailing ones after its lines (one a line; those left over go above it too). At the top
    level, blank lines written between comments and before the block are kept (one each)."""
    if anchor is None:
        return [""] * group_blank + block.text.split("\n")
    text = _as_written(block.text, anchor.strings, width).split("\n")
    kept, surplus = anchor.trailing[: len(text)], anchor.trailing[len(text) :]
    for index, comment in enumerate(kept):
        text[index] += "  " + comment.text
    # Trailing comments left over go just above the block, which keeps its blank line above them.
    above = [Comment(c.text, anchor.blank_before and i == 0) for i, c in enumerate(surplus)]
    comments = [*anchor.leading, *above]
    elements = [
        *((c.blank_before, INDENT * level + c.text) for c in comments),
        (anchor.blank_before and not above, text[0]),
    ]
    out: list[str] = []
    for index, (blank, line) in enumerate(elements):
        if index == 0:
            blank = group_blank or (blank and level == 0 and block.key != ("ruleset",))
        out += [""] * (blank and level == 0) + [line]
    return out + text[1:]
