"""Lookup tables built from the vocabulary's declared origins, and raw-value conversion.

Nothing in this module names a setting: the tables come from ``[facts.origins]`` (with
its alternates ``also`` and their ``values`` / ``pattern`` + ``value`` / ``unknown``, and
``graph_empty`` and ``not_read``), ``[facts.fields.origins]`` (``graph_numeric``),
``[facts.member_values]`` and enum members' ``csp`` / ``graph`` / ``catalog`` /
``graph_number`` / ``graph_type`` values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from attrs import field, frozen

from ..errors import Diagnostic, VocabularyError, redact, shortened
from ..vocabulary import EnumType, Fact, Vocabulary

GRAPH, CATALOG, CSP = "graph", "catalog", "csp"
NOT_CONFIGURED = "NotConfigured"
BITLOCKER_NODE = "./device/vendor/msft/bitlocker/"
CATALOG_PREFIX = "device_vendor_msft_bitlocker_"
_LEADING_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)")
_DIGITS = re.compile(r"^\s*-?\d+\s*$")


def _enum_of(fact: Fact) -> EnumType:
    """An enum fact's enumeration (the bindings that ask for it are declared on enum facts only)."""
    if fact.type.enum is None:
        raise TypeError(f"{fact.name} is not an enum fact")
    return fact.type.enum


def _read_only(values: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(values))


class Unmappable(ValueError):
    """A raw value that no declared origin value matches; the text says what was expected."""


@frozen
class Binding:
    """One declared origin of a fact (or of a collection's field) in one source format."""

    fact: Fact
    export: str  # the export format it is read from: graph | catalog | csp
    key: str  # graph property path, catalog settingDefinitionId, or normalised CSP node
    graph_type: str = ""
    data_id: str = ""
    weak: bool = False  # an alternate origin: fills in only when the primary gave nothing
    values: Mapping[str, Any] = field(factory=dict, converter=_read_only)
    numeric: str = ""  # Graph numbers of this enum are this source's numbers
    empty: tuple = ()  # raw values that mean "no records" (flags collections)
    owner: str = ""  # for a field binding: the collection fact's name
    pattern: re.Pattern | None = None  # a raw string that matches gives ``pattern_value``
    pattern_value: Any = None
    expect: str = ""  # what the pattern accepts, in words (for the error)
    unknown: tuple = ()  # raw values the source documents as "not known": the fact stays missing


@frozen
class NotRead:
    """A source property deliberately not read as a fact, and why (``not_read`` in the vocabulary)."""

    fact: Fact
    why: str


def normalise_csp(uri: str) -> str:
    """A CSP URI in one spelling: lower case, ``./Device/`` scope, no trailing slash.

    ``./Vendor/MSFT/…`` is the device scope written short, so both spellings meet.
    """
    text = uri.strip().rstrip("/").lower()
    if text.startswith("./vendor/"):
        text = "./device/" + text[2:]
    return text


def shown(raw: Any, limit: int = 80) -> str:
    """A raw value as messages quote it: JSON, recovery passwords masked, then shortened."""
    try:
        text = json.dumps(raw, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(raw)
    return shortened(text, limit, "…")


def looks_secret(raw: Any) -> bool:
    """Whether a raw string or number holds a recovery password."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return False
    text = str(raw)
    return redact(text) != text


def _graph_key(raw: Any) -> tuple | None:
    if isinstance(raw, bool):
        return ("bool", raw)
    if isinstance(raw, str):
        return ("str", raw.casefold())
    return None


def _int_key(raw: Any) -> tuple | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return ("int", raw)
    if isinstance(raw, str):
        text = raw.strip()
        if _DIGITS.match(text):
            return ("int", int(text))
        # ADMX boolean data ids are written true/false; the vocabulary declares them 1/0.
        if text.lower() in ("true", "false"):
            return ("int", 1 if text.lower() == "true" else 0)
    return None


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).casefold()


class OriginIndex:
    """Every declared origin of a vocabulary, indexed by source format."""

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.vocabulary = vocabulary
        self.graph: dict[str, dict[str, list[Binding]]] = {}
        self.graph_records: dict[str, list[Fact]] = {}  # graph_type whose resources are records
        self.catalog: dict[str, Binding] = {}
        self.csp_node: dict[str, list[Binding]] = {}
        self.csp_data: dict[tuple[str, str], Binding] = {}
        self.csp_admx: dict[str, list[Binding]] = {}
        self.graph_not_read: dict[str, dict[str, list[NotRead]]] = {}
        self._members: dict[tuple[str, str, str], dict] = {}
        self._raws: dict[tuple[str, str, str], list] = {}
        self._problems: list[Diagnostic] = []
        for fact in vocabulary.facts.values():
            self._add(fact, fact.origins)
        if self._problems:
            raise VocabularyError(self._problems)
        # Nested objects to descend into: those above a declared origin or a `not_read` entry.
        paths = {
            gt: set(self.graph.get(gt, {})) | set(self.graph_not_read.get(gt, {}))
            for gt in set(self.graph) | set(self.graph_not_read)
        }
        self.graph_containers = {
            gt: {p.rsplit(".", i)[0] for p in found for i in range(1, p.count(".") + 1)} for gt, found in paths.items()
        }

    # -- building ---------------------------------------------------------------------

    def _add(self, fact: Fact, origins: Mapping[str, Any]) -> None:
        empty = tuple(origins.get("graph_empty", ()))
        if origins.get("graph_type") and origins.get("graph"):
            self._graph(Binding(fact, GRAPH, origins["graph"], origins["graph_type"], empty=empty))
        elif origins.get("graph_type") and fact.type.kind == "collection":
            self.graph_records.setdefault(origins["graph_type"], []).append(fact)
        if origins.get("catalog"):
            self.catalog[origins["catalog"]] = Binding(fact, CATALOG, origins["catalog"])
        if origins.get("csp"):
            node = normalise_csp(origins["csp"])
            data_id = origins.get("csp_data_id", "")
            binding = Binding(fact, CSP, node, data_id=data_id)
            if data_id:
                self.csp_data[(node, data_id.lower())] = binding
                self.csp_admx.setdefault(node, []).append(binding)
            else:
                self.csp_node.setdefault(node, []).append(binding)
        for alt in origins.get("also", ()):
            extra = self._alternate(fact, alt)
            if alt.get("graph") and alt.get("graph_type"):
                self._graph(Binding(fact, GRAPH, alt["graph"], alt["graph_type"], weak=True, empty=empty, **extra))
            elif alt.get("csp"):
                self.csp_node.setdefault(normalise_csp(alt["csp"]), []).append(
                    Binding(fact, CSP, normalise_csp(alt["csp"]), weak=True, **extra)
                )
        for item in origins.get("not_read", ()):
            why = item.get("why") if isinstance(item, Mapping) else None
            if not (isinstance(why, str) and why.strip() and item.get("graph") and item.get("graph_type")):
                self._problem(fact, "a `not_read` entry needs `graph`, `graph_type` and a non-empty `why`")
                continue
            self.graph_not_read.setdefault(item["graph_type"], {}).setdefault(item["graph"], []).append(
                NotRead(fact, why.strip())
            )

    def _alternate(self, fact: Fact, alt: Mapping[str, Any]) -> dict[str, Any]:
        """The value translation an alternate origin declares: ``values``, ``pattern`` with
        ``value`` (and ``expect``), ``unknown``."""
        extra: dict[str, Any] = {"values": alt.get("values", {}), "unknown": tuple(alt.get("unknown", ()))}
        if "pattern" in alt:
            try:
                extra["pattern"] = re.compile(alt["pattern"])
            except (re.error, TypeError) as exc:
                self._problem(fact, f"`pattern` {alt['pattern']!r} is not a regular expression ({exc})")
                return extra
            if "value" not in alt:
                self._problem(fact, "an alternate origin with a `pattern` needs the `value` it gives")
            extra["pattern_value"] = alt.get("value")
            extra["expect"] = str(alt.get("expect", ""))
        return extra

    def _problem(self, fact: Fact, message: str) -> None:
        self._problems.append(
            Diagnostic(
                "V401",
                f"{fact.name}: {message}",
                path=self.vocabulary.origin,
                help="see the comments at the top of the vocabulary on [facts.origins]",
            )
        )

    def _graph(self, binding: Binding) -> None:
        self.graph.setdefault(binding.graph_type, {}).setdefault(binding.key, []).append(binding)

    # -- queries ------------------------------------------------------------------------

    def field_bindings(self, fact: Fact, graph_type: str) -> dict[str, Binding]:
        """Graph property name → binding, for the record fields of a collection fact."""
        found = {}
        for spec in fact.type.fields:
            origins = spec.origins
            if origins.get("graph") and origins.get("graph_type", graph_type) == graph_type:
                found[origins["graph"]] = Binding(
                    spec, GRAPH, origins["graph"], graph_type, numeric=origins.get("graph_numeric", ""), owner=fact.name
                )
        return found

    def graph_under(self, graph_type: str, container: str) -> list[Binding]:
        """Bindings of every property below a nested Graph object (for a null object)."""
        prefix = container + "."
        return [b for path, bs in self.graph.get(graph_type, {}).items() if path.startswith(prefix) for b in bs]

    def catalog_admx_children(self, definition_id: str) -> list[Binding]:
        """ADMX data-id facts whose catalog ids hang below ``definition_id``."""
        prefix = definition_id + "_"
        return [b for cid, b in self.catalog.items() if cid.startswith(prefix) and b.fact.origins.get("csp_data_id")]

    def member_origin(self, enum_name: str, member: str, key: str) -> Any:
        """An enum member's declared origin value (``csp``, ``graph``, ``graph_number``, …), or None."""
        enum = self.vocabulary.enums.get(enum_name)
        found = enum.member(member) if enum else None
        return found.origins.get(key) if found is not None else None

    def members_with(self, enum_name: str, key: str, value: Any) -> list[str]:
        """Members of an enum whose origin ``key`` equals ``value``."""
        enum = self.vocabulary.enums.get(enum_name)
        return [m.name for m in (enum.members if enum else ()) if self.member_origin(enum_name, m.name, key) == value]

    # -- conversion ---------------------------------------------------------------------

    def member_table(self, fact: Fact, source: str) -> dict[tuple, str]:
        """Raw value (keyed by kind) → member name, for one enum fact and one source."""
        cache_key = (fact.name, _enum_of(fact).name, source)
        table = self._members.get(cache_key)
        if table is None:
            table, raws = {}, []
            for member in _enum_of(fact).members:
                given = fact.member_values.get(member.name, {})
                raw = given[source] if source in given else self.member_origin(_enum_of(fact).name, member.name, source)
                if raw is None:
                    continue
                key = _graph_key(raw) if source == GRAPH else _int_key(raw)
                if key is not None and key not in table:
                    table[key] = member.name
                    raws.append(raw)
            self._members[cache_key], self._raws[cache_key] = table, raws
        return table

    def means_unknown(self, binding: Binding, raw: Any) -> bool:
        """Whether ``raw`` is a value the binding's source documents as "not known"."""
        return isinstance(raw, str) and raw.casefold() in {u.casefold() for u in binding.unknown}

    def convert(self, binding: Binding, raw: Any) -> Any:
        """The typed value of ``raw`` for the binding's fact; Unmappable says what was expected."""
        fact = binding.fact
        kind = fact.type.kind
        if looks_secret(raw) and kind != "string":
            raise Unmappable(f"a {kind} value (this one holds a recovery password and was not read)")
        if binding.pattern is not None:
            if isinstance(raw, str) and binding.pattern.search(raw):
                return binding.pattern_value
            raise Unmappable(binding.expect or f"a string matching {binding.pattern.pattern}")
        if binding.values:
            return self._from_values(binding, raw)
        if kind == "enum":
            return self._member(binding, raw)
        if kind == "bool":
            value = self._bool(binding, raw)
            return (not value) if binding.export == GRAPH and fact.origins.get("inverted") else value
        if kind == "decimal" and isinstance(raw, str):
            match = _LEADING_NUMBER.match(raw)
            if not match:
                raise Unmappable("a string that starts with a number, such as 2.0")
            return float(match.group(1))
        if kind == "string":
            if not isinstance(raw, str):
                raise Unmappable("a string")
            return redact(raw)
        if kind == "collection":
            return self._collection(binding, raw)
        try:
            return self.vocabulary.parse_value(fact, raw)
        except ValueError as exc:
            raise Unmappable(str(exc)) from None

    def _from_values(self, binding: Binding, raw: Any) -> Any:
        if isinstance(raw, str):
            for text, value in binding.values.items():
                if text.casefold() == raw.casefold():
                    return value
        raise Unmappable("one of " + ", ".join(json.dumps(v) for v in binding.values))

    def _bool(self, binding: Binding, raw: Any) -> bool:
        if binding.export == GRAPH:
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().casefold() in ("true", "false"):
                return raw.strip().casefold() == "true"  # a CSV cell of a fleet file with Graph columns
            raise Unmappable("true or false")
        key = _int_key(raw)
        if key is None or key[1] not in (0, 1):
            raise Unmappable("1 or 0 (true or false)")
        return key[1] == 1

    def _member(self, binding: Binding, raw: Any) -> str:
        fact, source = binding.fact, binding.export
        table = self.member_table(fact, source)
        key = _graph_key(raw) if source == GRAPH else _int_key(raw)
        if key is not None and key in table:
            return table[key]
        number = _int_key(raw)
        if source == GRAPH and binding.numeric and number is not None:
            numbers = self.member_table(fact, binding.numeric)
            if number in numbers:
                return numbers[number]
        if source == GRAPH and isinstance(raw, str):
            # Member names and labels are unambiguous; Graph strings whose spelling the
            # reference marks UNCONFIRMED (skuFamily, secureBoot) are matched this way.
            folded = _fold(raw)
            for member in _enum_of(fact).members:
                if folded in (_fold(member.name), _fold(fact.member_label(member.name))):
                    return member.name
        raise Unmappable(self.expected(binding))

    def expected(self, binding: Binding) -> str:
        """What a source may carry for this binding's enum fact, in the source's own terms."""
        fact, source = binding.fact, binding.export
        self.member_table(fact, source)
        raws = self._raws[(fact.name, _enum_of(fact).name, source)]
        enum = f"enum {_enum_of(fact).name}"
        if source == GRAPH:
            shown_raws = [json.dumps(r) for r in raws] or [json.dumps(m) for m in _enum_of(fact).member_names]
            return f"one of {', '.join(shown_raws)} (Graph values of {enum})"
        if source == CATALOG:
            options = ", ".join(f"`{binding.key}_{r}`" for r in raws)
            return f"one of the options {options} ({enum})"
        return f"one of {', '.join(str(r) for r in raws)} (CSP values of {enum})"

    # -- collections --------------------------------------------------------------------

    def _collection(self, binding: Binding, raw: Any) -> tuple:
        fields = binding.fact.type.fields
        if len(fields) != 1:
            raise Unmappable("a list of records")
        spec = fields[0]
        if spec.type.kind == "enum":
            return self._flags(binding, spec, raw)
        if isinstance(raw, str) and binding.export == CSP:
            items: Iterable[Any] = [part.strip() for part in raw.split(",") if part.strip()]
        elif isinstance(raw, list):
            items = raw
        else:
            raise Unmappable("a list" + (" or a comma-separated string" if binding.export == CSP else ""))
        inner = Binding(spec, binding.export, binding.key)
        records = []
        for index, item in enumerate(items):
            try:
                records.append(MappingProxyType({spec.name: self.convert(inner, item)}))
            except Unmappable as exc:
                raise Unmappable(f"item {index}: {exc}") from None
        return tuple(records)

    def _flags(self, binding: Binding, spec: Fact, raw: Any) -> tuple:
        """A flags value (an integer bitmask, or Graph flag names) as one record per flag."""
        enum = _enum_of(spec)
        order = {m.name: i for i, m in enumerate(enum.members)}
        number_key = "graph_number" if binding.export == GRAPH else CSP
        numbers = {
            m.name: n
            for m in enum.members
            if isinstance(n := self.member_origin(enum.name, m.name, number_key), int) and not isinstance(n, bool)
        }
        names: list[str] = []
        if isinstance(raw, str) and binding.export == GRAPH and _int_key(raw) is None:
            parts = [p.strip() for p in raw.split(",") if p.strip()]
            inner = Binding(spec, GRAPH, binding.key)
            for part in parts:
                if part.casefold() in {e.casefold() for e in binding.empty}:
                    continue
                try:
                    names.append(self._member(inner, part))
                except Unmappable:
                    listed = [
                        json.dumps(self.member_origin(enum.name, m.name, GRAPH))
                        for m in enum.members
                        if self.member_origin(enum.name, m.name, GRAPH)
                    ]
                    empty = [json.dumps(e) for e in binding.empty]
                    raise Unmappable(f"comma-separated Graph flag names: {', '.join(empty + listed)}") from None
        else:
            key = _int_key(raw)
            if key is None or key[1] < 0 or (isinstance(raw, str) and raw.strip().lower() in ("true", "false")):
                flags = " or comma-separated flag names" if binding.export == GRAPH else ""
                raise Unmappable("a non-negative integer bitmask" + flags)
            rest = key[1]
            for name, number in numbers.items():
                if number and rest & number == number:
                    names.append(name)
                    rest &= ~number
            if rest:
                table = "Graph advancedBitLockerState" if binding.export == GRAPH else "CSP"
                raise Unmappable(f"only bits defined in the {table} table; {rest} is not")
        unique = sorted(set(names), key=order.__getitem__)
        return tuple(MappingProxyType({spec.name: name}) for name in unique)


_INDEXES: dict[int, tuple[Vocabulary, OriginIndex]] = {}


def index_for(vocabulary: Vocabulary) -> OriginIndex:
    """The origin index of a vocabulary, built once per vocabulary object."""
    entry = _INDEXES.get(id(vocabulary))
    if entry is None or entry[0] is not vocabulary:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        entry = (vocabulary, OriginIndex(vocabulary))
        _INDEXES[id(vocabulary)] = entry
    return entry[1]
