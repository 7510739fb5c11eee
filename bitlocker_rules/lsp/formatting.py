"""A document in its canonical layout.

This is the one place the server formats; it prints the parsed tree with ``printer``, which
keeps no comments, so a document with a comment is left as it is (None) rather than losing
them. When ``fmt`` (the layout that keeps comments) is in the package, this function calls it.
"""

from __future__ import annotations

from ..printer import print_ruleset
from .context import code_only
from .document import Document


def formatted(document: Document) -> str | None:
    """The document's canonical text; None when it does not parse or holds a comment."""
    if document.parsed is None or has_comment(document.text):
        return None
    return print_ruleset(document.parsed)


def has_comment(text: str) -> bool:
    """Whether a ``#`` outside a quoted text starts a comment somewhere."""
    return any(len(code_only(line)) < len(line) for line in text.splitlines())
