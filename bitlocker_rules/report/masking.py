"""The renderers' one way out: a report's whole text, masked once as it leaves the library."""

from __future__ import annotations

from ..errors import MaskedText, redact


def masked_report(text: str) -> MaskedText:
    """A renderer's finished text with every recovery password masked (``errors.redact``).

    Every renderer returns (or, streaming, writes) what this returns, and nothing else: an API
    caller gets masked text, and the command line's writer passes it on without a second scan.
    Masking the whole text, not its parts, also catches a password made of two harmless parts.
    """
    return redact(text)
