"""The Python API as a user meets it: accepted spellings, wrong arguments, values, the decision.

1. Wrong arguments raise the library's own ``UsageError`` (also a ``TypeError`` and a
   ``ValueError``) saying what was expected; the documented spellings are accepted.
2. Raw values: anything a Python caller passes is typed or refused with ``InputError``, never
   a traceback; numbers are written with the digits 0-9 only (integers, decimals, versions).
3. Intune exports load through ``load_policies`` / ``load_devices``, exported at the top.
4. ``Engine.decide`` and ``Engine.passes`` equal what the full report implies (an oracle
   written here, from the outcomes), over Hypothesis-generated rulesets and devices, and over
   the shipped rulesets with devices drawn from the shipped vocabulary, merged policies included.
5. Every public name has a docstring.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import MappingProxyType

import pytest
import strategies as S
from hypothesis import example, given, note
from hypothesis import strategies as st

import bitlocker_rules
from bitlocker_rules import (
    BitLockerRulesError,
    Decision,
    Engine,
    Facts,
    ImportedPolicy,
    InputError,
    Report,
    Status,
    UsageError,
    WindowsVersion,
    compile_text,
    facts_from_mapping,
    load_devices,
    load_policies,
    load_policy_file,
    load_ruleset,
    merge_facts,
    print_ruleset,
    shipped_vocabulary,
)
from bitlocker_rules import nodes as n

ROOT = Path(__file__).resolve().parent.parent
GRAPH = ROOT / "examples" / "graph"
SEVERITY = {"error": 0, "warning": 1, "info": 2}

SILENT = Engine.load(["silent_enablement"])
EVERYTHING = Engine.load()  # every shipped ruleset, no scenario declared: each is inferred
LEGACY = {"device.os_version": "1803", "device.user_role": "StandardUser"}  # fails SE-02


def usage(error: pytest.ExceptionInfo) -> str:
    """The one diagnostic of a UsageError, rendered."""
    assert isinstance(error.value, UsageError) and isinstance(error.value, BitLockerRulesError)
    assert len(error.value.diagnostics) == 1
    return error.value.diagnostics[0].render()


# ---------------------------------------------------------------------------------------
# 1. Spellings and wrong arguments.


def test_count_accepts_a_status_or_its_value():
    report = SILENT.evaluate(LEGACY)
    assert report.count(Status.FAIL) == 1
    assert report.count("fail") == 1
    assert report.count("not_applicable") == report.count(Status.NOT_APPLICABLE) == 1
    assert sum(report.count(s.value) for s in Status) == len(report.outcomes)


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("nonsense", "got 'nonsense'"),
        ("failed", "did you mean `fail`?"),
        ("FAIL", "did you mean `fail`?"),
        (3, "got the int 3"),
        (None, "got the NoneType None"),
    ],
)
def test_count_refuses_other_spellings(status, says):
    report = SILENT.evaluate(LEGACY)
    with pytest.raises(UsageError) as error:
        report.count(status)
    text = usage(error)
    assert "Report.count(status)" in text and '"pass", "fail", "unknown", "not_applicable"' in text
    assert says in text
    with pytest.raises((TypeError, ValueError)):  # what Python code catches for a bad argument
        report.count(status)


def test_exit_code_and_decision_refuse_an_unknown_severity():
    report = SILENT.evaluate(LEGACY)
    with pytest.raises(UsageError) as error:
        report.exit_code("errors")
    assert "one of error, warning, info" in usage(error) and "did you mean `error`?" in usage(error)
    with pytest.raises(UsageError):
        report.decision("critical")
    assert report.exit_code("error") == 1


def test_load_refuses_a_bare_string():
    with pytest.raises(UsageError) as error:
        Engine.load("silent_enablement")
    text = usage(error)
    assert "a list of ruleset names or paths" in text and "write Engine.load(['silent_enablement'])" in text
    with pytest.raises(UsageError):
        Engine.load(Path("rulesets/silent_enablement.rules"))
    with pytest.raises(UsageError) as error:
        Engine.load(["silent_enablement", 3])
    assert "got the int 3" in usage(error)
    assert [r.id for r in Engine.load([Path("rulesets/silent_enablement.rules")]).rulesets] == ["silent_enablement"]


def test_scenarios_refuse_a_bare_string():
    with pytest.raises(UsageError) as error:
        Engine.load(["key_rotation"], scenarios="silent_enablement")
    assert "write ['silent_enablement']" in usage(error)
    with pytest.raises(UsageError):
        Engine(SILENT.rulesets, scenarios=[("silent_enablement",)])


def test_engine_takes_loaded_rulesets_only():
    with pytest.raises(UsageError) as error:
        Engine(["silent_enablement"])
    assert "Engine.load([...]) loads rulesets by name or path" in usage(error)
    with pytest.raises(UsageError):
        Engine(load_ruleset("silent_enablement"))  # one record, not a list of them
    with pytest.raises(UsageError) as error:
        Engine(SILENT.rulesets, vocabulary="rulesets/vocabulary.toml")
    assert "a Vocabulary" in usage(error)


@pytest.mark.parametrize("facts", [[LEGACY], "device.os_version=1809", 1809, None])
def test_evaluate_refuses_what_is_not_one_device(facts):
    for call in (SILENT.evaluate, SILENT.decide, SILENT.passes):
        with pytest.raises(UsageError) as error:
            call(facts)
        assert "expected a Facts record or a mapping {fact name: value}" in usage(error)


def test_other_entry_points_check_their_arguments():
    with pytest.raises(UsageError):
        compile_text(b'ruleset x "x"')
    with pytest.raises(UsageError):
        load_ruleset(3)
    with pytest.raises(UsageError):
        facts_from_mapping([("device.os_version", "1809")])
    with pytest.raises(UsageError):
        SILENT.facts("device.os_version")
    with pytest.raises(UsageError):
        load_policy_file(3)
    with pytest.raises(UsageError):
        merge_facts(Facts({}))
    with pytest.raises(UsageError) as error:
        SILENT.verdicts([("device.os_version", "1809")])
    assert "a mapping {fact name: typed value}" in usage(error)


def test_a_fact_name_that_is_not_a_string_is_an_input_error():
    with pytest.raises(InputError) as error:
        SILENT.evaluate({1809: "device.os_version"})
    assert error.value.diagnostics[0].code == "I202"
    assert "a fact name must be a string, not the int 1809" in error.value.diagnostics[0].message


def test_facts_built_by_hand_must_hold_typed_values():
    facts = Facts({"device.os_version": "1809", "device.tpm_present": "true"})
    with pytest.raises(UsageError) as error:
        SILENT.evaluate(facts)
    found = {d.message for d in error.value.diagnostics}
    assert found == {
        "`device.os_version` holds the str '1809', not a typed version value",
        "`device.tpm_present` holds the str 'true', not a typed bool value",
    }
    assert "engine.facts(" in error.value.diagnostics[0].help
    with pytest.raises(UsageError):  # the decision trusts Facts, but a comparison that breaks says why
        SILENT.decide(
            Facts(
                {
                    "device.os_version": "1809",
                    "device.user_role": "StandardUser",
                    "policy.require_device_encryption": "Require",
                }
            )
        )
    assert SILENT.evaluate(SILENT.facts({"device.os_version": "1809"})).count("fail") == 0


# ---------------------------------------------------------------------------------------
# 2. Raw values from Python.


class Opaque:
    """A Python object that is not JSON."""


@pytest.mark.parametrize("value", [object(), Opaque(), {1, 2}, b"1809", 3 + 4j, [object()]])
def test_a_value_that_is_not_json_is_an_input_error(value):
    for fact in (
        "device.system_partition_mb",
        "device.os_version",
        "device.tpm_version",
        "device.user_role",
        "device.tpm_present",
        "device.volumes",
    ):
        with pytest.raises(InputError) as error:
            SILENT.evaluate({fact: value})
        (diagnostic,) = error.value.diagnostics
        assert diagnostic.code == "I201" and fact in diagnostic.message and diagnostic.help.startswith("expected")


@pytest.mark.parametrize(
    ("fact", "raw"),
    [
        ("device.system_partition_mb", "٣٥٠"),  # Arabic-Indic digits
        ("device.system_partition_mb", "３５０"),  # fullwidth digits
        ("device.os_version", "١٧٧٦٣"),
        ("device.os_version", "10.0.١٧٧٦٣.1"),
        ("device.tpm_version", "٢.٠"),
    ],
)
def test_numbers_are_written_with_the_digits_0_to_9(fact, raw):
    with pytest.raises(InputError) as error:
        SILENT.evaluate({fact: raw})
    (diagnostic,) = error.value.diagnostics
    assert diagnostic.code == "I201" and fact in diagnostic.message
    assert "with the digits 0-9 only (this value has other digits:" in diagnostic.help


@pytest.mark.parametrize(
    ("fact", "raw", "typed"),
    [
        ("device.system_partition_mb", " 350 ", 350),
        ("device.system_partition_mb", "-1", -1),
        ("device.os_version", "17763", WindowsVersion(10, 0, 17763, 0)),
        ("device.os_version", " 10.0.17763.1 ", WindowsVersion(10, 0, 17763, 1)),
        ("device.tpm_version", "2.0", 2.0),
        ("device.tpm_version", "1e0", 1.0),
    ],
)
def test_ascii_numbers_still_convert(fact, raw, typed):
    assert SILENT.facts({fact: raw}).values[fact] == typed


@pytest.mark.parametrize("raw", ["1_000", "infinity", "nan", "0x10"])
def test_a_decimal_is_plain_digits(raw):
    with pytest.raises(InputError):
        SILENT.facts({"device.tpm_version": raw})


def python_values() -> st.SearchStrategy:
    """Anything a Python caller might put in a dict."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=12),
        st.binary(max_size=4),
        st.builds(object),
        st.builds(Opaque),
        st.complex_numbers(),
        st.sampled_from(["1809", "Require", "UEFI"]),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3)
            | st.tuples(inner)
        ),
        max_leaves=6,
    )


@given(fact=st.sampled_from(sorted(shipped_vocabulary().facts)), value=python_values())
@example(fact="device.system_partition_mb", value=object())
def test_any_python_value_is_typed_or_refused(fact, value):
    try:
        report = EVERYTHING.evaluate({fact: value})
    except InputError as error:
        assert all(d.code in ("I201", "I202") for d in error.diagnostics)
        assert all(isinstance(d.render(), str) for d in error.diagnostics)
    else:
        assert isinstance(report, Report)


# ---------------------------------------------------------------------------------------
# 3. Intune exports from Python.


def test_graph_exports_load_through_the_top_level():
    policies = load_policies(GRAPH / "endpoint-protection-beta.json")
    (device,) = load_devices(GRAPH / "managed-device.json")
    assert [p.kind for p in policies] == ["graph-endpoint-protection"]
    assert isinstance(policies[0], ImportedPolicy) and policies[0].facts.values
    facts = merge_facts([*(p.facts for p in policies), device.facts], name=device.name)
    assert EVERYTHING.evaluate(facts).subject == device.name
    assert str(load_policies(str(GRAPH / "settings-catalog-bitlocker.json"))[0].kind) == "settings-catalog"


def test_the_project_reader_points_at_the_importer():
    with pytest.raises(InputError) as error:
        load_policy_file(GRAPH / "endpoint-protection-beta.json")
    assert "load_policies" in error.value.diagnostics[0].help


def test_merge_facts_says_to_pass_an_imports_facts():
    policies = load_policies(GRAPH / "endpoint-protection-beta.json")
    with pytest.raises(UsageError) as error:
        merge_facts(policies)
    assert "pass its .facts" in usage(error)


# ---------------------------------------------------------------------------------------
# 4. The decision equals what the report implies.


def implied(report: Report, fail_on: str) -> Decision:
    """The oracle: the first counted rule that fails, else the first that is unknown, else a pass."""
    counted = [o for o in report.outcomes if SEVERITY[o.severity] <= SEVERITY[fail_on]]
    for status in (Status.FAIL, Status.UNKNOWN):
        for o in counted:
            if o.status is status:
                return Decision(status, o.ruleset, o.rule, o.title, o.severity)
    return Decision(Status.PASS)


def check_decision(engine: Engine, facts: Facts) -> None:
    report = engine.evaluate(facts)
    for fail_on in SEVERITY:
        want = implied(report, fail_on)
        note(f"fail_on={fail_on}: {want}")
        assert engine.decide(facts, fail_on=fail_on) == want
        assert engine.passes(facts, fail_on=fail_on) is (want.status is Status.PASS)
        assert report.decision(fail_on) == want
        assert bool(want) is (want.status is Status.PASS)


@given(
    ruleset=S.typed_rulesets(),
    devices=st.lists(S.fact_values(), min_size=1, max_size=4),
    declared=st.sampled_from([(), ("alpha",), ("beta",)]),
)
def test_decision_equals_the_report_on_generated_rules(ruleset, devices, declared):
    text = print_ruleset(ruleset)
    note(text)
    engine = Engine([compile_text(text, vocabulary=S.VOCABULARY)], S.VOCABULARY, scenarios=declared)
    for values in devices:
        check_decision(engine, Facts(values))


def _constants() -> dict[str, list]:
    """Per fact, the constants the shipped rules (and scenario inferences) compare it with."""
    found: dict[str, list] = {}
    stack = [
        e
        for loaded in EVERYTHING.rulesets
        for rule in loaded.ruleset.rules
        for e in (rule.applicability, *rule.requires)
        if e is not None
    ]
    stack += [r.requires[0] for r in EVERYTHING.scenarios.checks.rules]
    while stack:
        node = stack.pop()
        if isinstance(node, n.Compare) and isinstance(node.left, n.FactRef) and isinstance(node.right, n.Const):
            found.setdefault(node.left.fact, []).append(node.right.value)
        stack.extend(n.children(node))
    return found


CONSTANTS = _constants()


def typed(fact_type, constants: list) -> st.SearchStrategy:
    """A typed value of a shipped fact type, near the constants rules compare it with."""
    kind = fact_type.kind
    if kind == "bool":
        return st.booleans()
    if kind == "enum":
        return st.sampled_from(fact_type.enum.member_names)
    if kind == "string":
        return st.sampled_from([*(c for c in constants if isinstance(c, str)), "", "x"])
    if kind == "version":
        near = [WindowsVersion(v.major, v.minor, v.build + d, v.revision) for v in constants for d in (-1, 0, 1)]
        releases = list(shipped_vocabulary().releases.values())
        return st.sampled_from(near + releases) if near + releases else S.versions()
    if kind in ("integer", "decimal"):
        near = sorted({c + d for c in constants if isinstance(c, (int, float)) for d in (-1, 0, 1)})
        drawn = st.sampled_from(near) if near else st.integers(0, 10)
        return drawn.map(float) if kind == "decimal" else drawn.map(int)
    fields = {f.name: typed(f.type, CONSTANTS.get(f.name, [])) for f in fact_type.fields}
    return st.lists(st.fixed_dictionaries({}, optional=fields).map(MappingProxyType), max_size=3).map(tuple)


def shipped_values(namespaces: tuple[str, ...]) -> st.SearchStrategy[dict]:
    """A device's or a policy's typed values: each fact of ``namespaces`` may be missing."""
    facts = [f for f in shipped_vocabulary().facts.values() if f.namespace in namespaces]
    return st.fixed_dictionaries({}, optional={f.name: typed(f.type, CONSTANTS.get(f.name, [])) for f in facts})


SHIPPED_ENGINES = {
    "every ruleset, scenarios inferred": EVERYTHING,
    "silent_enablement, its scenario declared": SILENT,
    "encryption_readiness and key_rotation": Engine(
        [load_ruleset("encryption_readiness"), load_ruleset("key_rotation")]
    ),
    "tenant_attach, interactive startup declared": Engine.load(["tenant_attach"], scenarios=["interactive_startup"]),
}


@given(
    engine=st.sampled_from(sorted(SHIPPED_ENGINES)),
    device=shipped_values(("device", "actor", "action", "tenant", "scenario")),
    policies=st.lists(shipped_values(("policy",)), min_size=1, max_size=3),
)
def test_decision_equals_the_report_on_shipped_rules(engine, device, policies):
    parts = [Facts(p, name=f"policy {i}") for i, p in enumerate(policies)] + [Facts(device, name="device")]
    facts = merge_facts(parts, name="device")  # several policies: conflicts, and rules decided per policy
    note(f"conflicts: {[c.fact for c in facts.conflicts]}")
    check_decision(SHIPPED_ENGINES[engine], facts)


def test_decision_takes_a_mapping_as_evaluate_does():
    assert SILENT.decide(LEGACY) == Decision(
        Status.FAIL, "silent_enablement", "SE-02", "Windows supports silent enablement for a standard user", "error"
    )
    assert SILENT.passes(LEGACY) is False
    assert SILENT.decide({}).status is Status.UNKNOWN and SILENT.passes({}) is False
    with pytest.raises(UsageError) as error:
        SILENT.decide({}, fail_on="errors")
    assert "Engine.decide(fail_on)" in usage(error)
    with pytest.raises(UsageError):
        SILENT.passes({}, fail_on=["error"])


def test_decision_stops_at_the_first_failing_rule():
    """A failure decides: the rules after it are not evaluated (a value they would choke on is never read)."""
    loaded = compile_text(
        """
ruleset order "Order"
rule O-1 "first"
  require device.tpm_present
rule O-2 "second"
  require device.os_version >= 1809
""",
        vocabulary=shipped_vocabulary(),
    )
    engine = Engine([loaded])
    broken = Facts({"device.tpm_present": False, "device.os_version": "not typed"})
    assert engine.decide(broken) == Decision(Status.FAIL, "order", "O-1", "first", "error")


# What a one-rule ruleset decides, from language.md: a missing fact makes a test unknown
# ("Missing is not NotConfigured"), Kleene's tables, the applicability table, and the
# `disputed` / `unconfirmed` caveats. Unknown is never a pass.
DECIDED = [
    # (when, require, caveat, facts, status)
    ("", "policy.tpm_startup_pin not in {Required}", "", {}, Status.UNKNOWN),
    ("", "policy.tpm_startup_pin not in {Required}", "", {"policy.tpm_startup_pin": "Blocked"}, Status.PASS),
    ("", "policy.tpm_startup_pin != Required", "", {}, Status.UNKNOWN),
    ("", "policy.tpm_startup_pin != Required", "", {"policy.tpm_startup_pin": "Required"}, Status.FAIL),
    ("", "not device.tpm_present", "", {}, Status.UNKNOWN),
    ("", "not device.tpm_present", "", {"device.tpm_present": False}, Status.PASS),
    ("", "device.tpm_present == false", "", {}, Status.UNKNOWN),
    ("", "device.tpm_present", 'disputed "they differ"', {"device.tpm_present": False}, Status.UNKNOWN),
    ("", "device.tpm_present", 'disputed "they differ"', {"device.tpm_present": True}, Status.PASS),
    ("", "device.tpm_present", 'unconfirmed "not named"', {"device.tpm_present": True}, Status.UNKNOWN),
    ("", "device.tpm_present", 'unconfirmed "not named"', {"device.tpm_present": False}, Status.FAIL),
    ("device.encrypted", "device.tpm_present", "", {"device.tpm_present": False}, Status.UNKNOWN),
    ("device.encrypted", "device.tpm_present", "", {"device.tpm_present": True}, Status.PASS),
    ("device.encrypted", "device.tpm_present", "", {"device.encrypted": False}, Status.PASS),
    (
        "device.encrypted",
        "device.tpm_present",
        "",
        {"device.encrypted": True, "device.tpm_present": False},
        Status.FAIL,
    ),
]


@pytest.mark.parametrize(("when", "require", "caveat", "facts", "status"), DECIDED)
def test_decide_and_passes_follow_the_documented_verdict_of_one_rule(when, require, caveat, facts, status):
    """Guards the compiled decision function's own two-valued tests (``compiler._Truth``), which
    share no code with the report's evaluators: a test of a missing fact is neither true nor
    false there, a disputed failure and an unconfirmed pass are unknown, and a rule that may
    not apply and does not pass is unknown. Expected statuses are language.md's, by hand."""
    clauses = "".join(f"\n  {c}" for c in (caveat, f"when {when}" if when else "", f"require {require}") if c)
    engine = Engine([compile_text(f'ruleset one "One"\nrule R-1 "r"{clauses}\n', vocabulary=shipped_vocabulary())])
    facts = engine.facts(facts)
    assert engine.decide(facts).status is status
    assert engine.passes(facts) is (status is Status.PASS)


# ---------------------------------------------------------------------------------------
# 5. Docstrings.


def test_every_public_name_and_method_has_a_docstring():
    missing = []
    for name in bitlocker_rules.__all__:
        obj = getattr(bitlocker_rules, name)
        if not (inspect.getdoc(obj) or "").strip():
            missing.append(name)
        if inspect.isclass(obj) and obj.__module__.split(".")[1] in ("engine", "outcome", "facts", "importers"):
            missing += [
                f"{name}.{m}"
                for m, v in vars(obj).items()
                if not m.startswith("_")
                and (callable(v) or isinstance(v, property))
                and not (inspect.getdoc(v) or "").strip()
            ]
    assert not missing, missing


def test_the_lazy_facade_names_each_public_name_once_and_where_it_lives():
    # bitlocker_rules/__init__ lists its names three times (for type checkers, for the lazy
    # import, and __all__): they must agree, and each must be defined where it says.
    import ast
    import importlib

    tree = ast.parse(Path(bitlocker_rules.__file__).read_text(encoding="utf-8"))
    eager = {
        alias.name: node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }
    assert eager == bitlocker_rules._HOMES
    assert sorted(bitlocker_rules.__all__) == sorted(bitlocker_rules._HOMES)
    for name, home in bitlocker_rules._HOMES.items():
        assert getattr(importlib.import_module(f"bitlocker_rules.{home}"), name) is getattr(bitlocker_rules, name)
