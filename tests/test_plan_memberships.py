"""``plan``'s possible memberships: a device in a combination of groups that no device of today's
fleet is in gets a pair of policy sets the fleet never shows, and the plan asks the possible-device
question of it too. Checked on a hand-built case that only the two-group combination makes worse,
and against brute force: every subset of a few groups (and filter outcomes) through the
assignments' own per-device choice, Hypothesis over generated assignment files."""

from __future__ import annotations

import itertools
import json
import tempfile
from pathlib import Path

import pytest
from attrs import evolve
from graph_fake import LocalGraph, Tenant
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_report_formats import load_schema, validate
from test_tenant_pull import TOKENS, _bitlocker_policies, quick

from bitlocker_rules.assignments import AssignedPolicies, AssignedPolicy, Assignments, Group, read_assignments
from bitlocker_rules.cli import main
from bitlocker_rules.facts import Facts
from bitlocker_rules.fleet.job import FleetJob
from bitlocker_rules.plan import Membership, Proposal, make_plan, possible_memberships
from bitlocker_rules.plan.run import possible_regressions as real
from bitlocker_rules.report.plan import membership_words, render_plan
from bitlocker_rules.snapshot import SnapshotPolicies
from bitlocker_rules.snapshot.scope import FilteredTarget, assignment_filter
from bitlocker_rules.tenant import PullOptions, pull

# Client-driven rotation with the OS and fixed-drive escrow to Pilot; the fixed-drive "back up
# before enabling" to Finance. KR-06 needs both fixed-drive settings; the proposal drops Finance's.
ROTATION = {
    "id": "rotation",
    "displayName": "Rotation",
    "settings": {
        "policy_type": "EndpointProtectionTemplate",
        "recovery_password_rotation": "AzureAD",
        "os_save_recovery_to_azure_ad": "Enabled",
        "os_require_recovery_backup_before_enabling": "Required",
        "fdv_save_recovery_to_azure_ad": "Enabled",
    },
}
BACKUP = {
    "id": "backup",
    "displayName": "Backup",
    "settings": {
        "policy_type": "EndpointProtectionTemplate",
        "fdv_require_recovery_backup_before_enabling": "Required",
    },
}
ASSIGNED = {
    "groups": {
        "Pilot": {"members": ["PC-1"], "policies": ["rotation"]},
        "Finance": {"members": ["PC-2"], "policies": ["backup"]},
    }
}
FACTS = {"os_version": "10.0.22631.3593", "join_type": "AzureADJoined"}


def written(folder: Path, name: str, data: object) -> str:
    path = folder / name
    text = "\n".join(json.dumps(d) for d in data) if isinstance(data, list) else json.dumps(data)
    path.write_text(text + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def two_groups(tmp_path_factory) -> dict:
    """Today: PC-1 in Pilot, PC-2 in Finance, PC-3 in no group (no device in both); the proposal
    sets Finance's "back up before enabling" to Not configured."""
    folder = tmp_path_factory.mktemp("memberships")
    proposed = {
        **BACKUP,
        "settings": {**BACKUP["settings"], "fdv_require_recovery_backup_before_enabling": "NotConfigured"},
    }
    files = {
        "rotation": written(folder, "rotation.json", ROTATION),
        "backup": written(folder, "backup.json", BACKUP),
        "proposed": written(folder, "backup-proposed.json", proposed),
        "assignments": written(folder, "assignments.json", ASSIGNED),
        "fleet": written(folder, "fleet.jsonl", [{"deviceName": f"PC-{i}", "facts": FACTS} for i in (1, 2, 3)]),
        "folder": folder,
    }
    job = FleetJob(None, [files["rotation"], files["backup"]], files["assignments"])
    files["plan"] = make_plan(job, Proposal([files["proposed"]]), files["fleet"], timeout=60)
    files["argv"] = [
        "plan", "--policy", files["rotation"], "--policy", files["backup"], "--fleet", files["fleet"],
        "--assignments", files["assignments"], "--proposal-policy", files["proposed"], "--timeout", "60",
    ]  # fmt: skip
    return files


def test_the_fleets_own_pairs_miss_what_only_the_two_group_combination_makes_worse(two_groups):
    plan = two_groups["plan"]
    # What plan asked before memberships: the pairs today's fleet's devices move between.
    fleet_answers = [p for p in plan.possible if p.membership is None]
    assert {p.policies_before for p in fleet_answers} == {("policy 'Backup' (backup)",)}
    assert fleet_answers and not any(p.worse for p in fleet_answers)
    assert plan.fleet.newly_failing_devices == 0
    # The membership search finds the combination, and the exact analysis a device it makes worse.
    assert plan.memberships.complete and plan.memberships.total == 4  # two groups
    (worse,) = [p for p in plan.possible if p.worse]
    assert worse.membership == Membership(("Finance", "Pilot"))
    assert worse.ruleset == "key_rotation" and worse.failing == ("KR-06",) and worse.smallest
    assert worse.policies_before == ("policy 'Rotation' (rotation)", "policy 'Backup' (backup)")
    assert {w.fact: w.raw for w in worse.witness} == {
        "device.join_type": "AzureADJoined",
        "device.os_version": "10.0.18363.0",
        "scenario.key_rotation": True,
    }
    assert all(p.worse is False for p in plan.possible if p is not worse)
    assert plan.regressions and not plan.undecided


def test_each_pair_is_asked_once_the_fleets_in_todays_words(two_groups):
    plan = two_groups["plan"]
    asked = [(p.ruleset, p.policies_before, p.policies_after) for p in plan.possible]
    assert len(asked) == len(set(asked))
    # Pilot alone keeps its policy, no group gets none: nothing changes, nothing is asked of them.
    assert {p.policies_before for p in plan.possible} == {
        ("policy 'Backup' (backup)",),
        ("policy 'Rotation' (rotation)", "policy 'Backup' (backup)"),
    }


def test_every_format_names_the_membership(two_groups, tmp_path):
    argv = two_groups["argv"]
    out = tmp_path / "plan.json"
    assert main([*argv, "--fail-on", "regressions", "--format", "json", "--output", str(out)]) == 1
    data = json.loads(out.read_text(encoding="utf-8"))
    assert validate(data, load_schema("plan-1.json")) == []
    assert data["memberships"] == {"complete": True, "searched": 4, "total": 4, "limit": 10_000}
    memberships = [p["membership"] for p in data["possible"] if p["worse"]]
    # An assignment file names its groups: no other name is known.
    assert memberships == [
        {"groups": ["Finance", "Pilot"], "group_names": [None, None], "devices": [], "matching": [], "not_matching": []}
    ]
    assert {p["membership"] is None for p in data["possible"]} == {True, False}
    plan = two_groups["plan"]
    heading = "A device in groups Finance and Pilot only would get policy 'Rotation' (rotation), policy 'Backup'"
    searched = "Every possible membership was searched (4 combinations of groups, devices named and filters): 1 pair"
    for fmt in ("text", "markdown", "html"):
        shown = render_plan(plan, fmt).replace("&#x27;", "'")
        assert heading in shown and searched in shown, fmt
    assert "Devices that get policy 'Backup' (backup) today" in render_plan(plan, "text")


@pytest.fixture(scope="module")
def small_tenant(tmp_path_factory) -> tuple[Tenant, Path, str]:
    """A generated tenant of four groups pulled from the local Graph, and a patch of its first
    BitLocker profile (assigned to a group with a filter, and excluded from another)."""
    tenant = Tenant(seed=3, policies=4, groups=4, devices=30)
    local = LocalGraph(tenant, page_size=100)
    folder = tmp_path_factory.mktemp("named") / "snapshot"
    try:
        pull(PullOptions(folder, local.url, concurrency=2), TOKENS, pacing=quick())
    finally:
        local.stop()
    chosen = next(p["id"] for p in tenant.device_configurations if p["id"] in _bitlocker_policies(tenant))
    patch = folder.parent / f"{chosen}.json"
    patch.write_text(json.dumps({"bitLockerSystemDrivePolicy": {"startupAuthenticationTpmPinUsage": "required"}}))
    return tenant, folder, str(patch)


def test_a_snapshots_groups_are_named_by_their_display_names(small_tenant, tmp_path):
    """``plan --snapshot``: the snapshot names its groups by id; the plan carries each one's
    displayName (groups.jsonl), and JSON keeps the ids and adds the names."""
    tenant, folder, patch = small_tenant
    names = {g["id"]: g["displayName"] for g in tenant.groups}
    out = tmp_path / "plan.json"
    assert main(["plan", "--snapshot", str(folder), "--patch", patch, "--format", "json", "--output", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert validate(data, load_schema("plan-1.json")) == []
    memberships = [p["membership"] for p in data["possible"] if p["membership"] and p["membership"]["groups"]]
    assert memberships
    assert all(m["group_names"] == [names[g] for g in m["groups"]] for m in memberships)
    plan = make_plan(FleetJob(None, [], None, snapshot=str(folder)), Proposal(patches=[patch]), None, timeout=60)
    assert dict(plan.memberships.group_names) == names


def test_every_format_names_a_group_by_its_name_and_id(two_groups):
    """Where a group's name is known (a snapshot's groups, named by id), the headings say
    ``Finance team (Finance)``, as other reports name such a group, in every format."""
    plan = two_groups["plan"]
    named = evolve(plan, memberships=evolve(plan.memberships, group_names={"Finance": "Finance team"}))
    heading = "A device in groups Finance team (Finance) and Pilot only would get policy 'Rotation' (rotation)"
    for fmt in ("text", "markdown", "html"):
        assert heading in render_plan(named, fmt).replace("&#x27;", "'"), fmt
        assert "Finance team" not in render_plan(plan, fmt), fmt
    (worse,) = [p for p in json.loads(render_plan(named, "json"))["possible"] if p["worse"]]
    assert worse["membership"]["group_names"] == ["Finance team", None]


def test_a_group_without_a_known_name_is_named_by_its_id():
    membership = Membership(("3f2e-finance", "9a1c-pilot"))
    assert membership_words(membership, {"3f2e-finance": "Finance"}) == (
        "A device in groups Finance (3f2e-finance) and 9a1c-pilot only"
    )
    assert membership_words(membership) == "A device in groups 3f2e-finance and 9a1c-pilot only"


def test_a_side_without_assignments_gives_every_policy_and_says_so(two_groups, capsys):
    # Today every device gets both policies; the proposal assigns them by group.
    argv = [
        "plan",
        "--policy",
        two_groups["rotation"],
        "--policy",
        two_groups["backup"],
        "--fleet",
        two_groups["fleet"],
    ]
    assert main([*argv, "--proposal-assignments", two_groups["assignments"]]) == 0
    shown = capsys.readouterr().out
    assert "  Devices that get every policy today and policy 'Rotation' (rotation) under the proposal:" in shown
    assert "  A device in no group would get every policy today and no policy under the proposal:" not in shown  # PC-3
    assert "  Devices that get every policy today and no policy under the proposal:" in shown
    assert "Finance and Pilot" not in shown  # a device in both gets both policies: nothing changes, nothing is asked


def test_a_search_cut_short_is_undecided_never_safe(two_groups, monkeypatch, capsys):
    # Two patterns: no group and Finance; Pilot (the combination's half) is never joined.
    monkeypatch.setattr("bitlocker_rules.plan.run.LIMIT", 2)
    assert main([*two_groups["argv"], "--fail-on", "regressions"]) == 4
    shown = capsys.readouterr().out
    assert shown.startswith(
        "UNDECIDED — no device of today's fleet newly fails a rule; "
        "no possible device found worse, but not every group combination was searched."
    )
    assert "Not every group combination was searched: 2 of 4 (past 2 distinct memberships the search stops" in shown
    assert main(two_groups["argv"]) == 0  # without --fail-on, whatever the plan found


def test_without_a_fleet_every_membership_is_planned(two_groups):
    job = FleetJob(None, [two_groups["rotation"], two_groups["backup"]], two_groups["assignments"])
    plan = make_plan(job, Proposal([two_groups["proposed"]]), None, timeout=60)
    assert plan.fleet is None
    assert {p.membership for p in plan.possible} == {Membership(("Finance",)), Membership(("Finance", "Pilot"))}
    assert [p.ruleset for p in plan.possible if p.worse] == ["key_rotation"]


def test_a_pair_with_the_settings_of_one_asked_gets_its_answers_under_its_own_names(two_groups, monkeypatch):
    # Audit brings a policy that sets nothing: a device in Audit too gets the same settings.
    folder = two_groups["folder"]
    empty = written(folder, "empty.json", {"id": "empty", "displayName": "Empty", "settings": {}})
    assigned = {"groups": {**ASSIGNED["groups"], "Audit": {"members": [], "policies": ["empty"]}}}
    job = FleetJob(None, [two_groups["rotation"], two_groups["backup"], empty], written(folder, "audit.json", assigned))
    asked = []
    monkeypatch.setattr("bitlocker_rules.plan.run.possible_regressions", lambda *a: asked.append(a[-1]) or real(*a))
    plan = make_plan(job, Proposal([two_groups["proposed"]]), two_groups["fleet"], timeout=60)
    assert asked == [None, Membership(("Finance", "Pilot"))]  # the fleet's Finance pair, and the combination
    by_membership = {}
    for p in plan.possible:
        by_membership.setdefault(p.membership, []).append(p)
    assert set(by_membership) == {
        None,
        Membership(("Finance", "Pilot")),
        Membership(("Audit", "Finance")),  # Finance's settings: the fleet's answers
        Membership(("Audit", "Finance", "Pilot")),  # the combination's settings: its answers, worse too
    }
    for copy, of in (("Audit", "Finance"), None), (("Audit", "Finance", "Pilot"), ("Finance", "Pilot")):
        original = by_membership[None if of is None else Membership(of)]
        copied = by_membership[Membership(copy)]
        assert [(p.ruleset, p.worse, p.failing, p.witness) for p in copied] == [
            (p.ruleset, p.worse, p.failing, p.witness) for p in original
        ]
        assert all("policy 'Empty' (empty)" in p.policies_before for p in copied)
    shown = render_plan(plan, "text")
    assert "A device in groups Audit, Finance and Pilot only would get" in shown
    assert "A device in groups Audit and Finance only" not in shown  # nothing worse there: counted, not listed
    assert (
        "3 pairs of policy sets no device of today's fleet gets; no possible device gets worse under 1 of them" in shown
    )


# --- the enumeration against brute force over every subset of the groups


def policies(count: int) -> list[AssignedPolicy]:
    return [AssignedPolicy(f"p{i}", f"P{i}", Facts(name=f"P{i}")) for i in range(count)]


def brute_force(before, after, groups: list[str], named: list[str], records) -> set[tuple[frozenset, frozenset]]:
    """Every pair a device gets over every subset of the groups, as none or one of the devices
    named, through the assignments' own per-device choice (``policy_ids``): the device's row is
    known by ``in-<subset>``, which the groups of the subset list as a member, and its id is the
    name (each of ``records`` adds what its filters read)."""
    found = set()
    for size in range(len(groups) + 1):
        for chosen in itertools.combinations(groups, size):
            for name in [None, *named]:
                row = device_row(list(chosen), name)
                found.update((before.policy_ids({**r, **row}), after.policy_ids({**r, **row})) for r in records)
    return found


def device_row(groups: list[str], name: str | None) -> dict:
    return {"deviceName": member_key(groups), **({"id": name} if name else {})}


def member_key(groups: list[str]) -> str:
    return "in-" + "+".join(sorted(groups))


def memberships_of(groups: list[str]) -> dict[str, list[str]]:
    """Each group's members: the device of every subset the group is in."""
    subsets = [list(c) for size in range(len(groups) + 1) for c in itertools.combinations(groups, size)]
    return {g: [member_key(s) for s in subsets if g in s] for g in groups}


def subsets(items: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(items), unique=True, max_size=len(items)) if items else st.just([])


@st.composite
def assignment_files(draw, policy_ids: list[str], groups: list[str], named: list[str]) -> dict:
    members, chosen = memberships_of(groups), subsets(policy_ids)
    return {
        "all_devices": draw(chosen),
        "groups": {
            g: {"members": members[g], "policies": draw(chosen), "excluded_from": draw(chosen)}
            for g in draw(subsets(groups))
        },
        "devices": {n: draw(chosen) for n in draw(subsets(named))},
    }


def read(data: dict, given: list[AssignedPolicy]) -> Assignments:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "assignments.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        return read_assignments(path, given)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), groups=st.integers(0, 4), named=st.integers(0, 2), count=st.integers(1, 4))
def test_the_pairs_equal_brute_force_over_every_subset_of_the_groups(data, groups, named, count):
    given_ = policies(count)
    ids, names = [p.policy_id for p in given_], [f"G{i}" for i in range(groups)]
    devices = [f"named-{i}" for i in range(named)]
    today = AssignedPolicies(read(data.draw(assignment_files(ids, names, devices)), given_), given_)
    proposal = AssignedPolicies(read(data.draw(assignment_files(ids, names, devices)), given_), given_)
    search = possible_memberships(today, proposal)
    assert search.complete
    found = {(pair.before, pair.after) for pair in search.pairs}
    assert found == brute_force(today, proposal, names, devices, [{}])
    for pair in search.pairs:  # each membership shown gives its pair
        (got,) = brute_force_one(today, proposal, pair.membership)
        assert got == (pair.before, pair.after)


def brute_force_one(before, after, m: Membership) -> set[tuple[frozenset, frozenset]]:
    assert len(m.devices) <= 1  # a device is at most one of those named
    row = device_row(list(m.groups), m.devices[0] if m.devices else None)
    return {(before.policy_ids(row), after.policy_ids(row))}


# --- assignment filters: each matching or not, against a snapshot's own per-device choice

FILTER_FIELDS = ("manufacturer", "model", "enrollmentProfileName")


def a_filter(index: int) -> dict:
    return {"id": f"f{index}", "displayName": f"F{index}", "rule": f'(device.{FILTER_FIELDS[index]} -eq "yes")'}


@st.composite
def snapshot_states(draw, given: list[AssignedPolicy], groups: list[str], filters: int):
    ids, members = [p.policy_id for p in given], memberships_of(groups)
    chosen = subsets(ids)
    plain = Assignments(
        tuple(draw(chosen)),
        tuple(Group(g, frozenset(m.casefold() for m in members[g]), tuple(draw(chosen)), tuple(draw(chosen)))
              for g in groups),
        {},
    )  # fmt: skip
    targets = []
    for _ in range(draw(st.integers(0, 3)) if filters else 0):
        group = draw(st.sampled_from([None, *groups]))
        targets.append(
            FilteredTarget(
                draw(st.sampled_from(ids)),
                group,
                frozenset(m.casefold() for m in members[group]) if group else frozenset(),
                draw(st.sampled_from(["include", "exclude"])),
                assignment_filter(a_filter(draw(st.integers(0, filters - 1)))),
            )
        )
    return SnapshotPolicies(plain, given, targets)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), groups=st.integers(0, 3), filters=st.integers(0, 3), count=st.integers(1, 3))
def test_with_filters_the_pairs_equal_brute_force_over_groups_and_filter_outcomes(data, groups, filters, count):
    given_, names = policies(count), [f"G{i}" for i in range(groups)]
    today = data.draw(snapshot_states(given_, names, filters))
    proposal = data.draw(snapshot_states(given_, names, filters))
    outcomes = [
        {field: "yes" if hit else "no" for field, hit in zip(FILTER_FIELDS, hits)}
        for hits in itertools.product((True, False), repeat=filters)
    ]
    search = possible_memberships(today, proposal)
    assert search.complete
    assert {(p.before, p.after) for p in search.pairs} == brute_force(today, proposal, names, [], outcomes)
    for pair in search.pairs:
        matched = {int(name[1:]) for name in pair.membership.matching}
        row = {field: "yes" if i in matched else "no" for i, field in enumerate(FILTER_FIELDS[:filters])}
        row["deviceName"] = member_key(list(pair.membership.groups))
        assert (today.policy_ids(row), proposal.policy_ids(row)) == (pair.before, pair.after)


def test_a_filter_this_version_cannot_evaluate_is_searched_matching_and_not():
    given_ = policies(2)
    cannot = assignment_filter({"id": "arm", "displayName": "ARM only", "rule": '(device.cpuArchitecture -eq "arm64")'})
    assert cannot.unevaluable
    target = FilteredTarget("p1", None, frozenset(), "include", cannot)
    today = SnapshotPolicies(Assignments(("p0",), (), {}), given_, [target])
    # The check itself applies the policy as if the filter were absent; Intune decides it either way.
    assert today.policy_ids({"deviceName": "x"}) == {"p0", "p1"}
    search = possible_memberships(today, today)
    assert {(p.before, p.membership) for p in search.pairs} == {
        (frozenset({"p0"}), Membership(not_matching=("ARM only",))),
        (frozenset({"p0", "p1"}), Membership(matching=("ARM only",))),
    }


def test_an_exclude_filter_that_matches_withholds_the_policy_whatever_another_one_cannot_say():
    # docs/tenant.md: with exclude filters, the policy applies unless the device matches one of
    # them. A filter that cannot be evaluated beside one that matches decided nothing; the
    # mutation run of the sixteenth session let it apply the policy, and no test failed.
    cannot = assignment_filter({"id": "arm", "displayName": "ARM only", "rule": '(device.cpuArchitecture -eq "arm64")'})
    named = assignment_filter({"id": "x", "displayName": "Device x", "rule": '(device.deviceName -eq "x")'})
    targets = [FilteredTarget("p1", None, frozenset(), "exclude", f) for f in (cannot, named)]
    today = SnapshotPolicies(Assignments(("p0",), (), {}), policies(2), targets)
    assert today.policy_ids({"deviceName": "x"}) == {"p0"}
    assert today.policy_ids({"deviceName": "y"}) == {"p0", "p1"}  # no match: as if the unknown one had no filter


# --- the work is bounded by distinct patterns, not by subsets


def test_many_groups_that_bring_the_same_are_one_and_a_limit_says_what_was_covered():
    given_ = policies(3)
    same = [Group(f"Same{i}", frozenset(), ("p1",)) for i in range(60)]
    other = [Group(f"Other{i}", frozenset(), (f"p{i % 3}",), ("p0",) if i == 2 else ()) for i in range(3)]
    state = AssignedPolicies(Assignments(("p0",), (*same, *other), {}), given_)
    search = possible_memberships(state, state)
    # 2^63 subsets, three variables: Other0 (p0, which every device has), Other1 with the sixty
    # Same* (p1), Other2 (p2, and p0 excluded).
    assert search.complete and search.total == 2**63
    assert {p.before: p.membership.groups for p in search.pairs} == {
        frozenset({"p0"}): (),
        frozenset({"p0", "p1"}): ("Other1",),
        frozenset({"p2"}): ("Other2",),
        frozenset({"p1", "p2"}): ("Other1", "Other2"),
    }
    cut = possible_memberships(state, state, limit=3)  # Other2 would make four patterns
    assert not cut.complete and (cut.searched, cut.total) == (2**62, 2**63)
    assert {p.before for p in cut.pairs} == {frozenset({"p0"}), frozenset({"p0", "p1"})}
