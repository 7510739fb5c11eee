"""Device and policy input: typed values, JSON paths in errors, limits, masked secrets."""

from __future__ import annotations

import json

import pytest

from bitlocker_rules import (
    Engine,
    InputError,
    Status,
    WindowsVersion,
    compile_text,
    facts_from_mapping,
    load_device_file,
    merge_facts,
    shipped_vocabulary,
)
from bitlocker_rules.facts import derived
from bitlocker_rules.reading import parse_json

VOCABULARY = shipped_vocabulary()
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


def test_values_are_typed():
    facts = facts_from_mapping(
        {
            "os_version": "1809",
            "tpm_version": "2.0",
            "tpm_present": True,
            "join_type": "azureadjoined",
            "recovery_keys": [{"volume_type": "OperatingSystem"}],
        },
        VOCABULARY,
    )
    assert facts.get("device.os_version") == WindowsVersion(10, 0, 17763)
    assert facts.get("device.tpm_version") == 2.0
    assert facts.get("device.join_type") == "AzureADJoined"
    assert facts.get("device.recovery_keys")[0]["volume_type"] == "OperatingSystem"


def test_null_is_missing():
    facts = facts_from_mapping({"tpm_present": None}, VOCABULARY)
    assert "device.tpm_present" not in facts.values


def test_every_bad_entry_is_reported_with_its_json_path():
    with pytest.raises(InputError) as info:
        facts_from_mapping(
            {"tpm_presnt": True, "tpm_version": "new", "join_type": "AzureJoined"},
            VOCABULARY,
            origin="d.json",
            path="$.facts",
        )
    found = info.value.diagnostics
    assert [d.path for d in found] == ["$.facts.tpm_presnt", "$.facts.tpm_version", "$.facts.join_type"]
    assert found[0].help == "did you mean `device.tpm_present`?"
    assert "did you mean `AzureADJoined`" in found[2].help
    assert found[1].location == "d.json: $.facts.tpm_version"


def test_malformed_json_has_line_and_column(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{\n  "facts": {\n    "tpm_present": tru\n  }\n}\n')
    with pytest.raises(InputError) as info:
        load_device_file(path, VOCABULARY)
    (d,) = info.value.diagnostics
    assert d.location == f"{path}:3:20"
    assert "^" in d.render()


def test_deep_json_is_refused_without_recursion_error():
    with pytest.raises(InputError) as info:
        parse_json("[" * 100_000 + "]" * 100_000, "deep.json")
    assert info.value.diagnostics[0].code == "I004"


def test_brackets_inside_strings_do_not_count():
    assert parse_json(json.dumps({"a": "[" * 500}))["a"] == "[" * 500


def test_recovery_password_never_echoed():
    with pytest.raises(InputError) as info:
        facts_from_mapping({"tpm_version": KEY}, VOCABULARY)
    assert KEY not in info.value.render()
    assert "******" in info.value.render()


def test_the_build_revision_is_derived_only_from_a_fourth_number_other_than_zero():
    """Guards ``derived``: vocabulary.md says the OS build revision is taken from the OS version
    when that has a fourth number other than 0, and is not known for a release name or three
    numbers (both parse with revision 0, which no released build has). A derived 0 would fail
    `>= 529` where the truth is unknown; a revision the input gives is never replaced."""
    assert derived({"device.os_version": WindowsVersion(10, 0, 17763, 529)}) == {"device.os_build_revision": 529}
    assert derived({"device.os_version": WindowsVersion(10, 0, 17763, 0)}) == {}
    assert derived({"device.os_version": WindowsVersion(10, 0, 17763, 7), "device.os_build_revision": 9}) == {}
    rules = 'ruleset r "R"\nrule R-1 "Patched"\n  require device.os_build_revision >= 529\n'
    engine = Engine([compile_text(rules, "r.rules", VOCABULARY)], VOCABULARY)
    for version, expected in (
        ("1809", Status.UNKNOWN),
        ("10.0.17763", Status.UNKNOWN),
        ("10.0.17763.107", Status.FAIL),
    ):
        (outcome,) = engine.evaluate({"device.os_version": version}).outcomes
        assert outcome.status is expected, version


def test_merge_keeps_agreement_and_records_conflicts():
    a = facts_from_mapping(
        {"tpm_startup_pin": "Blocked", "tpm_startup": "Allowed"},
        VOCABULARY,
        default_namespace="policy",
        name="policy 'A'",
    )
    b = facts_from_mapping(
        {"tpm_startup_pin": "Required", "tpm_startup": "Allowed"},
        VOCABULARY,
        default_namespace="policy",
        name="policy 'B'",
    )
    merged = merge_facts([a, b])
    assert merged.get("policy.tpm_startup") == "Allowed"
    assert "policy.tpm_startup_pin" not in merged.values
    (conflict,) = merged.conflicts
    assert [v for _, v in conflict.values] == ["Blocked", "Required"]


def test_sources_that_agree_on_a_collection_merge_without_a_conflict_and_name_each_source():
    """Guards merging equal values that are collections of records (a device export and a
    second device input both listing the volumes): equal values agree (merge_facts'
    contract), whatever the value's type, a collection's records included; and the merged
    value names every source that gave it, not only the first."""
    volumes = [{"volume_type": "OperatingSystem", "protection_status": "On"}]
    a = facts_from_mapping({"volumes": volumes, "tpm_present": True}, VOCABULARY, origin="a.json", name="A")
    b = facts_from_mapping({"volumes": volumes, "tpm_present": True}, VOCABULARY, origin="b.json", name="B")
    merged = merge_facts([a, b])
    assert merged.conflicts == ()
    assert merged.get("device.volumes") == a.get("device.volumes")
    for fact in ("device.volumes", "device.tpm_present"):
        assert [o.input for o in merged.origins[fact]] == ["A", "B"], fact


def test_merging_merged_facts_keeps_their_conflicts():
    a = facts_from_mapping({"policy.tpm_startup_pin": "Required"}, VOCABULARY, origin="a.json", name="A")
    b = facts_from_mapping({"policy.tpm_startup_pin": "Blocked"}, VOCABULARY, origin="b.json", name="B")
    c = facts_from_mapping({"policy.tpm_startup_pin": "Allowed"}, VOCABULARY, origin="c.json", name="C")
    device = facts_from_mapping({"device.tpm_present": True}, VOCABULARY, origin="d.json", name="D")
    policies = merge_facts([a, b])
    merged = merge_facts([policies, device])
    assert merged.conflicts == policies.conflicts and merged.get("device.tpm_present") is True
    # A later source joins the conflict; an earlier value of the same fact leads it.
    assert [v for _, v in merge_facts([policies, c]).conflicts[0].values] == ["Required", "Blocked", "Allowed"]
    assert [v for _, v in merge_facts([c, policies]).conflicts[0].values] == ["Allowed", "Required", "Blocked"]


def test_a_mapping_of_thousands_of_unknown_names_lists_a_hundred_and_counts_the_rest():
    # 50,000 unknown names once took 29 s: a "did you mean" search for each. Past the hundredth
    # problem the others are counted, not made, and the last diagnostic says how many.
    import time

    names = {f"k{i}": 1 for i in range(50_000)}
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        facts_from_mapping({**names, "tpm_version": "not a version"}, VOCABULARY)
    assert time.monotonic() - started < 5
    diagnostics = caught.value.diagnostics
    assert len(diagnostics) == 101 and {d.code for d in diagnostics[:100]} == {"I202"}
    assert diagnostics[-1].code == "I010"
    assert diagnostics[-1].message == "49901 more problems in this input are not listed (the first 100 are)"


def test_a_hundred_problems_are_listed_without_a_count():
    with pytest.raises(InputError) as caught:
        facts_from_mapping({f"k{i}": 1 for i in range(100)}, VOCABULARY)
    assert [d.code for d in caught.value.diagnostics] == ["I202"] * 100
