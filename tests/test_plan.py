"""``bitlocker-rules plan``: the issue's done-when on the shipped examples, checked against two
``check --fleet`` runs compared by hand; the possible-device answers against brute force over a
small domain; plan(P, P) and the mirror of plan(A -> B) by Hypothesis; patches; usage and formats."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_formats import load_schema, validate
from test_tenant_check import as_files, tenant_pulled  # noqa: F401 - fixtures (a pulled generated tenant)

from bitlocker_rules import Engine
from bitlocker_rules.analysis import Deadline
from bitlocker_rules.cli import main
from bitlocker_rules.errors import MaskedText
from bitlocker_rules.fleet.devices import device_facts
from bitlocker_rules.fleet.job import FleetJob
from bitlocker_rules.importers import import_policies
from bitlocker_rules.outcome import Status
from bitlocker_rules.plan import Proposal, make_plan, patched, possible_regressions
from bitlocker_rules.report.plan import render_plan

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SILENT, PIN = EXAMPLES / "policy-silent.json", EXAMPLES / "policy-startup-pin.json"
FLEET, ASSIGNMENTS = EXAMPLES / "fleet.jsonl", EXAMPLES / "assignments.json"
SILENT_ID = "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10"
TODAY = ["--policy", str(SILENT), "--policy", str(PIN), "--fleet", str(FLEET), "--assignments", str(ASSIGNMENTS)]


def silent_with(folder: Path, **settings_: str) -> Path:
    """The shipped silent profile with some settings changed, as a proposal file."""
    data = json.loads(SILENT.read_text(encoding="utf-8"))
    data["settings"].update(settings_)
    path = folder / "silent-proposed.json"
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def statuses(record: dict) -> dict[str, str]:
    return {r["rule"]: r["status"] for r in record["results"]}


@pytest.fixture(scope="module")
def pin_required(tmp_path_factory) -> dict:
    """The done-when's proposal planned, and the two check --fleet runs of its oracle."""
    folder = tmp_path_factory.mktemp("plan")
    proposed = silent_with(folder, tpm_startup_pin="Required")
    plan_lines, out = folder / "plan.jsonl", folder / "plan.json"
    argv = ["plan", *TODAY, "--proposal-policy", str(proposed), "--format", "json", "--output", str(out)]
    code = main([*argv, "--jsonl", str(plan_lines), "--fail-on", "regressions"])
    runs = {}
    for name, policies in (("before", [SILENT, PIN]), ("after", [proposed, PIN])):
        runs[name] = folder / f"{name}.jsonl"
        given = [arg for p in policies for arg in ("--policy", str(p))]
        check = ["check", *given, "--fleet", str(FLEET), "--assignments", str(ASSIGNMENTS), "--quiet"]
        assert main([*check, "--jsonl", str(runs[name])]) == 2  # row 18 of the shipped fleet is bad
    return {
        "code": code,
        "plan": json.loads(out.read_text(encoding="utf-8")),
        "devices": jsonl(plan_lines),
        "before": jsonl(runs["before"]),
        "after": jsonl(runs["after"]),
    }


def test_startup_pin_required_starts_failing_se09_on_exactly_the_silent_devices(pin_required):
    plan, before, after = pin_required["plan"], pin_required["before"], pin_required["after"]
    assert pin_required["code"] == 1  # --fail-on regressions
    assert validate(plan, load_schema("plan-1.json")) == []
    assert validate(plan["fleet"]["diff"], load_schema("diff-1.json")) == []
    # The oracle, by hand: SE-09 applies only to devices whose intent is silent enablement; those
    # pass it today (the PIN is not required), and with the PIN required they fail it.
    silent = {b["device"] for b in before if statuses(b).get("SE-09") == "pass"}
    failing_after = {a["device"] for a in after if statuses(a).get("SE-09") == "fail"}
    assert silent and silent == failing_after
    others = {b["device"]: statuses(b)["SE-09"] for b in before if b["device"] not in silent}
    assert set(others.values()) == {"not_applicable", "unknown"}  # unknown: the device whose policies disagree
    assert {a["device"]: statuses(a)["SE-09"] for a in after if a["device"] in others} == others
    planned = {d["device"] for d in pin_required["devices"] for c in d["changes"] if c["rule"] == "SE-09"}
    assert planned == silent
    assert all(
        c["before"] == "pass" and c["after"] == "fail"
        for d in pin_required["devices"]
        for c in d["changes"]
        if c["rule"] == "SE-09"
    )
    assert plan["fleet"]["diff"]["totals"]["fixed"] == 0
    se09 = next(r for r in plan["fleet"]["diff"]["rules"] if r["rule"] == "SE-09")
    assert (se09["newly_failing"], se09["fixed"]) == (len(silent), 0)


def test_every_change_of_every_device_equals_two_check_runs_compared_by_hand(pin_required):
    before = {b["device"]: statuses(b) for b in pin_required["before"]}
    after = {a["device"]: statuses(a) for a in pin_required["after"]}
    expected = {
        (device, rule, before[device][rule], after[device][rule])
        for device in before
        for rule in before[device]
        if before[device][rule] != after[device][rule]
    }
    planned = {(d["device"], c["rule"], c["before"], c["after"]) for d in pin_required["devices"] for c in d["changes"]}
    assert planned == expected
    for device in pin_required["devices"]:  # every rule's verdict on both sides, changed or not
        name = device["device"]
        assert device["verdicts"] == {rule: [before[name][rule], after[name][rule]] for rule in before[name]}
    assert [d["device"] for d in pin_required["devices"]] == list(before)  # every device, in row order
    fleet = pin_required["plan"]["fleet"]
    assert fleet["bad_rows"] and fleet["bad_rows"][0]["row"] == 18
    for rule in fleet["diff"]["rules"]:
        fails = (
            sum(s[rule["rule"]] == "fail" for s in before.values()),
            sum(s[rule["rule"]] == "fail" for s in after.values()),
        )
        assert (rule["before"]["fail"], rule["after"]["fail"]) == fails


def test_the_fleets_device_counts_equal_two_check_runs_counted_by_hand(tmp_path):
    # A proposal under which some devices newly fail one rule while another changes otherwise:
    # the mutation run of the sixteenth session counted newly failing devices with all() in
    # place of any() (a device whose every change was a new failure), and no test failed.
    proposed = silent_with(tmp_path, tpm_startup_pin="Allowed", require_device_encryption="NotConfigured")
    out = tmp_path / "plan.json"
    main(["plan", "--policy", str(SILENT), "--fleet", str(FLEET), "--proposal-policy", str(proposed)]
         + ["--format", "json", "--output", str(out)])  # fmt: skip
    fleet = json.loads(out.read_text(encoding="utf-8"))["fleet"]
    runs = {}
    for name, policy in (("before", SILENT), ("after", proposed)):
        lines = tmp_path / f"{name}.jsonl"
        main(["check", "--policy", str(policy), "--fleet", str(FLEET), "--quiet", "--jsonl", str(lines)])
        runs[name] = {r["device"]: statuses(r) for r in jsonl(lines)}
    moves = {
        device: [(was, runs["after"][device][rule]) for rule, was in verdicts.items()]
        for device, verdicts in runs["before"].items()
    }
    changed = {d for d, pairs in moves.items() if any(was != now for was, now in pairs)}
    newly_failing = {d for d, pairs in moves.items() if any(now == "fail" != was for was, now in pairs)}
    mixed = {d for d in newly_failing if any(was != now != "fail" for was, now in moves[d])}
    assert mixed  # else the count could not tell any() from all()
    assert (fleet["changed_devices"], fleet["newly_failing_devices"]) == (len(changed), len(newly_failing))


def test_the_settings_that_change_and_the_conflict_resolved_name_the_policies(pin_required):
    fleet = pin_required["plan"]["fleet"]
    moved = {(s["label"], s["before"], s["after"]) for s in fleet["settings"]}
    assert ("Compatible TPM startup PIN", "Do not allow startup PIN with TPM", "Require startup PIN with TPM") in moved
    # CONTOSO-SF-6116 gets both policies: today they disagree on the PIN; under the proposal they agree.
    (conflict,) = fleet["conflicts"]
    assert conflict["change"] == "resolved" and conflict["devices"] == 1
    assert {p["policy"].split("'")[1] for p in conflict["policies"]} == {
        "WIN - EP - BitLocker silent",
        "WIN - EP - BitLocker with startup PIN",
    }


def test_a_possible_device_gets_worse_and_its_witness_fails_se09_on_the_engine(pin_required):
    found = [p for p in pin_required["plan"]["possible"] if p["worse"]]
    assert [p["ruleset"] for p in found] == ["silent_enablement"]
    assert found[0]["failing"] == ["SE-09"] and found[0]["smallest"]
    engine = Engine.load(["silent_enablement"])
    vocabulary = engine.vocabulary
    by_label = {vocabulary.fact(name).label: name for name in vocabulary.facts if vocabulary.fact(name)}
    assert all(by_label[w["label"]] == w["fact"] for w in found[0]["witness"])
    row = {w["fact"].removeprefix("device."): w["raw"] for w in found[0]["witness"]}
    device = device_facts({"facts": row}, engine, 1).values
    silent = import_policies(json.loads(SILENT.read_text()), vocabulary)[0].facts
    data = json.loads(SILENT.read_text())
    data["settings"]["tpm_startup_pin"] = "Required"
    proposed = import_policies(data, vocabulary)[0].facts
    today = engine.evaluate({**silent.values, **device})
    after = engine.evaluate({**proposed.values, **device})
    assert not today.failed and not today.count(Status.UNKNOWN)
    assert [o.rule for o in after.failed] == ["SE-09"]


# --- every possible device against brute force over a small domain

TINY = """\
ruleset tiny "A small ruleset over few facts"

rule T-01 "No startup PIN on a device without a TPM"
  severity error
  when device.tpm_present == false
  require policy.tpm_startup_pin != Required

rule T-02 "Standard users may encrypt, or the user is an administrator"
  severity error
  require device.user_role == Administrator or policy.allow_standard_user_encryption == Allow

rule T-03 "The PIN is allowed only with a TPM"
  severity warning
  when policy.tpm_startup_pin in {Allowed, Required}
  require device.tpm_present == true

rule T-04 "A TPM, when its version is known, is 2.0"
  severity warning
  when device.tpm_version is present
  require device.tpm_version >= 2.0
"""
TINY_POLICY_VALUES = {
    "policy.tpm_startup_pin": ["Blocked", "Allowed", "Required", None],
    "policy.allow_standard_user_encryption": ["Allow", "NotConfigured", None],
}
TINY_DEVICE_VALUES = {
    "device.tpm_present": [True, False, None],
    "device.user_role": ["Administrator", "StandardUser", None],
}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Engine:
    path = tmp_path_factory.mktemp("tiny") / "tiny.rules"
    path.write_text(TINY, encoding="utf-8")
    return Engine.load([str(path)])


def _policy(engine: Engine, values: dict) -> object:
    settings_ = {k.removeprefix("policy."): v for k, v in values.items() if v is not None}
    return import_policies({"id": "p", "settings": settings_}, engine.vocabulary)[0].facts


def _brute_force(engine: Engine, before: dict, after: dict) -> int | None:
    """The fewest device facts of a device that satisfies every rule under ``before`` and fails
    one under ``after`` (None: there is none), by evaluating every device of the small domain."""
    best = None
    names = list(TINY_DEVICE_VALUES)
    for combination in itertools.product(*TINY_DEVICE_VALUES.values()):
        device = {name: value for name, value in zip(names, combination) if value is not None}
        today = engine.evaluate({**{k: v for k, v in before.items() if v is not None}, **device})
        proposal = engine.evaluate({**{k: v for k, v in after.items() if v is not None}, **device})
        if not today.failed and not today.count(Status.UNKNOWN) and proposal.failed:
            best = len(device) if best is None else min(best, len(device))
    return best


POLICY_SIDES = [dict(zip(TINY_POLICY_VALUES, combo)) for combo in itertools.product(*TINY_POLICY_VALUES.values())]


@pytest.mark.parametrize("before", POLICY_SIDES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_no_device_can_get_worse_agrees_with_brute_force(tiny, before):
    for after in POLICY_SIDES:
        p, q = _policy(tiny, before), _policy(tiny, after)
        (answer,) = possible_regressions(tiny, p, q, ((), ()), Deadline.of(30))
        smallest = _brute_force(tiny, p.values, q.values)
        assert answer.worse is (smallest is not None), (before, after, answer)
        if smallest is not None:
            assert answer.smallest and len(answer.witness) == smallest, (before, after, answer)


def test_undecided_within_the_time_limit_is_said_never_guessed(tmp_path):
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    plan = make_plan(FleetJob(None, [str(SILENT)]), Proposal([str(proposed)]), None, timeout=1e-9)
    assert plan.fleet is None and plan.undecided and not plan.regressions
    undecided = [p for p in plan.possible if p.worse is None]
    assert undecided and all(p.note.startswith("undecided within") for p in undecided)
    # Rulesets that read no changed setting are decided without a search.
    assert all(p.worse is False for p in plan.possible if p.ruleset not in {u.ruleset for u in undecided})


def test_fail_on_regressions_exits_4_when_only_undecided(tmp_path, capsys):
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    argv = ["plan", "--policy", str(SILENT), "--proposal-policy", str(proposed), "--timeout", "1e-9"]
    assert main([*argv, "--fail-on", "regressions"]) == 4
    assert "UNDECIDED" in capsys.readouterr().out
    assert main(argv) == 0


# --- Hypothesis: plan(P, P) changes nothing; plan(A -> B) mirrors plan(B -> A)

SETTINGS = {
    "tpm_startup_pin": ["Blocked", "Allowed", "Required"],
    "warning_for_other_disk_encryption": ["Block", "NotConfigured"],
    "allow_standard_user_encryption": ["Allow", "NotConfigured"],
    "require_device_encryption": ["Require", "NotConfigured"],
    "os_encryption_method": ["XtsAes128", "XtsAes256", "AesCbc128"],
}
policies = st.fixed_dictionaries({}, optional={k: st.sampled_from(v) for k, v in SETTINGS.items()})


def _write(folder: Path, name: str, changed: dict) -> Path:
    data = json.loads(SILENT.read_text(encoding="utf-8"))
    data["settings"].update(changed)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _plan(today: Path, proposal: Path, timeout: float = 2.0):
    return make_plan(FleetJob(None, [str(today)]), Proposal([str(proposal)]), str(FLEET), timeout=timeout)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(policy=policies)
def test_a_plan_of_no_change_changes_nothing(tmp_path, policy):
    path = _write(tmp_path, "p.json", policy)
    plan = _plan(path, path)
    assert plan.fleet is not None
    assert plan.fleet.changed_devices == plan.fleet.settings_changed_devices == 0
    assert not plan.fleet.settings and not plan.fleet.conflicts
    assert all(v == 0 for k, v in plan.fleet.diff.totals.items() if k != "still_failing")
    assert all(p.worse is False for p in plan.possible) and not plan.regressions


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=policies, b=policies)
def test_a_plan_mirrors_the_plan_back(tmp_path, a, b):
    pa, pb = _write(tmp_path, "a.json", a), _write(tmp_path, "b.json", b)
    forward, back = _plan(pa, pb, 0.5).fleet, _plan(pb, pa, 0.5).fleet
    assert forward is not None and back is not None
    swap = {"newly_failing": "fixed", "fixed": "newly_failing", "newly_unknown": "no_longer_unknown"}
    swap["no_longer_unknown"] = "newly_unknown"
    for kind, other in swap.items():
        assert forward.diff.totals[kind] == back.diff.totals[other]
    assert forward.changed_devices == back.changed_devices
    assert {(m.delta.label, m.delta.before, m.delta.after, m.devices) for m in forward.settings} == {
        (m.delta.label, m.delta.after, m.delta.before, m.devices) for m in back.settings
    }
    for f, r in zip(forward.diff.rules, back.diff.rules):
        assert (f.before, f.after) == (r.after, r.before)


# --- patches


def test_a_wrapped_patch_and_a_bare_patch_plan_as_the_changed_policy_file(tmp_path, capsys):
    wrapped = tmp_path / "change.json"
    wrapped.write_text(json.dumps({"policy": SILENT_ID, "patch": {"settings": {"tpm_startup_pin": "Required"}}}))
    bare = tmp_path / f"{SILENT_ID}.patch.json"
    bare.write_text(json.dumps({"settings": {"tpm_startup_pin": "Required"}}))
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    results = []
    for proposal in (["--patch", str(wrapped)], ["--patch", str(bare)], ["--proposal-policy", str(proposed)]):
        assert main(["plan", *TODAY, *proposal, "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        results.append((data["fleet"]["diff"]["totals"], data["fleet"]["settings"], data["possible"]))
    assert results[0] == results[1] == results[2]


def test_a_graph_patch_applies_settings_by_their_key():
    exported = {
        "omaSettings": [{"omaUri": "./A", "value": 1, "@odata.type": "x"}, {"omaUri": "./B", "value": 2, "id": "b"}],
        "bitLockerSystemDrivePolicy": {
            "startupAuthenticationRequired": True,
            "prebootRecoveryEnableMessageAndUrl": False,
        },
        "settings": [{"settingInstance": {"settingDefinitionId": "s1", "choiceSettingValue": {"value": "s1_0"}}}],
    }
    body = {
        "omaSettings": [{"omaUri": "./B", "value": 3}, {"omaUri": "./C", "value": 4}],
        "bitLockerSystemDrivePolicy": {"startupAuthenticationTpmPinUsage": "required"},
        "settings": [{"settingInstance": {"settingDefinitionId": "s1", "choiceSettingValue": {"value": "s1_1"}}}],
    }
    result = patched(exported, body)
    assert result["omaSettings"] == [
        {"omaUri": "./A", "value": 1, "@odata.type": "x"},
        {"omaUri": "./B", "value": 3, "id": "b"},  # a setting given over its key's: member by member
        {"omaUri": "./C", "value": 4},
    ]
    assert result["bitLockerSystemDrivePolicy"] == {
        "startupAuthenticationRequired": True,
        "prebootRecoveryEnableMessageAndUrl": False,
        "startupAuthenticationTpmPinUsage": "required",
    }
    assert result["settings"][0]["settingInstance"]["choiceSettingValue"]["value"] == "s1_1"
    assert exported["omaSettings"][1]["value"] == 2  # the export itself is unchanged


def test_a_graph_endpoint_protection_patch_is_read_back_by_the_importer(tmp_path, capsys):
    export = EXAMPLES / "graph" / "endpoint-protection-beta.json"
    policy_id = json.loads(export.read_text())["id"]
    patch = tmp_path / "p.json"
    patch.write_text(
        json.dumps(
            {
                "policy": policy_id,
                "patch": {"bitLockerSystemDrivePolicy": {"startupAuthenticationTpmPinUsage": "required"}},
            }
        )
    )
    assert main(["plan", "--policy", str(export), "--patch", str(patch), "--format", "json"]) in (0, 1)
    data = json.loads(capsys.readouterr().out)
    assert data["proposal"]["patched"] == [policy_id]
    assert any(p["worse"] and "SE-09" in p["failing"] for p in data["possible"])


def test_a_patch_naming_no_policy_is_a_clear_error_with_a_suggestion(tmp_path, capsys):
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"policy": SILENT_ID[:-1] + "1", "patch": {}}))
    assert main(["plan", *TODAY, "--patch", str(patch)]) == 2
    err = capsys.readouterr().err
    assert "I802" in err and "$.policy" in err and SILENT_ID in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "where"),
    [({"policy": 3, "patch": {}}, "$.policy"), ({"policy": SILENT_ID, "patch": []}, "$.patch"), ([1], "$")],
)
def test_a_malformed_patch_names_its_bad_field(tmp_path, capsys, content, where):
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps(content))
    assert main(["plan", *TODAY, "--patch", str(patch)]) == 2
    err = capsys.readouterr().err
    assert "I801" in err and where in err


# --- usage, formats


@pytest.mark.parametrize(
    "argv",
    [
        ["--policy", str(SILENT)],  # no proposal
        ["--proposal-policy", str(SILENT)],  # no policies today
        ["--policy", str(SILENT), "--assignments", str(ASSIGNMENTS), "--proposal-policy", str(PIN)],  # no fleet
        ["--policy", str(SILENT), "--proposal-policy", str(PIN), "--jsonl", "x.jsonl"],  # no fleet
    ],
)
def test_usage_problems_exit_2_before_anything_is_read(argv, capsys):
    assert main(["plan", *argv]) == 2
    assert "bitlocker-rules plan:" in capsys.readouterr().err


def test_every_format_leads_with_the_verdict_and_the_causes(pin_required, tmp_path, capsys):
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    outputs = {}
    for fmt in ("text", "markdown", "html"):
        assert main(["plan", *TODAY, "--proposal-policy", str(proposed), "--format", fmt]) == 0
        outputs[fmt] = capsys.readouterr().out
    for fmt, out in outputs.items():
        verdict, cause, fleet = (out.index(s) for s in ("REGRESSIONS", "Require startup PIN with TPM", "SE-09"))
        assert verdict < cause < fleet, fmt
        assert "Every possible device" in out and "BIOS Mode" in out
    assert outputs["html"].startswith("<!DOCTYPE html>")


# --- today's state from a pulled snapshot


def test_a_plan_from_a_snapshot_equals_the_plan_of_the_same_data_as_files(request, tmp_path, capsys):
    tenant, folder, chosen, _ = request.getfixturevalue("tenant_pulled")
    files = request.getfixturevalue("as_files")
    policy = next(p for p in tenant.device_configurations if p["id"] == chosen)
    changed = patched(policy, {"bitLockerSystemDrivePolicy": {"startupAuthenticationTpmPinUsage": "required"}})
    proposal = tmp_path / "proposal.json"
    proposal.write_text(json.dumps(changed))
    found = []
    for today in (["--snapshot", str(folder)], files):
        assert main(["plan", *today, "--proposal-policy", str(proposal), "--format", "json"]) in (0, 1)
        data = json.loads(capsys.readouterr().out)
        assert data["proposal"]["replaced"] == [chosen]
        found.append(data)
    snapshot, files = found
    assert snapshot["fleet"]["diff"]["totals"] == files["fleet"]["diff"]["totals"]
    assert snapshot["fleet"]["diff"]["rules"] == files["fleet"]["diff"]["rules"]
    assert snapshot["fleet"]["changed_devices"] > 0
    # The pairs the fleet's devices move between are the same; the possible memberships differ
    # (the snapshot's groups and filters; the files name each device), so they are left out here.
    assert [(p["ruleset"], p["worse"], p["failing"]) for p in snapshot["possible"] if p["membership"] is None] == [
        (p["ruleset"], p["worse"], p["failing"]) for p in files["possible"] if p["membership"] is None
    ]
    assert not snapshot["memberships"]["complete"]  # its forty groups bring too many combinations
    assert snapshot["undecided"] and files["memberships"]["complete"]


def test_a_patch_applies_to_the_snapshots_record_of_its_policy(request, tmp_path, capsys):
    _, folder, chosen, _ = request.getfixturevalue("tenant_pulled")
    patch = tmp_path / f"{chosen}.json"
    patch.write_text(json.dumps({"bitLockerSystemDrivePolicy": {"startupAuthenticationTpmPinUsage": "required"}}))
    assert main(["plan", "--snapshot", str(folder), "--patch", str(patch), "--format", "json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out)["proposal"]["patched"] == [chosen]
    unknown = tmp_path / "00000000-0000-0000-0000-000000000000.json"
    unknown.write_text(patch.read_text())
    assert main(["plan", "--snapshot", str(folder), "--patch", str(unknown)]) == 2
    assert "which no --policy file or --snapshot holds" in capsys.readouterr().err


PASSWORD = "123453-234564-345675-456786-567897-678908-789019-890120"


def test_a_recovery_password_in_a_device_name_is_masked_in_every_format_and_the_jsonl(tmp_path, capsys):
    row = json.loads(FLEET.read_text(encoding="utf-8").splitlines()[4])
    row["deviceName"] = f"PC {PASSWORD}"
    fleet = tmp_path / "fleet.jsonl"
    fleet.write_text(json.dumps(row) + "\n")
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    lines = tmp_path / "plan.jsonl"
    for fmt in ("text", "json", "markdown", "html"):
        argv = ["plan", "--policy", str(SILENT), "--fleet", str(fleet), "--proposal-policy", str(proposed)]
        assert main([*argv, "--format", fmt, "--jsonl", str(lines)]) == 0
        out = capsys.readouterr().out + lines.read_text(encoding="utf-8")
        assert "SE-09" in out and "123453" not in out, fmt


def test_every_plan_renderer_returns_what_the_masking_door_masked(tmp_path):
    proposed = silent_with(tmp_path, tpm_startup_pin="Required")
    plan = make_plan(FleetJob(None, [str(SILENT)]), Proposal([str(proposed)]), str(FLEET))
    # Inputs are masked where they are read; a record holding a password anyway must not leak.
    plan = attrs.evolve(plan, proposal=attrs.evolve(plan.proposal, replaced=(PASSWORD,), notes=(f"note {PASSWORD}",)))
    for fmt in ("text", "json", "markdown", "html"):
        out = render_plan(plan, fmt)
        assert type(out) is MaskedText, fmt
        assert "123453" not in out and "SE-09" in out, fmt


def test_counts_folded_and_caches_started_afresh_give_the_same_plan(tmp_path, monkeypatch):
    import bitlocker_rules.plan.devices as plan_devices

    proposed = silent_with(tmp_path, tpm_startup_pin="Required", warning_for_other_disk_encryption="NotConfigured")
    job, proposal = FleetJob(None, [str(SILENT), str(PIN)], str(ASSIGNMENTS)), Proposal([str(proposed)])
    whole = make_plan(job, proposal, str(FLEET), timeout=0.5).fleet
    monkeypatch.setattr(plan_devices, "_CODES_LIMIT", 1)
    monkeypatch.setattr(plan_devices, "_DELTAS_LIMIT", 1)
    folded = make_plan(job, proposal, str(FLEET), timeout=0.5).fleet
    assert whole is not None and folded is not None and whole.changed_devices > 0
    assert folded.diff.rules == whole.diff.rules and folded.diff.totals == whole.diff.totals
    assert folded.unchanged == whole.unchanged


def test_a_repair_emitted_then_planned_equals_checking_the_repaired_policy(tmp_path, capsys):
    """repair --emit, then plan --patch with what it wrote: the plan's after side is exactly a
    check of the fleet against the policy with the emitted request applied by hand."""
    export = EXAMPLES / "graph" / "endpoint-protection-startup-pin.json"
    device = EXAMPLES / "device-legacy.json"
    main(["repair", "--policy", str(export), "--device", str(device), "--emit", str(tmp_path / "emit")])
    (emitted,) = (tmp_path / "emit").iterdir()
    capsys.readouterr()
    planned = tmp_path / "plan.jsonl"
    main(["plan", "--policy", str(export), "--fleet", str(FLEET), "--patch", str(emitted), "--jsonl", str(planned)])
    request = json.loads(emitted.read_text())
    assert request["method"] == "PATCH" and request["schema"] == "bitlocker-rules/emit/1"
    repaired = {**json.loads(export.read_text()), **{k: v for k, v in request["body"].items() if k != "@odata.type"}}
    (tmp_path / "repaired.json").write_text(json.dumps(repaired))
    checked = tmp_path / "after.jsonl"
    main(
        [
            "check",
            "--policy",
            str(tmp_path / "repaired.json"),
            "--fleet",
            str(FLEET),
            "--jsonl",
            str(checked),
            "--quiet",
        ]
    )
    after = {r["device"]: statuses(r) for r in jsonl(checked)}
    assert after  # the fleet was checked
    for record in jsonl(planned):
        assert {rule: pair[1] for rule, pair in record["verdicts"].items()} == after[record["device"]]
    assert any(
        pair[0] != pair[1] for r in jsonl(planned) for pair in r["verdicts"].values()
    )  # the repair changed something
