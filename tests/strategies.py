"""Reusable Hypothesis strategies for the rule language.

Two families of rule trees, both built from the node classes exactly as the parser builds
them (``Name`` and ``Literal`` leaves, no spans):

* *well-typed* conditions over the small vocabulary ``VOCABULARY`` below: they pass
  ``check_ruleset``, so they reach the evaluators (``typed_rulesets``, ``conditions``);
* *syntactic* expressions with arbitrary names and literals that only need to print and
  parse back (``exprs``, ``syntactic_rulesets``).

Plus fact values shaped as ``Vocabulary.parse_value`` returns them (``fact_values``), the
sources a device's facts are merged from (``fact_sources``: several policies that may
disagree, each kept as a profile, and the device), and rule text: from the real grammar
(``grammar_texts``), from keyword fragments (``fragment_texts``) and plain ``st.text``.

Trees are bounded with ``st.recursive(max_leaves=…)``; quantifier and count scopes nest at
most three deep (``MAX_SCOPE``), so every strategy is finite.
"""

from __future__ import annotations

import functools
import re
from types import MappingProxyType

from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from bitlocker_rules import nodes as n
from bitlocker_rules.resources import grammar_path
from bitlocker_rules.syntax import _parser
from bitlocker_rules.versions import WindowsVersion
from bitlocker_rules.vocabulary import build_vocabulary

# ---------------------------------------------------------------------------------------
# The vocabulary the typed trees range over (the TOML shape, as ``build_vocabulary`` takes).

RELEASES = {
    "1507": "10.0.10240",
    "1809": "10.0.17763",
    "21H2": "10.0.19044",
    "Windows 11": "10.0.22000",
    "Windows 11 23H2": "10.0.22631",
}

ENUMS = {
    "Mode": ("Require", "Block", "NotConfigured"),
    "JoinType": ("AzureADJoined", "HybridAzureADJoined", "Workgroup"),
    "VolumeKind": ("OperatingSystem", "FixedData", "Removable"),
    "Kind": ("Template", "Catalog"),
}

# Fact name → declared type ("enum X" for enums).
SCALAR_FACTS = {
    "policy.flag": "bool",
    "policy.enabled": "bool",
    "device.tpm_present": "bool",
    "policy.min_pin_length": "integer",
    "device.pin_length": "integer",
    "device.tpm_version": "decimal",
    "device.os_version": "version",
    "policy.min_os_version": "version",
    "policy.mode": "enum Mode",
    "policy.other_mode": "enum Mode",
    "device.join_type": "enum JoinType",
    "device.name": "string",
    "policy.kind": "enum Kind",
}
# Facts that describe each policy rather than set something (the vocabulary's ``per_policy``):
# a rule reading one is decided on each merged policy's own settings.
PER_POLICY = frozenset({"policy.kind"})
COLLECTION = "device.volumes"
FIELDS = {"encrypted": "bool", "size": "integer", "kind": "enum VolumeKind"}

VOCABULARY_DATA = {
    "releases": RELEASES,
    "enums": {
        name: {"description": name, "members": [{"name": m, "label": m.lower()} for m in members]}
        for name, members in ENUMS.items()
    },
    "scenarios": {"alpha": {"label": "Alpha"}, "beta": {"label": "Beta", "excludes": ["alpha"]}},
    "facts": [
        {"name": name, "type": kind, "label": name} | ({"per_policy": True} if name in PER_POLICY else {})
        for name, kind in SCALAR_FACTS.items()
    ]
    + [
        {
            "name": COLLECTION,
            "type": "collection",
            "label": "Volumes",
            "item_label": "volume",
            "fields": [{"name": f, "type": kind, "label": f} for f, kind in FIELDS.items()],
        }
    ],
}
VOCABULARY = build_vocabulary(VOCABULARY_DATA, origin="<test vocabulary>")
SCENARIOS = ("alpha", "beta")

ALL_FACTS = (*SCALAR_FACTS, COLLECTION)
ORDERED = ("integer", "decimal", "version")
EQUALITY_OPS = ("==", "!=")
ALL_OPS = ("==", "!=", "<", "<=", ">", ">=")
VARIABLES = ("x", "y", "vol")
MAX_SCOPE = 3  # quantifiers / counts nest at most this deep

# Builds around the interesting edges: 9999/10000 (string order differs from version
# order), the lowest Windows 10 build, and the release builds of the table.
BUILDS = (9999, 10000, 10239, 10240, 17762, 17763, 17764, 19044, 22000, 22631)


def name(dotted: str) -> n.Name:
    """A ``Name`` as the parser builds it for ``dotted``."""
    return n.Name(tuple(dotted.split(".")))


# ---------------------------------------------------------------------------------------
# Words and literals.

KEYWORDS = frozenset(
    t.pattern.value
    for t in _parser().terminals
    if t.pattern.type == "str" and re.fullmatch(r"[A-Za-z_]\w*", t.pattern.value)
)
NAME_RE = r"[A-Za-z_][A-Za-z0-9_]*"
RULE_ID_RE = r"[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)+"


def identifiers() -> st.SearchStrategy[str]:
    """NAME tokens that are not keywords (a keyword where a name may stand lexes as the keyword)."""
    pool = st.sampled_from(["a", "b", "x", "policy", "device", "flag", "_", "Require", "S9"])
    return st.one_of(pool, st.from_regex(NAME_RE, fullmatch=True)).filter(lambda w: w not in KEYWORDS)


def rule_ids() -> st.SearchStrategy[str]:
    """Rule ids: ``SE-01`` style or a plain name."""
    return st.one_of(st.from_regex(RULE_ID_RE, fullmatch=True), identifiers())


def texts(max_size: int = 12) -> st.SearchStrategy[str]:
    """Titles, rationales, string values: quotes, backslashes, newlines and tabs included."""
    tricky = st.sampled_from(["", "a", 'say "hi"', "back\\slash", "two\nlines", "tab\there", "ünï # ‽"])
    return st.one_of(tricky, st.text(max_size=max_size))


def small_strings() -> st.SearchStrategy[str]:
    """Strings from a small pool, so that fact values and literals coincide often."""
    return st.sampled_from(["", "a", "B", 'q"x', "back\\slash", "two\nlines", "ünï"])


def decimals() -> st.SearchStrategy[float]:
    """Non-negative finite floats (the grammar has no minus sign)."""
    return st.one_of(
        st.sampled_from([0.0, 1.2, 1.5, 2.0, 2.5]),
        st.floats(min_value=0.0, max_value=4.0, allow_nan=False, allow_infinity=False).map(abs),
    )


def bool_literals() -> st.SearchStrategy[n.Literal]:
    return st.builds(n.Literal, st.booleans(), st.just("bool"))


def integer_literals(max_value: int = 12) -> st.SearchStrategy[n.Literal]:
    return st.builds(n.Literal, st.integers(0, max_value), st.just("integer"))


def decimal_literals() -> st.SearchStrategy[n.Literal]:
    return st.builds(n.Literal, decimals(), st.just("decimal"))


def version_literals() -> st.SearchStrategy[n.Literal]:
    """Every way a rule may write a Windows version, as the parser reads each one."""
    builds = st.one_of(st.sampled_from(BUILDS), st.integers(9990, 26200))
    revisions = st.integers(0, 3)
    return st.one_of(
        builds.map(lambda b: n.Literal(f"10.0.{b}", "version")),
        st.tuples(builds, revisions).map(lambda p: n.Literal(f"10.0.{p[0]}.{p[1]}", "version")),
        builds.filter(lambda b: b >= 10240).map(lambda b: n.Literal(b, "integer")),
        st.sampled_from(["1507", "1809"]).map(lambda r: n.Literal(int(r), "integer")),
        st.sampled_from(["21H2", "21h2"]).map(lambda r: n.Literal(r, "version")),
        st.sampled_from(["Windows 11", "windows 11 23h2", "10.0.19044", " 10.0.22000.1 "]).map(
            lambda r: n.Literal(r, "string")
        ),
    )


def literals_of(kind: str) -> st.SearchStrategy[n.Expr]:
    """Constants of a fact type as the parser builds them (enum members are bare names)."""
    if kind == "bool":
        return bool_literals()
    if kind == "integer":
        return st.one_of(integer_literals(), decimal_literals())
    if kind == "decimal":
        return st.one_of(decimal_literals(), integer_literals(4))
    if kind == "version":
        return version_literals()
    if kind == "string":
        return st.builds(n.Literal, small_strings(), st.just("string"))
    assert kind.startswith("enum ")
    return st.sampled_from(ENUMS[kind[5:]]).map(lambda m: n.Name((m,)))


# ---------------------------------------------------------------------------------------
# Fact values, as ``Vocabulary.parse_value`` produces them.


def versions() -> st.SearchStrategy[WindowsVersion]:
    builds = st.one_of(st.sampled_from(BUILDS), st.integers(9990, 26200))
    return st.builds(WindowsVersion, st.just(10), st.just(0), builds, st.integers(0, 3))


def typed_values(kind: str) -> st.SearchStrategy:
    """A typed value of a scalar fact type."""
    if kind == "bool":
        return st.booleans()
    if kind == "integer":
        return st.integers(-2, 12)
    if kind == "decimal":
        return decimals()
    if kind == "version":
        return versions()
    if kind == "string":
        return small_strings()
    assert kind.startswith("enum ")
    return st.sampled_from(ENUMS[kind[5:]])


def records() -> st.SearchStrategy[MappingProxyType]:
    """One record of device.volumes; any field may be missing."""
    return st.fixed_dictionaries({}, optional={f: typed_values(k) for f, k in FIELDS.items()}).map(MappingProxyType)


def fact_values(exclude: frozenset[str] = frozenset()) -> st.SearchStrategy[dict]:
    """A values dict (fact name → typed value); any fact may be missing, collections may be empty."""
    optional = {f: typed_values(k) for f, k in SCALAR_FACTS.items() if f not in exclude}
    optional.update((f"scenario.{s}", st.booleans()) for s in SCENARIOS if f"scenario.{s}" not in exclude)
    if COLLECTION not in exclude:
        optional[COLLECTION] = st.lists(records(), max_size=3).map(tuple)
    return st.fixed_dictionaries({}, optional=optional)


POLICY_FACTS = frozenset(f for f in SCALAR_FACTS if f.startswith("policy."))
_NOT_POLICY = frozenset(ALL_FACTS) - POLICY_FACTS | {f"scenario.{s}" for s in SCENARIOS}


@st.composite
def fact_sources(draw) -> tuple[list[dict], dict]:
    """The sources of one device's facts: one to three policies (each a values dict of policy
    settings, drawn from few values so that they often agree and sometimes disagree) and the
    device's own values. Merged, a setting the policies disagree on is a conflict (missing),
    and each policy is kept as a profile with its own settings."""
    device = draw(fact_values(exclude=POLICY_FACTS), label="device")
    shared = draw(fact_values(exclude=_NOT_POLICY), label="shared settings")
    policies = []
    for i in range(draw(st.integers(1, 3), label="policies")):
        own = draw(fact_values(exclude=_NOT_POLICY), label=f"policy {i}")
        # Mostly the shared settings, some of them overridden or left out by this policy.
        keep = draw(st.sets(st.sampled_from(sorted(shared))), label=f"policy {i} keeps") if shared else set()
        policies.append({**{f: shared[f] for f in keep}, **{f: v for f, v in own.items() if draw(st.booleans())}})
    return policies, device


# ---------------------------------------------------------------------------------------
# Well-typed conditions over VOCABULARY. ``scope`` is the tuple of bound variables (each a
# record of device.volumes); ``definitions`` is how many definitions d0, d1, … are visible.

KINDS = ("bool", "integer", "decimal", "version", "string", *(f"enum {e}" for e in ENUMS))


def _refs(kind: str, scope: tuple[str, ...]) -> list[n.Name]:
    refs = [name(f) for f, k in SCALAR_FACTS.items() if k == kind]
    refs += [n.Name((var, f)) for var in scope for f, k in FIELDS.items() if k == kind]
    return refs


def _kinds(scope: tuple[str, ...]) -> list[str]:
    """The types some operand has in this scope (record fields only inside a quantifier)."""
    return [k for k in KINDS if _refs(k, scope)]


def _numeric(kind: str) -> bool:
    return kind in ("integer", "decimal")


def _free_variables(scope: tuple[str, ...]) -> list[str]:
    return [v for v in VARIABLES if v not in scope]


@functools.cache
def counts(scope: tuple[str, ...] = (), definitions: int = 0) -> st.SearchStrategy[n.Count]:
    """``count(device.volumes)`` or ``count(v in device.volumes: body)``."""
    plain = st.just(n.Count(name(COLLECTION)))
    if len(scope) >= MAX_SCOPE:
        return plain
    var = _free_variables(scope)[0]
    body = st.deferred(lambda: conditions(scope + (var,), definitions))
    return st.one_of(plain, st.builds(n.Count, st.just(name(COLLECTION)), st.just(var), body))


@functools.cache
def value_operands(kind: str, scope: tuple[str, ...] = (), definitions: int = 0) -> st.SearchStrategy[n.Expr]:
    """Non-constant operands of a type: facts, fields of bound records, and counts for numbers."""
    numeric = ["integer", "decimal"] if _numeric(kind) else [kind]
    refs = [r for k in numeric for r in _refs(k, scope)]
    options = [st.sampled_from(refs)] if refs else []
    if _numeric(kind):
        options.append(counts(scope, definitions))
    return st.one_of(options)


@st.composite
def compares(draw, scope: tuple[str, ...] = (), definitions: int = 0) -> n.Compare:
    """``a op b``: a fact, field or count against a constant or a compatible operand."""
    kind = draw(st.sampled_from(_kinds(scope)))
    left = draw(value_operands(kind, scope, definitions))
    right = draw(st.one_of(literals_of(kind), value_operands(kind, scope, definitions)))
    op = draw(st.sampled_from(ALL_OPS if kind in ORDERED else EQUALITY_OPS))
    if draw(st.booleans()):
        left, right = right, left
    return n.Compare(op, left, right)


@st.composite
def members(draw, scope: tuple[str, ...] = (), definitions: int = 0) -> n.Member:
    """``a in {…}`` / ``a not in {…}`` with constants of a's type."""
    kind = draw(st.sampled_from(_kinds(scope)))
    operand = draw(value_operands(kind, scope, definitions))
    items = draw(st.lists(literals_of(kind), min_size=1, max_size=4).map(tuple))
    return n.Member(operand, items, draw(st.booleans()))


def presences(scope: tuple[str, ...] = ()) -> st.SearchStrategy[n.Presence]:
    """``f is present`` / ``f is missing`` on a fact (collections too) or a record field."""
    subjects = [name(f) for f in ALL_FACTS] + [n.Name((v, f)) for v in scope for f in FIELDS]
    return st.builds(n.Presence, st.sampled_from(subjects), st.booleans())


@functools.cache
def atoms(scope: tuple[str, ...] = (), definitions: int = 0) -> st.SearchStrategy[n.Expr]:
    """Leaves of a condition: comparisons, membership, presence, bool facts, true/false, definitions."""
    options = [
        compares(scope, definitions),
        members(scope, definitions),
        presences(scope),
        st.sampled_from(_refs("bool", scope)),
        bool_literals(),
    ]
    if definitions:
        options.append(st.integers(0, definitions - 1).map(lambda i: n.Name((f"d{i}",))))
    return st.one_of(options)


def _junctions(cls, children):
    return st.lists(children, min_size=2, max_size=3).map(lambda ops: cls(tuple(ops)))


@functools.cache
def conditions(scope: tuple[str, ...] = (), definitions: int = 0, max_leaves: int | None = None):
    """Well-typed conditions: and/or/not/implies/if-then-else/quantifiers over atoms."""
    if max_leaves is None:
        max_leaves = (6, 3, 2, 2)[len(scope)]

    def extend(children):
        options = [
            _junctions(n.And, children),
            _junctions(n.Or, children),
            st.builds(n.Not, children),
            st.builds(n.Implies, children, children),
            st.builds(n.Conditional, children, children, children),
        ]
        if len(scope) < MAX_SCOPE:
            options += [
                st.builds(
                    n.Quantified,
                    st.sampled_from(["any", "all"]),
                    st.just(var),
                    st.just(name(COLLECTION)),
                    conditions(scope + (var,), definitions),
                )
                for var in _free_variables(scope)
            ]
        return st.one_of(options)

    return st.recursive(atoms(scope, definitions), extend, max_leaves=max_leaves)


@st.composite
def typed_rules(draw, rule_id: str, definitions: int = 0, kind: str = "rule") -> n.Rule:
    """A rule (or note) whose conditions are well typed over VOCABULARY."""
    condition = conditions((), definitions)
    applicability = draw(st.none() | condition)
    requirements = tuple(draw(st.lists(condition, min_size=1, max_size=2))) if kind == "rule" else ()
    # A rule may be disputed (a failure is unknown) or unconfirmed (a pass is unknown), not both.
    caveat = draw(st.sampled_from(["", "disputed", "unconfirmed"])) if kind == "rule" else ""
    return n.Rule(
        rule_id,
        draw(texts()),
        kind=kind,
        severity=draw(st.sampled_from(["error", "warning", "info"])),
        scenarios=tuple(draw(st.lists(st.sampled_from(SCENARIOS), max_size=2, unique=True))),
        disputed="the sources differ" if caveat == "disputed" else "",
        unconfirmed="nothing confirms it" if caveat == "unconfirmed" else "",
        applicability=applicability,
        requires=requirements,
    )


@st.composite
def typed_rulesets(draw, max_rules: int = 4, prefix: str = "R", ruleset_id: str | None = None) -> n.Ruleset:
    """A ruleset of well-typed definitions d0, d1, … (each may use the earlier ones), rules and
    notes; rule ids ``{prefix}-0``, ``{prefix}-1``, … (rule ids are unique across rulesets)."""
    definitions = tuple(n.Definition(f"d{i}", draw(conditions((), i))) for i in range(draw(st.integers(0, 2))))
    count = draw(st.integers(1, max_rules))
    rules = [draw(typed_rules(f"{prefix}-{i}", len(definitions))) for i in range(count)]
    if draw(st.booleans()):
        rules.insert(draw(st.integers(0, len(rules))), draw(typed_rules(f"N{prefix}-1", len(definitions), "note")))
    scenarios = tuple(draw(st.lists(st.sampled_from(SCENARIOS), max_size=1)))
    return n.Ruleset(
        ruleset_id or draw(identifiers()),
        draw(texts()),
        definitions=definitions,
        rules=tuple(rules),
        scenarios=scenarios,
    )


def several_rulesets(max_rulesets: int = 3, max_rules: int = 3) -> st.SearchStrategy[list[n.Ruleset]]:
    """One to ``max_rulesets`` typed rulesets loaded together (ids ``rs0``, ``rs1``, …)."""
    return st.integers(1, max_rulesets).flatmap(
        lambda k: st.tuples(*(typed_rulesets(max_rules, prefix=f"R{i}", ruleset_id=f"rs{i}") for i in range(k))).map(
            list
        )
    )


# ---------------------------------------------------------------------------------------
# Syntactic expressions: any names, any literals; they need only print and parse back.


def dotted_names() -> st.SearchStrategy[n.Name]:
    return st.lists(identifiers(), min_size=1, max_size=3).map(lambda p: n.Name(tuple(p)))


def any_literals() -> st.SearchStrategy[n.Literal]:
    """Every literal form of the grammar, with values as the parser produces them."""
    return st.one_of(
        st.builds(n.Literal, st.integers(0, 10**30), st.just("integer")),
        st.builds(
            n.Literal,
            st.floats(min_value=0.0, allow_nan=False, allow_infinity=False).map(abs),
            st.just("decimal"),
        ),
        st.builds(n.Literal, st.from_regex(r"\d+\.\d+\.\d+(\.\d+)?", fullmatch=True), st.just("version")),
        st.builds(n.Literal, st.from_regex(r"[0-9][0-9][Hh][0-9]", fullmatch=True), st.just("version")),
        st.builds(n.Literal, st.text(max_size=8), st.just("string")),
        bool_literals(),
    )


def exprs(max_leaves: int = 12) -> st.SearchStrategy[n.Expr]:
    """Syntactically valid expressions (not necessarily well typed)."""
    set_items = st.lists(st.one_of(dotted_names(), any_literals()), min_size=1, max_size=3).map(tuple)
    leaves = st.one_of(dotted_names(), any_literals(), st.builds(n.Count, dotted_names()))

    def extend(children):
        return st.one_of(
            _junctions(n.And, children),
            _junctions(n.Or, children),
            st.builds(n.Not, children),
            st.builds(n.Implies, children, children),
            st.builds(n.Conditional, children, children, children),
            st.builds(n.Quantified, st.sampled_from(["any", "all"]), identifiers(), dotted_names(), children),
            st.builds(n.Count, dotted_names(), identifiers(), children),
            st.builds(n.Compare, st.sampled_from(ALL_OPS), children, children),
            st.builds(n.Member, children, set_items, st.booleans()),
            st.builds(n.Presence, children, st.booleans()),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def syntactic_rules(expressions: st.SearchStrategy[n.Expr] | None = None) -> st.SearchStrategy[n.Rule]:
    """Rules and notes with every clause the printer writes."""
    if expressions is None:
        expressions = exprs()
    source_refs = st.one_of(identifiers(), st.from_regex(RULE_ID_RE, fullmatch=True), texts(6))
    return st.builds(
        n.Rule,
        rule_ids(),
        texts(),
        kind=st.sampled_from(["rule", "note"]),
        severity=st.one_of(st.sampled_from(["error", "warning", "info"]), identifiers()),
        encodes=st.lists(source_refs, max_size=3).map(tuple),
        rationale=texts(),
        remediation=texts(),
        events=st.lists(st.integers(0, 10**6), max_size=3).map(tuple),
        applicability=st.none() | expressions,
        requires=st.lists(expressions, max_size=2).map(tuple),
    )


def syntactic_rulesets() -> st.SearchStrategy[n.Ruleset]:
    """Rulesets of syntactic definitions and rules (names and checks are not respected)."""
    return st.builds(
        n.Ruleset,
        identifiers(),
        texts(),
        document=texts(),
        definitions=st.lists(st.builds(n.Definition, identifiers(), exprs(8)), max_size=2).map(tuple),
        rules=st.lists(syntactic_rules(exprs(8)), max_size=3).map(tuple),
    )


# ---------------------------------------------------------------------------------------
# Rule text.


def _terminal_strategies() -> dict[str, st.SearchStrategy[str]]:
    """Every terminal followed by whitespace, so adjacent tokens never run together."""
    strategies = {}
    for terminal in _parser().terminals:
        pattern = terminal.pattern
        if terminal.name == "WS":
            strategy = st.sampled_from([" ", "\n", "\t", "\r\n"])
        elif terminal.name == "COMMENT":
            strategy = st.from_regex(pattern.value, fullmatch=True).map(lambda c: c + "\n")
        elif pattern.type == "str":
            strategy = st.just(pattern.value + " ")
        else:
            strategy = st.from_regex(pattern.value, fullmatch=True).map(lambda t: t + " ")
            if terminal.name == "NAME":
                strategy = (
                    st.from_regex(NAME_RE, fullmatch=True).filter(lambda w: w not in KEYWORDS).map(lambda t: t + " ")
                )
        strategies[terminal.name] = strategy
    return strategies


def grammar_texts() -> st.SearchStrategy[str]:
    """Rule files generated from the real grammar (``hypothesis.extra.lark.from_lark``).

    ``syntax._parser()`` is loaded from Lark's cache and keeps no grammar object, so the
    generator gets its own (uncached) instance of the same grammar file.
    """
    grammar = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", start="start")
    return from_lark(grammar, start="start", explicit=_terminal_strategies())


FRAGMENTS = (
    *sorted(KEYWORDS),
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "(",
    ")",
    "{",
    "}",
    ",",
    ":",
    ".",
    '"',
    '"x"',
    '"a\\"b"',
    '"\\',
    "#",
    "# c\n",
    "\n",
    " ",
    "\t",
    "\r",
    "-",
    "SE-01",
    "policy.flag",
    "device.os_version",
    "1",
    "007",
    "1.5",
    "10.0.17763",
    "10.0.17763.1",
    "21H2",
    "1809",
    "x",
    "_",
    "\x00",
    "é",
    "\u2028",
    "\ud800",
    "9" * 40,
    "(" * 70,
    "not " * 70,
)


def fragment_texts() -> st.SearchStrategy[str]:
    """Text built from grammar-ish fragments: keywords, punctuation, literals, odd characters."""
    joiners = st.sampled_from(["", " ", "\n"])
    return st.tuples(st.lists(st.sampled_from(FRAGMENTS), max_size=30), joiners).map(lambda p: p[1].join(p[0]))


def ruleset_texts() -> st.SearchStrategy[str]:
    """A valid header followed by fragments: errors deeper in the file than the first token."""
    return fragment_texts().map(lambda body: 'ruleset r "t"\n' + body)
