"""A document in its canonical layout: ``fmt``'s, comments kept where they were."""

from __future__ import annotations

from ..errors import RulesError
from ..formatter import format_text
from .document import Document


def formatted(document: Document) -> str | None:
    """The document's canonical text, as ``bitlocker-rules fmt`` writes it; None when it does
    not parse (or gives a clause twice, which printing would lose)."""
    if document.parsed is None:
        return None
    try:
        return format_text(document.text, document.name)
    except RulesError:
        return None
