"""One version of a document, parsed, checked and linted once: its trees and its findings.

The findings are what ``lint`` reports for the file: the parser's and checker's diagnostics
(``analysis.diagnostic_findings``) when it does not check, the analyser's findings
(``analysis.lint``) when it does, with the file's inline suppressions applied
(``# bitlocker-rules: ignore[CHECK] reason: WHY``), as ``lint`` applies them.
"""

from __future__ import annotations

import attrs
from attrs import frozen

from .. import analysis
from .. import nodes as n
from ..analysis import Finding
from ..config import ProjectConfig
from ..engine import compile_text
from ..errors import RulesError
from ..scenarios import ScenarioResolver, declared_by_rulesets
from ..source import Span
from ..suppression import apply_suppressions
from ..syntax import parse_ruleset
from ..vocabulary import Vocabulary

LINT_SECONDS = 2.0  # the analyser's budget per version typed; past it lint says L108 (undecided)


@frozen
class Document:
    """A document's text with what was made of it: the parsed tree (None when it does not parse),
    the checked tree (None when it does not check or was not checked) and every finding, in the
    file's order (None when they were not looked for: a reading only for requests). ``kept``: while
    the text does not parse, what an earlier reading's tree still says of it (``with_earlier``)."""

    text: str
    name: str
    parsed: n.ParsedRuleset | None
    checked: n.CheckedRuleset | None = None
    findings: tuple[Finding, ...] | None = None
    kept: n.ParsedRuleset | None = None

    @property
    def outline(self) -> n.ParsedRuleset | None:
        """The tree definitions and symbols are read from: the parsed one, else the one kept."""
        return self.parsed if self.parsed is not None else self.kept


def with_earlier(document: Document, earlier: Document | None) -> Document:
    """``document``; when it does not parse, with the part of ``earlier``'s tree that lies wholly in
    the text the two still share, so the outline and definitions stay while a change is typed.
    Offsets there are the same in both texts; nothing after the first change is kept."""
    if document.parsed is not None or earlier is None or earlier.outline is None:
        return document
    shared = _shared_length(document.text, earlier.text)
    tree = earlier.outline
    if tree.span is None:
        return document
    kept = attrs.evolve(
        tree,
        definitions=tuple(d for d in tree.definitions if _ends_by(d.expr.span, shared)),
        rules=tuple(r for r in tree.rules if _ends_by(r.span, shared)),
        span=Span(tree.span.start, min(tree.span.end, shared)),
    )
    return attrs.evolve(document, kept=kept)


def _shared_length(text: str, other: str) -> int:
    """How many characters the two texts have in common from their start."""
    return next((i for i, (a, b) in enumerate(zip(text, other)) if a != b), min(len(text), len(other)))


def _ends_by(span: Span | None, offset: int) -> bool:
    return span is not None and span.end <= offset


def parse_document(text: str, name: str) -> Document:
    """``text`` parsed only: what hover, completion, definitions, symbols and formatting read,
    without the checker's and the analyser's time (diagnostics wait for the keystrokes to settle)."""
    try:
        return Document(text, name, parse_ruleset(_as_parsed(text), name))
    except RulesError:
        return Document(text, name, None)


def _as_parsed(text: str) -> str:
    """The text the parser reads: a byte-order mark, which it would drop, becomes a space, so the
    tree's offsets are the text's."""
    return " " + text[1:] if text.startswith("\ufeff") else text


def read_document(
    text: str,
    name: str,
    vocabulary: Vocabulary,
    *,
    lint_seconds: float = LINT_SECONDS,
    config: ProjectConfig | None = None,
) -> Document:
    """Parse, check and lint ``text`` (the rule file called ``name``) as ``lint`` would, with the
    lint checks ``config`` (the project's configuration) enables and does not disable."""
    text_read = _as_parsed(text)
    try:
        parsed = parse_ruleset(text_read, name)
    except RulesError as exc:
        return Document(text, name, None, None, tuple(analysis.diagnostic_findings(exc.diagnostics)))
    try:
        loaded = compile_text(text_read, name, vocabulary)
    except RulesError as exc:
        return Document(text, name, parsed, None, tuple(analysis.diagnostic_findings(exc.diagnostics)))
    # As lint does for a ruleset named: its header's scenarios are declared.
    assumed = ScenarioResolver(vocabulary, declared_by_rulesets([loaded.ruleset])).values({})
    findings = analysis.lint([loaded], vocabulary, assumed=assumed, timeout=lint_seconds)
    if config is not None:
        findings = [f for f in findings if config.lint_wanted(f.code, f.name)]
    if loaded.ruleset.text is not None:
        findings = apply_suppressions(findings, {name: loaded.ruleset.text})
    return Document(text, name, parsed, loaded.ruleset, tuple(findings))
