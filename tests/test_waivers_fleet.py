"""Waivers on a fleet: scope by device, group, policy and all; counts apart; --jobs; an oracle."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bitlocker_rules.cli import main

ROOT = Path(__file__).resolve().parent.parent
POLICY = str(ROOT / "examples" / "policy-silent.json")
POLICY_ID = "5b0e7c1a-3f2d-4b8e-9a61-0c2d4e6f8a10"
DAY = dt.date(2026, 12, 6)
# Rules that fail on some of the generated devices (old Windows, no TPM, legacy BIOS, not joined).
RULES = ("SE-02", "SE-04", "SE-05", "ER-08", "ER-19", "KR-01", "SE-03", "ER-25")
GROUPS = {"Legacy": ("PC-000", "PC-003", "PC-006"), "Kiosks": ("PC-001", "PC-004")}


def device(i: int) -> dict:
    return {
        "id": f"id-{i}",
        "deviceName": f"PC-{i:03}",
        "facts": {
            "os_version": f"10.0.{17134 + 400 * (i % 4)}",
            "user_role": "StandardUser" if i % 2 else "Administrator",
            "join_type": "AzureADJoined" if i % 5 else "AzureADRegistered",
            "tpm_present": i % 7 != 3,
            "tpm_version": 2.0,
            "firmware_mode": "UEFI" if i % 3 else "LegacyBIOS",
        },
    }


def write_inputs(folder: Path, count: int, waivers: list[dict]) -> dict[str, str]:
    fleet = folder / "fleet.jsonl"
    fleet.write_text("".join(json.dumps(device(i)) + "\n" for i in range(count)), encoding="utf-8")
    assignments = folder / "assignments.json"
    groups = {name: {"members": list(members), "policies": [POLICY_ID]} for name, members in GROUPS.items()}
    assignments.write_text(json.dumps({"all_devices": [POLICY_ID], "groups": groups}), encoding="utf-8")
    path = folder / "waivers.toml"
    path.write_text("".join(toml(w) for w in waivers), encoding="utf-8")
    return {"fleet": str(fleet), "assignments": str(assignments), "waivers": str(path)}


def toml(w: dict) -> str:
    scope = w["scope"]
    written = '"all"' if scope == "all" else "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in scope.items()) + " }"
    return (
        f'[[waivers]]\nid = "{w["id"]}"\nrules = {json.dumps(w["rules"])}\nscope = {written}\n'
        f'justification = "accepted"\napprover = "CISO"\nexpires = {w["expires"].isoformat()}\n\n'
    )


def fleet_run(folder: Path, paths: dict[str, str], *extra: str, name: str = "run") -> tuple[int, dict, list[dict]]:
    summary, lines = folder / f"{name}.json", folder / f"{name}.jsonl"
    argv = ["check", "--policy", POLICY, "--fleet", paths["fleet"], "--assignments", paths["assignments"]]
    code = main([*argv, "--format", "json", "--output", str(summary), "--jsonl", str(lines), "--quiet", *extra])
    records = [json.loads(line) for line in lines.read_text(encoding="utf-8").splitlines()]
    return code, json.loads(summary.read_text(encoding="utf-8")), records


def with_waivers(paths: dict[str, str]) -> tuple[str, ...]:
    return ("--waivers", paths["waivers"], "--today", DAY.isoformat())


def waiver(wid: str, rules: list[str], scope: object, expires: dt.date = dt.date(2027, 1, 31)) -> dict:
    return {"id": wid, "rules": rules, "scope": scope, "expires": expires}


def waived_rules(records: list[dict]) -> dict[str, set[tuple[str, str]]]:
    """Device name -> the (rule, waiver) pairs waived on it."""
    return {
        r["device"]: {(e["rule"], e["waiver"]) for e in r["results"] if e["status"] == "waived"}
        for r in records
        if any(e["status"] == "waived" for e in r["results"])
    }


@pytest.mark.parametrize(
    ("scope", "devices"),
    [
        ("all", {"PC-000", "PC-003", "PC-006", "PC-009"}),
        ({"devices": ["pc-003", "id-9"]}, {"PC-003", "PC-009"}),  # by name (any case) or id
        ({"groups": ["Legacy"]}, {"PC-000", "PC-003", "PC-006"}),
        ({"policies": ["WIN - EP - BitLocker silent"]}, {"PC-000", "PC-003", "PC-006", "PC-009"}),
    ],
)
def test_scope_by_device_group_policy_or_all(tmp_path, scope, devices):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", ["SE-05"], scope)])
    _, summary, records = fleet_run(tmp_path, paths, *with_waivers(paths))
    assert set(waived_rules(records)) == {f"device '{d}'" for d in devices}
    tally = next(t for t in summary["rules"] if t["rule"] == "SE-05")
    assert tally["waived"] == len(devices) and tally["fail"] == 4 - len(devices)


def test_a_device_group_or_policy_the_fleet_does_not_have_is_an_error(tmp_path, capsys):
    waivers = [waiver("W-1", ["SE-05"], {"devices": ["PC-0003"], "groups": ["Legacyy"], "policies": ["WIN - EP"]})]
    paths = write_inputs(tmp_path, 10, waivers)
    argv = ["check", "--policy", POLICY, "--fleet", paths["fleet"], "--assignments", paths["assignments"]]
    assert main([*argv, *with_waivers(paths)]) == 2
    err = capsys.readouterr().err
    assert "waivers[0].scope.devices[0]: error[W002]: unknown device `PC-0003`" in err
    assert "did you mean `PC-003`?" in err and "did you mean `Legacy`?" in err


def test_fleet_exit_code_and_failing_devices_leave_out_waived_failures(tmp_path):
    paths = write_inputs(tmp_path, 10, [waiver("W-1", list(RULES) + ["SE-01", "ER-17", "SE-07"], "all")])
    code, plain, _ = fleet_run(tmp_path, paths, name="plain")
    assert code == 1 and plain["failed_devices"]
    code, summary, records = fleet_run(tmp_path, paths, *with_waivers(paths))
    still = {t["rule"] for t in summary["rules"] if t["fail"]}
    assert code == (1 if still else 0)
    failing_devices = sum(1 for r in records if r["summary"]["fail"])
    assert summary["failed_devices"] == failing_devices < plain["failed_devices"]


def test_with_jobs_the_lines_and_counts_are_the_same(tmp_path):
    waivers = [waiver("W-1", ["SE-05", "KR-01"], {"groups": ["Legacy"]}), waiver("W-2", ["ER-19"], "all")]
    paths = write_inputs(tmp_path, 1200, waivers)  # more than one batch of 500
    _, one, _ = fleet_run(tmp_path, paths, *with_waivers(paths), "--jobs", "1", name="one")
    _, two, _ = fleet_run(tmp_path, paths, *with_waivers(paths), "--jobs", "2", name="two")
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert one == two and one["waiver_notices"] == []


def test_expired_and_unmatched_waivers_are_reported_in_the_summary(tmp_path):
    waivers = [
        waiver("W-1", ["SE-05"], "all", expires=dt.date(2026, 12, 5)),
        waiver("W-2", ["SE-05"], {"devices": ["PC-001"]}),  # PC-001 has UEFI: nothing to waive
    ]
    paths = write_inputs(tmp_path, 10, waivers)
    _, summary, records = fleet_run(tmp_path, paths, *with_waivers(paths))
    assert waived_rules(records) == {}
    assert [(n["waiver"], n["kind"], n["date"]) for n in summary["waiver_notices"]] == [
        ("W-1", "expired", "2026-12-05"),
        ("W-2", "unmatched", None),
    ]


# --- the oracle: waived + failing after == failing before, per rule and device ------------------

DEVICES = 12
_names = [f"PC-{i:03}" for i in range(DEVICES)]
_scope = st.one_of(
    st.just("all"),
    st.lists(st.sampled_from(_names), min_size=1, max_size=4, unique=True).map(lambda d: {"devices": d}),
    st.lists(st.sampled_from(sorted(GROUPS)), min_size=1, unique=True).map(lambda g: {"groups": g}),
)
_waivers = st.lists(
    st.tuples(
        st.lists(st.sampled_from(RULES), min_size=1, max_size=3, unique=True),
        _scope,
        st.integers(-3, 3).map(lambda days: DAY + dt.timedelta(days=days)),
    ),
    min_size=1,
    max_size=4,
).map(lambda ws: [waiver(f"W-{i}", rules, scope, expires) for i, (rules, scope, expires) in enumerate(ws)])


def covers(w: dict, name: str) -> bool:
    """The oracle's own reading of a scope (the device's id is id-N for PC-N)."""
    scope = w["scope"]
    if scope == "all":
        return True
    ident = "id-" + str(int(name[3:]))
    named = {d.casefold() for d in scope.get("devices", ())}
    in_groups = any(name in GROUPS[g] for g in scope.get("groups", ()))
    return name.casefold() in named or ident in named or in_groups


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_waivers)
def test_waived_and_failing_after_equal_failing_before(waivers):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = write_inputs(root, DEVICES, waivers)
        _, before, plain = fleet_run(root, paths, name="plain")
        _, after, records = fleet_run(root, paths, *with_waivers(paths))
    # The oracle: a plain loop over the records without waivers and the waiver table.
    expected: dict[str, set[tuple[str, str]]] = {}
    for record in plain:
        name = record["device"].removeprefix("device '").removesuffix("'")
        for entry in record["results"]:
            if entry["status"] != "fail":
                continue
            first = next(
                (w for w in waivers if entry["rule"] in w["rules"] and w["expires"] >= DAY and covers(w, name)), None
            )
            if first is not None:
                expected.setdefault(record["device"], set()).add((entry["rule"], first["id"]))
    assert waived_rules(records) == expected
    for old, new in zip(before["rules"], after["rules"]):
        assert new["fail"] + new["waived"] == old["fail"], old["rule"]
        assert {k: v for k, v in new.items() if k not in ("fail", "waived")} == {
            k: v for k, v in old.items() if k != "fail"
        }
    used = Counter(w for pairs in expected.values() for _, w in pairs)
    expired = [w["id"] for w in waivers if w["expires"] < DAY]
    unmatched = [w["id"] for w in waivers if w["expires"] >= DAY and not used[w["id"]]]
    assert [n["waiver"] for n in after["waiver_notices"]] == expired + unmatched
    for old, new in zip(plain, records):  # the reasons of a waived failure are the failure's
        reasons = {e["rule"]: e.get("reasons") for e in old["results"]}
        assert all(e["reasons"] == reasons[e["rule"]] for e in new["results"] if e["status"] == "waived")


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "junit"])
def test_every_fleet_format_counts_waived_apart(tmp_path, fmt):
    paths = write_inputs(
        tmp_path, 10, [waiver("W-1", ["SE-05"], "all"), waiver("W-2", ["SE-05"], {"devices": ["PC-001"]})]
    )
    out = tmp_path / f"report.{fmt}"
    argv = ["check", "--policy", POLICY, "--fleet", paths["fleet"], "--assignments", paths["assignments"]]
    main([*argv, *with_waivers(paths), "--format", fmt, "--output", str(out), "--quiet"])
    text = out.read_text(encoding="utf-8")
    if fmt == "junit":
        case = next(c for c in ET.fromstring(text).iter("testcase") if c.get("name").startswith("SE-05 "))
        skipped = case.find("skipped")
        assert case.find("failure") is None and skipped is not None and skipped.get("type") == "waived"
        assert skipped.get("message").startswith("waived on 4 of 10 devices")
        return
    assert "W-1 waived 4 failures" in text
    assert "waiver W-2 matched nothing" in text
    plain = tmp_path / f"plain.{fmt}"
    main([*argv, "--format", fmt, "--output", str(plain), "--quiet"])
    assert "waive" not in plain.read_text(encoding="utf-8").lower()
