"""Requirement ids (seed items and documented failure causes) and the rules that cover them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable

from attrs import frozen

from . import nodes as n
from .resources import rulesets_dir


@frozen
class Requirement:
    """A seed requirement (``kind == "requirement"``) or a failure cause (``"cause"``)."""

    id: str
    kind: str
    area: str
    title: str


@frozen
class Coverage:
    """One requirement and the ``ruleset/rule`` ids that cite it."""

    requirement: Requirement
    rules: tuple[str, ...]

    @property
    def covered(self) -> bool:
        """Whether at least one rule (or note) cites the requirement."""
        return bool(self.rules)


def load_requirements() -> tuple[Requirement, ...]:
    """The shipped requirement list (``rulesets/requirements.toml``)."""
    data = tomllib.loads((rulesets_dir() / "requirements.toml").read_text(encoding="utf-8"))
    items = [Requirement(r["id"], "requirement", r["area"], r["title"]) for r in data["requirements"]]
    items += [Requirement(c["id"], "cause", f"events {c['events']}" if c["events"] else "", c["title"])
              for c in data["causes"]]
    return tuple(items)


def coverage(rulesets: Iterable[n.Ruleset], requirements: Iterable[Requirement] | None = None) -> tuple[Coverage, ...]:
    """For every requirement, the rules whose ``sources`` cite its id."""
    citing: dict[str, list[str]] = {}
    for ruleset in rulesets:
        for rule in ruleset.rules:
            for source in rule.sources:
                citing.setdefault(source, []).append(f"{ruleset.id}/{rule.id}")
    return tuple(Coverage(r, tuple(citing.get(r.id, ()))) for r in (requirements or load_requirements()))
