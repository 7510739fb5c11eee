"""The analyser: exact satisfiability, conflicts, lint, compare and repair.

Hypothesis generates small vocabularies (``build_vocabulary`` from a dict) and rule text
over them; every property is checked against brute-force enumeration over full finite
domains (enums, bools), ordered and string values rich enough to realise every order
between the constants and the facts, every missing fact, and collections of up to
``MAX_RECORDS`` records. The brute force reads verdicts from the compiled evaluator (fast,
and itself tested against the interpreter); witnesses and repairs are re-checked with the
reference interpreter.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, note, reject
from hypothesis import strategies as st

from bitlocker_rules import analysis as A
from bitlocker_rules.checker import check_ruleset
from bitlocker_rules.compiler import compile_ruleset
from bitlocker_rules.engine import Engine, load_ruleset, shipped_vocabulary
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
    "version": ["10.0.17763", "10.0.19044"],
    "string": ['"a"', '"b"'],
}
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
FIXED = {"bool": BRUTE["bool"], "enum": BRUTE["enum"], "integer": [1, 2, 3], "decimal": [1.0, 1.5, 2.0, 2.5],
         "version": BRUTE["version"][2:-2], "string": ["a", "b"]}
FIELD_LITERALS = {"bool": ["true", "false"], "enum2": ["Xx", "Yy"], "integer": LITERALS["integer"]}
# Integer fields may be compared with an integer fact: records below, between and above it
# need three values per interval (see the integers in BRUTE).
FIELD_BRUTE = {"bool": [True, False], "enum2": ["Xx", "Yy"], "integer": BRUTE["integer"]}
TYPE_TEXT = {"enum": "enum E", "enum2": "enum G"}
ORDERED = ("integer", "decimal", "version")
COLLECTION = "device.items"


class Vocab:
    """A generated vocabulary: scalar facts (name, kind) and optionally one collection."""

    def __init__(self, scalars: list[tuple[str, str]], fields: list[tuple[str, str]]) -> None:
        self.scalars = scalars
        self.fields = fields
        data = {
            "enums": {
                "E": {"members": [{"name": m, "label": f"Label {m}"} for m in BRUTE["enum"]]},
                "G": {"members": [{"name": m, "label": f"Label {m}"} for m in FIELD_BRUTE["enum2"]]},
            },
            "facts": [{"name": name, "type": TYPE_TEXT.get(kind, kind), "label": name.upper()}
                      for name, kind in scalars],
        }
        if fields:
            data["facts"].append({
                "name": COLLECTION, "type": "collection", "label": "Items", "item_label": "item",
                "fields": [{"name": f, "type": TYPE_TEXT.get(k, k), "label": f} for f, k in fields],
            })
        self.vocabulary = build_vocabulary(data, origin="<generated>")

    def kind(self, name: str) -> str:
        return dict(self.scalars)[name]


@st.composite
def wide_vocabs(draw) -> Vocab:
    """More facts with few values each: deeper searches (backjumping, independent groups)."""
    count = draw(st.integers(4, 6))
    kinds = draw(st.lists(st.sampled_from(["bool", "enum"]), min_size=count, max_size=count))
    spaces = ["policy"] + [draw(st.sampled_from(["policy", "device"])) for _ in kinds[1:]]
    return Vocab([(f"{ns}.f{i}", k) for i, (ns, k) in enumerate(zip(spaces, kinds))], [])


@st.composite
def vocabs(draw) -> Vocab:
    with_collection = draw(st.booleans())
    count = draw(st.integers(1, 1 if with_collection else 3))
    kinds = draw(st.lists(st.sampled_from(sorted(BRUTE)), min_size=count, max_size=count))
    # The first fact is a policy setting (repairs need one); the others may be either.
    spaces = ["policy"] + [draw(st.sampled_from(["policy", "device"])) for _ in kinds[1:]]
    scalars = [(f"{ns}.f{i}", k) for i, (ns, k) in enumerate(zip(spaces, kinds))]
    fields: list[tuple[str, str]] = []
    if with_collection:
        fields = draw(st.sampled_from([[("flag", "bool")], [("kind", "enum2")], [("flag", "bool"), ("kind", "enum2")],
                                       [("size", "integer")]]))
    return Vocab(scalars, fields)


# --- rule text ----------------------------------------------------------------------------


def _ops(kind: str) -> list[str]:
    return ["==", "!=", "<", "<=", ">", ">="] if kind in ORDERED else ["==", "!="]


@st.composite
def atoms(draw, vocab: Vocab, var: str | None, counts: bool) -> str:
    subjects = [(name, kind) for name, kind in vocab.scalars]
    if var is not None:
        subjects += [(f"{var}.{f}", k) for f, k in vocab.fields]
    if vocab.fields and var is None:
        subjects.append((COLLECTION, "collection"))
    subject, kind = draw(st.sampled_from(subjects))
    if kind == "collection":
        form = draw(st.sampled_from(["presence", "count", "count"] if counts else ["presence"]))
        if form == "presence":
            return f"{COLLECTION} is {draw(st.sampled_from(['present', 'missing']))}"
        body = ""
        if draw(st.booleans()):
            body = draw(conditions(vocab, 0, "y", counts=False))
            text = f"count(y in {COLLECTION}: {body})"
        else:
            text = f"count({COLLECTION})"
        return f"{text} {draw(st.sampled_from(_ops('integer')))} {draw(st.sampled_from(['0', '1', '2']))}"
    literals = LITERALS.get(kind) or FIELD_LITERALS[kind]
    same = [s for s, k in subjects if k == kind and s != subject and k != "collection"]
    forms = ["compare", "compare", "member", "presence"] + (["facts"] if same else []) + (["bare"] if kind == "bool" else [])
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
def conditions(draw, vocab: Vocab, depth: int, var: str | None = None, definitions: int = 0,
               counts: bool = True) -> str:
    options = ["atom", "atom"]
    if depth > 0:
        options += ["not", "and", "or", "implies", "if"]
        if vocab.fields and var is None:
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
    body = draw(conditions(vocab, depth - 1, "x", 0, counts=False))
    return f"({form} x in {COLLECTION}: {body})"


@st.composite
def rule_texts(draw, vocab: Vocab, max_rules: int = 3) -> tuple[str, list[tuple[str, str | None, list[str]]]]:
    definitions = draw(st.integers(0, 1))
    lines = ['ruleset gen "Generated rules"', ""]
    for i in range(definitions):
        lines.append(f"define d{i} = {draw(conditions(vocab, 1))}")
    rules = []
    for i in range(draw(st.integers(1, max_rules))):
        when = draw(st.none() | conditions(vocab, 1, definitions=definitions))
        requires = draw(st.lists(conditions(vocab, 2, definitions=definitions), min_size=1, max_size=2))
        lines.append(f'rule R-{i} "Rule {i}"')
        if when is not None:
            lines.append(f"  when {when}")
        lines += [f"  require {r}" for r in requires]
        rules.append((f"R-{i}", when, requires))
    return "\n".join(lines) + "\n", rules


class Case:
    """Generated rules through the real pipeline, with the brute-force table of verdicts."""

    def __init__(self, vocab: Vocab, text: str, rules) -> None:
        note(text)
        self.vocab = vocab
        self.vocabulary = vocab.vocabulary
        self.text = text
        self.checked = check_ruleset(parse_ruleset(text, "gen.rules"), self.vocabulary)
        self.ids = [r.id for r in self.checked.rules if r.kind == "rule"]
        self.interpreter = Interpreter(self.checked, self.vocabulary)
        compiled = compile_ruleset(self.checked)
        # Applicability alone, as a second compiled ruleset: PASS exactly when it is true.
        when = ['ruleset gen_when "Applicability"'] + [
            f'rule W-{i} "w"\n  require {w if w is not None else "true"}' for i, (_, w, _) in enumerate(rules)
        ]
        definitions = [line for line in text.splitlines() if line.startswith("define ")]
        when_ruleset = check_ruleset(parse_ruleset("\n".join(when[:1] + definitions + when[1:]) + "\n"), self.vocabulary)
        applicable = compile_ruleset(when_ruleset)
        self.names = [name for name, _ in vocab.scalars] + ([COLLECTION] if vocab.fields else [])
        self.table = []
        for values in self.assignments():
            statuses = tuple(STATUS_BY_CODE[c] for c in compiled(values))
            applies = tuple(STATUS_BY_CODE[c] is PASS for c in applicable(values))
            self.table.append((values, statuses, applies))

    def domain(self, name: str) -> list:
        if name == COLLECTION:
            fields = [f for f, _ in self.vocab.fields]
            choices = [FIELD_BRUTE[k] + [None] for _, k in self.vocab.fields]
            types = [MappingProxyType({f: x for f, x in zip(fields, combo) if x is not None})
                     for combo in itertools.product(*choices)]
            bags = [tuple(c) for size in range(MAX_RECORDS + 1)
                    for c in itertools.combinations_with_replacement(types, size)]
            return bags + [None]
        return BRUTE[self.vocab.kind(name)] + [None]

    def fixed_domain(self, name: str) -> list:
        """The values a fixed fact is drawn from (see FIXED)."""
        if name == COLLECTION:
            return self.domain(name)
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
def cases(draw, max_rules: int = 3) -> Case:
    if draw(st.integers(0, 3)) == 0:
        vocab = draw(wide_vocabs())
        max_rules += 2
    else:
        vocab = draw(vocabs())
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


def statuses_by_interpreter(case: Case, values) -> dict[str, Status]:
    return {r.id: case.interpreter.verdict(r, values)[0] for r in case.checked.rules if r.kind == "rule"}


def long_collection(witness: A.Witness) -> bool:
    """Whether a witness needs more records than the brute force enumerates."""
    items = witness.values.get(COLLECTION)
    return items is not None and len(items) > MAX_RECORDS


# --- properties ------------------------------------------------------------------------------


@given(cases())
@refusals_rejected
def test_satisfiability_agrees_with_brute_force(case):
    result = A.check_satisfiable([case.checked], case.vocabulary)
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
    given_values = {k: x for k, x in fixed.items() if x is not None}
    result = A.check_satisfiable([case.checked], case.vocabulary, facts=given_values, fixed_namespaces=["device"])
    expected = case.sat(case.ids, fixed=fixed)
    if result.satisfiable:
        for name in device:
            assert result.witness.values.get(name) == fixed[name]
        assert all(s in SATISFIED for s in statuses_by_interpreter(case, result.witness.values).values())
        assert expected
    else:
        assert not expected
        core = list(result.conflict.rules)
        assert not case.sat(core, fixed=fixed)
        for rule in core:
            assert case.sat([r for r in core if r != rule], fixed=fixed)


@given(cases(), st.data())
@refusals_rejected
def test_repair_is_optimal_and_passes(case, data):
    # Current values leave room above and below (a repair may move a setting past another).
    values = {name: data.draw(st.sampled_from(case.fixed_domain(name)), label=name) for name in case.names}
    given_values = {k: x for k, x in values.items() if x is not None}
    result = A.repair([case.checked], case.vocabulary, given_values)
    policy = [name for name in case.names if name.startswith("policy.")]
    device = {name: values[name] for name in case.names if name not in policy}
    for change in result.changes:
        assert change.fact in policy
    blocked = {p.rule for p in result.prerequisites}
    for rule in blocked:
        assert not case.sat([rule], fixed=device), f"{rule} can be satisfied by a policy change"
    for conflict in result.conflicts:
        assert not case.sat(list(conflict.rules), fixed=device)
        for rule in conflict.rules:
            assert case.sat([r for r in conflict.rules if r != rule], fixed=device)
    target = [r for r in case.ids if r not in blocked and r not in result.left_out]
    after = {**given_values, **{c.fact: c.new_value for c in result.changes}}
    after = {k: x for k, x in after.items() if x is not None}
    got = statuses_by_interpreter(case, after)
    assert all(got[r] in SATISFIED for r in target), got
    # No smaller repair: enumerate every assignment that keeps the device facts.
    idx = [case.ids.index(r) for r in target]
    best = min(
        (sum(1 for p in policy if row.get(p) != values[p]) for row, st_, _ in case.rows(device)
         if all(st_[i] in SATISFIED for i in idx)),
        default=None,
    )
    assert best is not None
    assert len(result.changes) == best


@given(cases(max_rules=3), st.data())
@refusals_rejected
def test_compare_agrees_with_brute_force(case, data):
    split = data.draw(st.integers(1, len(case.ids)), label="split")
    left, right = case.ids[:split], case.ids[split:] or case.ids[:1]
    result = A.compare([_Only(case.checked, left)], [_Only(case.checked, right)], case.vocabulary)

    def implies(xs, ys) -> bool:
        ix, iy = [case.ids.index(r) for r in xs], [case.ids.index(r) for r in ys]
        return not any(all(s[i] in SATISFIED for i in ix) and not all(s[i] in SATISFIED for i in iy)
                       for _, s, _ in case.table)

    for diff, xs, ys, holds in ((result.a_not_b, left, right, implies(left, right)),
                                (result.b_not_a, right, left, implies(right, left))):
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
    analyzer = A.Analyzer([case.checked], case.vocabulary)
    entry = {e.id: e for e in analyzer.entries}
    satisfied, broken = A.goal_mask("satisfied"), A.goal_mask("not_satisfied")
    for x, y in itertools.permutations(healthy, 2):
        if ((x, y) in closure) != implies(x, y):
            # Only a counterexample with more records than the brute force enumerates may differ.
            found = analyzer.solve([(entry[x], satisfied), (entry[y], broken)])
            assert found is not None and len(found.get(COLLECTION) or ()) > MAX_RECORDS, (x, y)
    holdable = [r for r in case.ids if r not in refused and case.sat([r])]
    for core in by_code.get("L107", []):
        assert not case.sat(list(core))
        for rule in core:
            assert case.sat([r for r in core if r != rule])
    if "L107" not in by_code and not case.sat(holdable):
        witness = A.check_satisfiable([case.checked], case.vocabulary, rules=holdable).witness
        assert witness is not None and long_collection(witness)


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


def test_baseline_contradicts_silent_enablement_in_exactly_two_rules(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    findings = A.lint([silent, baseline], vocabulary)
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
    assert "SE-09 requires Compatible TPM startup PIN to be anything but Require startup PIN with TPM" in conflict.message
    assert "CB-01 requires Compatible TPM startup PIN to be Require startup PIN with TPM" in conflict.message
    # The locations are the two conditions, in their files.
    se, cb = conflict.locations
    assert se.path.endswith("silent_enablement.rules") and cb.path.endswith("baseline-startup-pin.rules")
    assert "policy.tpm_startup_pin != Required" in silent.ruleset.text.line_text(se.start_line)
    assert "policy.tpm_startup_pin == Required" in baseline.ruleset.text.line_text(cb.start_line)
    # Nothing else in the pair of rulesets is wrong.
    assert [f.code for f in findings if f.code != "L107"] == []
    result = A.check_satisfiable([silent, baseline], vocabulary)
    assert not result.satisfiable and result.conflict.rules == ("SE-09", "CB-01")


def test_repair_of_the_startup_pin_policy_on_a_ready_device(vocabulary):
    engine = Engine.load(["silent_enablement"])
    facts = merge_facts([load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary),
                         load_device_file(EXAMPLES / "device-ready.json", vocabulary)])
    assert not engine.evaluate(facts).passed
    result = A.repair(engine.rulesets, vocabulary, facts)
    assert result.complete
    changes = {c.fact: c for c in result.changes}
    assert set(changes) == {"policy.tpm_startup_pin", "policy.warning_for_other_disk_encryption",
                            "policy.allow_standard_user_encryption"}
    pin = changes["policy.tpm_startup_pin"]
    assert (pin.label, pin.old, pin.new) == ("Compatible TPM startup PIN", "Require startup PIN with TPM",
                                             "Do not allow startup PIN with TPM")
    assert set(pin.alternatives) == {"Allow startup PIN with TPM", "Not configured"}
    assert changes["policy.warning_for_other_disk_encryption"].new == "Block"
    values = {**facts.values, **{c.fact: c.new_value for c in result.changes}}
    assert engine.evaluate(values).passed


def test_repair_reports_device_prerequisites(vocabulary):
    engine = Engine.load(["silent_enablement"])
    facts = merge_facts([load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary),
                         load_device_file(EXAMPLES / "device-legacy.json", vocabulary)])
    result = A.repair(engine.rulesets, vocabulary, facts)
    assert not result.complete
    blocked = {p.rule: p for p in result.prerequisites}
    assert set(blocked) == {"SE-02", "SE-03", "SE-05"}
    assert blocked["SE-05"].facts == ("device.firmware_mode",)
    assert blocked["SE-05"].needed == (("device.firmware_mode", "BIOS Mode", "UEFI"),)
    assert blocked["SE-05"].conditions[0].sentence() == "BIOS Mode is Legacy; the rule needs UEFI"
    assert {c.fact for c in result.changes} == {"policy.tpm_startup_pin", "policy.warning_for_other_disk_encryption",
                                                "policy.allow_standard_user_encryption"}


def test_repair_names_the_conflict_no_policy_can_resolve(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    facts = merge_facts([load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary),
                         load_device_file(EXAMPLES / "device-ready.json", vocabulary)])
    result = A.repair([silent, baseline], vocabulary, facts)
    assert [c.rules for c in result.conflicts] == [("SE-09", "CB-01")]
    assert result.conflicts[0].device_facts == ()  # no device could satisfy both
    assert result.left_out == ("CB-01",)


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
    result = A.compare([silent], [baseline], vocabulary)
    assert result.relation == "incomparable"
    assert result.a_not_b.failing_rules == ("CB-01",)
    assert result.b_not_a.failing_rules == ("SE-09",)


def test_unused_definitions_are_reported(vocabulary, tmp_path):
    path = tmp_path / "u.rules"
    path.write_text('ruleset u "U"\ndefine used = device.tpm_present\ndefine unused = device.tpm_ready\n'
                    'rule U-1 "u" require used\n')
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
        '  require device.tpm_present\n'
        'rule D-4 "redundant" require device.os_version >= 1809\n'
        'rule D-5 "stronger" require device.os_version >= 1903\n'
    )
    codes = {(f.code, f.rules) for f in A.lint([load_ruleset(path)], vocabulary)}
    assert codes == {("L101", ("D-1",)), ("L102", ("D-2",)), ("L103", ("D-3",)), ("L104", ("D-4", "D-5"))}


def test_findings_as_sarif(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    sarif = A.findings_to_sarif(A.lint([silent, baseline], vocabulary), tool_version="0.1.0")
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
    assert line[region["startColumn"] - 1:region["endColumn"] - 1] == "policy.tpm_startup_pin != Required"
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
    engine = Engine.load(["silent_enablement"])
    silent = load_policy_file(EXAMPLES / "policy-silent.json", vocabulary)
    pin = load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary)
    device = load_device_file(EXAMPLES / "device-ready.json", vocabulary)
    facts = merge_facts([silent, pin, device])
    assert any(c.fact == "policy.tpm_startup_pin" for c in facts.conflicts)
    result = A.repair(engine.rulesets, vocabulary, facts)
    change = next(c for c in result.changes if c.fact == "policy.tpm_startup_pin")
    assert change.old.startswith("in conflict: ") and "Require startup PIN with TPM" in change.old
    values = {**facts.values, **{c.fact: c.new_value for c in result.changes}}
    assert engine.evaluate(values).passed


def test_records_serialise_to_json(vocabulary):
    silent = load_ruleset("silent_enablement")
    baseline = load_ruleset(EXAMPLES / "baseline-startup-pin.rules")
    facts = merge_facts([load_policy_file(EXAMPLES / "policy-startup-pin.json", vocabulary),
                         load_device_file(EXAMPLES / "device-legacy.json", vocabulary)])
    for record in (A.repair([silent, baseline], vocabulary, facts),
                   A.compare([silent], [baseline], vocabulary),
                   A.check_satisfiable([silent, baseline], vocabulary),
                   A.check_satisfiable([silent], vocabulary),
                   A.fleet_repair([silent], vocabulary, [facts.values])):
        data = json.loads(json.dumps(record.to_dict()))
        assert data


def test_repair_may_match_one_setting_to_another():
    vocab = Vocab([("policy.f0", "version"), ("policy.f1", "version")], [])
    ruleset = check_ruleset(parse_ruleset('ruleset t "T"\nrule R-1 "r" require policy.f0 == policy.f1\n'),
                            vocab.vocabulary)
    result = A.repair([ruleset], vocab.vocabulary, {"policy.f0": v(17763), "policy.f1": v(17761)})
    (change,) = result.changes  # one setting takes the other's value
    assert change.new_value in (v(17763), v(17761))
