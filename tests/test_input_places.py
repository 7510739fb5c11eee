"""Places in JSON inputs are records from the start: importers build paths as segments, an ADMX
value's ``<data id>`` is a field of its origin, and text is written only where it is shown."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from bitlocker_rules.errors import SECRET_MASK, Diagnostic, InputError
from bitlocker_rules.importers import import_device, import_policy, load_policies
from bitlocker_rules.outcome import Condition, InputRecord, Report, RuleOutcome, Status, ValueOrigin
from bitlocker_rules.report.sarif import render_sarif
from bitlocker_rules.source import InputPlace

ROOT = Path(__file__).resolve().parents[1]
OMA_URI = ROOT / "examples" / "graph" / "custom-oma-uri.json"
PASSWORD_GROUPS = ["123453", "234564", "345675", "456786", "567897", "678908", "789019", "890120"]


def test_an_admx_value_names_its_data_id_in_a_field_of_its_origin():
    (policy,) = load_policies(OMA_URI)
    (origin,) = policy.facts.origins["policy.tpm_startup_pin"]
    assert origin.data_id == "ConfigurePINUsageDropDown_Name"
    assert origin.note is None
    assert origin.path == ("omaSettings", 4, "value")
    assert origin.place() == "$.omaSettings[4].value <data id=ConfigurePINUsageDropDown_Name>"


def _failing(rule: str, origin: ValueOrigin) -> RuleOutcome:
    condition = Condition("policy.tpm_startup_pin", "PIN", "Require", "not Require", Status.FAIL, origins=(origin,))
    return RuleOutcome("custom", rule, "A rule", "error", (), Status.FAIL, (condition,))


def test_sarif_points_at_the_data_id_the_origin_names_and_never_reads_a_note(tmp_path):
    payload = '<enabled/><data id="Pin" value="1"/><data id="Other" value="2"/>'
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps({"omaSettings": [{"value": payload}]}, indent=2) + "\n")
    name, path = "policy 'P' (1)", ("omaSettings", 0, "value")
    report = Report(
        name,
        (
            _failing("C-1", ValueOrigin(name, path, data_id="Pin")),
            # A note that merely mentions a data id says nothing about where the value is.
            _failing("C-2", ValueOrigin(name, path, note="<data id=Other>")),
        ),
        inputs=(InputRecord(name, str(policy), "custom-oma-uri"),),
    )
    results = json.loads(render_sarif(report))["runs"][0]["results"]
    text = policy.read_text().splitlines()
    regions = {r["ruleId"]: r["locations"][0]["physicalLocation"]["region"] for r in results}
    pin = regions["C-1"]
    line = text[pin["startLine"] - 1]
    assert line[pin["startColumn"] - 1 : pin["endColumn"] - 1] == "Pin"
    whole = regions["C-2"]
    assert text[whole["startLine"] - 1][whole["startColumn"] - 1 :].startswith('"value"')
    messages = {r["ruleId"]: r["locations"][0]["message"]["text"] for r in results}
    assert messages == {
        "C-1": "policy 'P' (1) $.omaSettings[0].value <data id=Pin>",
        "C-2": "policy 'P' (1) $.omaSettings[0].value <data id=Other>",
    }


def test_a_key_holding_a_password_is_masked_in_the_path_before_it_is_written():
    # Written as JSON, Arabic-Indic digits become \u0661 escapes: the key is masked as it is
    # read, so its path holds the mask, never the digits in any spelling.
    key = "-".join(PASSWORD_GROUPS).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    device = import_device({"@odata.type": "#microsoft.graph.managedDevice", "id": "d1", key: 1})
    (notice,) = [n for n in device.notices if SECRET_MASK in (n.path or "")]
    assert notice.path == f'$["{SECRET_MASK}"]'
    shown = json.dumps([notice.path, notice.message, notice.render()])
    for digits in ("".join(PASSWORD_GROUPS), "\\u0661\\u0662\\u0663"):
        assert digits not in shown.replace("-", "")


def test_a_diagnostic_about_an_input_carries_its_place_as_a_record():
    payload = '<enabled/><data id="ConfigurePINUsageDropDown_Name" value="9"/>'
    node = "./Device/Vendor/MSFT/BitLocker/SystemDrivesRequireStartupAuthentication"
    policy = {
        "@odata.type": "#microsoft.graph.windows10CustomConfiguration",
        "id": "1",
        "displayName": "P",
        "omaSettings": [{"@odata.type": "#microsoft.graph.omaSettingString", "omaUri": node, "value": payload}],
    }
    with pytest.raises(InputError) as info:
        import_policy(policy, origin="p.json")
    (problem,) = info.value.diagnostics
    assert problem.input_place == InputPlace("p.json", ("omaSettings", 0, "value"), "ConfigurePINUsageDropDown_Name")
    # Written only where it is shown: the text fields read back from the record.
    assert (problem.file, problem.path) == ("p.json", "$.omaSettings[0].value <data id=ConfigurePINUsageDropDown_Name>")
    assert problem.render().startswith(f"p.json: {problem.path}: error[I401]: ")
    assert pickle.loads(pickle.dumps(problem)) == problem


def test_a_diagnostic_given_a_file_and_a_path_makes_the_same_record():
    given = Diagnostic("I201", "bad value", path=("facts", "tpm_version"), file="d.json")
    assert given.input_place == InputPlace("d.json", ("facts", "tpm_version"))
    assert given.location == "d.json: $.facts.tpm_version"
    assert Diagnostic("I201", "bad value", path="$.facts.tpm_version", file="d.json").location == given.location
    assert Diagnostic("E003", "cannot read rule file", file="r.rules").input_place == InputPlace("r.rules")
    assert Diagnostic("E100", "no place").input_place is None


@pytest.mark.parametrize("key", ["tpm version", "tpm[0]", "a.b c", "ключ"])
def test_a_fact_names_path_is_one_a_json_path_reader_reads_back(key):
    # facts_from_mapping wrote "$.facts.tpm version": a path no JSONPath reader takes apart.
    from bitlocker_rules.facts import facts_from_mapping
    from bitlocker_rules.jsonpath import path_segments

    with pytest.raises(InputError) as caught:
        facts_from_mapping({key: 1}, path=("facts",), default_namespace="device")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.input_place.path == ("facts", key)
    assert path_segments(diagnostic.path) == ("facts", key)
