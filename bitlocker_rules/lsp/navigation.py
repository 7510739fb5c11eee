"""Going to the ``define`` of a name, and the outline of a document: its ruleset, definitions,
rules and notes, from the parsed tree (while a document does not parse, from what an earlier
reading's tree says of the text before the change)."""

from __future__ import annotations

from lsprotocol import types

from .. import nodes as n
from ..source import Span
from .context import word_at
from .document import Document
from .hover import defined
from .positions import UTF16, LineIndex


def definition_at(document: Document, offset: int) -> Span | None:
    """Where the name at ``offset`` is defined (the name in its ``define``), if it is a defined name."""
    word = word_at(document.text, offset)
    definition = defined(document, word.text) if word is not None else None
    return definition.span if definition is not None else None


def document_symbols(document: Document, encoding: str = UTF16) -> list[types.DocumentSymbol]:
    """The ruleset as one symbol, with its definitions, rules and notes inside it."""
    ruleset = document.outline
    if ruleset is None or ruleset.span is None:
        return []
    index = LineIndex(document.text)
    inner = [_definition_symbol(d, index, encoding) for d in ruleset.definitions if d.span is not None]
    inner += [_rule_symbol(r, index, encoding) for r in ruleset.rules if r.span is not None]
    whole = index.range(ruleset.span, encoding)
    return [
        types.DocumentSymbol(
            name=ruleset.id,
            detail=ruleset.title,
            kind=types.SymbolKind.Module,
            range=whole,
            selection_range=whole,
            children=sorted(inner, key=lambda s: (s.range.start.line, s.range.start.character)),
        )
    ]


def _definition_symbol(definition: n.Definition, index: LineIndex, encoding: str) -> types.DocumentSymbol:
    assert definition.span is not None  # only definitions with a place are listed
    name = index.range(definition.span, encoding)
    body = definition.expr.span if definition.expr.span is not None else definition.span
    return types.DocumentSymbol(
        name=definition.name,
        kind=types.SymbolKind.Constant,
        range=index.range(definition.span.cover(body), encoding),
        selection_range=name,
        detail="define",
    )


def _rule_symbol(rule: n.Rule, index: LineIndex, encoding: str) -> types.DocumentSymbol:
    assert rule.span is not None  # only rules with a place are listed
    whole = index.range(rule.span, encoding)
    return types.DocumentSymbol(
        name=rule.id,
        detail=rule.title,
        kind=types.SymbolKind.Function if rule.kind == "rule" else types.SymbolKind.Event,
        range=whole,
        selection_range=index.range(rule.spans.get("id", rule.span), encoding),
    )
