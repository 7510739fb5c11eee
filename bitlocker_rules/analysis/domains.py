"""Finite value sets that represent every value of a free fact exactly: ordered facts cut at
their constants, enums, strings, and candidate collections (refused past a limit)."""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from attrs import frozen

from .. import nodes as n
from ..errors import Diagnostic
from ..versions import WindowsVersion
from ..vocabulary import FactType, Vocabulary
from .evaluation import NO_BINDINGS, MaskCompiler, SearchContext
from .results import AnalysisError
from .selection import Entry
from .summary import CollectionUse
from .unionfind import UnionFind
from .values import Bag, same_value

MAX_COLLECTION_CANDIDATES = 20000


def _term_type(vocabulary: Vocabulary, term: tuple) -> FactType:
    # Terms come from checked rules: their facts and fields are declared.
    fact = vocabulary.facts[term[1]]
    if term[0] == "f":
        return fact.type
    spec = fact.type.field(term[2])
    assert spec is not None, "a checked rule reads declared fields only"
    return spec.type


def _fresh_strings(consts: set, count: int) -> list[str]:
    out: list[str] = []
    i = 1
    while len(out) < count:
        word = "(other)" if i == 1 else f"(other {i})"
        if word not in consts:
            out.append(word)
        i += 1
    return out


def _integer_points(consts: list, m: int) -> list[int]:
    bounds = sorted(set(consts))
    if not bounds:
        return list(range(m))
    points = [int(c) for c in bounds if isinstance(c, int) or float(c).is_integer()]
    low = math.ceil(bounds[0]) - 1
    points += [low - i for i in range(m)]
    for lo, hi in itertools.pairwise(bounds):
        start = math.floor(lo) + 1
        points += [x for x in range(start, start + m) if x < hi]
    high = math.floor(bounds[-1]) + 1
    points += [high + i for i in range(m)]
    return sorted(set(points))


def _decimal_points(consts: list, m: int) -> list[float]:
    """Every decimal constant, and ``m`` values in each interval around and between them
    (whole numbers first, then midpoints): as many points as constants, whatever the range."""
    # A number past the largest float compares alike with every decimal: it cuts nothing.
    bounds = sorted({float(c) for c in consts if abs(c) <= sys.float_info.max})
    if not bounds:
        return [float(i) for i in range(m)]
    points = list(bounds)
    points += [math.floor(bounds[0]) - (1 if float(bounds[0]).is_integer() else 0) - i for i in range(m)]
    points += [math.ceil(bounds[-1]) + (1 if float(bounds[-1]).is_integer() else 0) + i for i in range(m)]
    for lo, hi in itertools.pairwise(bounds):
        first = math.floor(lo) + 1  # the whole numbers strictly between, at most m of them
        whole = [float(x) for x in range(first, min(math.ceil(hi), first + m))]
        inner = sorted({lo, *whole, hi})
        while len(inner) - 2 < m:
            gaps = sorted(itertools.pairwise(inner), key=lambda g: g[1] - g[0], reverse=True)
            a, b = gaps[0]
            mid = a + (b - a) / 2
            if not a < mid < b:
                break
            inner = sorted(set(inner + [mid]))
        points += inner
    return sorted({float(p) for p in points})


def _version_points(consts: list, m: int) -> list[WindowsVersion]:
    bounds = sorted(set(consts))
    if not bounds:
        return [WindowsVersion(10, 0, 19045, i) for i in range(m)]
    points = list(bounds)
    below, v = [], bounds[0]
    for _ in range(m):
        v = _version_below(v)
        if v is None:
            break
        below.append(v)
    points += below
    for lo, hi in itertools.pairwise(bounds):
        v = lo
        for _ in range(m):
            v = WindowsVersion(v.major, v.minor, v.build, v.revision + 1)
            if v >= hi:
                break
            points.append(v)
    v = bounds[-1]
    for _ in range(m):
        v = WindowsVersion(v.major, v.minor, v.build, v.revision + 1)
        points.append(v)
    return sorted(set(points))


def _version_below(v: WindowsVersion) -> WindowsVersion | None:
    if v.revision > 0:
        return WindowsVersion(v.major, v.minor, v.build, v.revision - 1)
    if v.build > 0:
        return WindowsVersion(v.major, v.minor, v.build - 1, 0)
    if v.minor > 0:
        return WindowsVersion(v.major, v.minor - 1, 0, 0)
    if v.major > 0:
        return WindowsVersion(v.major - 1, 0, 0, 0)
    return None


def _scalar_values(ftype: FactType, consts: list, m: int, kinds: set[str]) -> list:
    kind = ftype.kind
    if kind == "bool":
        return [True, False]
    if kind == "enum" and ftype.enum is not None:  # an enum type has its enumeration
        names = ftype.enum.member_names
        named = [x for x in names if x in consts]
        others = [x for x in names if x not in consts][:m]
        return [x for x in names if x in named or x in others]
    if kind == "string":
        strings = sorted({c for c in consts if isinstance(c, str)})
        return strings + _fresh_strings(set(strings), m)
    if kind == "version":
        return _version_points([c for c in consts if isinstance(c, WindowsVersion)], m)
    numbers = [c for c in consts if isinstance(c, (int, float)) and not isinstance(c, bool)]
    if kind == "integer":
        return _integer_points(numbers, m)
    if "integer" in kinds:
        numbers = [*numbers, *_integer_points(numbers, m)]
    return _decimal_points(numbers, m)


def _order_values(values: list, consts: list) -> list:
    """Constants the rules name first (nicer witnesses and repairs), then the others."""
    known = {(type(c), c) for c in consts}
    named = [v for v in values if (type(v), v) in known]
    rest = [v for v in values if (type(v), v) not in known]
    return named + rest


def fact_domains(
    entries: Sequence[Entry], vocabulary: Vocabulary, fixed: Mapping[str, Any], first: Mapping[str, Any] | None = None
) -> dict[str, tuple]:
    """The value set of every free fact the entries read (None = missing is always included).

    ``first`` gives values that must head a fact's value set (a repair's current values).
    """
    info = MergedInfo.of(entries)
    values: dict[tuple, list] = {}
    for members in info.components():
        _add_component_values(values, members, info.consts, vocabulary, fixed, first)
    out = _fact_values(entries, vocabulary, fixed, values, info.colls)
    if first:
        _put_first(out, first)
    return out


@frozen
class MergedInfo:
    """What a set of rules asks of its facts, merged over the rules (see ``RuleInfo``)."""

    terms: set[tuple]
    consts: dict[tuple, list]  # term → the constants it is compared with
    colls: dict[str, CollectionUse]
    compared: UnionFind[tuple]  # terms compared with each other, joined

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> MergedInfo:
        """The infos of ``entries``, merged."""
        terms: set[tuple] = set()
        consts: dict[tuple, list] = {}
        colls: dict[str, CollectionUse] = {}
        compared: UnionFind[tuple] = UnionFind()
        for entry in entries:
            info = entry.info
            terms |= info.terms
            for term, value in info.consts:
                consts.setdefault(term, []).append(value)
            for a, b in info.edges:
                compared.union(a, b)
            for name, coll in info.colls.items():
                colls.setdefault(name, CollectionUse()).merge(coll)
        return cls(terms, consts, colls, compared)

    def components(self) -> list[list[tuple]]:
        """The terms in groups compared with each other (directly or through others)."""
        components: dict[tuple, list[tuple]] = {}
        for term in self.terms:
            components.setdefault(self.compared.find(term), []).append(term)
        return list(components.values())


def _add_component_values(
    values: dict[tuple, list],
    members: list[tuple],
    consts: Mapping[tuple, list],
    vocabulary: Vocabulary,
    fixed: Mapping[str, Any],
    first: Mapping[str, Any] | None,
) -> None:
    """Put in ``values`` the value set of each free term of one component, cut at the
    constants the terms share."""
    shared = _shared_constants(members, consts, fixed, first)
    m = _representatives(members, fixed)
    kinds = {_term_type(vocabulary, t).kind for t in members}
    for t in members:
        if not (t[0] == "f" and t[1] in fixed):
            values[t] = _order_values(_scalar_values(_term_type(vocabulary, t), shared, m, kinds), shared)


def _shared_constants(
    members: list[tuple], consts: Mapping[tuple, list], fixed: Mapping[str, Any], first: Mapping[str, Any] | None
) -> list:
    """The constants of every term of a component, once each (1 and 1.0 are two)."""
    shared = [c for t in members for c in consts.get(t, ())]
    if len(members) > 1:
        # A fact compared with another may need to equal (or pass) the other's value:
        # fixed values, and the current values a repair may keep, act as constants; so do
        # the fields of a fixed collection's records (a device's volumes).
        for given in (fixed, first or {}):
            shared += [given[t[1]] for t in members if t[0] == "f" and given.get(t[1]) is not None]
            shared += [value for t in members if t[0] == "c" for value in _field_values(given.get(t[1]), t[2])]
    return list({(type(c), c): c for c in shared}.values())


def _field_values(records: Any, name: str) -> list:
    """The values the records of a given collection (None: missing) hold in field ``name``."""
    if not records:
        return []
    return [record.get(name) for record in records if record.get(name) is not None]


def _representatives(members: list[tuple], fixed: Mapping[str, Any]) -> int:
    """How many values each interval between constants needs so that the component's free
    facts (g) and the fields of one collection's records (k at most) realise every order."""
    g = len([t for t in members if t[0] == "f" and t[1] not in fixed])
    fields: dict[str, int] = {}  # collection → how many of its fields are members
    for t in members:
        if t[0] == "c":
            fields[t[1]] = fields.get(t[1], 0) + 1
    k = max(fields.values(), default=0)
    return g + (g + 1) * k if k else max(g, 1)


def _fact_values(
    entries: Sequence[Entry],
    vocabulary: Vocabulary,
    fixed: Mapping[str, Any],
    values: Mapping[tuple, list],
    colls: Mapping[str, CollectionUse],
) -> dict[str, tuple]:
    """Every free fact the entries read → its value set, from the terms' values (missing last)."""
    out: dict[str, tuple] = {}
    for entry in entries:
        for name in entry.facts:
            if name in fixed or name in out:
                continue
            if vocabulary.facts[name].type.kind == "collection":  # read by a checked rule: declared
                out[name] = _collection_values(
                    name, colls.get(name) or CollectionUse(), values, entry, fixed, vocabulary
                )
            else:
                out[name] = tuple(values.get(("f", name), [])) + (None,)
    return out


def _put_first(out: dict[str, tuple], first: Mapping[str, Any]) -> None:
    """Move each fact's value in ``first`` to the head of its value set."""
    for name, value in first.items():
        if name in out:
            out[name] = (value,) + tuple(v for v in out[name] if not same_value(v, value))


def _collection_values(
    name: str,
    coll: CollectionUse,
    values: Mapping[tuple, list],
    entry: Entry,
    fixed: Mapping[str, Any],
    vocabulary: Vocabulary,
) -> tuple:
    """Candidate collections: every combination of record types the rules can tell apart.

    Without counts: sets of at most one record per quantifier. With counts, whichever of
    two exact sets is smaller: explicit multisets of up to ``CollectionUse.bound`` records, or (one
    count expression, any constants) a set of distinct records (quantifier witnesses plus
    the records that carry the count) with extra copies of one of them, as many as reach
    each interval between the constants (so ``count(c) < 200`` costs no 200 records).
    """
    types = _record_types(name, coll, values, fixed, vocabulary)
    if not coll.counts:
        bound = min(len(coll.quants), len(types))
        _limit(name, sum(math.comb(len(types), s) for s in range(bound + 1)), bound, entry)
        return _combinations(types, bound, itertools.combinations)
    bound = coll.bound()
    explicit = _multisets(len(types), bound)
    carried = _CarriedCopies.plan(coll, len(types))
    if carried is not None and carried.total < explicit:
        _limit(name, carried.total, carried.support, entry)
        return carried.candidates(types)
    _limit(name, explicit, bound, entry)
    return _combinations(types, bound, itertools.combinations_with_replacement)


def _multisets(types: int, bound: int) -> int:
    """How many multisets of up to ``bound`` records of ``types`` kinds there are, counted
    only up to just past MAX_COLLECTION_CANDIDATES (a count compared with 1000000000 would
    otherwise add up a billion binomials before being refused)."""
    total = 0
    for size in range(bound + 1):
        total += math.comb(types + size - 1, size)
        if total > MAX_COLLECTION_CANDIDATES:
            break
    return total


def _record_types(
    name: str, coll: CollectionUse, values: Mapping[tuple, list], fixed: Mapping[str, Any], vocabulary: Vocabulary
) -> list:
    """Records of the fields the rules read, over the fields' value sets (each may be
    missing), one per behaviour."""
    fields = sorted(coll.fields)
    choices = [list(values.get(("c", name, f), [])) + [None] for f in fields]
    types = [
        MappingProxyType({f: v for f, v in zip(fields, combo) if v is not None})
        for combo in itertools.product(*choices)
    ]
    return _distinct_types(name, coll, types, values, fixed, vocabulary)


def _combinations(types: list, bound: int, choose: Callable[[list, int], Iterable[Iterable[Any]]]) -> tuple:
    """Collections of up to ``bound`` records chosen by ``choose`` (sets or multisets), and missing."""
    return tuple(tuple(c) for size in range(bound + 1) for c in choose(types, size)) + (None,)


@frozen
class _CarriedCopies:
    """For one count expression: sets of up to ``support`` distinct records, one of them (the
    carrier) with extra copies, as many as bring the count to each of ``lows``."""

    support: int
    lows: tuple[int, ...]  # the lowest count of each interval between the constants
    total: int  # how many candidates that makes

    @classmethod
    def plan(cls, coll: CollectionUse, type_count: int) -> _CarriedCopies | None:
        """The plan for ``coll``, or None unless it has exactly one count expression."""
        if len(coll.counts) != 1:
            return None
        count, consts = coll.counts[0]
        support = min(len(coll.quants) + (1 if count.body is None else 2), type_count)
        lows = tuple(sorted({0} | {x for c in consts if c >= 0 for x in (math.ceil(c), math.floor(c) + 1)}))
        total = sum(math.comb(type_count, s) * max(s, 1) * (len(lows) * s + 1) for s in range(support + 1))
        return cls(support, lows, total)

    def candidates(self, types: list) -> tuple:
        """The candidate collections (the empty one first, missing last)."""
        out: list = [()]
        for size in range(1, self.support + 1):
            extras = sorted({0} | {low - s for low in self.lows for s in range(size + 1) if low - s > 0})
            for combo in itertools.combinations(types, size):
                for carrier in range(size):
                    for extra in extras:
                        if extra == 0 and carrier > 0:
                            continue  # the plain set, once
                        mult = [1] * size
                        mult[carrier] += extra
                        out.append(Bag(combo, mult) if extra else tuple(combo))
        return tuple(out) + (None,)


_SIGNATURE_LIMIT = 512


def _distinct_types(
    name: str,
    coll: CollectionUse,
    types: list,
    values: Mapping[tuple, list],
    fixed: Mapping[str, Any],
    vocabulary: Vocabulary,
) -> list:
    """One record type per behaviour: records whose every body (quantifier or count over
    this collection) has the same truth value, for every value of the facts the bodies
    read, cannot be told apart by any rule, so one of them stands for all."""
    bodies = [(q.var, q.body) for q in coll.quants] + [
        (c.var, c.body) for c, _ in coll.counts if c.var is not None and c.body is not None
    ]
    if len(types) <= 1 or not bodies:
        return types[:1] if not bodies else types
    read = list(dict.fromkeys(f for _, body in bodies for f in n.facts_read(body)))
    options = []
    for f in read:
        decl = vocabulary.fact(f)
        if decl is None or decl.type.kind == "collection":
            return types
        options.append([fixed[f]] if f in fixed else list(values.get(("f", f), [])) + [None])
    if math.prod(len(o) for o in options) > _SIGNATURE_LIMIT:
        return types
    compiler = MaskCompiler()
    compiled = [(var, compiler.condition(body)) for var, body in bodies]
    contexts = [SearchContext(dict(zip(read, combo)), NO_BINDINGS) for combo in itertools.product(*options)]
    seen: dict[tuple, Any] = {}
    for record in types:
        signature = tuple(fn(ctx, {var: record}) for ctx in contexts for var, fn in compiled)
        seen.setdefault(signature, record)
    return list(seen.values())


def _limit(name: str, total: int, bound: int, entry: Entry) -> None:
    """Refuse (A103) a collection that would need more than MAX_COLLECTION_CANDIDATES candidates."""
    if total > MAX_COLLECTION_CANDIDATES:
        raise AnalysisError(
            [
                Diagnostic(
                    "A103",
                    f"{name} would need more than {MAX_COLLECTION_CANDIDATES} candidate collections "
                    f"(of up to {bound} records) for an exact answer",
                    severity="warning",
                    source=entry.source,
                    span=entry.rule.span,
                    help="count one expression per collection, compare counts with smaller numbers, "
                    "or quantify over fewer fields",
                )
            ]
        )
