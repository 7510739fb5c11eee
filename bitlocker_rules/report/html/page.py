"""The pieces every HTML page is made of: escaping, the page frame, cards, tables, badges, KPIs.

Text from the inputs reaches the page only through ``escaped`` (``html.escape``) or
``code_span``; the frame inlines the stylesheet, ``style.css`` beside this module, read once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from html import escape
from importlib.resources import files
from typing import Protocol

from ...outcome import Condition, InputRecord, RuleOutcome, Status

STATUS_ORDER = (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE)
"""The statuses in the order bars, legends and counts show them."""

STATUS_NAMES = {
    Status.PASS: "pass",
    Status.FAIL: "fail",
    Status.UNKNOWN: "unknown",
    Status.NOT_APPLICABLE: "n/a",
    Status.WAIVED: "waived",
}
"""Each status as a fleet page names it."""

DEVICE_STATUS_NAMES = {**STATUS_NAMES, Status.NOT_APPLICABLE: "does not apply"}
"""Each status as a device's page names it: not applicable said in words."""

CONFLICTS_LEAD = (
    "Assigned policies give these settings different values; the rules that read them are unknown until one value wins."
)
"""The lead of a card of settings in conflict, on a device's page and a fleet's."""

_FOOTER = "<footer>Made by bitlocker-rules. This page is self-contained: it loads nothing from the network.</footer>"


@cache
def stylesheet() -> str:
    """The page's style sheet, ``style.css``, read once from the package (a checkout or a wheel)."""
    return files(__package__).joinpath("style.css").read_text(encoding="utf-8")


def escaped(value: object) -> str:
    """``value`` as text, escaped for HTML (quotes too, so it may stand in an attribute)."""
    return escape(str(value), quote=True)


def code_span(value: object) -> str:
    """Text in a code span that may wrap after ``.``, ``_`` and ``[`` (fact names, JSON paths)."""
    text = escaped(value)
    for mark in (".", "_", "["):
        text = text.replace(mark, mark + "<wbr>")
    return f"<code>{text}</code>"


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as a whole percentage; ``0%`` of nothing."""
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def svg_number(value: float) -> str:
    """A coordinate for SVG: at most one decimal, no trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def html_page(title: str, eyebrow: str, subtitle: str, body: Sequence[str]) -> str:
    """The whole document: the head with the inline style sheet, the header, ``body`` and the footer."""
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        f"<title>{escaped(title)}</title>",
        f"<style>\n{stylesheet()}</style>",
        "</head>",
    ]
    header = [
        '<header class="top"><div class="wrap">',
        f'<div class="eyebrow">{escaped(eyebrow)}</div>',
        f"<h1>{escaped(title)}</h1>",
        f'<p class="subtitle">{subtitle}</p>',
        "</div></header>",
    ]
    main = ['<main class="wrap">', *body, _FOOTER, "</main>"]
    return "\n".join([*head, "<body>", *header, *main, "</body>", "</html>"]) + "\n"


def card(heading: str, *content: str) -> list[str]:
    """A section of the page: a card with ``heading``, then ``content``, one item a line."""
    return ['<section class="card">', f"<h2>{heading}</h2>", *content, "</section>"]


def lead(html: str) -> str:
    """The paragraph under a card's heading that says what the card shows."""
    return f'<p class="lead">{html}</p>'


def kpi(label: str, value: object, kind: str = "", extra: str = "", bar: str = "") -> str:
    """A headline number with its label; ``kind`` colours it, ``extra`` and ``bar`` (a ``meter``) follow it."""
    return (
        f'<div class="kpi {kind}"><div class="label">{escaped(label)}</div>'
        f'<div class="value">{escaped(value)}{extra}</div>{bar}</div>'
    )


def meter(parts: Sequence[tuple[int, str]], whole: int) -> str:
    """A thin bar under a KPI: each ``(count, colour)`` as its share of ``whole``."""
    spans = "".join(
        f'<span style="width:{svg_number(100 * n / whole)}%;background:{colour}"></span>'
        for n, colour in parts
        if whole and n
    )
    return f'<div class="meter">{spans}</div>'


def badge(status: Status, names: Mapping[Status, str] = STATUS_NAMES) -> str:
    """A status as a coloured badge, named by ``names``."""
    kind = "na" if status is Status.NOT_APPLICABLE else status.value
    return f'<span class="badge {kind}">{names[status]}</span>'


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = (), widths: Sequence[int] = ()
) -> str:
    """A table of ``rows`` (cells already HTML) under ``headers``; ``numeric`` columns right-aligned,
    ``widths`` in percent."""
    cols = "<colgroup>" + "".join(f'<col style="width:{w}%">' for w in widths) + "</colgroup>" if widths else ""
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{escaped(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table>{cols}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class InRuleset(Protocol):
    """Anything of one ruleset: a rule's outcome on a device, or its tally over a fleet."""

    @property
    def ruleset(self) -> str:
        """The ruleset's name."""


def ruleset_names(items: Iterable[InRuleset]) -> str:
    """The rulesets of ``items`` (rule tallies or outcomes) in the order first seen, escaped, for a subtitle."""
    return escaped(", ".join(dict.fromkeys(i.ruleset for i in items)) or "no ruleset")


def setting_cell(condition: Condition) -> str:
    """A condition's setting or fact: its label, and its name in code below it."""
    return f"{escaped(condition.label)}<br>{code_span(condition.fact)}"


def rule_text_cell(condition: Condition) -> str:
    """A condition's rule text in code, and where the rule is written below it (when known)."""
    where = f'<br><span class="muted">{escaped(condition.location)}</span>' if condition.location else ""
    return code_span(condition.text) + where


def fix_box(outcome: RuleOutcome) -> str:
    """A rule's fix and its BitLocker event ids in a box; nothing when it has neither."""
    items = []
    if outcome.remediation:
        items.append(f"<b>Fix:</b> {escaped(outcome.remediation)}")
    if outcome.events:
        items.append(f"<b>BitLocker event ids:</b> {escaped(', '.join(str(e) for e in outcome.events))}")
    return f'<div class="fix">{"<br>".join(items)}</div>' if items else ""


def inputs_card(inputs: Sequence[InputRecord]) -> list[str]:
    """The files read and what each was read as."""
    if not inputs:
        return []
    rows = [[escaped(i.name), code_span(i.file), escaped(i.kind)] for i in inputs]
    return card("Inputs read", table(["Input", "File", "Read as"], rows))
