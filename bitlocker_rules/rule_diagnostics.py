"""One rule file's problems as ``Diagnostic`` records: what an editor shows as you type.

Syntax and checker errors when the text does not load; when it does, the lint findings that
point into it, with the file's suppressions applied. ``finding_diagnostic`` is how a lint
finding reads as a diagnostic (``lint`` shows findings through it too).
"""

from __future__ import annotations

from collections.abc import Mapping

from . import analysis
from .engine import compile_text
from .errors import Diagnostic, RulesError
from .scenarios import ScenarioResolver, declared_by_rulesets
from .source import Location, SourceText, Span
from .suppression import apply_suppressions
from .vocabulary import Vocabulary, shipped_vocabulary

LINT_TIMEOUT = 2.0  # seconds: an editor wants its answer now; lint itself searches longer


def rule_diagnostics(
    text: str, name: str = "<string>", vocabulary: Vocabulary | None = None, *, lint: bool = True
) -> list[Diagnostic]:
    """Every problem of the rule file ``text`` (named ``name``), sorted by place."""
    vocabulary = vocabulary or shipped_vocabulary()
    try:
        loaded = compile_text(text, name, vocabulary)
    except RulesError as exc:
        return list(exc.diagnostics)
    if not lint or loaded.ruleset.text is None:
        return []
    sources = {name: loaded.ruleset.text}
    # As lint does for a ruleset it is given: the scenarios its header declares are assumed.
    assumed = ScenarioResolver(vocabulary, declared_by_rulesets([loaded.ruleset])).values({})
    findings = apply_suppressions(analysis.lint([loaded], vocabulary, assumed=assumed, timeout=LINT_TIMEOUT), sources)
    found = [finding_diagnostic(f, sources) for f in findings]
    return sorted((d for d in found if d is not None), key=lambda d: d.span.start if d.span else -1)


def finding_diagnostic(finding: analysis.Finding, sources: Mapping[str, SourceText]) -> Diagnostic | None:
    """A lint finding as a diagnostic on the rule text of its first place (None when that
    place is in none of ``sources``)."""
    where = finding.locations[0] if finding.locations else None
    source = sources.get(where.file) if where is not None else None
    if where is None or source is None:
        return None
    help_text = finding.details.get("help")
    return Diagnostic(
        finding.code,
        finding.message,
        finding.severity,
        source=source,
        span=span_of(source, where),
        help=help_text if isinstance(help_text, str) else None,
    )


def span_of(source: SourceText, place: Location) -> Span:
    """The span of ``source`` a location (lines and columns from 1) covers."""
    starts = [0] + [i + 1 for i, ch in enumerate(source.text) if ch == "\n"]

    def offset(line: int, column: int) -> int:
        return min(len(source.text), starts[min(line, len(starts)) - 1] + column - 1)

    return Span(offset(place.start_line, place.start_column), offset(place.end_line, place.end_column))
