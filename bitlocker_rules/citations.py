"""What rules cite: documents, the Intune page's requirements, documented failure causes;
which rules encode each id and which only give advice about it."""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Mapping

from attrs import frozen

from . import nodes as n
from .outcome import Citation
from .resources import rulesets_dir


@frozen
class Requirement:
    """A citable id: a requirement of the Intune page (``kind == "requirement"``), a documented
    failure cause (``"cause"``) or a document (``"document"``)."""

    id: str
    kind: str
    area: str
    title: str
    documents: tuple[str, ...] = ()
    deviation: str = ""  # where and why the shipped rules do not encode it as worded
    url: str = ""
    publisher: str = ""
    date: str = ""
    third_party: bool = False


@frozen
class Coverage:
    """One requirement, the rules (and notes) that encode it, and those that give advice about it."""

    requirement: Requirement
    rules: tuple[str, ...]
    advice: tuple[str, ...] = ()

    @property
    def covered(self) -> bool:
        """Whether at least one rule (or note) encodes the requirement; advice does not count."""
        return bool(self.rules)


@functools.cache
def load_requirements() -> tuple[Requirement, ...]:
    """The shipped list (``rulesets/requirements.toml``): requirements, then causes, then documents."""
    data = tomllib.loads((rulesets_dir() / "requirements.toml").read_text(encoding="utf-8"))
    items = [
        Requirement(r["id"], "requirement", r["area"], r["title"], (r["document"],), r.get("deviation", ""))
        for r in data["requirements"]
    ]
    items += [
        Requirement(
            c["id"],
            "cause",
            f"events {c['events']}" if c["events"] else "",
            c["title"],
            tuple(c.get("documents", ())),
            c.get("deviation", ""),
        )
        for c in data["causes"]
    ]
    items += [
        Requirement(
            d["id"],
            "document",
            "document",
            d["title"],
            (),
            "",
            d.get("url", ""),
            d.get("publisher", ""),
            d.get("date", ""),
            bool(d.get("third_party", False)),
        )
        for d in data["documents"]
    ]
    return tuple(items)


def registry() -> Mapping[str, Requirement]:
    """Every citable id → its record."""
    return {r.id: r for r in load_requirements()}


def citation(ref: str, known: Mapping[str, Requirement] | None = None) -> Citation:
    """How a report shows a cited id: its title and where to read it (the id alone if unknown)."""
    item = (known if known is not None else registry()).get(ref)
    if item is None:
        return Citation(ref, "", "", "")
    if item.kind == "document":
        where = ", ".join(p for p in (item.publisher, item.date) if p)
        return Citation(ref, item.title + (f" ({where})" if where else ""), item.url, "document")
    docs = [registry()[d] for d in item.documents if d in registry()]
    source = "; ".join(d.title for d in docs)
    return Citation(ref, item.title, docs[0].url if docs else "", item.kind, source)


def citations(rulesets: Iterable[n.Ruleset]) -> tuple[Citation, ...]:
    """The citation of every id the rulesets' rules and notes cite (``sources`` and ``related``), once each."""
    known = registry()
    refs = dict.fromkeys(
        ref for ruleset in rulesets for rule in ruleset.rules for ref in (*rule.encodes, *rule.related)
    )
    return tuple(citation(ref, known) for ref in refs)


def coverage(rulesets: Iterable[n.Ruleset], requirements: Iterable[Requirement] | None = None) -> tuple[Coverage, ...]:
    """For every requirement and cause, the rules whose ``sources`` cite it and those whose ``related`` do."""
    encoding: dict[str, list[str]] = {}
    advising: dict[str, list[str]] = {}
    for ruleset in rulesets:
        for rule in ruleset.rules:
            for ref in rule.encodes:
                encoding.setdefault(ref, []).append(f"{ruleset.id}/{rule.id}")
            for ref in rule.related:
                advising.setdefault(ref, []).append(f"{ruleset.id}/{rule.id}")
    wanted = requirements if requirements is not None else [r for r in load_requirements() if r.kind != "document"]
    return tuple(Coverage(r, tuple(encoding.get(r.id, ())), tuple(advising.get(r.id, ()))) for r in wanted)
