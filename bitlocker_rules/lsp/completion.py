"""What completion offers at the cursor: the facts of a namespace after ``policy.``,
``device.``, …; the record fields after a quantifier's variable and a dot; the members (or
``true``/``false``) after a comparison with an enum (or bool) fact; the severities, source ids
and scenarios in the clauses that name them; elsewhere the namespaces, the document's
``define``d names and the keywords."""

from __future__ import annotations

from collections.abc import Mapping

from lsprotocol import types

from ..checker import SEVERITIES
from ..citations import Requirement
from ..errors import redact
from ..resources import keywords
from ..vocabulary import NAMESPACES, Fact, Vocabulary
from .context import after_dot, bindings, clause_value, compared
from .document import Document
from .hover import fact_markdown, named_fact


def completions(
    document: Document, offset: int, vocabulary: Vocabulary, requirements: Mapping[str, Requirement]
) -> list[types.CompletionItem]:
    """The completion items at ``offset`` of ``document`` (which need not parse)."""
    text = document.text
    clause = clause_value(text, offset)
    if clause is not None:
        return _clause_values(clause.before, vocabulary, requirements)
    dotted = after_dot(text, offset)
    if dotted is not None:
        return _after_dot(dotted.before, text, offset, vocabulary)
    operand = compared(text, offset)
    if operand is not None:
        fact = named_fact(operand.before, text, offset, vocabulary)
        return _values(fact) if fact is not None else []
    return _words(document)


def _after_dot(before: str, text: str, offset: int, vocabulary: Vocabulary) -> list[types.CompletionItem]:
    collection = vocabulary.fact(bindings(text, offset).get(before, ""))
    if collection is not None:
        return [_fact_item(f, f.name) for f in collection.type.fields]
    prefix = before + "."
    return [_fact_item(f, f.name[len(prefix) :]) for name, f in vocabulary.facts.items() if name.startswith(prefix)]


def _fact_item(fact: Fact, label: str) -> types.CompletionItem:
    return types.CompletionItem(
        label=label,
        kind=types.CompletionItemKind.Field,
        detail=redact(f"{fact.label} ({fact.type})"),
        documentation=types.MarkupContent(types.MarkupKind.Markdown, redact(fact_markdown(fact))),
    )


def _values(fact: Fact) -> list[types.CompletionItem]:
    """The values a comparison with ``fact`` may name: its enum's members, or true and false."""
    if fact.type.enum is not None:
        names: tuple[str, ...] = fact.type.enum.member_names
    elif fact.type.kind == "bool":
        names = ("true", "false")
    else:
        return []
    return [
        types.CompletionItem(
            label=name, kind=types.CompletionItemKind.EnumMember, detail=redact(fact.member_label(name))
        )
        for name in names
    ]


def _clause_values(
    keyword: str, vocabulary: Vocabulary, requirements: Mapping[str, Requirement]
) -> list[types.CompletionItem]:
    """What a ``severity``, ``sources``/``related`` or ``scenario`` clause names."""
    if keyword == "severity":
        return [types.CompletionItem(label=s, kind=types.CompletionItemKind.Constant) for s in SEVERITIES]
    if keyword == "scenario":
        return [
            types.CompletionItem(label=name, kind=types.CompletionItemKind.Enum, detail=redact(scenario.label))
            for name, scenario in vocabulary.scenarios.items()
        ]
    return [
        types.CompletionItem(label=ref, kind=types.CompletionItemKind.Reference, detail=redact(item.title))
        for ref, item in requirements.items()
    ]


def _words(document: Document) -> list[types.CompletionItem]:
    """Where no name is under way: namespaces, defined names, keywords."""
    items = [types.CompletionItem(label=ns, kind=types.CompletionItemKind.Module) for ns in NAMESPACES]
    if document.outline is not None:
        items += [
            types.CompletionItem(label=d.name, kind=types.CompletionItemKind.Variable, detail="define")
            for d in document.outline.definitions
        ]
    items += [types.CompletionItem(label=k, kind=types.CompletionItemKind.Keyword) for k in sorted(keywords())]
    return items
