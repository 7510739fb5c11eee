"""The records of the vocabulary's declarations: facts, their types, enumerations, strength,
role grants and scenarios, as ``rulesets/vocabulary.toml`` declares them one by one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

SCALAR_KINDS = ("bool", "integer", "decimal", "string", "version")
ORDERED_KINDS = ("integer", "decimal", "version")
NAMESPACES = ("policy", "device", "actor", "action", "tenant", "scenario")


def frozen_map(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A read-only copy of ``value`` (empty for None): what the records keep their tables in."""
    return MappingProxyType(dict(value or {}))


@frozen
class EnumMember:
    """One member of an enumeration: the name rules use, the Intune label, raw origin values."""

    name: str
    label: str
    origins: Mapping[str, Any] = field(factory=frozen_map, converter=frozen_map, eq=False)


@frozen
class EnumType:
    """A named enumeration of the vocabulary."""

    name: str
    description: str
    members: tuple[EnumMember, ...]
    _by_name: Mapping[str, EnumMember] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {m.name: m for m in reversed(self.members)})

    def member(self, name: str) -> EnumMember | None:
        """The member called ``name``, or None."""
        return self._by_name.get(name) if isinstance(name, str) else None

    @property
    def member_names(self) -> tuple[str, ...]:
        """Member names in declaration order."""
        return tuple(m.name for m in self.members)


@frozen
class FactType:
    """The type of a fact: a scalar kind, an enum, or a collection of records."""

    kind: str
    enum: EnumType | None = None
    fields: tuple[Fact, ...] = ()
    _by_name: Mapping[str, Fact] = field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {f.name: f for f in reversed(self.fields)})

    @property
    def ordered(self) -> bool:
        """Whether ``<``, ``<=``, ``>``, ``>=`` apply."""
        return self.kind in ORDERED_KINDS

    def field(self, name: str) -> Fact | None:
        """A record field of a collection type, or None."""
        return self._by_name.get(name) if isinstance(name, str) else None

    def __str__(self) -> str:
        return f"enum {self.enum.name}" if self.enum else self.kind


@frozen
class Strength:
    """Which values of a policy setting are stronger (the vocabulary's ``strength`` key).

    ``order`` is ``higher`` or ``lower`` (an ordered fact whose higher, or lower, value is
    stronger), ``chains`` (enum members or booleans in a partial order: ``chains`` lists
    them weakest first, ``below`` maps each value to every value weaker than it) or ``none``
    (no value is stronger than another). A missing value is weaker than any value.
    """

    order: str
    chains: tuple[tuple[Any, ...], ...] = ()
    below: Mapping[Any, frozenset[Any]] = field(factory=frozen_map, converter=frozen_map, eq=False)

    def at_least(self, value: Any, other: Any) -> bool:
        """Whether ``value`` is at least as strong as ``other``: the same, or stronger."""
        if self.order == "none" or other is None or (type(value) is type(other) and value == other):
            return True
        if value is None:
            return False
        if self.order == "higher":
            return bool(value > other)
        if self.order == "lower":
            return bool(value < other)
        return other in self.below.get(value, ())

    def lowers(self, old: Any, new: Any) -> bool:
        """Whether setting ``old`` to ``new`` lowers the setting: ``new`` is weaker, or the
        two are not comparable (neither is stronger)."""
        return not self.at_least(new, old)


@frozen
class Fact:
    """A declared fact (or a field of a collection's records)."""

    name: str
    type: FactType
    label: str
    description: str = ""
    section: str = ""
    default: str = ""
    item_label: str = ""
    reference: tuple[str, ...] = ()
    origins: Mapping[str, Any] = field(factory=frozen_map, converter=frozen_map, eq=False)
    member_labels: Mapping[str, str] = field(factory=frozen_map, converter=frozen_map, eq=False)
    member_values: Mapping[str, Mapping[str, Any]] = field(factory=frozen_map, converter=frozen_map, eq=False)
    # Describes each policy rather than setting something (the profile type): a rule that reads
    # it is decided on each assigned policy's own settings, never on the merged ones.
    per_policy: bool = False
    # Which values of a policy setting are stronger: a repair lowers one only when a rule asks.
    strength: Strength | None = None

    @property
    def namespace(self) -> str:
        """``policy``, ``device``, ``actor``, ``action`` or ``tenant``."""
        return self.name.split(".", 1)[0]

    @property
    def policy_controlled(self) -> bool:
        """Whether a policy sets this fact (so a repair may change it)."""
        return self.namespace == "policy"

    def member_label(self, member: str) -> str:
        """The words Intune shows for an enum member of this fact (for a bool, ``true``/``false``)."""
        if member in self.member_labels:
            return self.member_labels[member]
        found = self.type.enum.member(member) if self.type.enum else None
        return found.label if found else member


@frozen
class Grant:
    """A built-in role and the permissions it carries (a ``[[grants]]`` entry of the vocabulary).

    When the actor's ``roles_fact`` (a collection of ``{name}`` records) names ``role``, the
    actor's ``permissions_fact`` gains ``permissions``; see ``facts.apply_grants``.
    """

    role: str
    roles_fact: str
    permissions_fact: str
    permissions: tuple[str, ...]
    description: str = ""
    reference: tuple[str, ...] = ()


@frozen
class Scenario:
    """A scenario a check can be about (silent enablement, key rotation, ...).

    Rules about it apply only when it holds: declared by the user, or else inferred from the
    facts with ``inferred_on`` / ``inferred_off``, conditions in rule syntax (Kleene: a
    condition that is unknown infers nothing). ``excludes`` are the scenarios that cannot hold
    with it. It is also the bool fact ``scenario.<name>`` that the rules read.
    """

    name: str
    label: str
    description: str = ""
    excludes: tuple[str, ...] = ()
    inferred_on: str = ""
    inferred_off: str = ""
    reference: tuple[str, ...] = ()

    @property
    def fact(self) -> str:
        """The fact the rules about this scenario read."""
        return f"scenario.{self.name}"
