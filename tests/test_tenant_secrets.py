"""No secret of the tenant reaches a request, the snapshot or any output of ``pull``.

Recovery passwords are planted where a tenant can hold them: every recovery key's ``key`` (Graph
returns it only to ``$select=key``), an encrypted OMA-URI value, and text fields an admin types
(a profile's description, a device's name, a group's name, an assignment filter's rule), each
in every spelling ``tests/test_secrets.py`` knows. Its oracle, written without ``redact``, then
reads every file of the snapshot, the manifest, and what the command printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graph_fake import PLANTED_KEY, LocalGraph, Tenant
from hypothesis import example, given
from hypothesis import strategies as st
from test_secrets import Planted

from bitlocker_rules.cli import main
from bitlocker_rules.importers.imported import SECRET_FIELDS
from bitlocker_rules.tenant.scrub import is_clean, scrubbed


@pytest.fixture
def planted_tenant():
    planted = Planted()
    tenant = Tenant(seed=11, policies=3, groups=10, devices=40)
    profile = next(p for p in tenant.device_configurations if "bitLockerEncryptDevice" in p)
    profile["description"] = planted.text("profile description")
    tenant.managed_devices[0]["deviceName"] = planted.text("device name")
    for group in tenant.groups:
        group["displayName"] = planted.text("group name")
    tenant.filters[0]["rule"] = planted.text("filter rule")
    # a page of the report whose rows are otherwise kept as Graph wrote them (tenant.sent_text)
    tenant.encryption_states[3]["deviceName"] = planted.text("encryption report row")
    custom = next(
        p for p in tenant.device_configurations if p.get("omaSettings") and p["omaSettings"][-1].get("isEncrypted")
    )
    custom["omaSettings"][-1]["value"] = planted.text("encrypted oma value")
    for key in tenant.recovery_keys:
        key["key"] = planted.password("recovery key", "dashes")
    # An id is what the manifest names a scrubbed record by: a member's id (no join reads it)
    member = next(m for members in tenant.members.values() for m in members)
    member["id"] = planted.text("group member id")
    local = LocalGraph(tenant, page_size=25)
    yield local, planted
    local.stop()


def test_no_planted_secret_reaches_the_snapshot_or_the_output(planted_tenant, tmp_path, monkeypatch, capsys):
    local, planted = planted_tenant
    monkeypatch.setenv("GRAPH_TOKEN", "good-token")
    out = tmp_path / "snapshot"
    code = main(["pull", "--out", str(out), "--auth", "token-env", "GRAPH_TOKEN", "--graph-url", local.url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # The oracle sees what was planted (else the scan below proves nothing).
    assert planted.leaks(local.fake.tenant.groups[0]["displayName"])
    written = {path.name: path.read_text(encoding="utf-8") for path in Path(out).iterdir()}
    assert {"manifest.json", "recovery_keys.jsonl", "groups.jsonl"} <= set(written)
    for name, text in {**written, "stdout": captured.out, "stderr": captured.err}.items():
        assert not planted.leaks(text), name
        assert PLANTED_KEY.replace("-", "") not in text.replace("-", "")
    assert "an encrypted OMA-URI value; not kept (never decrypted)" in written["manifest.json"]
    assert "a recovery password in the text; masked" in written["manifest.json"]


def test_no_request_names_the_key(planted_tenant, tmp_path):
    from bitlocker_rules.tenant import Pacing, PullOptions, pull
    from bitlocker_rules.tenant.signin import EnvironmentToken

    local, _ = planted_tenant
    pull(
        PullOptions(tmp_path / "s", local.url),
        EnvironmentToken("T", {"T": "good-token"}),
        pacing=Pacing(sleep=lambda s: None),
    )
    for path, args, _ in local.fake.requests:
        assert "key" not in [s.strip().lower() for s in args.get("$select", "").split(",")], (path, args)
        assert "getOmaSettingPlainTextValue" not in path
        assert not path.startswith("/v1.0/informationProtection/bitlocker/recoveryKeys/")


def test_a_key_graph_sends_unasked_is_not_kept(planted_tenant, tmp_path):
    """Should Graph return ``key`` without ``$select=key`` (it does not), the snapshot still drops it."""
    import json

    from werkzeug import Response

    from bitlocker_rules.tenant import Pacing, PullOptions, pull, read_manifest
    from bitlocker_rules.tenant.signin import EnvironmentToken

    local, planted = planted_tenant
    keys = local.fake.tenant.recovery_keys

    def careless(request):
        if request.path.endswith("/recoveryKeys"):
            return Response(json.dumps({"value": keys}), content_type="application/json")
        return None

    local.fake.faults.append(careless)
    out = tmp_path / "s"
    pull(PullOptions(out, local.url), EnvironmentToken("T", {"T": "good-token"}), pacing=Pacing(sleep=lambda s: None))
    text = (out / "recovery_keys.jsonl").read_text(encoding="utf-8")
    assert text.count("\n") == len(keys) and '"key"' not in text
    assert not planted.leaks(text) and not planted.leaks((out / "manifest.json").read_text(encoding="utf-8"))
    notes = [s for s in read_manifest(out)["skipped"] if s["why"] == "a recovery secret; not kept"]
    assert len(notes) == len(keys)


# The snapshot writer skips the structural scrub for a record whose JSON text shows nothing to
# scrub (``is_clean``); that shortcut must never keep what the scrub would change.
_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from([PLANTED_KEY, PLANTED_KEY.replace("-", " "), PLANTED_KEY.replace("-", "\n"), "no secret here"]),
)
_KEYS = st.one_of(
    st.text(max_size=8), st.sampled_from(["key", "KEY", "\u212aey", "recoveryPassword", "isEncrypted", "value"])
)
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), _TEXT)
_RECORDS = st.deferred(
    lambda: st.one_of(_LEAVES, st.lists(_RECORDS, max_size=3), st.dictionaries(_KEYS, _RECORDS, max_size=3))
)


@pytest.mark.parametrize("name", sorted(SECRET_FIELDS))
def test_every_secret_name_takes_a_record_out_of_the_quick_path(name):
    # the quick path rules keys out by their ending: a secret name ending otherwise must not slip by
    for spelling in (name, name.upper(), name.title()):
        assert not is_clean(json.dumps({spelling: "x"}, separators=(",", ":")))


@given(st.dictionaries(_KEYS, _RECORDS, max_size=5))
@example({"omaSettings": [{"isEncrypted": True, "value": "cipher"}]})
@example({"hardwareInformation": {"isEncrypted": True}, "notes": "no secret here"})
def test_a_record_written_as_is_is_one_the_scrub_leaves_alone(record):
    if is_clean(json.dumps(record, ensure_ascii=False, separators=(",", ":"))):
        assert scrubbed(record, lambda path, what: pytest.fail(f"{path}: {what}")) == record
