"""Intune assignment filter rules: parsed by their grammar, evaluated on managedDevice records as
Microsoft describes them (case-insensitive; versions compared as versions; Null a value of
-eq/-ne), in three-valued logic; what cannot be evaluated faithfully is named, never guessed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bitlocker_rules.assignment_filters import DEVICE_FIELDS, FilterSyntaxError, parse_filter, problems

DEVICE = {
    "deviceName": "CONTOSO-0001",
    "manufacturer": "Dell Inc.",
    "model": "Latitude 7420",
    "osVersion": "10.0.22631.3593",
    "managedDeviceOwnerType": "company",
    "joinType": "hybridAzureADJoined",
    "enrollmentProfileName": None,
    "deviceCategoryDisplayName": "Engineering devices",
    "skuNumber": 4,
}


def _value(rule: str, device: dict = DEVICE) -> bool | None:
    return parse_filter(rule).evaluate(device).value


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('(device.manufacturer -eq "Dell Inc.")', True),
        ('(device.manufacturer -eq "DELL INC.")', True),  # values are case-insensitive
        ('(DEVICE.Manufacturer -EQ "dell inc.")', True),  # and so are properties and operators
        ('(device.manufacturer eq "Dell Inc.")', True),  # an operator without its dash
        ('(device.manufacturer -ne "Dell Inc.")', False),
        ('(device.model -startsWith "latitude")', True),
        ('(device.model -notStartsWith "Latitude")', False),
        ('(device.model -endsWith "7420")', True),
        ('(device.model -notEndsWith "7420")', False),
        ('(device.model -contains "TUDE 74")', True),
        ('(device.model -notContains "Surface")', True),
        ('(device.model -in ["Surface Book 3", "latitude 7420"])', True),
        ('(device.model -notIn ["Surface Book 3", "Latitude 7420"])', False),
        ('(device.deviceName -startsWith "contoso")', True),
        ('(device.deviceCategory -eq "Engineering devices")', True),
        ('(device.osVersion -startsWith "10.0.22631")', True),  # a string, as the docs say
        ("(device.operatingSystemVersion -gt 10.0.22000.1000)", True),
        ("(device.operatingSystemVersion -le 10.0.22631.3235)", False),  # 3593 > 3235: numbers, not text
        ('(device.operatingSystemVersion -ge "10.0.9999")', True),  # as text "10.0.9999" > "10.0.22631"
        ("(device.operatingSystemVersion -eq 10.0.22631.3593.0)", True),
        ("(device.operatingSystemVersion -lt 10.0.22631.10000)", True),
        ('(device.deviceOwnership -eq "Corporate")', True),
        ('(device.deviceOwnership -eq "Personal")', False),
        ('(device.deviceTrustType -in ["Hybrid Azure AD joined", "Azure AD joined"])', True),
        ('(device.operatingSystemSKU -eq "enterprise")', True),
        ('(device.operatingSystemSKU -startsWith "Professional")', False),
        ("(device.enrollmentProfileName -eq $null)", True),
        ("(device.enrollmentProfileName -ne Null)", False),
        ('(device.manufacturer -eq "HP") or (device.model -startsWith "Latitude")', True),
        ('(device.manufacturer -eq "HP") -or (device.model -startsWith "Surface")', False),
        ('(device.manufacturer -eq "Dell Inc.") and (device.model -startsWith "Surface")', False),
        (
            '((device.manufacturer -eq "Dell Inc.") -and ((device.model -eq "x") or (device.model -eq "Latitude 7420")))',
            True,
        ),
        ('device.manufacturer -eq "Dell Inc." and device.model -contains "7420"', True),
    ],
)
def test_a_rule_is_evaluated_as_microsoft_describes_it(rule, expected):
    assert _value(rule) is expected


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ('(device.model -match "^Lat")', "operator `-match`"),
        ('(device.model -notMatch "^Lat")', "operator `-notMatch`"),
        ('(device.cpuArchitecture -eq "arm64")', "property `cpuArchitecture`"),
        ('(device.isRooted -eq "True")', "property `isRooted`"),
        ('(app.deviceModel -eq "Surface Duo")', "`app.deviceModel` is not a managed device property"),
        ('(device.model -gt "Latitude")', "operator `-gt`"),
        ('(device.model -in "Latitude")', "`-in` does not take the value"),
        ('(device.operatingSystemVersion -gt "Windows 11")', "`-gt` does not take the value"),
    ],
)
def test_what_cannot_be_evaluated_faithfully_is_named_not_guessed(rule, named):
    parsed = parse_filter(rule)
    result = parsed.evaluate(DEVICE)
    assert result.value is None and any(named in why for why in result.unknown)
    assert any(named in why for why in problems(parsed))


def test_a_property_the_record_lacks_is_not_evaluated_but_a_null_one_is_a_value():
    lacking = {k: v for k, v in DEVICE.items() if k != "manufacturer"}
    result = parse_filter('(device.manufacturer -eq "Dell Inc.")').evaluate(lacking)
    assert result.value is None and "has no `manufacturer`" in result.unknown[0]
    assert problems(parse_filter('(device.manufacturer -eq "Dell Inc.")')) == ()  # only this record lacks it
    assert _value('(device.enrollmentProfileName -startsWith "Auto")') is None  # null: not a string to test
    assert _value("(device.enrollmentProfileName -eq $null)", {**DEVICE, "enrollmentProfileName": "Kiosk"}) is False


def test_and_or_decide_whenever_their_known_parts_do():
    unknown = '(device.cpuArchitecture -eq "arm64")'
    assert _value(f'{unknown} and (device.manufacturer -eq "HP")') is False
    assert _value(f'{unknown} or (device.manufacturer -eq "Dell Inc.")') is True
    assert _value(f'{unknown} and (device.manufacturer -eq "Dell Inc.")') is None
    assert _value(f'{unknown} or (device.manufacturer -eq "HP")') is None


@pytest.mark.parametrize(
    ("rule", "column", "says"),
    [
        ('(device.model -eq "x"', 22, "unexpected the end of the rule; expected )"),
        ('(device.model == "x")', 15, "expected an operator such as -eq"),
        ('(device.model -eq "x") and', 27, "expected (, a property such as device.model"),
        ("", 1, "unexpected the end of the rule"),
        ('(device.model -eq "a" "b")', 23, "unexpected '\"b\"'"),
    ],
)
def test_a_rule_that_is_not_a_rule_is_a_clear_error_with_its_column(rule, column, says):
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(rule)
    assert caught.value.column == column and says in str(caught.value)


def test_a_pull_asks_for_every_field_the_evaluable_properties_read():
    assert set(DEVICE_FIELDS) == {k for k in DEVICE if k != "deviceName"} | {"deviceName"}


def test_a_rule_nested_too_deep_is_refused_before_anything_recurses():
    deep = "(" * 5000 + '(device.model -eq "x")' + ")" * 5000
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(deep)
    assert "nested 5001 deep" in str(caught.value)
    assert parse_filter("(" * 60 + '(device.model -eq "(((")' + ")" * 60).evaluate({"model": "((("}).value is True


def _oracle_version(text: str) -> tuple[int, ...]:
    """A version as numbers, trailing zeros dropped: 10.0 and 10.0.0.0 are one version."""
    numbers = [int(part) for part in text.split(".")]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


_VERSION_ORACLE = {  # the six operators of operatingSystemVersion, on versions as numbers
    "-eq": lambda a, b: a == b,
    "-ne": lambda a, b: a != b,
    "-gt": lambda a, b: a > b,
    "-ge": lambda a, b: a >= b,
    "-lt": lambda a, b: a < b,
    "-le": lambda a, b: a <= b,
}
_VERSION_PARTS = st.lists(st.integers(0, 3), min_size=1, max_size=4)  # small numbers: ties and prefixes often


@given(device=_VERSION_PARTS, bound=_VERSION_PARTS, operator=st.sampled_from(sorted(_VERSION_ORACLE)))
def test_every_version_operator_compares_as_numbers_do(device, bound, operator):
    # The mutation run of the sixteenth session: -ne answering as -eq, or -ge as -gt, failed no test.
    device_text, bound_text = ".".join(map(str, device)), ".".join(map(str, bound))
    expected = _VERSION_ORACLE[operator](_oracle_version(device_text), _oracle_version(bound_text))
    rule = f"(device.operatingSystemVersion {operator} {bound_text})"
    assert _value(rule, {**DEVICE, "osVersion": device_text}) is expected


# The table of "Supported filter device and app properties" (Microsoft Learn, the operatingSystemSKU
# property), value by value: the name a filter compares and the Win32 OperatingSystemSKU number.
# The page writes Home as "(10/111)"; Win32's PRODUCT_CORE is 101.
DOCUMENTED_SKUS = {
    "BusinessN": 49, "CloudEdition": 203, "CloudEditionN": 202, "Core": 101, "CoreCountrySpecific": 99,
    "CoreN": 98, "CoreSingleLanguage": 100, "Education": 121, "EducationN": 122, "Enterprise": 4,
    "EnterpriseEval": 72, "EnterpriseG": 171, "EnterpriseGN": 172, "EnterpriseN": 27, "EnterpriseNEval": 84,
    "EnterpriseS": 125, "EnterpriseSEval": 129, "EnterpriseSN": 126, "Holographic": 136, "IoTUAP": 123,
    "IoTUAPCommercial": 131, "IoTEnterprise": 188, "PPIPro": 119, "Professional": 48,
    "ProfessionalEducation": 164, "ProfessionalEducationN": 165, "ProfessionalWorkstation": 161,
    "ProfessionalN": 162, "ProfessionalSingleLanguage": 138, "ServerRdsh": 175,
}  # fmt: skip


@pytest.mark.parametrize(("name", "number"), sorted(DOCUMENTED_SKUS.items()))
def test_each_documented_sku_is_the_name_of_its_number_and_of_no_other(name, number):
    assert _value(f'(device.operatingSystemSKU -eq "{name}")', {**DEVICE, "skuNumber": number}) is True
    others = [n for other, n in DOCUMENTED_SKUS.items() if other != name]
    assert not [n for n in others if _value(f'(device.operatingSystemSKU -eq "{name}")', {**DEVICE, "skuNumber": n})]


def test_a_sku_number_the_table_does_not_list_is_not_evaluated():
    assert _value('(device.operatingSystemSKU -eq "Enterprise")', {**DEVICE, "skuNumber": 7}) is None
