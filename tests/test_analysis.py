"""The analyser: exact satisfiability, conflicts, lint, compare and repair.

Hypothesis generates small vocabularies (``build_vocabulary`` from a dict) and rule text
over them; every property is checked against brute-force enumeration over full finite
domains (enums, bools), ordered and string values rich enough to realise every order
between the constants and the facts, every missing fact, and collections of up to
``MAX_RECORDS`` records. The brute force reads verdicts from the compiled evaluator (fast,
and itself tested against the interpreter); witnesses and repairs are re-checked with the
interpreter.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, note, reject
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from bitlocker_rules import analysis as A
from bitlocker_rules.checker import check_ruleset
from bitlocker_rules.compiler import compile_ruleset
from bitlocker_rules.engine import Engine, compile_text, load_ruleset, shipped_vocabulary
from bitlocker_rules.facts import load_device_file, load_policy_file, merge_facts
from bitlocker_rules.interpreter import Interpreter
from bitlocker_rules.outcome import STATUS_BY_CODE, Status
from bitlocker_rules.syntax import parse_ruleset
from bitlocker_rules.versions import WindowsVersion
from bitlocker_rules.vocabulary import build_vocabulary

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
PASS, FAIL, UNKNOWN, NA = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
SATISFIED = {PASS, NA}
MAX_RECORDS = 3


def v(build: int, revision: int = 0) -> WindowsVersion:
    return WindowsVersion(10, 0, build, revision)


# Constants rules may use, and the brute-force values of each kind: every interval between
# the constants holds two values (two facts of one kind may be compared with each other).
LITERALS = {
    "bool": ["true", "false"],
    "enum": ["Aa", "Bb", "Cc"],
    "integer": ["1", "3"],
    "decimal": ["1.0", "2.5"],
    # Release names as rules write them (the vocabulary's [releases]): the same builds again.
    "version": ["10.0.17763", "10.0.19044", "1809", "21H2"],
    "string": ['"a"', '"b"'],
}
RELEASES = {"1809": "10.0.17763", "21H2": "10.0.19044"}
BRUTE = {
    "bool": [True, False],
    "enum": ["Aa", "Bb", "Cc"],
    "integer": [-2, -1, 0, 1, 2, 3, 4, 5, 6],
    "decimal": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5],
    "version": [v(17761), v(17762), v(17763), v(17763, 1), v(17764), v(19044), v(19044, 1), v(19044, 2)],
    "string": ["a", "b", "c", "d"],
}
# Values a fixed (device) fact may take: two brute-force values stay above and below each,
# so a free fact compared with it has room on either side.
FIXED = {
    "bool": BRUTE["bool"],
    "enum": BRUTE["enum"],
    "integer": [1, 2, 3],
    "decimal": [1.0, 1.5, 2.0, 2.5],
    "version": BRUTE["version"][2:-2],
    "string": ["a", "b"],
}
FIELD_LITERALS = {"bool": ["true", "false"], "enum2": ["Xx", "Yy"], "integer": LITERALS["integer"]}
# Integer fields may be compared with an integer fact: records below, between and above it
# need three values per interval (see the integers in BRUTE).
FIELD_BRUTE = {"bool": [True, False], "enum2": ["Xx", "Yy"], "integer": BRUTE["integer"]}
# The field values of a fixed collection's records: like FIXED, room on either side of each in
# the brute force, and none of them a rule's constant (LITERALS): values only the records hold.
FIELD_FIXED = {**FIELD_BRUTE, "integer": [0, 2, 4]}
TYPE_TEXT = {"enum": "enum E", "enum2": "enum G"}
ORDERED = ("integer", "decimal", "version")
COLLECTION = "device.items"


# Strength declarations a generated policy fact may carry (None: none declared). Enum E has no
# NotConfigured member, so its chains are exactly the order: a total order, one with Bb and Cc
# incomparable, and one where Bb is comparable with nothing.
STRENGTHS = {
    "bool": [None, "none", [[False, True]], [[True, False]]],
    "enum": [None, "none", [["Aa", "Bb", "Cc"]], [["Aa", "Bb"], ["Aa", "Cc"]], [["Bb"], ["Cc", "Aa"]]],
    "integer": [None, "higher", "lower"],
    "decimal": [None, "higher", "lower"],
    "version": [None, "higher", "lower"],
    "string": [None, "none"],
}


class Vocab:
    """A generated vocabulary: scalar facts (name, kind) and optionally one collection;
    ``strengths`` gives policy facts a ``strength`` declaration (see STRENGTHS)."""

    def __init__(
        self, scalars: list[tuple[str, str]], fields: list[tuple[str, str]], strengths: dict[str, object] | None = None
    ) -> None:
        self.scalars = scalars
        self.fields = fields
        self.strengths = {k: x for k, x in (strengths or {}).items() if x is not None}
        data = {
            "releases": RELEASES,
            "enums": {
                "E": {"members": [{"name": m, "label": f"Label {m}"} for m in BRUTE["enum"]]},
                "G": {"members": [{"name": m, "label": f"Label {m}"} for m in FIELD_BRUTE["enum2"]]},
            },
            "facts": [
                {"name": name, "type": TYPE_TEXT.get(kind, kind), "label": name.upper()}
                | ({"strength": self.strengths[name]} if name in self.strengths else {})
                for name, kind in scalars
            ],
        }
        if fields:
            data["facts"].append(
                {
                    "name": COLLECTION,
                    "type": "collection",
                    "label": "Items",
                    "item_label": "item",
                    "fields": [{"name": f, "type": TYPE_TEXT.get(k, k), "label": f} for f, k in fields],
                }
            )
        self.vocabulary = build_vocabulary(data, origin="<generated>")

    def kind(self, name: str) -> str:
        return dict(self.scalars)[name]


def _strengths(draw, scalars: list[tuple[str, str]], ordered: bool = False) -> dict[str, object]:
    """A strength declaration for each policy fact: any of STRENGTHS, or with ``ordered`` an
    order wherever the kind has one (lowering then matters to every repair)."""

    def options(kind: str) -> list:
        real = [x for x in STRENGTHS[kind] if x not in (None, "none")]
        return real if ordered and real else STRENGTHS[kind]

    return {
        name: draw(st.sampled_from(options(kind)), label=f"strength of {name}")
        for name, kind in scalars
        if name.startswith("policy.")
    }


def _namespaces(ordered: bool) -> st.SearchStrategy[str]:
    """Where a generated fact lives; for repairs (``ordered``) mostly among the policy settings."""
    return st.sampled_from(["policy", "policy", "policy", "device"] if ordered else ["policy", "device"])


@st.composite
def wide_vocabs(draw, ordered: bool = False) -> Vocab:
    """More facts with few values each: deeper searches (backjumping, independent groups)."""
    count = draw(st.integers(4, 6))
    kinds = draw(st.lists(st.sampled_from(["bool", "enum"]), min_size=count, max_size=count))
    spaces = ["policy"] + [draw(_namespaces(ordered)) for _ in kinds[1:]]
    scalars = [(f"{ns}.f{i}", k) for i, (ns, k) in enumerate(zip(spaces, kinds))]
    return Vocab(scalars, [], _strengths(draw, scalars, ordered))


@st.composite
def vocabs(draw, ordered: bool = False) -> Vocab:
    with_collection = draw(st.booleans())
    count = draw(st.integers(1, 1 if with_collection else 3))
    kinds = draw(st.lists(st.sampled_from(sorted(BRUTE)), min_size=count, max_size=count))
    # The first fact is a policy setting (repairs need one); the others may be either.
    spaces = ["policy"] + [draw(_namespaces(ordered)) for _ in kinds[1:]]
    scalars = [(f"{ns}.f{i}", k) for i, (ns, k) in enumerate(zip(spaces, kinds))]
    fields: list[tuple[str, str]] = []
    if with_collection:
        fields = draw(
            st.sampled_from(
                [[("flag", "bool")], [("kind", "enum2")], [("flag", "bool"), ("kind", "enum2")], [("size", "integer")]]
            )
        )
    return Vocab(scalars, fields, _strengths(draw, scalars, ordered))


# --- rule text ----------------------------------------------------------------------------


def _ops(kind: str) -> list[str]:
    return ["==", "!=", "<", "<=", ">", ">="] if kind in ORDERED else ["==", "!="]


# Quantifier and count variables, outermost first: a body reads only its own variable (the
# analyser refuses a body that reads an outer one, A101), so scopes nest up to three deep.
INNER = {None: "x", "x": "y", "y": "z", "z": None}


@st.composite
def atoms(draw, vocab: Vocab, var: str | None, counts: bool) -> str:
    subjects = [(name, kind) for name, kind in vocab.scalars]
    if var is not None:
        subjects += [(f"{var}.{f}", k) for f, k in vocab.fields]
    if vocab.fields and (var is None or (counts and INNER[var])):
        subjects.append((COLLECTION, "collection"))
    subject, kind = draw(st.sampled_from(subjects))
    if kind == "collection":
        form = draw(st.sampled_from(["presence", "count", "count"] if counts and INNER[var] else ["presence"]))
        if form == "presence":
            return f"{COLLECTION} is {draw(st.sampled_from(['present', 'missing']))}"
        body = ""
        if draw(st.booleans()):
            inner = INNER[var]
            body = draw(conditions(vocab, 0, inner, counts=False))
            text = f"count({inner} in {COLLECTION}: {body})"
        else:
            text = f"count({COLLECTION})"
        return f"{text} {draw(st.sampled_from(_ops('integer')))} {draw(st.sampled_from(['0', '1', '2']))}"
    literals = LITERALS.get(kind) or FIELD_LITERALS[kind]
    same = [s for s, k in subjects if k == kind and s != subject and k != "collection"]
    forms = (
        ["compare", "compare", "member", "presence"]
        + (["facts"] if same else [])
        + (["bare"] if kind == "bool" else [])
    )
    form = draw(st.sampled_from(forms))
    if form == "presence":
        return f"{subject} is {draw(st.sampled_from(['present', 'missing']))}"
    if form == "bare":
        return subject
    if form == "member":
        items = draw(st.lists(st.sampled_from(literals), min_size=1, max_size=2, unique=True))
        negated = draw(st.booleans())
        return f"{subject} {'not in' if negated else 'in'} {{{', '.join(items)}}}"
    op = draw(st.sampled_from(_ops(kind)))
    other = draw(st.sampled_from(same)) if form == "facts" else draw(st.sampled_from(literals))
    if form == "compare" and draw(st.booleans()) and kind != "enum" and kind != "enum2":
        return f"{other} {op} {subject}"
    return f"{subject} {op} {other}"


@st.composite
def conditions(
    draw, vocab: Vocab, depth: int, var: str | None = None, definitions: int = 0, counts: bool = True
) -> str:
    options = ["atom", "atom"]
    if depth > 0:
        options += ["not", "and", "or", "implies", "if"]
        if vocab.fields and INNER[var]:
            options += ["any", "all"]
    if definitions and var is None:
        options.append("definition")
    form = draw(st.sampled_from(options))
    sub = lambda: draw(conditions(vocab, depth - 1, var, definitions, counts))  # noqa: E731
    if form == "atom":
        return draw(atoms(vocab, var, counts))
    if form == "definition":
        return f"d{draw(st.integers(0, definitions - 1))}"
    if form == "not":
        return f"not ({sub()})"
    if form in ("and", "or"):
        return f"({sub()}) {form} ({sub()})"
    if form == "implies":
        return f"({sub()}) implies ({sub()})"
    if form == "if":
        return f"(if ({sub()}) then ({sub()}) else ({sub()}))"
    inner = INNER[var]
    # Counts inside a body only one level down (each count multiplies the candidate collections).
    body = draw(conditions(vocab, depth - 1, inner, 0, counts=counts and var is None))
    return f"({form} {inner} in {COLLECTION}: {body})"


@st.composite
def rule_texts(draw, vocab: Vocab, max_rules: int = 3) -> tuple[str, list[tuple[str, str | None, list[str]]]]:
    definitions = draw(st.integers(0, 2))
    lines = ['ruleset gen "Generated rules"', ""]
    for i in range(definitions):  # each may use the ones before it
        lines.append(f"define d{i} = {draw(conditions(vocab, 1, definitions=i))}")
    rules = []
    for i in range(draw(st.integers(1, max_rules))):
        when = draw(st.none() | conditions(vocab, 1, definitions=definitions))
        depth = draw(st.sampled_from([2, 2, 2, 3]), label="depth")  # 3: quantifiers nest three deep
        requires = draw(st.lists(conditions(vocab, depth, definitions=definitions), min_size=1, max_size=2))
        lines.append(f'rule R-{i} "Rule {i}"')
        if when is not None:
            lines.append(f"  when {when}")
        lines += [f"  require {r}" for r in requires]
        rules.append((f"R-{i}", when, requires))
    if draw(st.booleans(), label="a note"):  # notes are no rules: the analyser leaves them out
        lines += ['note N-0 "A note"', f"  when {draw(conditions(vocab, 1, definitions=definitions))}"]
    return "\n".join(lines) + "\n", rules


class Case:
    """Generated rules through the real pipeline, with the brute-force table of verdicts."""

    def __init__(self, vocab: Vocab, text: str, rules) -> None:
        if currently_in_test_context():
            note(text)
        self.vocab = vocab
        self.vocabulary = vocab.vocabulary
        self.text = text
        self.checked = check_ruleset(parse_ruleset(text, "gen.rules"), self.vocabulary)
        self.ids = [r.id for r in self.checked.rules if r.kind == "rule"]
        self.interpreter = Interpreter(self.checked, self.vocabulary)
        self.compiled = compiled = compile_ruleset(self.checked)
        # Applicability alone, as a second compiled ruleset: PASS exactly when it is true.
        when = ['ruleset gen_when "Applicability"'] + [
            f'rule W-{i} "w"\n  require {w if w is not None else "true"}' for i, (_, w, _) in enumerate(rules)
        ]
        definitions = [line for line in text.splitlines() if line.startswith("define ")]
        when_ruleset = check_ruleset(
            parse_ruleset("\n".join(when[:1] + definitions + when[1:]) + "\n"), self.vocabulary
        )
        applicable = compile_ruleset(when_ruleset)
        self.names = [name for name, _ in vocab.scalars] + ([COLLECTION] if vocab.fields else [])
        self.table = []
        for values in self.assignments():
            statuses = tuple(STATUS_BY_CODE[c] for c in compiled(values))
            applies = tuple(STATUS_BY_CODE[c] is PASS for c in applicable(values))
            self.table.append((values, statuses, applies))

    def domain(self, name: str, field_values: dict = FIELD_BRUTE) -> list:
        if name == COLLECTION:
            fields = [f for f, _ in self.vocab.fields]
            choices = [field_values[k] + [None] for _, k in self.vocab.fields]
            types = [
                MappingProxyType({f: x for f, x in zip(fields, combo) if x is not None})
                for combo in itertools.product(*choices)
            ]
            bags = [
                tuple(c)
                for size in range(MAX_RECORDS + 1)
                for c in itertools.combinations_with_replacement(types, size)
            ]
            return bags + [None]
        return BRUTE[self.vocab.kind(name)] + [None]

    def fixed_domain(self, name: str) -> list:
        """The values a fixed fact is drawn from (see FIXED)."""
        if name == COLLECTION:
            return self.domain(name, FIELD_FIXED)
        return FIXED[self.vocab.kind(name)] + [None]

    def assignments(self):
        for combo in itertools.product(*(self.domain(name) for name in self.names)):
            yield {name: x for name, x in zip(self.names, combo) if x is not None}

    def rows(self, fixed: dict | None = None):
        for values, statuses, applies in self.table:
            if fixed and any(values.get(k) != x for k, x in fixed.items()):
                continue
            yield values, statuses, applies

    def sat(self, ids, goal=frozenset(SATISFIED), fixed=None) -> bool:
        idx = [self.ids.index(i) for i in ids]
        return any(all(st[i] in goal for i in idx) for _, st, _ in self.rows(fixed))


@st.composite
def cases(draw, max_rules: int = 3, ordered: bool = False) -> Case:
    """Generated rules over a generated vocabulary (``ordered``: policy facts have strength orders)."""
    if draw(st.integers(0, 3)) == 0:
        vocab = draw(wide_vocabs(ordered))
        max_rules += 2
    else:
        vocab = draw(vocabs(ordered))
    text, rules = draw(rule_texts(vocab, max_rules))
    return Case(vocab, text, rules)


def refusals_rejected(test):
    """Discard the rare generated case the analyser refuses as too large (A103); the
    refusal itself is tested on its own below."""
    import functools

    @functools.wraps(test)
    def run(*args, **kwargs):
        try:
            return test(*args, **kwargs)
        except A.AnalysisError as exc:
            if all(d.code == "A103" for d in exc.diagnostics):
                reject()
            raise

    return run


def rulesets_of(case: Case, data) -> list:
    """The case's rules as one ruleset, or split over two (each with every definition): the
    analyser selects rules across rulesets alike."""
    if len(case.ids) < 2 or not data.draw(st.booleans(), label="split over two rulesets"):
        return [case.checked]
    import attrs

    cut = data.draw(st.integers(1, len(case.ids) - 1), label="rules in the first ruleset")
    rules = [r for r in case.checked.rules if r.kind == "rule"]
    return [
        attrs.evolve(case.checked, rules=tuple(rules[:cut])),
        attrs.evolve(case.checked, id="gen2", rules=tuple(rules[cut:])),
    ]


def statuses_by_interpreter(case: Case, values) -> dict[str, Status]:
    return {r.id: case.interpreter.verdict(r, values)[0] for r in case.checked.rules if r.kind == "rule"}


def long_collection(witness: A.Witness) -> bool:
    """Whether a witness needs more records than the brute force enumerates."""
    items = witness.values.get(COLLECTION)
    return items is not None and len(items) > MAX_RECORDS


# --- properties ------------------------------------------------------------------------------


@given(cases(), st.data())
@refusals_rejected
def test_satisfiability_agrees_with_brute_force(case, data):
    result = A.check_satisfiable(rulesets_of(case, data), case.vocabulary)
    expected = case.sat(case.ids)
    if result.satisfiable:
        got = statuses_by_interpreter(case, result.witness.values)
        assert all(s in SATISFIED for s in got.values()), got
        assert expected or long_collection(result.witness)
    else:
        assert not expected, "the analyser missed an assignment that satisfies every rule"
        core = list(result.conflict.rules)
        assert core and not case.sat(core), "the conflict set is satisfiable"
        for rule in core:
            rest = [r for r in core if r != rule]
            assert case.sat(rest), f"the conflict set is not minimal: {core} without {rule}"


@given(cases(max_rules=2))
@refusals_rejected
def test_every_verdict_goal_agrees_with_brute_force(case):
    for rule in case.ids:
        for status in (PASS, FAIL, UNKNOWN, NA):
            result = A.check_satisfiable([case.checked], case.vocabulary, rules=[rule], goal=status)
            expected = case.sat([rule], {status})
            if result.satisfiable:
                assert statuses_by_interpreter(case, result.witness.values)[rule] is status
                assert expected or long_collection(result.witness)
            else:
                assert not expected, f"{rule} can be {status}"


@given(cases(), st.data())
@refusals_rejected
def test_fixed_facts_agree_with_brute_force(case, data):
    device = [name for name, _ in case.vocab.scalars if name.startswith("device.")]
    device += [COLLECTION] if case.vocab.fields else []
    fixed = {name: data.draw(st.sampled_from(case.fixed_domain(name)), label=name) for name in device}
    assert_sat_with_fixed_facts(case, fixed)


def assert_sat_with_fixed_facts(case: Case, fixed: dict) -> None:
    """Satisfiability with ``fixed`` facts (None = missing) agrees with the brute force; a witness
    keeps them and satisfies every rule; a conflict is a minimal unsatisfiable set."""
    given_values = {k: x for k, x in fixed.items() if x is not None}
    result = A.check_satisfiable([case.checked], case.vocabulary, facts=given_values, fixed_namespaces=["device"])
    expected = case.sat(case.ids, fixed=fixed)
    if result.satisfiable:
        for name, value in fixed.items():
            assert result.witness.values.get(name) == value
        assert all(s in SATISFIED for s in statuses_by_interpreter(case, result.witness.values).values())
        assert expected
    else:
        assert not expected, "the analyser missed an assignment that satisfies every rule"
        core = list(result.conflict.rules)
        assert not case.sat(core, fixed=fixed)
        for rule in core:
            assert case.sat([r for r in core if r != rule], fixed=fixed)


# A free setting compared with a field of a fixed (device) collection: the setting's values must
# include those that occur only in the collection's records.
FIELD_OF_KIND = {"integer": "size", "bool": "flag"}


@st.composite
def fixed_collection_cases(draw) -> tuple[Case, dict]:
    """Rules comparing a policy setting with a field of device.items (in `any`, `all` and count
    bodies, either side), maybe with a constant condition on the setting too; device.items is
    fixed to one of the brute force's collections."""
    kind = draw(st.sampled_from(["integer", "integer", "bool"]), label="kind")
    field = FIELD_OF_KIND[kind]
    vocab = Vocab([("policy.f0", kind)], [(field, kind)])
    lines, rules = ['ruleset gen "Generated rules"', ""], []
    for i in range(draw(st.integers(1, 2), label="rules")):
        op = draw(st.sampled_from(["==", "=="] + _ops(kind)), label="op")  # equality needs the record's value
        var = "y" if draw(st.booleans()) else "x"
        sides = [f"{var}.{field}", "policy.f0"]
        compare = " ".join([sides[0], op, sides[1]] if draw(st.booleans()) else [sides[1], op, sides[0]])
        form = draw(st.sampled_from(["any", "all", "count"]), label="form")
        if form == "count":
            condition = (
                f"count({var} in {COLLECTION}: {compare}) {draw(st.sampled_from(_ops('integer')))} "
                f"{draw(st.sampled_from(['0', '1', '2']))}"
            )
        else:
            condition = f"{form} {var} in {COLLECTION}: {compare}"
        if draw(st.booleans(), label="and a constant condition"):
            condition = (
                f"({condition}) and (policy.f0 {draw(st.sampled_from(_ops(kind)))} "
                f"{draw(st.sampled_from(LITERALS[kind]))})"
            )
        lines += [f'rule R-{i} "Rule {i}"', f"  require {condition}"]
        rules.append((f"R-{i}", None, [condition]))
    case = Case(vocab, "\n".join(lines) + "\n", rules)
    return case, {COLLECTION: draw(st.sampled_from(case.fixed_domain(COLLECTION)), label="device.items")}


@given(fixed_collection_cases())
@refusals_rejected
def test_a_setting_compared_with_a_fixed_collection_agrees_with_brute_force(shaped):
    case, fixed = shaped
    assert_sat_with_fixed_facts(case, fixed)


def test_a_setting_may_take_a_value_only_a_fixed_collection_holds():
    # The collection-domain bug (fixed on branch bounds): the domain of policy.f0 left out 5,
    # which occurs only in the fixed collection's records, so this was called unsatisfiable.
    vocab = Vocab([("policy.f0", "integer")], [("size", "integer")])
    text = f'ruleset gen "G"\nrule R-0 "r"\n  require any x in {COLLECTION}: x.size == policy.f0\n'
    case = Case(vocab, text, [("R-0", None, [f"any x in {COLLECTION}: x.size == policy.f0"])])
    assert_sat_with_fixed_facts(case, {COLLECTION: (MappingProxyType({"size": 5}),)})


NOT_FAILED = {PASS, NA, UNKNOWN}


def _same_value(a, b) -> bool:
    return type(a) is type(b) and a == b


def _above(chains, low, high) -> bool:
    """Whether ``high`` is above ``low`` by the chains: a path of consecutive pairs upward."""
    up: dict = {}
    for chain in chains:
        for a, b in itertools.pairwise(chain):
            up.setdefault(a, []).append(b)
    seen, todo = set(), [low]
    while todo:
        for value in up.get(todo.pop(), []):
            if _same_value(value, high):
                return True
            if value not in seen:
                seen.add(value)
                todo.append(value)
    return False


def lowers(strength, old, new) -> bool:
    """The test's own reading of a strength declaration: whether ``old`` → ``new`` lowers the
    setting (a weaker value, or one the order does not compare with ``old``)."""
    if strength is None or strength == "none" or old is None or _same_value(old, new):
        return False
    if new is None:
        return True
    if strength == "higher":
        return not new > old
    if strength == "lower":
        return not new < old
    return not _above(strength, old, new)


def current_values(case: Case, data) -> dict:
    """Values now for every fact, from the fixed domains (room above and below each: a
    repair may move a setting past another); mostly a state where some rule fails, so that
    the repair has work to do (a failing rule that some policy makes pass)."""

    def fixed(name: str, value) -> bool:
        return any(_same_value(value, x) for x in case.fixed_domain(name))

    device = [name for name in case.names if not name.startswith("policy.")]
    passable: dict[tuple, set[int]] = {}  # device values -> the rules some policy makes pass
    for row, st_, _ in case.table:
        key = tuple(repr(row.get(name)) for name in device)
        passable.setdefault(key, set()).update(i for i, s in enumerate(st_) if s is PASS)
    failing = [
        {name: row.get(name) for name in case.names}
        for row, st_, _ in case.table
        if any(s is FAIL and i in passable[tuple(repr(row.get(n)) for n in device)] for i, s in enumerate(st_))
        and all(fixed(name, row.get(name)) for name in case.names)
    ]
    if failing and data.draw(st.integers(0, 3), label="fails now") > 0:
        return data.draw(st.sampled_from(failing), label="values now")
    return {name: data.draw(st.sampled_from(case.fixed_domain(name)), label=name) for name in case.names}


def reaches(statuses, goals: dict[int, set]) -> bool:
    """Whether every rule (by index) has a status in its goal."""
    return all(statuses[i] in goal for i, goal in goals.items())


def achievable(case: Case, goals: dict[int, set], fixed: dict) -> bool:
    return any(reaches(st_, goals) for _, st_, _ in case.rows(fixed))


def assert_right_repair(case: Case, values: dict, rulesets: list | None = None, max_changes: int | None = None) -> None:
    """The repair of ``values`` (every fact; None = missing) against the brute force: failing
    rules pass (not merely stop applying), the others keep their state, the lowered settings
    are an inclusion-minimal set, and no such repair changes fewer settings. With
    ``max_changes``: the same repair when it changes no more, else A201."""
    given_values = {k: x for k, x in values.items() if x is not None}
    rulesets = rulesets or [case.checked]
    result = A.repair(rulesets, case.vocabulary, given_values)
    if max_changes is not None:
        try:
            bounded = A.repair(rulesets, case.vocabulary, given_values, max_changes=max_changes)
        except A.AnalysisError as exc:
            assert [d.code for d in exc.diagnostics] == ["A201"] and len(result.changes) > max_changes
        else:
            assert len(result.changes) <= max_changes and len(bounded.changes) == len(result.changes)
    policy = [name for name in case.names if name.startswith("policy.")]
    device = {name: values[name] for name in case.names if name not in policy}
    now = statuses_by_interpreter(case, given_values)
    targets = {r for r, s in now.items() if s is FAIL}
    goals = {
        case.ids.index(r): {PASS} if s is FAIL else SATISFIED if s in SATISFIED else NOT_FAILED for r, s in now.items()
    }
    # Prerequisites: exactly the failing rules no policy change makes pass on this device.
    blocked = {p.rule for p in result.prerequisites}
    assert blocked == {r for r in targets if not case.sat([r], {PASS}, fixed=device)}
    for conflict in result.conflicts:
        core = {case.ids.index(r): goals[case.ids.index(r)] for r in conflict.rules}
        assert not achievable(case, core, device)
        for i in core:
            assert achievable(case, {j: g for j, g in core.items() if j != i}, device)
    assert set(result.left_out) <= targets
    # The repair: failing rules pass (not merely stop applying), the others keep their state.
    unfixed = blocked | set(result.left_out)
    wanted = {i: g for i, g in goals.items() if case.ids[i] not in unfixed}
    changed = {c.fact: c.new_value for c in result.changes}
    assert set(changed) <= set(policy)
    after = {k: x for k, x in {**given_values, **changed}.items() if x is not None}
    got = statuses_by_interpreter(case, after)
    assert reaches([got[r] for r in case.ids], wanted), got
    # No needless lowering: no repair lowers a proper subset of the settings this one lowers.
    strengths = {p: case.vocab.strengths.get(p) for p in policy}

    def lowered(row) -> frozenset:
        return frozenset(p for p in policy if lowers(strengths[p], values[p], row.get(p)))

    valid = [row for row, st_, _ in case.rows(device) if reaches(st_, wanted)]
    assert not any(lowered(row) < lowered(after) for row in valid), "a repair that lowers fewer settings exists"
    # Optimal: no allowed repair (its lowered settings an inclusion-minimal set) changes fewer.
    sets = {lowered(row) for row in valid}
    minimal = {s for s in sets if not any(other < s for other in sets)}
    assert len(result.changes) == min(
        sum(1 for p in policy if row.get(p) != values[p]) for row in valid if lowered(row) in minimal
    )
    # What would only turn a rule off is offered apart, for a rule the repair leaves failing.
    for item in result.turn_off:
        assert item.rule in unfixed and item.changes
        off = {**after, **{c.fact: c.new_value for c in item.changes}}
        turned = statuses_by_interpreter(case, {k: x for k, x in off.items() if x is not None})
        assert turned[item.rule] is NA and reaches([turned[r] for r in case.ids], wanted), turned


@st.composite
def fact_atoms(draw, name: str, kind: str) -> str:
    """One condition on one fact: equal to, different from, or (not) in a set of its values."""
    form = draw(st.sampled_from(["==", "!=", "in", "not in"]))
    if form in ("in", "not in"):
        items = draw(st.lists(st.sampled_from(LITERALS[kind]), min_size=1, max_size=2, unique=True))
        return f"{name} {form} {{{', '.join(items)}}}"
    return f"{name} {form} {draw(st.sampled_from(LITERALS[kind]))}"


@st.composite
def alternative_cases(draw) -> Case:
    """Rules that pass in one of two ways over distinct policy settings, optionally under a
    condition on another: one way may change fewer settings but lower one, the other raise
    more; and the condition can turn the rule off."""
    count = draw(st.integers(3, 4))
    kinds = draw(st.lists(st.sampled_from(["bool", "enum"]), min_size=count, max_size=count))
    scalars = [(f"policy.f{i}", kind) for i, kind in enumerate(kinds)]
    vocab = Vocab(scalars, [], _strengths(draw, scalars, ordered=True))
    lines, rules = ['ruleset gen "Generated rules"', ""], []
    for i in range(draw(st.integers(1, 2))):
        order = draw(st.permutations(scalars))
        when = draw(st.none() | fact_atoms(*order[0]))
        cut = draw(st.integers(2, len(order) - 1))
        ways = [
            " and ".join(draw(fact_atoms(name, kind)) for name, kind in part) for part in (order[1:cut], order[cut:])
        ]
        requires = [f"({ways[0]}) or ({ways[1]})"]
        lines += [f'rule R-{i} "Rule {i}"', *([f"  when {when}"] if when else []), f"  require {requires[0]}"]
        rules.append((f"R-{i}", when, requires))
    return Case(vocab, "\n".join(lines) + "\n", rules)


@given(cases(ordered=True), st.data())
@refusals_rejected
def test_repair_makes_failing_rules_pass_lowering_only_what_they_need(case, data):
    max_changes = data.draw(st.sampled_from([None, None, 0, 1, 2]), label="max_changes")
    assert_right_repair(case, current_values(case, data), rulesets_of(case, data), max_changes)


@given(alternative_cases(), st.data())
def test_repair_changes_more_settings_rather_than_lower_one_needlessly(case, data):
    assert_right_repair(case, current_values(case, data))


@st.composite
def shared_when_cases(draw) -> tuple[Case, dict]:
    """A setting (the switch, policy.f0) that a failing rule needs changed, read by the `when`
    of one to three other rules: each applies for some values of the switch and then needs a
    setting of its own that does not hold now. The fewest changes give the switch a value no
    `when` names (when there is one); a repair that takes the first value that works, without
    trying fewer changes first, gives it a value some `when` names and changes more."""
    kind = draw(st.sampled_from(["bool", "enum"]), label="switch kind")
    count = draw(st.integers(1, 3), label="rules reading the switch")
    kinds = draw(st.lists(st.sampled_from(["bool", "enum"]), min_size=count, max_size=count), label="setting kinds")
    scalars = [("policy.f0", kind)] + [(f"policy.f{i + 1}", k) for i, k in enumerate(kinds)]
    vocab = Vocab(scalars, [], _strengths(draw, scalars))
    now = draw(st.sampled_from(BRUTE[kind] + [None]), label="switch now")
    needs = "policy.f0 is present" if now is None else f"policy.f0 != {LITERALS[kind][BRUTE[kind].index(now)]}"
    lines, rules = (
        ['ruleset gen "Generated rules"', "", 'rule R-0 "Needs the switch changed"', f"  require {needs}"],
        [("R-0", None, [needs])],
    )
    values = {"policy.f0": now}
    for i, (name, setting) in enumerate(scalars[1:], start=1):
        named = draw(
            st.lists(st.sampled_from(LITERALS[kind]), min_size=1, max_size=len(LITERALS[kind]) - 1, unique=True),
            label=f"R-{i} applies for",
        )
        when = f"policy.f0 in {{{', '.join(named)}}}"
        wanted = draw(st.sampled_from(LITERALS[setting]), label=f"R-{i} needs")
        require = f"{name} == {wanted}"
        lines += [f'rule R-{i} "Applies for some values of the switch"', f"  when {when}", f"  require {require}"]
        rules.append((f"R-{i}", when, [require]))
        values[name] = draw(
            st.sampled_from([v for v, w in zip(BRUTE[setting], LITERALS[setting]) if w != wanted] + [None]),
            label=f"{name} now",
        )
    return Case(vocab, "\n".join(lines) + "\n", rules), values


@given(shared_when_cases())
def test_repair_changes_the_fewest_settings_when_several_rules_read_one(shared):
    assert_right_repair(*shared)


def test_repair_gives_a_switch_the_value_that_changes_least():
    # R-0 needs f1 set; f1 = true would make R-1 apply and fail (f2 is Aa): f1 = false is one change.
    vocab = Vocab([("policy.f1", "bool"), ("policy.f2", "enum"), ("policy.f3", "bool")], [])
    rules = [
        ("R-0", None, ["policy.f1 is present", "policy.f3 == true"]),
        ("R-1", "policy.f1 == true", ["policy.f2 not in {Aa}"]),
    ]
    text = (
        'ruleset gen "Generated rules"\nrule R-0 "r"\n  require policy.f1 is present\n  require policy.f3 == true\n'
        'rule R-1 "s"\n  when policy.f1 == true\n  require policy.f2 not in {Aa}\n'
    )
    values = {"policy.f1": None, "policy.f2": "Aa", "policy.f3": True}
    assert_right_repair(Case(vocab, text, rules), values)
    result = A.repair([Case(vocab, text, rules).checked], vocab.vocabulary, {"policy.f2": "Aa", "policy.f3": True})
    assert [(c.fact, c.new_value) for c in result.changes] == [("policy.f1", False)]


@given(cases(max_rules=3), st.data())
@refusals_rejected
def test_compare_agrees_with_brute_force(case, data):
    split = data.draw(st.integers(1, len(case.ids)), label="split")
    left, right = case.ids[:split], case.ids[split:] or case.ids[:1]
    result = A.compare([_Only(case.checked, left)], [_Only(case.checked, right)], case.vocabulary)

    def implies(xs, ys) -> bool:
        ix, iy = [case.ids.index(r) for r in xs], [case.ids.index(r) for r in ys]
        return not any(
            all(s[i] in SATISFIED for i in ix) and not all(s[i] in SATISFIED for i in iy) for _, s, _ in case.table
        )

    # The relation is what the two differences say: no difference either way is equivalence.
    relation = {
        (True, True): "equivalent",
        (True, False): "stricter",
        (False, True): "looser",
        (False, False): "incomparable",
    }
    assert result.relation == relation[(result.a_not_b is None, result.b_not_a is None)]
    for diff, xs, _ys, holds in (
        (result.a_not_b, left, right, implies(left, right)),
        (result.b_not_a, right, left, implies(right, left)),
    ):
        if diff is None:
            assert holds
        else:
            got = statuses_by_interpreter(case, diff.witness.values)
            assert all(got[r] in SATISFIED for r in xs)
            assert diff.failing_rules and all(got[r] not in SATISFIED for r in diff.failing_rules)
            assert not holds or long_collection(diff.witness)


class _Only:
    """A ruleset restricted to some rules (compare takes whole selections)."""

    def __init__(self, ruleset, ids) -> None:
        import attrs

        self.ruleset = attrs.evolve(ruleset, rules=tuple(r for r in ruleset.rules if r.id in ids))
        self.path = "gen.rules"
        self.interpreter = None


@given(cases(max_rules=3))
@refusals_rejected
def test_lint_agrees_with_brute_force(case):
    assert_lint_agrees(case)


def test_lint_of_a_rule_that_fails_only_past_the_brute_force_records():
    # It fails only with four records (three flagged, one not): more than the brute force
    # enumerates, so the brute force alone would call it a rule that cannot fail (L102).
    vocab = Vocab([("policy.f0", "bool")], [("flag", "bool")])
    text = (
        'ruleset gen "G"\nrule R-0 "r"\n  when policy.f0 == true\n  require policy.f0 == true\n'
        f"  require (count(y in {COLLECTION}: y.flag == true) <= 2) or "
        f"(count(y in {COLLECTION}: y.flag == false) == 0)\n"
    )
    assert_lint_agrees(Case(vocab, text, [("R-0", "policy.f0 == true", [])]))


def assert_lint_agrees(case: Case) -> None:
    """Lint's findings against the brute force, which differs only where a collection needs
    more records than it enumerates (then the analyser must show such a witness)."""
    analyzer = A.Analyzer([case.checked], case.vocabulary)
    entry = {e.id: e for e in analyzer.entries}

    def beyond_brute_force(goals) -> bool:
        found = analyzer.solve([(entry[rule_], A.goal_mask(goal)) for rule_, goal in goals])
        return found is not None and len(found.get(COLLECTION) or ()) > MAX_RECORDS

    findings = A.lint([case.checked], case.vocabulary)
    by_code: dict[str, list[tuple[str, ...]]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f.rules)
    rules = {r.id: r for r in case.checked.rules if r.kind == "rule"}
    refused = {r for rs in by_code.get("L100", []) for r in rs}
    healthy = []
    for i, rule in enumerate(case.ids):
        if rule in refused:
            continue
        statuses = {s[i] for _, s, _ in case.table}
        applies = any(ap[i] for _, _, ap in case.table)
        flagged = {c for c in ("L101", "L102", "L103") if (rule,) in by_code.get(c, [])}
        if rules[rule].applicability is not None and not applies:
            expected = {"L103"}
        elif PASS not in statuses:
            expected = {"L101"}
        elif FAIL not in statuses:
            expected = {"L102"}
        else:
            expected = set()
            healthy.append(rule)
        if not flagged and expected & {"L101", "L102"}:  # it passes (fails) only past MAX_RECORDS
            assert beyond_brute_force([(rule, "pass" if expected == {"L101"} else "fail")]), rule
            continue
        assert flagged == expected, rule

    def implies(x, y) -> bool:
        ix, iy = case.ids.index(x), case.ids.index(y)
        return not any(s[ix] in SATISFIED and s[iy] not in SATISFIED for _, s, _ in case.table)

    # Equivalence classes and the transitive reduction of one-way implications are reported;
    # their closure must be exactly the implication relation among the healthy rules.
    edges = {(a, b) for rules_ in by_code.get("L105", []) for a in rules_ for b in rules_ if a != b}
    edges |= {(a, b) for b, a in by_code.get("L104", [])}
    closure = set(edges)
    while True:
        more = {(a, d) for a, b in closure for c, d in closure if b == c and a != d} - closure
        if not more:
            break
        closure |= more
    for x, y in itertools.permutations(healthy, 2):
        if ((x, y) in closure) != implies(x, y):
            # Only a counterexample with more records than the brute force enumerates may differ.
            assert beyond_brute_force([(x, "satisfied"), (y, "not_satisfied")]), (x, y)
    holdable = [r for r in case.ids if r not in refused and case.sat([r])]
    for core in by_code.get("L107", []):
        assert not case.sat(list(core))
        for rule in core:
            assert case.sat([r for r in core if r != rule])
    if "L107" not in by_code and not case.sat(holdable):
        witness = A.check_satisfiable([case.checked], case.vocabulary, rules=holdable).witness
        assert witness is not None and long_collection(witness)


@st.composite
def linked_cases(draw) -> Case:
    """A setting compared with a device fact of its kind (``policy.f0 OP device.f1``) beside
    generated rules over the two: the setting may need a value only the devices hold."""
    kind = draw(st.sampled_from(ORDERED))
    scalars = [("policy.f0", kind), ("device.f1", kind)]
    vocab = Vocab(scalars, [], _strengths(draw, scalars))
    text, rules = draw(rule_texts(vocab, 1))
    # Mostly ==: only the device's own value passes it, and the rules' constants may not hold it.
    link = f"policy.f0 {draw(st.sampled_from(['=='] * 6 + _ops(kind)))} device.f1"
    text += f'rule L-0 "Linked"\n  require {link}\n'
    return Case(vocab, text, rules + [("L-0", None, [link])])


@given(cases(max_rules=2) | linked_cases(), st.data())
@refusals_rejected
def test_fleet_repair_agrees_with_brute_force(case, data):
    fleet = [current_values(case, data) for _ in range(data.draw(st.integers(1, 4), label="devices"))]
    devices = [{k: x for k, x in values.items() if x is not None} for values in fleet]
    result = A.fleet_repair([case.checked], case.vocabulary, devices)

    def satisfied(values) -> bool:
        return all(STATUS_BY_CODE[c] in SATISFIED for c in case.compiled(values))

    def count(fact, value) -> int:
        return sum(satisfied({k: x for k, x in {**d, fact: value}.items() if x is not None}) for d in devices)

    before = sum(satisfied(d) for d in devices)
    policy = [name for name in case.names if name.startswith("policy.")]
    best = max([before] + [count(f, x) for f in policy for x in case.domain(f)])
    assert (result.before, result.total) == (before, len(devices))
    assert result.best.devices_satisfied == best, "a change that helps more devices exists"
    if result.best.change is not None:  # the change it names does what it says
        assert result.best.devices_satisfied > before
        assert count(result.best.change.fact, result.best.change.new_value) == best
    for ranked in result.ranking:
        if ranked.change is not None:
            assert count(ranked.change.fact, ranked.change.new_value) == ranked.devices_satisfied


def test_fleet_repair_may_set_a_setting_to_a_value_a_device_holds():
    # The rules name no constant: the value that helps is the devices' own (1.5), which a value
    # set cut at the rules' constants alone does not hold.
    vocab = Vocab([("policy.f0", "decimal"), ("device.f1", "decimal")], [])
    checked = check_ruleset(
        parse_ruleset('ruleset g "G"\nrule R-0 "r" require policy.f0 == device.f1\n'), vocab.vocabulary
    )
    fleet = [{"policy.f0": 1.0, "device.f1": 1.5}, {"policy.f0": 2.0, "device.f1": 1.5}, {"device.f1": 2.5}]
    result = A.fleet_repair([checked], vocab.vocabulary, fleet)
    assert (result.before, result.best.devices_satisfied) == (0, 2)
    assert (result.best.change.fact, result.best.change.new_value) == ("policy.f0", 1.5)


@given(cases(), st.sampled_from(_ops("integer")), st.booleans())
@refusals_rejected
def test_a_count_compared_with_a_setting_is_refused_where_it_is(case, op, count_first):
    """A count compared with a fact (not a constant) is refused (A102), located at that rule,
    and lint reports that rule (L100) rather than guessing about it."""
    vocab = Vocab(case.vocab.scalars + [("policy.limit", "integer")], case.vocab.fields or [("flag", "bool")])
    sides = [f"count({COLLECTION})", "policy.limit"]
    condition = " ".join([sides[0], op, sides[1]] if count_first else [sides[1], op, sides[0]])
    text = case.text + f'rule C-1 "Counts against a setting"\n  require {condition}\n'
    checked = check_ruleset(parse_ruleset(text, "gen.rules"), vocab.vocabulary)
    with pytest.raises(A.AnalysisError) as info:
        A.check_satisfiable([checked], vocab.vocabulary)
    refused = [d for d in info.value.diagnostics if d.code == "A102"]
    assert refused and all(text[d.span.start : d.span.end] == condition for d in refused)
    assert ("C-1",) in [f.rules for f in A.lint([checked], vocab.vocabulary) if f.code == "L100"]


# --- what the analyser refuses ---------------------------------------------------------------

REFUSED = Vocab([("policy.f0", "integer")], [("flag", "bool"), ("kind", "enum2")])


def _checked(text: str):
    return check_ruleset(parse_ruleset('ruleset t "T"\n' + text, "t.rules"), REFUSED.vocabulary)


def test_a_body_reading_an_outer_variable_is_refused_with_a_diagnostic():
    ruleset = _checked(f'rule R-1 "r" require any x in {COLLECTION}: all y in {COLLECTION}: x.kind == y.kind\n')
    with pytest.raises(A.AnalysisError) as info:
        A.check_satisfiable([ruleset], REFUSED.vocabulary)
    d = info.value.diagnostics[0]
    assert d.code == "A101" and "outer quantifier" in d.message and d.span is not None
    findings = A.lint([ruleset], REFUSED.vocabulary)
    assert [f.code for f in findings] == ["L100"]


def test_a_count_compared_with_a_fact_is_refused():
    ruleset = _checked(f'rule R-1 "r" require count({COLLECTION}) >= policy.f0\n')
    with pytest.raises(A.AnalysisError) as info:
        A.check_satisfiable([ruleset], REFUSED.vocabulary)
    assert info.value.diagnostics[0].code == "A102"


def test_large_counts_are_decided_exactly():
    ruleset = _checked(
        f'rule R-1 "r" require count(y in {COLLECTION}: y.flag) >= 200 and (any x in {COLLECTION}: x.kind == Xx)\n'
        f'rule R-2 "s" require count(y in {COLLECTION}: y.flag) < 201\n'
    )
    result = A.check_satisfiable([ruleset], REFUSED.vocabulary)
    assert result.satisfiable
    items = result.witness.values[COLLECTION]
    assert sum(1 for r in items if r.get("flag")) == 200  # checked by the interpreter too
    ruleset = _checked(
        f'rule R-1 "r" require count(y in {COLLECTION}: y.flag) >= 200\n'
        f'rule R-2 "s" require count(y in {COLLECTION}: y.flag) < 200\n'
    )
    assert A.check_satisfiable([ruleset], REFUSED.vocabulary).conflict.rules == ("R-1", "R-2")


# --- the shipped rulesets and examples ------------------------------------------------------------


@pytest.fixture(scope="module")
def vocabulary():
    return shipped_vocabulary()


def test_lint_of_every_shipped_ruleset_is_explained(vocabulary):
    engine = Engine.load()
    findings = A.lint(engine.rulesets, vocabulary)
    # Deliberate: rulesets are selected one at a time, so several restate a prerequisite
    # another ruleset also checks (UEFI, join type, Windows version, TPM, standard-user
    # encryption). Such overlaps between two rulesets are information, never warnings;
    # inside one ruleset the shipped rules are free of contradictions, dead and redundant rules.
    assert findings, "expected the documented overlaps between rulesets"
    for f in findings:
        assert f.severity == "info" and f.code in ("L104", "L105"), f.render()
        assert len(set(f.details["rulesets"])) == len(f.rules), f.render()
    assert A.check_satisfiable(engine.rulesets, vocabulary).satisfiable


def test_each_shipped_ruleset_alone_lints_clean(vocabulary):
    for loaded in Engine.load().rulesets:
        assert A.lint([loaded], vocabulary) == [], loaded.id


# Silent enablement declared (as naming its ruleset does on the command line), so the rules are
# read as they apply in it.
IN_SILENT_ENABLEMENT = {"scenario.silent_enablement": True, "scenario.interactive_startup": False}


def test_baseline_contradicts_silent_enablement_in_exactly_two_rules(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    # Out of its scenario a silent rule does not apply, so nothing contradicts it there.
    assert not [f for f in A.lint([silent, baseline], vocabulary) if f.code == "L107"]
    findings = A.lint([silent, baseline], vocabulary, assumed=IN_SILENT_ENABLEMENT)
    conflicts = [f for f in findings if f.code == "L107"]
    assert len(conflicts) == 1, [f.render() for f in findings]
    conflict = conflicts[0]
    assert conflict.rules == ("SE-09", "CB-01")
    assert conflict.severity == "error"
    assert conflict.details["rulesets"] == ["silent_enablement", "corporate_baseline"]
    required = {(r["rule"], r["fact"], r["required"]) for r in conflict.details["requirements"]}
    assert required == {
        ("SE-09", "policy.tpm_startup_pin", "anything but Require startup PIN with TPM"),
        ("CB-01", "policy.tpm_startup_pin", "Require startup PIN with TPM"),
    }
    assert (
        "SE-09 requires Compatible TPM startup PIN to be anything but Require startup PIN with TPM" in conflict.message
    )
    assert "CB-01 requires Compatible TPM startup PIN to be Require startup PIN with TPM" in conflict.message
    # The locations are the two conditions, in their files.
    se, cb = conflict.locations
    assert se.file.endswith("silent_enablement.rules") and cb.file.endswith("baseline-startup-pin.rules")
    assert "policy.tpm_startup_pin != Required" in silent.ruleset.text.line_text(se.start_line)
    assert "policy.tpm_startup_pin == Required" in baseline.ruleset.text.line_text(cb.start_line)
    # Nothing else in the pair of rulesets is wrong.
    assert [f.code for f in findings if f.code != "L107"] == []
    result = A.check_satisfiable([silent, baseline], vocabulary, facts=IN_SILENT_ENABLEMENT)
    assert not result.satisfiable and result.conflict.rules == ("SE-09", "CB-01")


# Repairs against rule text compiled here (the shipped rulesets change on their own schedule).
SILENT = """ruleset se "Silent enablement, as the repair tests need it"
rule SE-05 "UEFI" require device.firmware_mode == UEFI
rule SE-06 "No warning" require policy.warning_for_other_disk_encryption == Block
rule SE-07 "Standard users"
  when device.user_role == StandardUser
  require policy.allow_standard_user_encryption == Allow
rule SE-09 "No startup PIN required" require policy.tpm_startup_pin != Required
"""
BASELINE = """ruleset cb "A baseline that requires a startup PIN"
rule CB-01 "A startup PIN" require policy.tpm_startup_pin == Required
"""


def _facts(vocabulary, policy: str, device: str):
    return merge_facts(
        [load_policy_file(EXAMPLES / policy, vocabulary), load_device_file(EXAMPLES / device, vocabulary)]
    )


def test_repair_of_the_startup_pin_policy_on_a_ready_device(vocabulary):
    engine = Engine([compile_text(SILENT, "se.rules")], vocabulary)
    facts = _facts(vocabulary, "policy-startup-pin.json", "device-ready.json")
    assert not engine.evaluate(facts).passed
    result = A.repair(engine.rulesets, vocabulary, facts)
    assert result.complete
    changes = {c.fact: c for c in result.changes}
    assert set(changes) == {
        "policy.tpm_startup_pin",
        "policy.warning_for_other_disk_encryption",
        "policy.allow_standard_user_encryption",
    }
    pin = changes["policy.tpm_startup_pin"]
    # SE-09 asks for a lower setting: the smallest lowering, the next one offered; never Not configured.
    assert (pin.label, pin.old, pin.new) == (
        "Compatible TPM startup PIN",
        "Require startup PIN with TPM",
        "Allow startup PIN with TPM",
    )
    assert pin.alternatives == ("Do not allow startup PIN with TPM",)
    assert changes["policy.warning_for_other_disk_encryption"].new == "Block"
    values = {**facts.values, **{c.fact: c.new_value for c in result.changes}}
    assert engine.evaluate(values).passed


def test_repair_reports_device_prerequisites(vocabulary):
    engine = Engine([compile_text(SILENT, "se.rules")], vocabulary)
    result = A.repair(engine.rulesets, vocabulary, _facts(vocabulary, "policy-startup-pin.json", "device-legacy.json"))
    assert not result.complete
    (blocked,) = result.prerequisites
    assert (blocked.rule, blocked.facts) == ("SE-05", ("device.firmware_mode",))
    assert blocked.needed == (("device.firmware_mode", "BIOS Mode", "UEFI"),)
    assert blocked.conditions[0].sentence() == "BIOS Mode is Legacy; the rule needs UEFI"
    assert {c.fact for c in result.changes} == {
        "policy.tpm_startup_pin",
        "policy.warning_for_other_disk_encryption",
        "policy.allow_standard_user_encryption",
    }
    assert result.turn_off == ()  # SE-05 applies to every device: nothing turns it off


def test_repair_keeps_a_passing_rule_and_names_the_conflict(vocabulary):
    silent, baseline = compile_text(SILENT, "se.rules"), compile_text(BASELINE, "cb.rules")
    facts = _facts(vocabulary, "policy-startup-pin.json", "device-ready.json")
    result = A.repair([silent, baseline], vocabulary, facts)
    # CB-01 passes now and keeps passing; SE-09, which fails, is the rule left out.
    (conflict,) = result.conflicts
    assert conflict.rules == ("CB-01", "SE-09") and conflict.passing == ("SE-09",)
    assert conflict.device_facts == ()  # no device could satisfy both
    assert "cannot both be satisfied with SE-09 passing" in conflict.message()
    assert result.left_out == ("SE-09",)
    assert "policy.tpm_startup_pin" not in {c.fact for c in result.changes}
    assert dict(result.outcomes)["CB-01"] is PASS


def test_fleet_repair_finds_the_change_that_helps_most_devices(vocabulary):
    engine = Engine.load(["silent_enablement"])
    silent_policy = load_policy_file(EXAMPLES / "policy-silent.json", vocabulary)
    ready = load_device_file(EXAMPLES / "device-ready.json", vocabulary)
    base = {**silent_policy.values, **ready.values}
    fleet = [
        {**base, "policy.tpm_startup_pin": "Required"},
        {**base, "policy.tpm_startup_pin": "Required", "policy.tpm_startup_key": "Required"},
        {**base, "policy.tpm_startup_pin": "Required"},
        base,
    ]
    result = A.fleet_repair(engine.rulesets, vocabulary, fleet)
    assert (result.before, result.total) == (1, 4)
    assert result.best.change.fact == "policy.tpm_startup_pin"
    assert result.best.devices_satisfied == 3


def test_compare_a_stricter_ruleset(vocabulary, tmp_path):
    strict = tmp_path / "strict.rules"
    strict.write_text('ruleset strict "S"\nrule S-1 "s" require policy.minimum_pin_length >= 8\n')
    loose = tmp_path / "loose.rules"
    loose.write_text('ruleset loose "L"\nrule L-1 "l" require policy.minimum_pin_length >= 6\n')
    a, b = load_ruleset(strict), load_ruleset(loose)
    result = A.compare([a], [b], vocabulary)
    assert result.relation == "stricter" and result.a_not_b is None
    assert result.b_not_a.failing_rules == ("S-1",)
    assert 6 <= result.b_not_a.witness.values["policy.minimum_pin_length"] < 8
    assert A.compare([b], [a], vocabulary).relation == "looser"
    assert A.compare([a], [a], vocabulary).relation == "equivalent"
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    result = A.compare([silent], [baseline], vocabulary, assumed=IN_SILENT_ENABLEMENT)
    assert result.relation == "incomparable"
    assert result.a_not_b.failing_rules == ("CB-01",)
    assert result.b_not_a.failing_rules == ("SE-09",)


def test_unused_definitions_are_reported(vocabulary, tmp_path):
    path = tmp_path / "u.rules"
    path.write_text(
        'ruleset u "U"\ndefine used = device.tpm_present\ndefine unused = device.tpm_ready\nrule U-1 "u" require used\n'
    )
    findings = A.lint([load_ruleset(path)], vocabulary)
    assert [(f.code, f.details["definition"]) for f in findings] == [("L106", "unused")]
    assert findings[0].locations[0].start_line == 3


def test_dead_and_vacuous_rules(vocabulary, tmp_path):
    path = tmp_path / "d.rules"
    path.write_text(
        'ruleset d "D"\n'
        'rule D-1 "never passes" require device.tpm_present and not device.tpm_present\n'
        'rule D-2 "never fails" require device.tpm_ready is present or device.tpm_ready is missing\n'
        'rule D-3 "never applies" when device.tpm_version > 2.0 and device.tpm_version < 1.2\n'
        "  require device.tpm_present\n"
        'rule D-4 "redundant" require device.os_version >= 1809\n'
        'rule D-5 "stronger" require device.os_version >= 1903\n'
    )
    codes = {(f.code, f.rules) for f in A.lint([load_ruleset(path)], vocabulary)}
    assert codes == {("L101", ("D-1",)), ("L102", ("D-2",)), ("L103", ("D-3",)), ("L104", ("D-4", "D-5"))}


def test_findings_as_sarif(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    sarif = A.findings_to_sarif(
        A.lint([silent, baseline], vocabulary, assumed=IN_SILENT_ENABLEMENT), tool_version="0.1.0"
    )
    json.dumps(sarif)  # plain JSON
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["rules"][0]["id"] == "L107"
    assert run["tool"]["driver"]["rules"][0]["name"] == "conflict"
    (result,) = run["results"]
    assert result["ruleId"] == "L107" and result["level"] == "error" and result["ruleIndex"] == 0
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"].endswith("rulesets/silent_enablement.rules")
    region = location["region"]
    line = silent.ruleset.text.line_text(region["startLine"])
    assert line[region["startColumn"] - 1 : region["endColumn"] - 1] == "policy.tpm_startup_pin != Required"
    related = result["relatedLocations"][0]["physicalLocation"]
    assert related["artifactLocation"]["uri"].endswith("examples/baseline-startup-pin.rules")
    assert result["properties"]["rules"] == ["SE-09", "CB-01"]


def test_checker_diagnostics_become_findings(vocabulary, tmp_path):
    from bitlocker_rules.errors import RulesError

    path = tmp_path / "bad.rules"
    path.write_text('ruleset bad "B"\nrule B-1 "b" require policy.tpm_startup_pn != Required\n')
    with pytest.raises(RulesError) as info:
        load_ruleset(path)
    (finding,) = A.diagnostic_findings(info.value.diagnostics)
    assert finding.code == "E302" and finding.locations[0].start_line == 2
    assert A.lint_exit_code([finding]) == 1 and A.lint_exit_code([]) == 0


def test_repair_of_a_setting_in_conflict_between_policies(vocabulary):
    # The policies disagree on the startup PIN (so it is missing); the rule fails on the PIN length.
    loaded = compile_text(
        'ruleset t "T"\nrule T-1 "PIN" require policy.tpm_startup_pin != Required and policy.minimum_pin_length >= 8\n',
        "t.rules",
    )
    facts = merge_facts(
        [
            load_policy_file(EXAMPLES / "policy-silent.json", vocabulary),
            load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary),
            load_device_file(EXAMPLES / "device-ready.json", vocabulary),
        ]
    )
    assert any(c.fact == "policy.tpm_startup_pin" for c in facts.conflicts)
    result = A.repair([loaded], vocabulary, facts)
    change = next(c for c in result.changes if c.fact == "policy.tpm_startup_pin")
    assert change.old.startswith("in conflict: ") and "Require startup PIN with TPM" in change.old
    values = {**facts.values, **{c.fact: c.new_value for c in result.changes}}
    assert Engine([loaded], vocabulary).evaluate(values).passed


def test_records_serialise_to_json(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    facts = _facts(vocabulary, "policy-startup-pin.json", "device-legacy.json")
    guarded = compile_text(GUARDED, "g.rules")
    for record in (
        A.repair([compile_text(SILENT, "se.rules"), compile_text(BASELINE, "cb.rules")], vocabulary, facts),
        A.repair([guarded], vocabulary, facts),
        A.compare([silent], [baseline], vocabulary),
        A.check_satisfiable([silent, baseline], vocabulary),
        A.check_satisfiable([silent], vocabulary),
        A.fleet_repair([silent], vocabulary, [facts.values]),
    ):
        data = json.loads(json.dumps(record.to_dict()))
        assert data


def test_repair_may_match_one_setting_to_another():
    vocab = Vocab([("policy.f0", "version"), ("policy.f1", "version")], [])
    ruleset = check_ruleset(
        parse_ruleset('ruleset t "T"\nrule R-1 "r" require policy.f0 == policy.f1\n'), vocab.vocabulary
    )
    result = A.repair([ruleset], vocab.vocabulary, {"policy.f0": v(17763), "policy.f1": v(17761)})
    (change,) = result.changes  # one setting takes the other's value
    assert change.new_value in (v(17763), v(17761))


# --- repairs never weaken a policy to make a rule go away ------------------------------------

GUARDED = """ruleset g "A rule that applies only with a startup PIN"
rule T-2 "A PIN needs TPM 2.0"
  when policy.tpm_startup_pin == Required
  require device.tpm_version >= 2.0
"""


def _repair_text(vocabulary, text: str, facts):
    return A.repair([compile_text('ruleset t "T"\n' + text, "t.rules", vocabulary)], vocabulary, facts)


def test_a_failing_rule_that_can_pass_is_fixed_not_turned_off(vocabulary):
    # Turning T-1 off takes one change (no PIN required), making it pass two: the two are the fix.
    result = _repair_text(
        vocabulary,
        'rule T-1 "PIN length"\n  when policy.tpm_startup_pin == Required\n'
        "  require policy.configure_minimum_pin_length == Enabled\n"
        "  require policy.minimum_pin_length >= 8\n",
        _facts(vocabulary, "policy-startup-pin.json", "device-ready.json"),
    )
    assert [(c.fact, c.new) for c in result.changes] == [
        ("policy.configure_minimum_pin_length", "Enable"),
        ("policy.minimum_pin_length", "8"),
    ]
    assert dict(result.outcomes)["T-1"] is PASS
    assert result.complete and result.turn_off == ()


def test_an_unknown_rule_is_not_turned_off_by_weakening_a_setting(vocabulary):
    # T-20 is unknown (whether the drive is encrypted is missing): not a target. Before, the
    # repair "satisfied" it by setting the cipher to Not configured.
    result = _repair_text(
        vocabulary,
        'rule T-5 "UEFI" require device.firmware_mode == UEFI\n'
        'rule T-20 "Cipher"\n'
        "  when device.encrypted and policy.os_encryption_method != NotConfigured\n"
        "  require device.os_volume_encryption_method == policy.os_encryption_method\n",
        _facts(vocabulary, "policy-silent.json", "device-legacy.json"),
    )
    assert result.changes == ()
    assert [p.rule for p in result.prerequisites] == ["T-5"]
    assert dict(result.outcomes)["T-20"] is UNKNOWN


def test_a_setting_is_raised_rather_than_lowered(vocabulary):
    result = _repair_text(
        vocabulary,
        'rule T-1 "Not CBC 256" require policy.os_encryption_method != AesCbc256\n',
        {"policy.os_encryption_method": "AesCbc256"},
    )
    (change,) = result.changes
    assert (change.new, change.alternatives) == ("XTS-AES 256-bit", ())


def test_a_lowering_the_rule_asks_for_is_the_smallest(vocabulary):
    # AES-CBC 256 → XTS-AES 128 changes to an incomparable member (a lowering, as the rule
    # asks), but a smaller one than AES-CBC 128, which is weaker.
    result = _repair_text(
        vocabulary,
        'rule T-1 "128-bit" require policy.os_encryption_method in {AesCbc128, XtsAes128}\n',
        {"policy.os_encryption_method": "AesCbc256"},
    )
    (change,) = result.changes
    assert (change.new, change.alternatives) == ("XTS-AES 128-bit", ("AES-CBC 128-bit",))


def test_not_configured_only_when_a_rule_asks_for_exactly_that(vocabulary):
    result = _repair_text(
        vocabulary,
        'rule T-1 "Off" require policy.tpm_startup_pin == NotConfigured\n',
        {"policy.tpm_startup_pin": "Required"},
    )
    assert [(c.new, c.alternatives) for c in result.changes] == [("Not configured", ())]
    result = _repair_text(
        vocabulary,
        'rule T-1 "No PIN" require policy.tpm_startup_pin in {Blocked, NotConfigured}\n',
        {"policy.tpm_startup_pin": "Required"},
    )
    assert [(c.new, c.alternatives) for c in result.changes] == [("Do not allow startup PIN with TPM", ())]


def test_changes_that_only_turn_a_rule_off_are_offered_apart(vocabulary):
    result = A.repair(
        [compile_text(GUARDED, "g.rules", vocabulary)],
        vocabulary,
        _facts(vocabulary, "policy-startup-pin.json", "device-legacy.json"),
    )
    assert result.changes == () and not result.complete
    (blocked,) = result.prerequisites
    assert (blocked.rule, blocked.needed) == ("T-2", (("device.tpm_version", "TPM version", "2.0"),))
    (off,) = result.turn_off
    assert off.rule == "T-2"
    assert [(c.fact, c.old, c.new) for c in off.changes] == [
        ("policy.tpm_startup_pin", "Require startup PIN with TPM", "Allow startup PIN with TPM")
    ]
    assert dict(result.outcomes)["T-2"] is FAIL
    assert result.to_dict()["turn_off"][0]["changes"][0]["new_value"] == "Allowed"


def test_a_repair_never_changes_a_scenario():
    vocab = build_vocabulary(
        {
            "facts": [
                {"name": "policy.f0", "type": "bool", "label": "F0", "strength": [[False, True]]},
                {"name": "device.d0", "type": "bool", "label": "D0"},
            ],
            "scenarios": {"demo": {"label": "Demo"}},
        }
    )
    ruleset = check_ruleset(
        parse_ruleset(
            'ruleset t "T"\n'
            'rule R-1 "r"\n  scenario demo\n  require device.d0 and policy.f0\n'
            'rule R-2 "s"\n  scenario demo\n  require policy.f0\n'
        ),
        vocab,
    )
    result = A.repair([ruleset], vocab, {"scenario.demo": True, "device.d0": False, "policy.f0": False})
    assert [c.fact for c in result.changes] == ["policy.f0"]
    assert [p.rule for p in result.prerequisites] == ["R-1"]
    assert result.turn_off == ()  # out of the scenario R-1 would not apply, but no policy sets that
