"""The shipped vocabulary is well formed and covers what the rules and the seed need."""

from __future__ import annotations

import math
import re
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules import VocabularyError, WindowsVersion, parse_windows_version
from bitlocker_rules.citations import load_requirements
from bitlocker_rules.engine import shipped_vocabulary
from bitlocker_rules.resources import rulesets_dir
from bitlocker_rules.vocabulary import build_vocabulary, parse_typed, value_converter

VOCABULARY = shipped_vocabulary()

REQUIRED_FACTS = [
    # Endpoint protection > Windows Encryption (seed S6-S11, Q2-Q4)
    "policy.require_device_encryption",
    "policy.warning_for_other_disk_encryption",
    "policy.allow_standard_user_encryption",
    "policy.tpm_startup",
    "policy.tpm_startup_pin",
    "policy.tpm_startup_key",
    "policy.tpm_startup_key_and_pin",
    "policy.recovery_password_rotation",
    "policy.os_save_recovery_to_azure_ad",
    "policy.os_require_recovery_backup_before_enabling",
    # device facts the seed and the failure causes need
    "device.os_version",
    "device.os_edition",
    "device.join_type",
    "device.user_role",
    "device.tpm_present",
    "device.tpm_version",
    "device.tpm_ready",
    "device.firmware_mode",
    "device.secure_boot",
    "device.winre_configured",
    "device.recovery_keys",
    "device.bootable_media_present",
]


@pytest.mark.parametrize("name", REQUIRED_FACTS)
def test_required_fact_is_declared_with_a_label(name):
    fact = VOCABULARY.fact(name)
    assert fact is not None and fact.label and fact.description


def test_policy_settings_have_origins():
    for fact in VOCABULARY.facts.values():
        if fact.namespace == "policy" and fact.name != "policy.policy_type":
            assert set(fact.origins) & {"csp", "graph", "catalog"}, fact.name


def test_labels_as_intune_shows_them():
    assert VOCABULARY.fact("policy.tpm_startup_pin").label == "Compatible TPM startup PIN"
    assert VOCABULARY.fact("policy.tpm_startup_pin").member_label("Required") == "Require startup PIN with TPM"


def test_no_recovery_key_value_is_declared():
    fields = VOCABULARY.fact("device.recovery_keys").type.fields
    assert "key" not in {f.name for f in fields}


# ---------------------------------------------------------------------------------------------
# Every citation a user reads resolves to a public document: `reference` lists name documents
# of rulesets/requirements.toml, and the prose cites documents by name and the Intune page's
# items by their requirement ids ("item S6"), never internal keys, section numbers or paths.

DOCUMENTS = {r.id for r in load_requirements() if r.kind == "document"}
REQUIREMENTS = {r.id for r in load_requirements() if r.kind == "requirement"}
# "item S6", "items S1 and S2", "items P1, P2": ids of rulesets/requirements.toml.
_ITEMS = re.compile(r"\bitems? ([A-Z][0-9]+(?:(?:,| and| or) [A-Z][0-9]+)*)")
# Source keys (S1, S1o), conflict and gap ids (C5, G1) outside an "item" citation.
_BARE_KEY = re.compile(r"\b(?:S[0-9]+o?|[CG][0-9]+)\b")
_LEAKS = {
    "seed": re.compile(r"\bseeds?\b", re.I),
    "INFERRED": re.compile(r"INFERRED"),
    "UNCONFIRMED": re.compile(r"UNCONFIRMED"),
    "a local path": re.compile(r"/work/|/shared/"),
    "the internal reference": re.compile(r"\bthe reference\b|bitlocker-reference|graph-shapes", re.I),
    "a section number": re.compile(r"\b(?:reference|section) [0-9]|\([0-9]\.[0-9]+\)", re.I),
    "a conflict or gap id": re.compile(r"\b(?:conflict|gap) [CG]?[0-9]", re.I),
}


def _cited_references():
    """``(where, reference list)`` of every fact, record field, grant and scenario."""
    for fact in VOCABULARY.facts.values():
        yield fact.name, fact.reference
        for spec in fact.type.fields:
            yield f"{fact.name}.{spec.name}", spec.reference
    for grant in VOCABULARY.grants:
        yield f"grant {grant.role}", grant.reference
    for name, scenario in VOCABULARY.scenarios.items():
        yield f"scenario {name}", scenario.reference


def _prose():
    """``(where, text)`` of every description and default a user reads."""
    for enum in VOCABULARY.enums.values():
        yield f"enum {enum.name}", enum.description
    for fact in VOCABULARY.facts.values():
        yield fact.name, fact.description
        yield f"{fact.name} default", fact.default
        for spec in fact.type.fields:
            yield f"{fact.name}.{spec.name}", spec.description
    for grant in VOCABULARY.grants:
        yield f"grant {grant.role}", grant.description
    for name, scenario in VOCABULARY.scenarios.items():
        yield f"scenario {name}", scenario.description


def test_every_reference_is_a_listed_document():
    unknown = {where: [r for r in refs if r not in DOCUMENTS] for where, refs in _cited_references()}
    assert {where: refs for where, refs in unknown.items() if refs} == {}
    repeated = [where for where, refs in _cited_references() if len(set(refs)) != len(refs)]
    assert repeated == []
    assert any(refs for _, refs in _cited_references())


def test_descriptions_cite_documents_and_items_not_internal_keys():
    problems = []
    for where, text in _prose():
        for what, pattern in _LEAKS.items():
            if pattern.search(text):
                problems.append(f"{where}: {what}")
        for match in _ITEMS.finditer(text):
            problems += [
                f"{where}: item {i} is not a requirement id"
                for i in re.findall(r"[A-Z][0-9]+", match.group(1))
                if i not in REQUIREMENTS
            ]
        problems += [f"{where}: bare key {m.group()}" for m in _BARE_KEY.finditer(_ITEMS.sub("", text))]
    assert problems == []


def test_the_vocabulary_file_points_to_no_internal_notes():
    text = (rulesets_dir() / "vocabulary.toml").read_text(encoding="utf-8")
    assert not re.search(r"/work/|/shared/|bitlocker-reference|graph-shapes|\bseed\b", text)


@pytest.mark.parametrize(
    "raw, build",
    [
        ("1703", 15063),
        ("1809", 17763),
        ("1909", 18363),
        ("21H2", 19044),
        ("22H2", 19045),
        ("Windows 11", 22000),
        ("windows 11 23h2", 22631),
        ("10.0.17763.1234", 17763),
        (17763, 17763),
    ],
)
def test_release_names_builds_and_dotted_versions(raw, build):
    assert parse_windows_version(raw, VOCABULARY.releases).build == build


def test_versions_compare_as_versions_not_strings():
    low = parse_windows_version("10.0.9999.0", {})
    high = parse_windows_version("10.0.10000.0", {})
    assert low < high and "10.0.9999.0" > "10.0.10000.0"
    assert WindowsVersion(10, 0, 17763, 99) > WindowsVersion(10, 0, 17763, 9)


def test_adding_a_fact_needs_no_python():
    vocabulary = build_vocabulary({"facts": [{"name": "device.fan_speed", "type": "integer", "label": "Fan"}]})
    assert vocabulary.fact("device.fan_speed").type.ordered


def test_bad_declarations_are_reported_together():
    with pytest.raises(VocabularyError) as info:
        build_vocabulary(
            {
                "enums": {"E": {"members": [{"name": "bad name"}]}},
                "facts": [
                    {"name": "Device.X", "type": "bool"},
                    {"name": "device.y", "type": "enum Nope"},
                    {"name": "device.z", "type": "float"},
                ],
            }
        )
    assert [d.code for d in info.value.diagnostics] == ["V004", "V005", "V006", "V007"]


def test_only_a_policy_fact_is_per_policy():
    assert (
        build_vocabulary({"facts": [{"name": "policy.kind", "type": "string", "per_policy": True}]})
        .fact("policy.kind")
        .per_policy
    )
    with pytest.raises(VocabularyError) as info:
        build_vocabulary({"facts": [{"name": "device.kind", "type": "string", "per_policy": True}]})
    assert [d.code for d in info.value.diagnostics] == ["V015"]


# ---------------------------------------------------------------------------------------------
# Per-fact converters (``Vocabulary.converters``) agree with ``parse_typed`` on every input.
# VOCABULARY's converters (and the version memo) persist from example to example, as in a fleet run.

FACTS_BY_KIND: dict[str, list] = {}
for _fact in VOCABULARY.facts.values():
    FACTS_BY_KIND.setdefault(_fact.type.kind, []).append(_fact)
KINDS = ("bool", "integer", "decimal", "string", "version", "enum", "collection")
VERSION_FACT = "device.os_version"
HUGE = 10**400


class Text(str):
    """A str subclass: never takes a fast path, must give what parse_typed gives."""


class Number(int):
    """An int subclass."""


class Real(float):
    """A float subclass."""


class Record(dict):
    """A dict subclass, as a collection item."""


class Items(list):
    """A list subclass, as a collection value."""


def _choose(*strategies):
    """One of ``strategies``, each equally likely (``st.one_of`` flattens nested choices)."""
    return st.sampled_from(strategies).flatmap(lambda strategy: strategy)


_recase = st.sampled_from(
    [
        str,
        str.lower,
        str.upper,
        str.swapcase,
        str.title,
        lambda s: f" {s} ",
        lambda s: s.replace(" ", ""),
        lambda s: s.replace(" ", "  "),
    ]
)
_padding = st.sampled_from(["", " ", "\t", "  ", "\n"])


@st.composite
def _mixed_case(draw, word: str) -> str:
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips))


def _cased(words) -> st.SearchStrategy[str]:
    """Words as written by hand: any case, padded, squeezed."""
    words = sorted(words)
    return _choose(
        st.builds(lambda w, f: f(w), st.sampled_from(words), _recase), st.sampled_from(words).flatmap(_mixed_case)
    )


def _padded(strategy):
    return st.builds(lambda a, v, b: f"{a}{v}{b}", _padding, strategy, _padding)


# Bad values any fact may be given (never None: callers skip None).
ODD = st.one_of(
    st.booleans(),
    st.integers(),
    st.just(HUGE),
    st.floats(),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.builds(Text, st.text(max_size=6)),
)

INTEGERS = _choose(
    st.integers(), st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, -1, HUGE, -HUGE, 2**63])
)
INTEGER_TEXT = _choose(
    _padded(INTEGERS.map(str)),
    st.sampled_from(["-0", "+1", "1.0", "1_000", "0x10", " - 1", "", "12a", "١٢٣", "１２", "٠"]),
)
FLOATS = _choose(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324, 2.0]))
FLOAT_TEXT = _choose(
    _padded(st.floats().map(repr)),
    _cased(["nan", "inf", "-inf", "infinity", "1e400", "-1e400", "1_000.5", "2.0", ".5", "1e", "٣.٥"]),
)


def _bool_values():
    good = _choose(st.booleans(), _cased(["true", "false"]), st.sampled_from(["true", "TRUE", "False"]))
    bad = st.sampled_from(["yes", "no", "1", "0", "on", "t", "", "truee", 0, 1, 0.0, 1.0])
    return _choose(good, good, good.map(Text), bad, ODD)


def _integer_values():
    good = _choose(INTEGERS, INTEGER_TEXT)
    return _choose(good, good, good.map(Text), INTEGERS.map(Number), FLOATS, st.booleans(), ODD)


def _decimal_values():
    good = _choose(FLOATS, INTEGERS, FLOAT_TEXT, INTEGER_TEXT)
    return _choose(good, good, good.map(Text), INTEGERS.map(Number), FLOATS.map(Real), st.booleans(), ODD)


def _string_values():
    good = _choose(st.text(max_size=20), st.sampled_from(["", " ", "Required", "true", "17763"]))
    return _choose(good, good, good.map(Text), ODD)


def _dotted():
    part = _choose(st.integers(min_value=0, max_value=99999), st.integers(min_value=0, max_value=10**11))
    three = st.builds(lambda a, b, c: f"{a}.{b}.{c}", part, part, part)
    four = st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", part, part, part, part)
    return _padded(
        _choose(
            three,
            four,
            st.sampled_from(["10.0.19045.1", "10.0.17763", "10.0", "10..0.1", "10.0.17763.1.2", "１０.0.17763"]),
        )
    )


def _version_values():
    releases = VOCABULARY.releases
    builds = _choose(
        st.sampled_from(sorted({v.build for v in releases.values()})),
        st.integers(min_value=10230, max_value=30000),
        st.integers(min_value=-5, max_value=20),
        st.integers(min_value=10**8, max_value=10**10),
        st.sampled_from([17763, 1809, 1903, 2004, 0, 1, -1, HUGE]),
    )
    names = _cased(list(releases) + ["21h2", " 21h2 ", "Windows 11 23H2", "Windows 12", "23H3", "Windows"])
    good = _choose(builds, _padded(builds.map(str)), names, _dotted(), st.sampled_from(list(releases.values())))
    return _choose(
        good,
        good,
        good,
        good.map(lambda v: Text(v) if type(v) is str else v),
        builds.map(Number),
        builds.filter(lambda b: abs(b) < 2**1000).map(float),
        st.booleans(),
        FLOATS,
        ODD,
    )


def _near_misses(names):
    """Member names one edit away: a dropped or doubled letter, an inserted underscore."""

    def edit(name, i, how):
        i %= len(name)
        if how == 0:
            return name[:i] + name[i + 1 :]
        if how == 1:
            return name[:i] + name[i] * 2 + name[i + 1 :]
        return name[:i] + "_" + name[i:]

    return st.builds(edit, st.sampled_from(sorted(names)), st.integers(0, 40), st.integers(0, 2))


def _enum_values(enum):
    names = enum.member_names
    good = _cased(names)
    other = st.sampled_from(sorted({m for e in VOCABULARY.enums.values() for m in e.member_names}))
    bad = _choose(
        _near_misses(names),
        other,
        st.sampled_from(["", "İnvalid", "ＲＥＱＵＩＲＥＤ"]),
        st.sampled_from([m.label for m in enum.members]),
    )
    return _choose(good, good, good.map(Text), bad, ODD)


def _scalar_values(fact):
    ftype = fact.type
    return {
        "bool": _bool_values,
        "integer": _integer_values,
        "decimal": _decimal_values,
        "string": _string_values,
        "version": _version_values,
    }.get(ftype.kind, lambda: _enum_values(ftype.enum))()


def _collection_values(fact):
    fields = fact.type.fields
    names = [f.name for f in fields]
    field_pair = _choose(*[st.tuples(st.just(spec.name), _choose(st.none(), _scalar_values(spec))) for spec in fields])
    bad_pair = st.tuples(
        _choose(
            st.sampled_from(["key", "nme", "Name", "password", "", "namee"] + [n.upper() for n in names]),
            st.text(max_size=6),
        ),
        _choose(st.none(), st.none(), st.text(max_size=4), st.integers()),
    )
    plain = st.lists(field_pair, max_size=4).map(dict)
    mixed = st.builds(
        lambda good, bad, first: dict(bad + good if first else good + bad),
        st.lists(field_pair, max_size=3),
        st.lists(bad_pair, min_size=1, max_size=2),
        st.booleans(),
    )
    subclassed_key = st.sampled_from(names).map(lambda n: {Text(n): None})
    not_a_record = _choose(
        st.text(max_size=4), st.integers(), st.lists(st.integers(), max_size=2), st.tuples(), st.none()
    )
    item = _choose(plain, plain, plain, mixed, plain.map(Record), mixed.map(Record), subclassed_key, not_a_record)
    good_list = st.lists(plain, max_size=4)
    any_list = st.lists(item, min_size=1, max_size=4)
    return _choose(
        good_list,
        good_list,
        any_list,
        any_list,
        any_list.map(Items),
        any_list.map(tuple),
        plain,
        st.text(max_size=4).map(Text),
        ODD,
    )


def _raw_values(fact):
    return _collection_values(fact) if fact.type.kind == "collection" else _scalar_values(fact)


def _lookalikes(raw) -> list:
    """Values equal to ``raw`` (or hashing alike) but of another type: a memo must tell them apart."""
    if type(raw) is bool:
        return [int(raw), float(raw), Number(raw)]
    if type(raw) is int:
        out = [Number(raw), str(raw)] + ([bool(raw)] if raw in (0, 1) else [])
        return out + ([float(raw)] if abs(raw) < 2**1000 else [])
    if type(raw) is float:
        return [Real(raw)] + ([int(raw)] if math.isfinite(raw) and raw == int(raw) else [])
    if type(raw) is str:
        return [Text(raw)]
    return []


def _typed(value):
    """A value with every type in it spelled out, so ``==`` also compares types (1 vs True)."""
    if isinstance(value, MappingProxyType):
        return (MappingProxyType, tuple((type(k), k, _typed(v)) for k, v in value.items()))
    if type(value) is tuple:
        return (tuple, tuple(_typed(v) for v in value))
    if isinstance(value, float):
        return (type(value), repr(value))  # tells -0.0 from 0.0
    return (type(value), value)


def _outcome(convert, raw):
    try:
        value = convert(raw)
    except Exception as exc:  # noqa: BLE001 - compared below: it must be the same ValueError
        return ("raised", type(exc).__name__, str(exc))
    return ("value", _typed(value))


@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_converters_agree_with_parse_typed(kind, data):
    fact = data.draw(st.sampled_from(FACTS_BY_KIND[kind]), label="fact")
    raws = data.draw(st.lists(_raw_values(fact), min_size=1, max_size=4), label="raws")
    convert = VOCABULARY.converters[fact.name]
    # Each raw twice (the second may come from the memo), then what looks like it, then the
    # first raw again after all the others went through the converter.
    checks = [r for raw in raws for r in (raw, *_lookalikes(raw))] + raws[:1]
    for raw in checks:
        expected = _outcome(lambda r: parse_typed(fact.type, r, VOCABULARY.releases), raw)
        assert expected[0] == "value" or expected[1] == "ValueError", (fact.name, raw, expected)
        first = _outcome(convert, raw)
        second = _outcome(convert, raw)
        assert first == expected, (fact.name, raw, first, expected)
        assert second == expected, (fact.name, raw, second, expected)
        assert _outcome(lambda r: VOCABULARY.parse_value(fact, r), raw) == expected


def test_every_fact_has_a_converter():
    assert set(VOCABULARY.converters) == set(VOCABULARY.facts)
    assert set(FACTS_BY_KIND) == set(KINDS)


def test_unknown_field_with_a_null_value_is_still_an_error():
    fact = VOCABULARY.fact("device.volumes")
    raw = [{"volume_type": "OperatingSystem", "pasword": None}]
    with pytest.raises(ValueError) as fast:
        VOCABULARY.converters[fact.name](raw)
    with pytest.raises(ValueError) as slow:
        parse_typed(fact.type, raw, VOCABULARY.releases)
    assert str(fast.value) == str(slow.value)
    assert str(fast.value).startswith("item 0: no field `pasword`")


def test_a_huge_integer_is_not_a_decimal_overflow():
    (fact,) = FACTS_BY_KIND["decimal"]
    for convert in (value_converter(fact.type, VOCABULARY.releases), VOCABULARY.converters[fact.name]):
        with pytest.raises(ValueError, match=r"a number such as 2\.0"):
            convert(HUGE)


def test_the_version_memo_does_not_take_true_for_one():
    fact = VOCABULARY.fact(VERSION_FACT)
    assert fact.type.kind == "version"
    convert = value_converter(fact.type, VOCABULARY.releases)  # a fresh memo
    assert convert(17763) == WindowsVersion(10, 0, 17763, 0)
    with pytest.raises(ValueError):
        convert(1)
    with pytest.raises(ValueError, match="not a boolean"):
        convert(True)
    # Nor a float for the int it equals: 17763 is remembered, 17763.0 is not a version.
    with pytest.raises(ValueError):
        convert(17763.0)
    assert convert("1809") == convert("1809") == WindowsVersion(10, 0, 17763, 0)


def test_the_scalar_memo_does_not_take_true_for_one():
    integer, decimal, flag = (FACTS_BY_KIND[kind][0] for kind in ("integer", "decimal", "bool"))
    to_int, to_float, to_bool = (value_converter(f.type, VOCABULARY.releases) for f in (integer, decimal, flag))
    assert to_int("350") == 350 and to_int(" 350 ") == 350  # each text remembered as itself
    with pytest.raises(ValueError):
        to_int(True)
    assert type(to_float(1)) is float and to_float(1) == 1.0  # the int 1 remembered as 1.0 ...
    with pytest.raises(ValueError):
        to_float(True)  # ... and True, which hashes alike, still refused
    assert to_bool("true") is True and to_bool("TRUE") is True
    with pytest.raises(ValueError):
        to_bool(1)
    with pytest.raises(ValueError, match="an integer"):
        to_int("3.5")  # an error is raised again, never remembered
    with pytest.raises(ValueError, match="an integer"):
        to_int("3.5")


def test_a_typed_record_is_its_own_item_and_others_are_converted():
    convert = value_converter(VOCABULARY.fact("device.recovery_keys").type, VOCABULARY.releases)
    item = {"key_id": "k1", "volume_type": "OperatingSystem", "created": "2024-10-19T10:00:00Z"}
    (record,) = convert([item])
    assert type(record) is MappingProxyType and record == item
    # A member spelled another way, or a null, is not kept as it came: converted as parse_typed does.
    (folded,) = convert([{**item, "volume_type": "operatingsystem"}])
    assert folded["volume_type"] == "OperatingSystem"
    (without,) = convert([{**item, "created": None}])
    assert "created" not in without
    with pytest.raises(ValueError, match="no field `kind`"):
        convert([{**item, "kind": "x"}])
    with pytest.raises(ValueError):
        convert([{**item, "volume_type": "Floppy"}])


def test_a_non_string_field_name_is_a_value_error():
    fact = VOCABULARY.fact("device.volumes")
    with pytest.raises(ValueError, match="item 0: no field `1`"):
        VOCABULARY.parse_value(fact, [{1: None}])


# --- strength of policy settings: which values are stronger (a repair lowers one only when a rule asks)

_ORDERABLE = ("enum", "bool", "integer", "decimal", "version")


def test_every_policy_setting_declares_its_strength():
    undeclared = [
        f.name
        for f in VOCABULARY.facts.values()
        if f.policy_controlled and f.type.kind in _ORDERABLE and f.strength is None
    ]
    assert undeclared == []
    assert all(f.strength is None for f in VOCABULARY.facts.values() if not f.policy_controlled)


def test_strength_orders_of_the_shipped_settings():
    pin = VOCABULARY.fact("policy.tpm_startup_pin").strength
    assert pin.lowers("Required", "Allowed") and pin.lowers("Allowed", "Blocked")
    assert pin.lowers("Blocked", "NotConfigured") and pin.lowers("Required", None)
    assert not pin.lowers("Blocked", "Required") and not pin.lowers(None, "NotConfigured")
    cipher = VOCABULARY.fact("policy.os_encryption_method").strength
    assert cipher.lowers("AesCbc256", "XtsAes128") and cipher.lowers("XtsAes128", "AesCbc256")  # not comparable
    assert not cipher.lowers("AesCbc128", "XtsAes256") and cipher.lowers("AesCbc128", "NotConfigured")
    startup = VOCABULARY.fact("policy.tpm_startup").strength
    assert startup.lowers("Required", "Blocked") and startup.lowers("Blocked", "Required")
    assert not startup.lowers("NotConfigured", "Allowed")
    length = VOCABULARY.fact("policy.minimum_pin_length").strength
    assert length.lowers(8, 6) and not length.lowers(6, 8)
    assert VOCABULARY.fact("policy.removable_disable_bde").strength.lowers(False, True)
    exception = VOCABULARY.fact("policy.preboot_pin_exception_on_de_capable_device").strength
    assert exception.lowers("NotConfigured", "Enabled") and not exception.lowers("Enabled", "Disabled")
    assert not VOCABULARY.fact("policy.policy_type").strength.lowers("CustomOmaUri", "SettingsCatalog")


def _mode_vocabulary(fact_strength=None, enum_strength=None, name="policy.mode", kind="enum Mode"):
    enum = {"members": [{"name": m} for m in ("Blocked", "Allowed", "Required", "NotConfigured")]}
    if enum_strength is not None:
        enum["strength"] = enum_strength
    fact = {"name": name, "type": kind, "label": "Mode"}
    if fact_strength is not None:
        fact["strength"] = fact_strength
    return build_vocabulary({"enums": {"Mode": enum}, "facts": [fact]})


def test_a_fact_takes_its_enums_strength_with_not_configured_weakest():
    strength = _mode_vocabulary(enum_strength=[["Blocked", "Allowed"], ["Required"]]).fact("policy.mode").strength
    assert strength.lowers("Allowed", "Blocked") and strength.lowers("Required", "NotConfigured")
    assert strength.lowers("Allowed", "Required") and strength.lowers("Required", "Allowed")
    own = _mode_vocabulary("none", [["Blocked", "Allowed", "Required"]]).fact("policy.mode").strength
    assert not own.lowers("Required", "NotConfigured")
    assert _mode_vocabulary(enum_strength="none", name="device.mode").fact("device.mode").strength is None


@pytest.mark.parametrize(
    "fact_strength, kind, name, code",
    [
        ("highest", "enum Mode", "policy.mode", "V020"),
        ("higher", "enum Mode", "policy.mode", "V020"),
        ([["Blocked", "Allowed"]], "integer", "policy.mode", "V020"),
        ("none", "enum Mode", "device.mode", "V020"),
        ([["Blocked", "Sometimes"]], "enum Mode", "policy.mode", "V021"),
        ([["Allowed", "Required"]], "enum Mode", "policy.mode", "V022"),
        ([["Blocked", "Allowed", "Required", "Blocked"]], "enum Mode", "policy.mode", "V023"),
        ([[True]], "bool", "policy.mode", "V022"),
    ],
)
def test_bad_strength_declarations_are_located(fact_strength, kind, name, code):
    with pytest.raises(VocabularyError) as info:
        _mode_vocabulary(fact_strength, name=name, kind=kind)
    assert [d.code for d in info.value.diagnostics] == [code]
    assert f"facts[0] ({name})" in info.value.diagnostics[0].path
