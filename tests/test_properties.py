"""Property tests of the rule language (Hypothesis).

1. The interpreter (the oracle) and the compiled evaluator give the same verdicts, also
   through the engine: several rulesets at once, policies merged with conflicts, and rules
   that read a per-policy fact decided on each policy's own settings.
2. ``parse(print(ast)) == ast`` and printing is a fixed point.
3. Any text parses or raises ``RulesError`` with spans inside the text; grammar text parses.
4. And, or, not, implies and if-then-else follow Kleene's three-valued logic.
5. A fact that is absent is missing (unknown), never false.
6. Windows versions compare as versions, in Python and in rules.

Every generated ruleset goes through the real pipeline: ``print_ruleset`` →
``parse_ruleset`` → ``check_ruleset`` → ``compile_ruleset`` / ``Interpreter``. Strategies
live in ``strategies.py``; settings profiles in ``conftest.py``.
"""

from __future__ import annotations

import itertools
import operator

import attrs
import pytest
import strategies as S
from hypothesis import event, example, given, note
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from bitlocker_rules import nodes as n
from bitlocker_rules.checker import check_ruleset
from bitlocker_rules.compiler import compile_ruleset
from bitlocker_rules.engine import Engine, compile_text
from bitlocker_rules.errors import RulesError
from bitlocker_rules.facts import Facts, merge_facts
from bitlocker_rules.interpreter import Interpreter, caveated
from bitlocker_rules.outcome import STATUS_BY_CODE, Status
from bitlocker_rules.printer import print_ruleset
from bitlocker_rules.syntax import parse_ruleset
from bitlocker_rules.versions import WindowsVersion, parse_windows_version
from bitlocker_rules.vocabulary import build_vocabulary

PASS, FAIL, UNKNOWN, NOT_APPLICABLE = Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE
TRUTH = {PASS: True, FAIL: False, UNKNOWN: None}
# (disputed, unconfirmed, verdict) -> reported verdict: where the sources disagree a failure is
# unknown, and where none confirms a pass, so is the pass; everything else is reported as it is.
REPORTED = {(True, False, FAIL): UNKNOWN, (False, True, PASS): UNKNOWN}
OPERATORS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt,
             "<=": operator.le, ">": operator.gt, ">=": operator.ge}  # fmt: skip


class Loaded:
    """A generated ruleset after the real pipeline, with both evaluators."""

    def __init__(self, ruleset: n.Ruleset) -> None:
        self.text = print_ruleset(ruleset)
        if currently_in_test_context():
            note(self.text)
        parsed = parse_ruleset(self.text, "<generated>")
        assert parsed == ruleset, "the printed text does not parse back to the same tree"
        self.checked = check_ruleset(parsed, S.VOCABULARY)
        self.compiled = compile_ruleset(self.checked)
        self.interpreter = Interpreter(self.checked, S.VOCABULARY)
        self.rules = [r for r in self.checked.rules if r.kind == "rule"]
        # Each note as a rule that requires `false`, compiled on its own (see NOTE_APPLIES).
        notes = tuple(
            attrs.evolve(r, kind="rule", requires=(n.Literal(False, "bool"),))
            for r in ruleset.rules
            if r.kind == "note"
        )
        self.note_codes = compile_ruleset(check_ruleset(attrs.evolve(ruleset, rules=notes), S.VOCABULARY))

    def compiled_statuses(self, values) -> dict[str, Status]:
        codes = self.compiled(values)
        assert len(codes) == len(self.rules)
        return {rule.id: STATUS_BY_CODE[code] for rule, code in zip(self.rules, codes)}

    def interpreted_statuses(self, values) -> dict[str, Status]:
        return {rule.id: self.interpreter.verdict(rule, values)[0] for rule in self.rules}

    def statuses(self, values) -> dict[str, Status]:
        """Verdicts by rule id; fails unless both evaluators agree."""
        compiled, interpreted = self.compiled_statuses(values), self.interpreted_statuses(values)
        assert compiled == interpreted
        return interpreted


# A note's applicability read from the verdict of a rule with the same `when` (and scenarios)
# that requires `false`: it fails where the note applies, and is unknown where that is unknown.
NOTE_APPLIES = {FAIL: True, NOT_APPLICABLE: False, UNKNOWN: None}


def assert_names_its_fact_and_value(condition) -> None:
    """A reason's sentence names what it is about and its value, or says that it is not known."""
    sentence = condition.sentence()
    assert condition.label.removesuffix(" (scenario)") in sentence, (condition, sentence)
    if condition.missing:
        assert any(w in sentence for w in ("not known", "not given", "in conflict")), sentence
    else:
        assert condition.actual in sentence, (condition, sentence)


def ruleset_of(*requirements: n.Expr, applicability: n.Expr | None = None) -> n.Ruleset:
    """One rule per requirement, ids K-0, K-1, …"""
    rules = tuple(n.Rule(f"K-{i}", "", requires=(r,), applicability=applicability) for i, r in enumerate(requirements))
    return n.Ruleset("props", "", rules=rules)


def parse_expr(text: str) -> n.Expr:
    """An unchecked expression, parsed from rule text."""
    return parse_ruleset(f'ruleset p ""\ndefine e = {text}\n').definitions[0].expr


# ---------------------------------------------------------------------------------------
# 1. The interpreter and the compiler agree.


@given(ruleset=S.typed_rulesets(), facts=st.lists(S.fact_values(), min_size=1, max_size=4))
def test_interpreter_and_compiler_agree(ruleset, facts):
    loaded = Loaded(ruleset)
    notes = [r for r in loaded.checked.rules if r.kind == "note"]
    for values in facts:
        codes = loaded.compiled(values)
        assert len(codes) == len(loaded.rules)
        for rule, code in zip(loaded.rules, codes):
            status, _ = loaded.interpreter.verdict(rule, values)
            reported = REPORTED.get((bool(rule.disputed), bool(rule.unconfirmed), status), status)
            assert STATUS_BY_CODE[code] is reported, f"rule {rule.id} on {values!r}"
            event(f"verdict {status}")
            # The explaining path returns the same verdict, and each reason names what it is about.
            outcome = loaded.interpreter.evaluate(rule, values)
            assert outcome.status is reported
            assert bool(outcome.caveat) == (reported is not status)
            for condition in (*outcome.applies_because, *outcome.reasons):
                assert_names_its_fact_and_value(condition)
        # A note applies exactly when a rule with its applicability and `require false` fails.
        for note_rule, code in zip(notes, loaded.note_codes(values)):
            applies = loaded.interpreter.note(note_rule, values).applies
            assert applies is NOTE_APPLIES[STATUS_BY_CODE[code]], note_rule.id


def facts_of(values: dict, name: str) -> Facts:
    """A source's Facts, each value from ``name``."""
    return Facts(values, dict.fromkeys(values, name), name=name)


def reported(loaded, rule, values) -> tuple[Status, Status]:
    """(plain verdict, reported verdict) of a rule by the interpreter."""
    status = loaded.interpreter.verdict(rule, values)[0]
    return status, caveated(rule, status)[0]


def per_policy_verdict(loaded, rule, views) -> Status:
    """The documented verdict of a rule decided on each policy's own settings: it fails when it
    fails on one, else is unknown when the sources disagree about it on one (a disputed rule
    that would fail there), else passes when it passes on one, else is unknown when it is
    unknown on one, else does not apply."""
    each = [reported(loaded, rule, view) for view in views]
    for plain, wanted in ((None, FAIL), (FAIL, UNKNOWN), (None, PASS), (None, UNKNOWN)):
        if any(r is wanted and (plain is None or p is plain) for p, r in each):
            return wanted
    return NOT_APPLICABLE


@given(rulesets=S.several_rulesets(), sources=S.fact_sources())
def test_engine_verdicts_agree_with_the_interpreter_on_merged_policies(rulesets, sources):
    policies, device = sources
    texts = [print_ruleset(r) for r in rulesets]
    note("\n".join(texts))
    loaded = [compile_text(text, f"{r.id}.rules", S.VOCABULARY) for r, text in zip(rulesets, texts)]
    engine = Engine(loaded, S.VOCABULARY)
    facts = merge_facts([*(facts_of(p, f"policy {i}") for i, p in enumerate(policies)), facts_of(device, "device")])
    event(f"{len(facts.profiles)} profiles, {len(facts.conflicts)} conflicts")
    values = engine.resolved(facts.table)
    # What each policy alone sets, with everything else as merged.
    views = [{**{f: v for f, v in values.items() if not f.startswith("policy.")}, **p.table} for p in facts.profiles]
    fast = {o.rule: o.status for o in engine.evaluate(facts).outcomes}
    explained = {o.rule: o.status for o in engine.evaluate(facts, explain_all=True).outcomes}
    codes = dict(
        zip([r.id for one in loaded for r in one.rules], [c for row in engine.verdicts(facts.table) for c in row])
    )
    for one in loaded:
        for rule in one.rules:
            if len(views) > 1 and set(n.facts_read(rule.applicability, *rule.requires)) & S.PER_POLICY:
                expected = per_policy_verdict(one, rule, views)
                event("decided per policy")
            else:
                expected = reported(one, rule, values)[1]
                assert STATUS_BY_CODE[codes[rule.id]] is expected, rule.id  # the fleet's fast path
            assert fast[rule.id] is explained[rule.id] is expected, rule.id


# ---------------------------------------------------------------------------------------
# 2. Printing and parsing are inverse.


@given(S.syntactic_rulesets())
def test_parse_print_round_trip(ruleset):
    text = print_ruleset(ruleset)
    note(text)
    parsed = parse_ruleset(text)
    assert parsed == ruleset
    assert print_ruleset(parsed) == text


@given(S.typed_rulesets())
def test_parse_print_round_trip_typed(ruleset):
    text = print_ruleset(ruleset)
    note(text)
    parsed = parse_ruleset(text)
    assert parsed == ruleset
    assert print_ruleset(parsed) == text


# ---------------------------------------------------------------------------------------
# 3. Any text: a ruleset or a RulesError located inside the text, never another exception.


def assert_parses_or_located_error(text: str) -> n.Ruleset | None:
    try:
        return parse_ruleset(text)
    except RulesError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            if currently_in_test_context():
                event(f"diagnostic {diagnostic.code}")
            assert diagnostic.span is not None, diagnostic
            assert 0 <= diagnostic.span.start <= diagnostic.span.end <= len(text), diagnostic
            assert diagnostic.render()
        return None


@given(st.text())
def test_any_text_parses_or_raises_rules_error(text):
    assert_parses_or_located_error(text)


@given(st.one_of(S.fragment_texts(), S.ruleset_texts()))
def test_fragment_text_parses_or_raises_rules_error(text):
    assert_parses_or_located_error(text)


@given(S.grammar_texts())
def test_grammar_generated_text_parses(text):
    try:
        ruleset = parse_ruleset(text)
    except RulesError as exc:
        # The only refusal allowed for grammatical text is the nesting limit.
        assert {d.code for d in exc.diagnostics} == {"E002"}, exc.render()
        event("nested too deep")
    else:
        printed = print_ruleset(ruleset)
        note(printed)
        again = parse_ruleset(printed)
        assert again == ruleset
        assert print_ruleset(again) == printed


# ---------------------------------------------------------------------------------------
# 4. Kleene's three-valued logic, through both evaluators.


def k_not(a):
    return None if a is None else not a


def k_and(*xs):
    return False if False in xs else None if None in xs else True


def k_or(*xs):
    return True if True in xs else None if None in xs else False


def k_implies(a, b):
    return k_or(k_not(a), b)


def k_if(c, a, b):
    return k_and(k_implies(c, a), k_implies(k_not(c), b))


def rule_status(applies, holds) -> Status:
    """The documented verdict: not applicable, unknown when applicability is unknown and it does not pass."""
    if applies is False:
        return NOT_APPLICABLE
    if applies is None and holds is not True:
        return UNKNOWN
    return {True: PASS, False: FAIL, None: UNKNOWN}[holds]


@given(
    a=S.conditions(),
    b=S.conditions(),
    c=S.conditions(),
    facts=st.lists(S.fact_values(), min_size=1, max_size=4),
)
def test_kleene_laws(a, b, c, facts):
    forms = {
        "A": a, "B": b, "C": c,
        "A and B": n.And((a, b)),
        "A or B": n.Or((a, b)),
        "not A": n.Not(a),
        "not not A": n.Not(n.Not(a)),
        "A implies B": n.Implies(a, b),
        "not A or B": n.Or((n.Not(a), b)),
        "if C then A else B": n.Conditional(c, a, b),
        "(C implies A) and (not C implies B)": n.And((n.Implies(c, a), n.Implies(n.Not(c), b))),
        "not (A and B)": n.Not(n.And((a, b))),
        "not A or not B": n.Or((n.Not(a), n.Not(b))),
        "not (A or B)": n.Not(n.Or((a, b))),
        "not A and not B": n.And((n.Not(a), n.Not(b))),
    }  # fmt: skip
    labels = list(forms)
    ruleset = ruleset_of(*forms.values())
    guarded = n.Rule("G-0", "", applicability=a, requires=(b,))
    loaded = Loaded(attrs.evolve(ruleset, rules=ruleset.rules + (guarded,)))
    for values in facts:
        for statuses in (loaded.compiled_statuses(values), loaded.interpreted_statuses(values)):
            t = {label: TRUTH[statuses[f"K-{i}"]] for i, label in enumerate(labels)}
            A, B, C = t["A"], t["B"], t["C"]
            event(f"A={A} B={B}")
            # truth tables
            assert t["A and B"] == k_and(A, B)
            assert t["A or B"] == k_or(A, B)
            assert t["not A"] == k_not(A)
            assert t["A implies B"] == k_implies(A, B)
            assert t["if C then A else B"] == k_if(C, A, B)
            # laws
            assert t["not (A and B)"] == t["not A or not B"]
            assert t["not (A or B)"] == t["not A and not B"]
            assert t["not not A"] == A
            assert t["A implies B"] == t["not A or B"]
            assert t["if C then A else B"] == t["(C implies A) and (not C implies B)"]
            # applicability: `when A require B`
            assert statuses["G-0"] is rule_status(A, B)
        # and the interpreter's own eval gives the same truth as the rule verdict
        interpreted = loaded.interpreted_statuses(values)
        for i, rule in enumerate(loaded.rules[: len(labels)]):
            assert loaded.interpreter.decide(rule.requires[0], values, {})[0] == TRUTH[interpreted[f"K-{i}"]]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("false and policy.flag", FAIL),
        ("policy.flag and false", FAIL),
        ("true and policy.flag", UNKNOWN),
        ("true or policy.flag", PASS),
        ("policy.flag or true", PASS),
        ("false or policy.flag", UNKNOWN),
        ("not policy.flag", UNKNOWN),
        ("policy.flag implies true", PASS),
        ("false implies policy.flag", PASS),
        ("true implies policy.flag", UNKNOWN),
        ("policy.flag implies false", UNKNOWN),
        ("if policy.flag then true else true", PASS),
        ("if policy.flag then true else false", UNKNOWN),
        ("if true then policy.flag else false", UNKNOWN),
        ("if false then policy.flag else true", PASS),
    ],
)
def test_kleene_with_an_unknown_fact(condition, expected):
    loaded = Loaded(ruleset_of(parse_expr(condition)))
    assert loaded.statuses({"policy.enabled": True}) == {"K-0": expected}


# Records of device.volumes: one whose `encrypted` is true, one whose `encrypted` is not given.
ENCRYPTED, UNSAID = {"encrypted": True}, {}
COUNTED = "count(x in device.volumes: x.encrypted)"


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        (f"{COUNTED} == 0", {"device.volumes": (UNSAID,)}, UNKNOWN),
        (f"{COUNTED} >= 1", {"device.volumes": (ENCRYPTED, UNSAID)}, UNKNOWN),
        (f"{COUNTED} == 1", {"device.volumes": (ENCRYPTED, {"encrypted": False})}, PASS),
        (f"{COUNTED} == 0", {}, UNKNOWN),
        (f"{COUNTED} == 0", {"device.volumes": ()}, PASS),
        ("any x in device.volumes: x.encrypted", {"device.volumes": (UNSAID, {"encrypted": False})}, UNKNOWN),
        ("all x in device.volumes: x.encrypted", {"device.volumes": (ENCRYPTED, UNSAID)}, UNKNOWN),
        ("any x in device.volumes: x.encrypted", {"device.volumes": (UNSAID, ENCRYPTED)}, PASS),
        ("policy.mode == policy.other_mode", {"policy.mode": "Require"}, UNKNOWN),
        ("policy.mode != policy.other_mode", {"policy.other_mode": "Require"}, UNKNOWN),
        ("policy.mode == policy.other_mode", {"policy.mode": "Require", "policy.other_mode": "Block"}, FAIL),
        ("device.os_version >= policy.min_os_version", {"device.os_version": WindowsVersion(10, 0, 17763)}, UNKNOWN),
    ],
    ids=[
        "count-of-an-unknown-record",
        "count-with-one-record-unknown",
        "count-all-known",
        "count-of-a-missing-collection",
        "count-of-an-empty-collection",
        "any-with-one-record-unknown",
        "all-with-one-record-unknown",
        "any-with-one-record-true",
        "fact-equals-a-missing-fact",
        "missing-fact-differs-from-a-fact",
        "two-known-facts",
        "version-against-a-missing-version",
    ],
)
def test_counts_quantifiers_and_comparisons_of_two_facts_with_something_missing(condition, values, expected):
    """Guards `count(x in c: cond)`, `any`, `all` and a comparison of two facts in both evaluators
    (language.md, Three-valued logic and Empty collections): a count is unknown when its
    collection is missing or its condition is unknown for any record (never a count of the known
    ones), 0 on an empty collection; `any` and `all` are Kleene's `or` and `and` over the records;
    a comparison is unknown when either fact is missing. Verdicts by hand."""
    loaded = Loaded(ruleset_of(parse_expr(condition)))
    assert loaded.statuses(values) == {"K-0": expected}


def test_a_note_without_when_always_applies():
    """Guards a note's applicability (language.md: a rule without `when` always applies; a note
    lists whether it applies, None when that cannot be told): true without `when`, else the
    truth of its `when`, by hand, in the interpreter and in the note's compiled stand-in."""
    ruleset = n.Ruleset(
        "notes",
        "",
        rules=(n.Rule("N-0", "", kind="note"), n.Rule("N-1", "", kind="note", applicability=parse_expr("policy.flag"))),
    )
    loaded = Loaded(ruleset)
    always, flagged = loaded.checked.rules
    for flag, applies in ((True, True), (False, False), (None, None)):
        values = {} if flag is None else {"policy.flag": flag}
        assert loaded.interpreter.note(always, values).applies is True
        assert loaded.interpreter.note(flagged, values).applies is applies
        assert [NOTE_APPLIES[STATUS_BY_CODE[c]] for c in loaded.note_codes(values)] == [True, applies]


THREE = (True, False, None)  # a bool fact's value; None: not given


@pytest.mark.parametrize(
    ("when", "require", "truths"),
    [
        # (applicability, requirement, their truths by hand from the values of flag, enabled, tpm)
        ("policy.flag", "policy.enabled and device.tpm_present", lambda f, e, t: (f, k_and(e, t))),
        ("policy.flag and policy.enabled", "device.tpm_present", lambda f, e, t: (k_and(f, e), t)),
        ("policy.flag", "policy.enabled or device.tpm_present", lambda f, e, t: (f, k_or(e, t))),
    ],
    ids=["flat-requirements", "flat-applicability", "three-valued"],
)
def test_applicability_table_on_every_value_of_three_facts(when, require, truths):
    """Guards the applicability table (language.md, Applicability) in both evaluators, brute
    force over every value of three bool facts. The first two shapes are conjunctions of
    one-fact tests, which the compiler decides without three-valued locals (``flat_rule``):
    an unknown `when` with a false requirement is unknown there too, and a false requirement
    outranks a missing one. The expected verdicts are Kleene's tables written out by hand."""
    loaded = Loaded(ruleset_of(parse_expr(require), applicability=parse_expr(when)))
    for f, e, t in itertools.product(THREE, repeat=3):
        given = {"policy.flag": f, "policy.enabled": e, "device.tpm_present": t}
        values = {fact: v for fact, v in given.items() if v is not None}
        assert loaded.statuses(values) == {"K-0": rule_status(*truths(f, e, t))}, values


# ---------------------------------------------------------------------------------------
# 5. Absent facts are missing, never false.


@st.composite
def atoms_on_one_fact(draw):
    """A fact and comparisons / membership tests that mention only that fact."""
    fact, kind = draw(st.sampled_from(sorted(S.SCALAR_FACTS.items())))
    op = draw(st.sampled_from(S.ALL_OPS if kind in S.ORDERED else S.EQUALITY_OPS))
    literal = draw(S.literals_of(kind))
    items = tuple(draw(st.lists(S.literals_of(kind), min_size=1, max_size=3)))
    ref = S.name(fact)
    atoms = [n.Compare(op, ref, literal), n.Member(ref, items, draw(st.booleans())), n.Compare(op, literal, ref)]
    if kind == "bool":
        atoms += [ref, n.Compare("==", ref, n.Literal(False, "bool")), n.Compare("!=", ref, n.Literal(True, "bool"))]
    return fact, atoms


@given(case=atoms_on_one_fact(), data=st.data())
def test_absent_fact_is_missing_never_false(case, data):
    fact, atoms = case
    values = data.draw(S.fact_values(exclude=frozenset({fact})), label="values")
    ref = S.name(fact)
    ruleset = ruleset_of(*atoms, *(n.Not(a) for a in atoms), n.Presence(ref, False), n.Presence(ref, True))
    loaded = Loaded(ruleset)
    statuses = loaded.statuses(values)
    *unknowns, missing, present = [statuses[r.id] for r in loaded.rules]
    assert unknowns == [UNKNOWN] * len(unknowns)
    assert (missing, present) == (PASS, FAIL)
    for rule in loaded.rules[: len(unknowns)]:
        assert fact in loaded.interpreter.evaluate(rule, values).missing_facts


@given(data=st.data(), quantifier=st.sampled_from(["any", "all"]), field=st.sampled_from(sorted(S.FIELDS)))
def test_absent_collection_and_absent_fields_are_missing(data, quantifier, field):
    kind = S.FIELDS[field]
    x_field = n.Name(("x", field))
    literal = data.draw(S.literals_of(kind), label="literal")
    op = data.draw(st.sampled_from(S.ALL_OPS if kind in S.ORDERED else S.EQUALITY_OPS), label="op")
    volumes = S.name(S.COLLECTION)
    compare = n.Compare(op, x_field, literal)
    ruleset = ruleset_of(
        n.Quantified(quantifier, "x", volumes, compare),
        n.Quantified(quantifier, "x", volumes, n.Not(compare)),
        n.Compare(">=", n.Count(volumes), n.Literal(0, "integer")),
        n.Compare(">=", n.Count(volumes, "x", compare), n.Literal(0, "integer")),
        n.Quantified(quantifier, "x", volumes, n.Presence(x_field, False)),
    )
    loaded = Loaded(ruleset)
    # No collection at all: everything about it is unknown, and `is missing` on its fields too.
    no_collection = data.draw(S.fact_values(exclude=frozenset({S.COLLECTION})), label="values")
    assert list(loaded.statuses(no_collection).values()) == [UNKNOWN] * 5
    # Records without the field: the comparison is unknown, `is missing` is true.
    records = data.draw(
        st.lists(S.records().filter(lambda r: field not in r), min_size=1, max_size=3).map(tuple), label="records"
    )
    statuses = loaded.statuses({**no_collection, S.COLLECTION: records})
    assert list(statuses.values()) == [UNKNOWN, UNKNOWN, PASS, UNKNOWN, PASS]


# ---------------------------------------------------------------------------------------
# 6. Windows versions.

builds = st.integers(0, 10**6)
revisions = st.integers(0, 10**4)


@given(a=builds, b=builds, ra=revisions, rb=revisions)
def test_windows_versions_order_like_build_then_revision(a, b, ra, rb):
    va, vb = WindowsVersion(10, 0, a, ra), WindowsVersion(10, 0, b, rb)
    for op in OPERATORS.values():
        assert op(va, vb) == op((a, ra), (b, rb))
    pa, pb = parse_windows_version(f"10.0.{a}", {}), parse_windows_version(f"10.0.{b}", {})
    assert (pa < pb) == (a < b)
    assert (pa == pb) == (a == b)


@given(build=builds, revision=revisions, pad=st.sampled_from(["", " ", "\t", " \n"]))
# The lowest number that is a build (language.md, Windows versions: "numbers from 10240 up"), and
# the one below it, which names no release and is refused.
@example(build=10240, revision=0, pad="")
@example(build=10239, revision=0, pad="")
def test_parse_windows_version_accepts_dotted_builds_and_numbers(build, revision, pad):
    assert parse_windows_version(f"{pad}10.0.{build}.{revision}{pad}", {}) == WindowsVersion(10, 0, build, revision)
    assert parse_windows_version(f"10.0.{build}", {}) == WindowsVersion(10, 0, build, 0)
    version = WindowsVersion(10, 0, build, revision)
    assert parse_windows_version(str(version), {}) == version
    assert parse_windows_version(version, {}) is version
    if build >= 10240:
        assert parse_windows_version(build, {}) == WindowsVersion(10, 0, build, 0)
        assert parse_windows_version(str(build), {}) == WindowsVersion(10, 0, build, 0)
    else:
        with pytest.raises(ValueError):
            parse_windows_version(build, {})


@given(release=st.sampled_from(sorted(S.RELEASES)), spelling=st.sampled_from([str, str.lower, str.upper, "nospace"]))
def test_parse_windows_version_reads_release_names(release, spelling):
    table = S.VOCABULARY.releases
    written = release.replace(" ", "") if spelling == "nospace" else spelling(release)
    assert parse_windows_version(written, table) == parse_windows_version(S.RELEASES[release], {})
    if release.isdigit():
        assert parse_windows_version(int(release), table) == table[release]


@given(value=st.one_of(st.booleans(), st.just(""), st.just("10.0"), st.just("21H2"), st.integers(0, 10239)))
def test_parse_windows_version_refuses_non_versions(value):
    with pytest.raises(ValueError):
        parse_windows_version(value, {})


def version_literal(build: int, form: str) -> n.Literal:
    if form == "dotted":
        return n.Literal(f"10.0.{build}", "version")
    if form == "string":
        return n.Literal(f"10.0.{build}", "string")
    return n.Literal(build, "integer")


@given(
    fact_build=st.integers(9000, 30000),
    revision=st.integers(0, 3),
    rule_build=st.integers(9000, 30000),
    form=st.sampled_from(["dotted", "string", "integer"]),
)
@example(fact_build=9999, revision=0, rule_build=10000, form="dotted")
@example(fact_build=9999, revision=0, rule_build=10000, form="string")
@example(fact_build=10000, revision=0, rule_build=10000, form="string")
def test_rules_compare_versions_in_version_order(fact_build, revision, rule_build, form):
    if form == "integer":
        rule_build = max(rule_build, 10240)  # a bare number below 10240 is not a build
    literal = version_literal(rule_build, form)
    ops = sorted(OPERATORS)
    fact = S.name("device.os_version")
    loaded = Loaded(ruleset_of(*(n.Compare(op, fact, literal) for op in ops)))
    statuses = loaded.statuses({"device.os_version": WindowsVersion(10, 0, fact_build, revision)})
    expected = [OPERATORS[op]((fact_build, revision), (rule_build, 0)) for op in ops]
    assert [TRUTH[statuses[f"K-{i}"]] for i in range(len(ops))] == expected


@given(release=st.sampled_from(sorted(S.RELEASES)), version=S.versions())
def test_rules_compare_release_names_as_versions(release, version):
    written = {"1507": n.Literal(1507, "integer"), "1809": n.Literal(1809, "integer"),
               "21H2": n.Literal("21H2", "version")}.get(release, n.Literal(release, "string"))  # fmt: skip
    fact = S.name("device.os_version")
    loaded = Loaded(ruleset_of(n.Compare(">=", fact, written), n.Compare("<", fact, written)))
    statuses = loaded.statuses({"device.os_version": version})
    at_least = version >= S.VOCABULARY.releases[release]
    assert statuses == {"K-0": PASS if at_least else FAIL, "K-1": FAIL if at_least else PASS}


def test_version_order_is_not_string_order():
    assert "10.0.9999" > "10.0.10000"  # what a string comparison would say
    loaded = Loaded(ruleset_of(parse_expr("device.os_version < 10.0.10000")))
    assert loaded.statuses({"device.os_version": WindowsVersion(10, 0, 9999)}) == {"K-0": PASS}


# ---------------------------------------------------------------------------------------
# Bugs the properties above found, kept as regression tests now that they are fixed.


def test_fixed_string_version_on_the_left():
    left = Loaded(ruleset_of(parse_expr('"10.0.17763" <= device.os_version')))  # raises E404 today
    right = Loaded(ruleset_of(parse_expr('device.os_version >= "10.0.17763"')))
    values = {"device.os_version": WindowsVersion(10, 0, 17763)}
    assert left.statuses(values) == right.statuses(values) == {"K-0": PASS}


@pytest.mark.parametrize(
    "text",
    [
        'ruleset r ""\nrule R-1 "" require policy.min_pin_length == ' + "9" * 5000,
        'ruleset r ""\nrule R-1 "" events ' + "9" * 5000 + "\n  require true",
    ],
    ids=["integer-literal", "events"],
)
def test_fixed_huge_integer_is_not_a_rules_error(text):
    assert_parses_or_located_error(text)


def test_fixed_huge_decimal_does_not_print_back():
    text = 'ruleset r ""\nrule R-1 "" require device.tpm_version < ' + "9" * 400 + ".0\n"
    ruleset = assert_parses_or_located_error(text)  # a RulesError here would be a fine fix too
    assert ruleset is None or parse_ruleset(print_ruleset(ruleset)) == ruleset


def _bytecode_size(condition: str) -> int:
    lines = ['ruleset r ""', *(f"define d{i} = {d}" for i, d in enumerate(_DEFINITIONS)), ""]
    checked = check_ruleset(parse_ruleset("\n".join(lines) + f'rule R-1 ""\n  require {condition}\n'), S.VOCABULARY)
    return len(compile_ruleset(checked).__code__.co_code)


_DEFINITIONS = ["policy.flag", *(f"d{i} and d{i}" for i in range(10))]


def _nested_ifs(depth: int) -> str:
    body = "policy.flag"
    for _ in range(depth):
        body = f"if policy.enabled then ({body}) else policy.flag"
    return body


@pytest.mark.parametrize("shape", ["if-then-else", "definitions"])
def test_fixed_compiled_code_grows_linearly(shape):
    if shape == "if-then-else":
        small, large = _bytecode_size(_nested_ifs(4)), _bytecode_size(_nested_ifs(8))
    else:
        small, large = _bytecode_size("d4"), _bytecode_size("d8")
    # Twice the nesting should give about twice the code, not 2**4 times as much.
    assert large < 4 * small


def test_fixed_oversized_text_is_refused_with_a_located_error():
    with pytest.raises(RulesError) as info:
        parse_ruleset("#" * 1_000_001)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "E001" and diagnostic.span is not None


@pytest.mark.parametrize("raw", ["²", "1" * 4400], ids=["superscript", "4400-digits"])
def test_a_version_of_odd_digits_is_refused_in_the_tools_words(raw):
    with pytest.raises(ValueError, match=r"^a Windows version"):
        parse_windows_version(raw, {})


def test_fixed_compiled_rules_share_no_atoms_across_vocabularies():
    # `policy.x == true` (bool) and `policy.x == 1` (integer) are equal nodes to Python (1 == True):
    # compiled one after the other, the second once took the first's atoms, and its `not`
    # became `policy.x == false`, so -2 made the rule not apply.
    text = 'ruleset r ""\nrule R-1 ""\n  when not (policy.x == {c})\n  require policy.x == {c}\n'
    typed = {
        kind: build_vocabulary({"facts": [{"name": "policy.x", "type": kind, "label": "X"}]})
        for kind in ("bool", "integer")
    }
    compile_ruleset(check_ruleset(parse_ruleset(text.format(c="true")), typed["bool"]))
    verdicts = compile_ruleset(check_ruleset(parse_ruleset(text.format(c="1")), typed["integer"]))
    assert verdicts({"policy.x": -2}) == (1,)  # -2 is not 1: the rule applies, and fails
