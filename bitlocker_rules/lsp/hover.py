"""What a hover shows: a fact (its Intune label, type, members or fields, where its value comes
from: CSP node, Graph property, settings-catalog id, and its description), an enum member (its
label), a source id (the requirement's title), a scenario, a ``define``d name (its condition).
Markdown, masked."""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from .. import nodes as n
from ..citations import Requirement
from ..errors import redact
from ..printer import print_expr
from ..vocabulary import Fact, Scenario, Vocabulary
from .context import Word, bindings, compared, word_at
from .document import Document


@frozen
class Hovered:
    """A hover's Markdown and the characters ``[start, end)`` it is about."""

    markdown: str
    start: int
    end: int


def hover_at(
    document: Document, offset: int, vocabulary: Vocabulary, requirements: Mapping[str, Requirement]
) -> Hovered | None:
    """The hover for the word at ``offset`` of ``document``; None when there is nothing to say."""
    word = word_at(document.text, offset)
    if word is None:
        return None
    text = _about(document, word, vocabulary, requirements)
    return Hovered(redact(text), word.start, word.end) if text else None


def _about(document: Document, word: Word, vocabulary: Vocabulary, requirements: Mapping[str, Requirement]) -> str:
    fact = named_fact(word.text, document.text, word.start, vocabulary)
    if fact is not None:
        return fact_markdown(fact)
    definition = defined(document, word.text)
    if definition is not None:
        return f"```\ndefine {definition.name} = {print_expr(definition.expr)}\n```"
    if word.text in requirements:
        return requirement_markdown(requirements[word.text])
    if word.text in vocabulary.scenarios:
        return scenario_markdown(vocabulary.scenarios[word.text])
    return member_markdown(document.text, word, vocabulary)


def named_fact(name: str, text: str, offset: int, vocabulary: Vocabulary) -> Fact | None:
    """The fact a dotted name stands for at ``offset``: a declared fact, or a record field of the
    collection a quantifier variable in scope ranges over (``v.volume_type``)."""
    fact = vocabulary.fact(name)
    if fact is not None or "." not in name:
        return fact
    var, _, field = name.partition(".")
    collection = vocabulary.fact(bindings(text, offset).get(var, ""))
    return collection.type.field(field) if collection is not None else None


def defined(document: Document, name: str) -> n.Definition | None:
    """The ``define`` of ``name`` in the document's tree (or what is kept of one), if it has one."""
    if document.outline is None:
        return None
    return next((d for d in document.outline.definitions if d.name == name), None)


def fact_markdown(fact: Fact) -> str:
    """A fact in the admin's words: label, name, type, values, where it is read, description."""
    lines = [f"**{fact.label}** `{fact.name}`", "", f"Type: {_type_words(fact)}"]
    lines += _value_lines(fact)
    lines += _origin_lines(fact.origins)
    if fact.description:
        lines += ["", fact.description]
    return "\n".join(lines)


def _type_words(fact: Fact) -> str:
    if fact.type.kind == "collection":
        return f"a collection of {fact.item_label or 'record'}s"
    return str(fact.type)


def _value_lines(fact: Fact) -> list[str]:
    if fact.type.enum is not None:
        return [f"- `{m}`: {fact.member_label(m)}" for m in fact.type.enum.member_names]
    if fact.type.kind == "collection":
        return [f"- `{f.name}`: {f.label} ({_type_words(f)})" for f in fact.type.fields]
    if fact.type.kind == "bool" and fact.member_labels:
        return [f"- `{value}`: {label}" for value, label in fact.member_labels.items()]
    return []


def _origin_lines(origins: Mapping[str, object]) -> list[str]:
    lines = []
    if "csp" in origins:
        data_id = origins.get("csp_data_id")
        lines.append(f"CSP node: `{origins['csp']}`" + (f", data id `{data_id}`" if data_id else ""))
    if "graph" in origins:
        on = f" on `{origins['graph_type']}`" if "graph_type" in origins else ""
        lines.append(f"Graph property: `{origins['graph']}`{on}")
    if "catalog" in origins:
        lines.append(f"Settings catalog id: `{origins['catalog']}`")
    return [""] + lines if lines else []


def requirement_markdown(requirement: Requirement) -> str:
    """A source id: its title, what kind of source it is and where it is written down."""
    kind = {"requirement": "requirement of the Intune page", "cause": "documented failure cause"}.get(
        requirement.kind, requirement.kind
    )
    lines = [f"**{requirement.id}**: {requirement.title}", "", f"A {kind}" + _area(requirement)]
    if requirement.url:
        lines += ["", requirement.url]
    if requirement.deviation:
        lines += ["", f"Deviation: {requirement.deviation}"]
    return "\n".join(lines)


def _area(requirement: Requirement) -> str:
    return f" ({requirement.area})" if requirement.area and requirement.kind != "document" else ""


def scenario_markdown(scenario: Scenario) -> str:
    """A scenario named in a ``scenario`` clause: its label, the fact its rules read, its description."""
    lines = [f"**{scenario.label}** (scenario `{scenario.name}`, the fact `{scenario.fact}`)"]
    return "\n".join(lines + (["", scenario.description] if scenario.description else []))


def member_markdown(text: str, word: Word, vocabulary: Vocabulary) -> str:
    """An enum member: its label for the fact it is compared with, or in every enum that has it."""
    typing = compared(text, word.end)
    fact = named_fact(typing.before, text, word.start, vocabulary) if typing is not None else None
    if fact is not None and fact.type.enum is not None and fact.type.enum.member(word.text) is not None:
        return f"`{word.text}`: **{fact.member_label(word.text)}** ({fact.label}, enum {fact.type.enum.name})"
    found = [
        f"`{word.text}`: **{member.label}** (enum {enum.name})"
        for enum in vocabulary.enums.values()
        if (member := enum.member(word.text)) is not None
    ]
    return "\n\n".join(found)
