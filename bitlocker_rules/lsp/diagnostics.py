"""A document's findings as LSP diagnostics: the range of each finding's place in this file,
its severity, its code and its help; every text masked."""

from __future__ import annotations

from lsprotocol import types

from ..analysis import Finding
from ..errors import redact
from ..source import Location, Span
from .document import Document
from .positions import UTF16, LineIndex

SOURCE = "bitlocker-rules"
_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


def lsp_diagnostics(document: Document, uri: str, encoding: str = UTF16) -> list[types.Diagnostic]:
    """Every finding of ``document`` as a diagnostic; one without a place in it sits at the start."""
    index = LineIndex(document.text)
    return [_diagnostic(f, document.name, index, uri, encoding) for f in document.findings or ()]


def _diagnostic(finding: Finding, name: str, index: LineIndex, uri: str, encoding: str) -> types.Diagnostic:
    here = [loc for loc in finding.locations if loc.file == name]
    help_text = finding.details.get("help")
    message = finding.message + (f"\nhelp: {help_text}" if help_text else "")
    return types.Diagnostic(
        range=lsp_range(index, here[0], encoding) if here else types.Range(types.Position(0, 0), types.Position(0, 0)),
        message=redact(message),
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Error),
        code=finding.code,
        source=SOURCE,
        related_information=[
            types.DiagnosticRelatedInformation(types.Location(uri, lsp_range(index, loc, encoding)), "see also")
            for loc in here[1:]
        ]
        or None,
    )


def lsp_range(index: LineIndex, location: Location, encoding: str = UTF16) -> types.Range:
    """A ``Location`` (1-based lines, character columns) as an LSP range in ``encoding`` units."""
    start = index.offset_of_column(location.start_line, location.start_column)
    end = index.offset_of_column(location.end_line, location.end_column)
    return index.range(Span(start, end), encoding)
