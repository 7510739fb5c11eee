"""The vocabulary: every fact a rule may name, its type, Intune label and origins.

The declarations are data (``rulesets/vocabulary.toml``); this module loads them and
turns raw input values into the typed values the evaluators compare.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import math
import numbers
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from attrs import evolve, field, frozen

from .cache import cache_key, cached
from .errors import Diagnostic, VocabularyError, suggest
from .resources import vocabulary_path
from .versions import WindowsVersion, other_digits, parse_windows_version

SCALAR_KINDS = ("bool", "integer", "decimal", "string", "version")
ORDERED_KINDS = ("integer", "decimal", "version")
NAMESPACES = ("policy", "device", "actor", "action", "tenant", "scenario")
_FACT_NAME = re.compile(r"^(policy|device|actor|action|tenant)\.[a-z][a-z0-9_]*$")
_SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_MEMBER_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")


def _frozen_map(value: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@frozen
class EnumMember:
    """One member of an enumeration: the name rules use, the Intune label, raw origin values."""

    name: str
    label: str
    origins: Mapping[str, Any] = field(factory=_frozen_map, converter=_frozen_map, eq=False)


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
    below: Mapping[Any, frozenset] = field(factory=_frozen_map, converter=_frozen_map, eq=False)

    def at_least(self, value: Any, other: Any) -> bool:
        """Whether ``value`` is at least as strong as ``other``: the same, or stronger."""
        if self.order == "none" or other is None or (type(value) is type(other) and value == other):
            return True
        if value is None:
            return False
        if self.order == "higher":
            return value > other
        if self.order == "lower":
            return value < other
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
    origins: Mapping[str, Any] = field(factory=_frozen_map, converter=_frozen_map, eq=False)
    member_labels: Mapping[str, str] = field(factory=_frozen_map, converter=_frozen_map, eq=False)
    member_values: Mapping[str, Mapping[str, Any]] = field(
        factory=_frozen_map, converter=_frozen_map, eq=False
    )
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


@frozen
class Vocabulary:
    """Every fact a rule may name, the enumerations, Windows release names, role grants and scenarios."""

    facts: Mapping[str, Fact] = field(converter=_frozen_map)
    enums: Mapping[str, EnumType] = field(converter=_frozen_map)
    releases: Mapping[str, WindowsVersion] = field(converter=_frozen_map)
    origin: str = "<vocabulary>"
    grants: tuple[Grant, ...] = field(default=(), converter=tuple)
    scenarios: Mapping[str, Scenario] = field(factory=_frozen_map, converter=_frozen_map)
    # One converter per fact, built once (see ``value_converter``): what fleets type values with.
    converters: Mapping[str, Converter] = field(init=False, eq=False, repr=False)
    # A digest of the file it was loaded from ("" when built in code): rulesets checked against
    # it can be kept between runs under that digest (see ``cache``).
    fingerprint: str = field(default="", eq=False, repr=False, kw_only=True)

    def __attrs_post_init__(self) -> None:
        converters = {name: value_converter(f.type, self.releases) for name, f in self.facts.items()}
        object.__setattr__(self, "converters", MappingProxyType(converters))

    def fact(self, name: str) -> Fact | None:
        """The declared fact called ``name``, or None."""
        return self.facts.get(name)

    def parse_value(self, fact: Fact, raw: Any) -> Any:
        """Turn a raw input value into the typed value of ``fact``; ValueError says what was expected."""
        if self.facts.get(fact.name) is fact:
            return self.converters[fact.name](raw)
        return parse_typed(fact.type, raw, self.releases)

    def display(self, fact: Fact, value: Any) -> str:
        """A value as the admin reads it (enum members by their Intune label)."""
        if fact.type.enum is not None and isinstance(value, str):
            return fact.member_label(value)
        if isinstance(value, bool):
            return fact.member_labels.get(str(value).lower(), "Yes" if value else "No")
        if isinstance(value, tuple) and fact.type.kind == "collection":
            return f"{len(value)} {fact.item_label or 'item'}{'' if len(value) == 1 else 's'}"
        if isinstance(value, WindowsVersion):
            return self.display_version(value)
        return str(value)

    def display_version(self, version: WindowsVersion) -> str:
        """A version with the release it belongs to, e.g. ``10.0.17134.0 (1803)``."""
        shipped = [(v, name) for name, v in self.releases.items() if v.build <= version.build]
        if not shipped:
            return str(version)
        best = max(v.build for v, _ in shipped)
        names = [name for v, name in shipped if v.build == best]
        # Prefer the fullest name ("Windows 11 23H2" over "23H2").
        name = max(names, key=len)
        exact = "" if best == version.build else "later than "
        return f"{version} ({exact}{name})"


def parse_typed(ftype: FactType, raw: Any, releases: Mapping[str, WindowsVersion]) -> Any:
    """Convert ``raw`` to a value of ``ftype``; raise ValueError naming what was expected."""
    kind = ftype.kind
    if kind == "bool":
        return _parse_bool(raw)
    if kind == "integer":
        return _parse_integer(raw)
    if kind == "decimal":
        return _parse_decimal(raw)
    if kind == "string":
        if not isinstance(raw, str):
            raise ValueError("a string")
        return raw
    if kind == "version":
        return parse_windows_version(raw, releases)
    if kind == "enum":
        return _parse_member(ftype.enum, raw)
    return _parse_collection(ftype, raw, releases)


def is_typed(ftype: FactType, value: Any) -> bool:
    """Whether ``value`` is already a value of ``ftype`` as ``parse_typed`` gives it (an int
    counts as a decimal; a collection is a tuple of record mappings)."""
    kind = ftype.kind
    if kind == "bool":
        return type(value) is bool
    if kind in ("integer", "decimal"):
        numeric = int if kind == "integer" else (int, float)
        return isinstance(value, numeric) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "version":
        return isinstance(value, WindowsVersion)
    if kind == "enum":
        return isinstance(value, str) and ftype.enum is not None and ftype.enum.member(value) is not None
    return isinstance(value, tuple) and all(isinstance(item, Mapping) and all(
        _typed_field(ftype, key, field_value) for key, field_value in item.items()) for item in value)


def _typed_field(ftype: FactType, key: Any, value: Any) -> bool:
    spec = ftype.field(key)
    return spec is not None and (value is None or is_typed(spec.type, value))


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError("true or false")


# Numbers in text are written as Windows, Graph and JSON write them: ASCII digits only, no
# digit-group underscores, so "٣٥٠" or "1_000" is an error rather than a silent conversion.
_INTEGER_TEXT = re.compile(r"\s*-?[0-9]{1,4000}\s*", re.ASCII)  # Python reads up to 4300 digits
_DECIMAL_TEXT = re.compile(r"\s*[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*", re.ASCII)


def _parse_integer(raw: Any) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return int(raw)
    if isinstance(raw, str) and _INTEGER_TEXT.fullmatch(raw):
        return int(raw)
    raise ValueError("an integer" + other_digits(raw))


def _parse_decimal(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Real, str)):
        raise ValueError("a number such as 2.0")
    if isinstance(raw, str) and not _DECIMAL_TEXT.fullmatch(raw):
        raise ValueError("a number such as 2.0" + other_digits(raw))
    try:
        value = float(raw)
    except OverflowError:  # an int too large for a float
        raise ValueError("a number such as 2.0") from None
    if not math.isfinite(value):
        raise ValueError("a finite number")
    return value


def _parse_member(enum: EnumType | None, raw: Any) -> str:
    assert enum is not None
    if isinstance(raw, str):
        if enum.member(raw):
            return raw
        folded = {m.name.lower(): m.name for m in enum.members}
        if raw.lower() in folded:
            return folded[raw.lower()]
    hint = suggest(str(raw), enum.member_names) if isinstance(raw, str) else None
    expected = f"one of {', '.join(enum.member_names)} (enum {enum.name})"
    raise ValueError(expected + (f"; {hint}" if hint else ""))


def _parse_collection(ftype: FactType, raw: Any, releases: Mapping[str, WindowsVersion]) -> tuple:
    if not isinstance(raw, list):
        raise ValueError("a list of records")
    items = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"a list of records (item {index} is not an object)")
        record = {}
        for key, value in item.items():
            spec = ftype.field(key)
            if spec is None:
                hint = suggest(str(key), [f.name for f in ftype.fields])
                raise ValueError(f"item {index}: no field `{key}`" + (f"; {hint}" if hint else ""))
            if value is not None:
                try:
                    record[key] = parse_typed(spec.type, value, releases)
                except ValueError as exc:
                    raise ValueError(f"item {index}, field `{key}`: {exc}") from None
        items.append(MappingProxyType(record))
    return tuple(items)


# ---------------------------------------------------------------------------
# Converters built once per fact, for inputs typed by the thousand (fleets).

Converter = Callable[[Any], Any]
_KNOWN_VERSIONS = 4096  # distinct raw versions remembered per fact; fleets repeat a few hundred


def value_converter(ftype: FactType, releases: Mapping[str, WindowsVersion]) -> Converter:
    """``parse_typed(ftype, ·, releases)`` as one function, built once.

    Common well-formed inputs take a type check or a dict lookup; everything else, every error
    included, goes through ``parse_typed`` itself, so the two always give the same value or
    the same ValueError.
    """
    def slow(raw: Any) -> Any:
        return parse_typed(ftype, raw, releases)

    kind = ftype.kind
    if kind == "collection":
        return _collection_converter(ftype, slow, releases)
    if kind == "enum":
        return _enum_converter(ftype.enum, slow)
    if kind == "version":
        return _version_converter(slow)
    exact = {"bool": bool, "integer": int, "string": str}.get(kind)
    if exact is not None:
        return lambda raw: raw if type(raw) is exact else slow(raw)
    return lambda raw: raw if type(raw) is float and math.isfinite(raw) else slow(raw)


def _enum_converter(enum: EnumType | None, slow: Converter) -> Converter:
    assert enum is not None
    names = frozenset(enum.member_names)
    folded = {m.lower(): m for m in enum.member_names}  # the last wins, as in _parse_member

    def convert(raw: Any) -> Any:
        if type(raw) is str:
            if raw in names:
                return raw
            found = folded.get(raw.lower())
            if found is not None:
                return found
        return slow(raw)

    return convert


def _version_converter(slow: Converter) -> Converter:
    known: dict[Any, WindowsVersion] = {}  # str and int keys only: 1 and True must not meet

    def convert(raw: Any) -> Any:
        if type(raw) is not str and type(raw) is not int:
            return slow(raw)
        found = known.get(raw)
        if found is None:
            found = slow(raw)
            if len(known) < _KNOWN_VERSIONS:
                known[raw] = found
        return found

    return convert


def _collection_converter(ftype: FactType, slow: Converter, releases) -> Converter:
    fields = {f.name: value_converter(f.type, releases) for f in reversed(ftype.fields)}

    def record(item: Any) -> MappingProxyType:
        if type(item) is not dict:
            raise TypeError("not an object")
        typed = {}
        for key, value in item.items():
            convert = fields[key]  # an unknown field is an error even when its value is null
            if value is not None:
                typed[key] = convert(value)
        return MappingProxyType(typed)

    def convert(raw: Any) -> Any:
        if type(raw) is list:
            try:
                return tuple([record(item) for item in raw])
            except (KeyError, TypeError, ValueError):
                pass  # parse_typed says what is wrong, in its words
        return slow(raw)

    return convert


# ---------------------------------------------------------------------------
# Loading the TOML declarations.


@functools.cache
def shipped_vocabulary() -> Vocabulary:
    """The vocabulary that ships with the package (loaded once per process)."""
    return load_vocabulary(vocabulary_path())


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Load and validate a vocabulary file; raise VocabularyError with every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = cached(cache_key("vocabulary", text), dict, lambda: tomllib.loads(text), marshal.dumps, marshal.loads)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VocabularyError([Diagnostic("V001", f"cannot read vocabulary: {exc}", path=str(path))]) from None
    return build_vocabulary(data, origin=str(path),
                            fingerprint=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def build_vocabulary(data: Mapping[str, Any], origin: str = "<vocabulary>", *, fingerprint: str = "") -> Vocabulary:
    """Build a Vocabulary from already-parsed declarations (the TOML's shape).

    ``fingerprint`` names the exact text they were read from, so that what is built from this
    vocabulary may be cached between runs; leave it empty for declarations built in code.
    """
    problems: list[Diagnostic] = []
    releases = _build_releases(data.get("releases", {}), problems, origin)
    enums = {
        name: _build_enum(name, spec, problems, origin)
        for name, spec in data.get("enums", {}).items()
    }
    facts: dict[str, Fact] = {}
    for index, spec in enumerate(data.get("facts", [])):
        where = f"{origin}: facts[{index}]"
        fact = _build_fact(spec, enums, problems, where, _FACT_NAME, collection_ok=True)
        if fact is None:
            continue
        if fact.name in facts:
            problems.append(Diagnostic("V002", f"fact `{fact.name}` is declared twice", path=where))
        facts[fact.name] = fact
    grants = _build_grants(data.get("grants", []), facts, problems, origin)
    _add_strengths(data, facts, problems, origin)
    scenarios = _build_scenarios(data.get("scenarios", {}), problems, origin)
    facts.update((s.fact, _scenario_fact(s)) for s in scenarios.values())
    if problems:
        raise VocabularyError(problems)
    return Vocabulary(facts=facts, enums=enums, releases=releases, origin=origin, grants=grants, fingerprint=fingerprint,
                      scenarios=scenarios)


def _build_scenarios(specs: Mapping[str, Any], problems: list[Diagnostic], origin: str) -> dict[str, Scenario]:
    """``[scenarios.<name>]``: label, description, excludes, inferred_on / inferred_off conditions."""
    scenarios = {}
    for name, spec in specs.items():
        where = f"{origin}: scenarios.{name}"
        if not _SCENARIO_NAME.match(name) or not isinstance(spec, Mapping):
            problems.append(Diagnostic("V016", f"bad scenario `{name}`", path=where,
                                       help="a lower-case name with a table of label, description, ..."))
            continue
        scenarios[name] = Scenario(
            name, str(spec.get("label", name)), str(spec.get("description", "")),
            tuple(spec.get("excludes", ())), str(spec.get("inferred_on", "")), str(spec.get("inferred_off", "")),
            tuple(spec.get("reference", ())),
        )
    for scenario in scenarios.values():
        for other in scenario.excludes:
            if other not in scenarios:
                problems.append(Diagnostic("V017", f"scenario `{scenario.name}` excludes unknown scenario `{other}`",
                                           path=f"{origin}: scenarios.{scenario.name}",
                                           help=suggest(other, scenarios)))
    return scenarios


def _scenario_fact(scenario: Scenario) -> Fact:
    """The bool fact ``scenario.<name>``: whether the check is about the scenario."""
    return Fact(scenario.fact, FactType("bool"), f"{scenario.label} (scenario)", scenario.description, section="Scenarios",
                member_labels={"true": "in scope", "false": "out of scope"})

def _build_grants(specs, facts: Mapping[str, Fact], problems: list[Diagnostic], origin: str) -> list[Grant]:
    """``[[grants]]``: role -> permissions, naming two collection facts with a string ``name`` field."""
    grants: list[Grant] = []
    seen: set[tuple[str, str]] = set()
    for index, spec in enumerate(specs):
        where = f"{origin}: grants[{index}]"
        role = spec.get("role")
        permissions = spec.get("permissions")
        ok = True
        if not isinstance(role, str) or not role.strip():
            problems.append(Diagnostic("V010", "a grant needs a non-empty `role`", path=where))
            ok = False
        if not isinstance(permissions, list) or not all(isinstance(p, str) and p.strip() for p in permissions):
            problems.append(Diagnostic("V011", "a grant needs `permissions`, a list of names (empty for a "
                                       "built-in role that grants none)", path=where))
            ok = False
        for key in ("roles_fact", "permissions_fact"):
            name = spec.get(key, "")
            fact = facts.get(name)
            if fact is None:
                problems.append(Diagnostic("V012", f"grant `{key}`: unknown fact `{name}`", path=where,
                                           help=suggest(str(name), facts)))
                ok = False
            elif not _names_records(fact):
                problems.append(Diagnostic("V013", f"grant `{key}`: `{name}` must be a collection whose "
                                           "records have a string field `name`", path=where))
                ok = False
        if not ok:
            continue
        key = (role.strip().casefold(), spec["roles_fact"], spec["permissions_fact"])
        if key in seen:
            problems.append(Diagnostic("V014", f"role `{role}` in {spec['roles_fact']} is granted twice into "
                                       f"{spec['permissions_fact']}",
                                       path=where, help="list every permission of a role in one grant"))
            continue
        seen.add(key)
        grants.append(Grant(role.strip(), spec["roles_fact"], spec["permissions_fact"],
                            tuple(p.strip() for p in permissions), str(spec.get("description", "")),
                            tuple(spec.get("reference", ()))))
    return grants


def _names_records(fact: Fact) -> bool:
    """Whether ``fact`` is a collection of records with a string field ``name``."""
    spec = fact.type.field("name") if fact.type.kind == "collection" else None
    return spec is not None and spec.type.kind == "string"


def _build_releases(spec: Mapping[str, str], problems: list[Diagnostic], origin: str):
    releases: dict[str, WindowsVersion] = {}
    for name, text in spec.items():
        try:
            releases[name] = parse_windows_version(text, {})
        except ValueError as exc:
            problems.append(Diagnostic("V003", f"release `{name}`: expected {exc}", path=origin))
    return releases


def _build_enum(name: str, spec: Mapping[str, Any], problems: list[Diagnostic], origin: str):
    members = []
    for raw in spec.get("members", []):
        member_name = raw.get("name", "")
        if not _MEMBER_NAME.match(member_name):
            problems.append(
                Diagnostic("V004", f"enum {name}: bad member name `{member_name}`", path=origin)
            )
        origins = {k: v for k, v in raw.items() if k not in ("name", "label")}
        members.append(EnumMember(member_name, raw.get("label", member_name), origins))
    return EnumType(name, spec.get("description", ""), tuple(members))


def _build_fact(spec, enums, problems, where, pattern, collection_ok) -> Fact | None:
    name = spec.get("name", "")
    if not pattern.match(name):
        problems.append(Diagnostic("V005", f"bad fact name `{name}`", path=where))
        return None
    ftype = _build_type(spec, enums, problems, f"{where} ({name})", collection_ok)
    if ftype is None:
        return None
    fact = Fact(
        name=name,
        type=ftype,
        label=spec.get("label", name),
        description=spec.get("description", ""),
        section=spec.get("section", ""),
        default=str(spec.get("default", "")),
        item_label=spec.get("item_label", ""),
        reference=tuple(spec.get("reference", ())),
        origins=spec.get("origins", {}),
        member_labels=spec.get("member_labels", {}),
        member_values=spec.get("member_values", {}),
        per_policy=spec.get("per_policy", False) is True,
    )
    _check_member_keys(fact, problems, where)
    if fact.per_policy and fact.namespace != "policy":
        problems.append(Diagnostic("V015", f"`{name}`: only a policy fact can be per_policy", path=where))
    return fact


def _build_type(spec, enums, problems, where, collection_ok) -> FactType | None:
    text = str(spec.get("type", "")).strip()
    if text in SCALAR_KINDS:
        return FactType(text)
    if text.startswith("enum "):
        enum_name = text[5:].strip()
        if enum_name not in enums:
            hint = suggest(enum_name, enums)
            problems.append(Diagnostic("V006", f"unknown enum `{enum_name}`", path=where, help=hint))
            return None
        return FactType("enum", enum=enums[enum_name])
    if text == "collection" and collection_ok:
        fields = [
            _build_fact(f, enums, problems, where, _FIELD_NAME, collection_ok=False)
            for f in spec.get("fields", [])
        ]
        return FactType("collection", fields=tuple(f for f in fields if f is not None))
    problems.append(Diagnostic("V007", f"unknown type `{text}`", path=where))
    return None


def _check_member_keys(fact: Fact, problems: list[Diagnostic], where: str) -> None:
    keys = set(fact.member_labels) | set(fact.member_values)
    if fact.type.kind == "bool" and set(fact.member_labels) <= {"true", "false"} and not fact.member_values:
        return  # a bool's own words for true and false
    if keys and fact.type.enum is None:
        problems.append(Diagnostic("V008", f"`{fact.name}` has member labels but no enum", path=where))
        return
    for key in sorted(keys):
        if fact.type.enum is not None and fact.type.enum.member(key) is None:
            problems.append(
                Diagnostic("V009", f"`{fact.name}`: `{key}` is not a member of {fact.type.enum.name}", path=where)
            )


# ---------------------------------------------------------------------------
# Strength of policy settings (``strength``): which changes a repair counts as lowering.


def _add_strengths(data: Mapping[str, Any], facts: dict[str, Fact], problems: list[Diagnostic], origin: str) -> None:
    """Give each policy fact its strength: its own ``strength``, else its enum's."""
    by_enum = {
        name: _build_strength(spec["strength"], "enum", tuple(m.get("name") for m in spec.get("members", [])),
                              problems, f"{origin}: enums.{name}")
        for name, spec in data.get("enums", {}).items() if isinstance(spec, Mapping) and "strength" in spec
    }
    for index, spec in enumerate(data.get("facts", [])):
        fact = facts.get(spec.get("name", ""))
        if fact is None:
            continue
        where = f"{origin}: facts[{index}] ({fact.name})"
        if "strength" in spec and not fact.policy_controlled:
            problems.append(Diagnostic("V020", f"`{fact.name}`: only a policy setting has a `strength`", path=where))
        elif "strength" in spec:
            values = fact.type.enum.member_names if fact.type.enum else (False, True)
            strength = _build_strength(spec["strength"], fact.type.kind, values, problems, where)
            facts[fact.name] = evolve(fact, strength=strength)
        elif fact.policy_controlled and fact.type.enum is not None and by_enum.get(fact.type.enum.name):
            facts[fact.name] = evolve(fact, strength=by_enum[fact.type.enum.name])


def _build_strength(raw: Any, kind: str, values: tuple, problems: list[Diagnostic], where: str) -> Strength | None:
    """One ``strength`` declaration: ``"higher"`` or ``"lower"`` (ordered facts), ``"none"``,
    or chains of values, each weakest first (enums and booleans)."""
    if raw == "none":
        return Strength("none")
    if raw in ("higher", "lower") and kind in ORDERED_KINDS:
        return Strength(raw)
    if kind not in ("enum", "bool") or not _is_chains(raw):
        problems.append(Diagnostic(
            "V020", "bad `strength`", path=where,
            help='"higher" or "lower" for an ordered fact, "none", or for an enum or a bool a list of chains, '
                 'each weakest first: [["NotConfigured", "Allowed", "Required"]]'))
        return None
    strange = [v for chain in raw for v in chain if not any(type(v) is type(x) and v == x for x in values)]
    if strange:
        problems.append(Diagnostic("V021", f"`strength` names `{strange[0]}`, not a value of this setting",
                                   path=where, help=suggest(str(strange[0]), [str(v) for v in values])))
        return None
    chains = [tuple(chain) for chain in raw]
    if "NotConfigured" in values and not any("NotConfigured" in chain for chain in chains):
        # Not configured is the weakest unless the data places it.
        chains = [("NotConfigured", *chain) for chain in chains]
    left = [v for v in values if not any(v in chain for chain in chains)]
    if left:
        problems.append(Diagnostic("V022", f"`strength` leaves out `{left[0]}`", path=where,
                                   help="put every value in a chain (a chain of one value is comparable with none)"))
        return None
    below = _weaker_values(chains)
    if any(v in lower for v, lower in below.items()):
        problems.append(Diagnostic("V023", "the chains of `strength` make a value weaker than itself", path=where))
        return None
    return Strength("chains", tuple(chains), below)


def _is_chains(raw: Any) -> bool:
    """Whether ``raw`` is a non-empty list of non-empty lists of names or booleans."""
    return (isinstance(raw, list) and bool(raw)
            and all(isinstance(c, list) and c and all(isinstance(v, (str, bool)) for v in c) for c in raw))


def _weaker_values(chains: list[tuple]) -> dict[Any, frozenset]:
    """Each value of the chains -> every value weaker than it (the transitive closure)."""
    below: dict[Any, set] = {v: set() for chain in chains for v in chain}
    for chain in chains:
        for i, value in enumerate(chain):
            below[value].update(chain[:i])
    grown = True
    while grown:
        grown = False
        for lower in below.values():
            more = set().union(*(below[v] for v in lower)) - lower
            if more:
                lower |= more
                grown = True
    return {v: frozenset(lower) for v, lower in below.items()}
