"""Fleets: streamed reading in every format, bad rows reported and skipped, processes agree."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

import bitlocker_rules.fleet as fleet
import bitlocker_rules.fleet.rows as fleet_rows
from bitlocker_rules import Engine, load_policy_file
from bitlocker_rules.errors import SECRET_MASK, redact
from bitlocker_rules.fleet import BadRow, evaluate_fleet, evaluate_fleet_parallel, fleet_device, read_fleet
from bitlocker_rules.fleet.job import fleet_engine

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "examples" / "policy-silent.json"
KEY = "123456-234567-345678-456789-567890-678901-789012-890123"


def devices(count: int) -> list[dict]:
    return [
        {
            "id": f"id-{i}",
            "deviceName": f"PC-{i:03}",
            "facts": {
                "os_version": f"10.0.{17000 + 400 * (i % 8)}",
                "user_role": "StandardUser" if i % 2 else "Administrator",
                "join_type": "AzureADJoined",
                "tpm_present": i % 5 != 0,
                "tpm_version": 2.0,
                "firmware_mode": "UEFI",
            },
        }
        for i in range(count)
    ]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load(["silent_enablement"])


def test_json_array_is_read_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(fleet_rows, "_CHUNK", 5)
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(devices(30), indent=2))
    rows = list(read_fleet(path))
    assert [r.number for r in rows] == list(range(1, 31))
    assert rows[-1].data["deviceName"] == "PC-029"


def test_jsonl_bad_line_is_reported_and_the_rest_is_read(tmp_path):
    lines = [json.dumps(d) for d in devices(3)]
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join([lines[0], "{not json", "", lines[1], lines[2]]) + "\n")
    rows = list(read_fleet(path))
    assert isinstance(rows[1].data, BadRow) and rows[1].number == 2
    assert [r.data["deviceName"] for r in rows if not isinstance(r.data, BadRow)] == ["PC-000", "PC-001", "PC-002"]


def test_csv_columns_by_fact_name_with_empty_cells_missing(tmp_path, engine):
    path = tmp_path / "fleet.csv"
    path.write_text(
        "deviceName,os_version,tpm_present,tpm_version,join_type\nA,1809,true,2.0,AzureADJoined\nB,,false,,\n"
    )
    rows = list(read_fleet(path))
    facts = [fleet_device(r.data, engine, r.number) for r in rows]
    assert facts[0].get("device.tpm_present") is True and facts[0].get("device.os_version").build == 17763
    assert "device.os_version" not in facts[1].values and facts[1].get("device.tpm_present") is False


def test_graph_managed_device_rows_go_through_the_importers(engine):
    row = json.loads((ROOT / "examples" / "graph" / "managed-device.json").read_text())
    facts = fleet_device(row, engine, 1)
    assert facts.get("device.join_type") == "AzureADJoined"


def test_bad_rows_do_not_stop_the_fleet_and_set_exit_code_2(tmp_path, engine):
    rows = [*read_fleet_text(tmp_path, devices(4)), fleet.FleetRow(5, {"facts": {"tpm_versoin": 2}})]
    summary = evaluate_fleet(rows, engine, reader=fleet_device)
    assert summary.devices == 4 and [b.number for b in summary.bad_rows] == [5]
    assert "did you mean `device.tpm_version`" in summary.bad_rows[0].message
    assert summary.exit_code == 2


@pytest.mark.parametrize("unknown", [3, 40, 300])
def test_a_bad_rows_line_keeps_how_many_problems_it_has_in_view(engine, unknown):
    # A row of many problems was one line clipped at 1,000 characters: the count of the
    # problems not listed (I010), at its end, was cut off. The line now shows the problems
    # that fit, then how many more, then that count, within what a report shows whole.
    row = fleet.FleetRow(1, {"facts": {f"unknown_fact_{i}": 1 for i in range(unknown)}})
    message = evaluate_fleet([row], engine, reader=fleet_device).bad_rows[0].message
    assert len(message) <= 1000 and message.startswith("$.unknown_fact_0: unknown fact")
    shown = message.count("unknown fact `")
    listed = min(unknown, 100)
    assert shown == listed or f"; {listed - shown} more problems of this row not shown here" in message
    assert (unknown > 100) == message.endswith(
        f"; {unknown - 100} more problems in this input are not listed (the first 100 are)"
    )


def read_fleet_text(tmp_path, items) -> list:
    path = tmp_path / "part.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in items) + "\n")
    return list(read_fleet(path))


def test_counts_and_reasons(tmp_path, engine):
    policy = load_policy_file(POLICY, engine.vocabulary)
    records = []
    summary = evaluate_fleet(
        read_fleet_text(tmp_path, devices(40)), engine, policy, write=records.append, reader=fleet_device
    )
    by_rule = {t.rule: t.counts for t in summary.rules}
    assert sum(by_rule["SE-04"].values()) == 40
    assert by_rule["SE-04"]["fail"] == 8  # every fifth device has no TPM
    assert summary.top_reasons()[0][1] >= 8
    assert len(records) == 40 and records[0]["device"] == "device 'PC-000'"


def test_reasons_keep_the_order_they_were_first_seen_in(tmp_path, engine):
    """The default path counts reasons by tuple and adds them at the end: in the order a count
    device by device gives, as the report path's, which orders ties in the summary."""
    policy = load_policy_file(POLICY, engine.vocabulary)
    rows = devices(40)
    rows[3]["facts"]["firmware_mode"] = "BIOS"  # a reason first seen on a later device than others
    fleet_rows_read = read_fleet_text(tmp_path, rows)
    summary = evaluate_fleet(fleet_rows_read, engine, policy, write=lambda _: None, reader=fleet_device)
    by_report = evaluate_fleet(
        read_fleet_text(tmp_path, rows), engine, policy, reader=fleet_device, record=lambda *_: 0
    )
    assert len(summary.reason_counts) >= 3  # (several, first seen on different devices)
    assert list(summary.reason_counts) == list(by_report.reason_counts)


def test_two_processes_give_the_same_summary_and_order(tmp_path):
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in devices(1200)) + "\n")
    make = lambda: fleet_engine(("silent_enablement",), (str(POLICY),))  # noqa: E731
    engine, policy = make()
    one, two = [], []
    single = evaluate_fleet(read_fleet(path), engine, policy, write=one.append, reader=fleet_device)
    import functools

    parallel = evaluate_fleet_parallel(
        read_fleet(path),
        2,
        functools.partial(fleet_engine, ("silent_enablement",), (str(POLICY),)),
        write=two.append,
        reader=fleet_device,
    )
    assert single.rules == parallel.rules and dict(single.reason_counts) == dict(parallel.reason_counts)
    assert one == two


def test_cli_fleet_jsonl_output_masks_secrets(tmp_path):
    rows = devices(3)
    rows[1]["facts"]["azure_ad_device_id"] = f"id {KEY}"
    rows.append({"facts": {"tpm_version": KEY}})
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in rows) + "\n")
    out = tmp_path / "out.jsonl"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bitlocker_rules",
            "check",
            "--rules",
            "silent_enablement",
            "--fleet",
            str(path),
            "--policy",
            str(POLICY),
            "--jsonl",
            str(out),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 2  # the fourth row is bad
    assert len(out.read_text().splitlines()) == 3
    for text in (result.stdout, result.stderr, out.read_text()):
        assert KEY not in text and "234567-345678" not in text


def test_with_jobs_the_json_lines_are_the_same_bytes_sent_in_blocks(tmp_path):
    """--jobs 2 workers send their lines shown and encoded, one block per batch; the file is the
    one a single process writes, a planted password masked in both."""
    rows = devices(1100)  # three batches: the reading process's first, then two for the workers
    rows[7]["facts"]["azure_ad_device_id"] = f"id {KEY}"
    rows[900]["deviceName"] = f"PC \u001b[2J {KEY}"  # a control character and a password, in a worker's batch
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in rows) + "\n")
    written = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}.jsonl"
        command = ["check", "--rules", "silent_enablement", "--fleet", str(path), "--policy", str(POLICY)]
        result = subprocess.run(
            [sys.executable, "-m", "bitlocker_rules", *command, "--jsonl", str(out), "--jobs", jobs, "--quiet"],
            capture_output=True,
            cwd=ROOT,
        )
        assert result.returncode == 1, result.stderr
        written[jobs] = out.read_bytes()
    assert written["1"] == written["2"]
    assert KEY.encode() not in written["2"] and b"\x1b" not in written["2"]
    assert SECRET_MASK.encode() in written["2"].splitlines()[900]  # the name, shown in a worker


def test_a_line_block_shows_each_line_and_writes_to_any_sink():
    from bitlocker_rules.fleet import LineBlock, write_jsonl

    block = LineBlock.of([f'{{"device": "{KEY}"}}', '{"device": "\x07"}'])
    assert block.data == f'{{"device": "{SECRET_MASK}"}}\n{{"device": "\\u0007"}}\n'.encode()
    sink = io.StringIO()  # no write_encoded: the block is decoded and written as text
    write_jsonl(sink)(block)
    assert sink.getvalue() == block.data.decode()


class _NoFileno(io.BytesIO):
    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


@pytest.mark.parametrize("target", ["file", "no file number", "text only"])
def test_a_line_file_is_appended_after_what_was_written_to_any_sink(tmp_path, target):
    """A worker's file of shown lines is appended as it is: by the kernel into a file, through a
    buffer where the stream has no file underneath, decoded where it takes only text."""
    from bitlocker_rules.cli.output import ShownStream
    from bitlocker_rules.fleet import LineFile, write_jsonl

    lines = tmp_path / "lines.jsonl"
    lines.write_bytes(b'{"device": "\\u0007"}\n' * 50_000)  # beyond one sendfile call's copy, for some kernels
    if target == "file":
        stream = (tmp_path / "out.jsonl").open("w", encoding="utf-8")
    elif target == "no file number":
        stream = io.TextIOWrapper(_NoFileno(), encoding="utf-8")
    else:
        stream = io.StringIO()
    write = write_jsonl(ShownStream(stream))
    write(f'{{"device": "{KEY}"}}')  # buffered before the file: it must come first
    write(LineFile(str(lines)))
    write('{"device": "last"}')
    stream.flush()
    if target == "file":
        stream.close()
        written = (tmp_path / "out.jsonl").read_bytes()
    elif target == "no file number":
        written = stream.buffer.getvalue()
    else:
        written = stream.getvalue().encode()
    expected = f'{{"device": "{SECRET_MASK}"}}\n'.encode() + lines.read_bytes() + b'{"device": "last"}\n'
    assert written == expected


def test_lines_written_as_bytes_are_the_text_lines_in_order(tmp_path, monkeypatch):
    """The command line's JSON Lines writer takes each default-path line as bytes, joined from its
    parts' bytes: the same lines as the text path makes, masked, after text written before."""
    from bitlocker_rules.cli.output import ShownStream
    from bitlocker_rules.fleet import evaluation, json_text, write_jsonl

    rows = [*devices(40), {"deviceName": f"PC {KEY}\u001b]0;x\u0007", "facts": {"os_version": "10.0.22631"}}]
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    engine, policy = fleet_engine(None, (str(POLICY),))
    texts: list[str] = []
    evaluate_fleet(read_fleet(path), engine, policy, write=texts.append, encode=json_text)

    def no_text_line(self):
        raise AssertionError("the line was made as text, not as bytes")

    monkeypatch.setattr(evaluation._Counted, "line", no_text_line)
    out = tmp_path / "out.jsonl"
    with out.open("w", encoding="utf-8") as stream:
        shown = ShownStream(stream)
        shown.write(f"before {KEY}\n")  # buffered in the text layer: it must come first
        evaluate_fleet(read_fleet(path), engine, policy, write=write_jsonl(shown), encode=json_text)
        shown.write("after\n")
    expected = f"before {SECRET_MASK}\n" + "".join(f"{line}\n" for line in texts) + "after\n"
    assert out.read_bytes() == expected.encode()
    assert KEY not in expected and "\x1b" not in expected and len(texts) == 41


class _TakesLittle(io.RawIOBase):
    """A raw stream that takes at most 1,000 bytes a write, as a pipe may take part of one."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        taken = bytes(b[:1000])
        self.data += taken
        return len(taken)


def test_encoded_lines_reach_a_raw_stream_whole_and_in_order():
    # Standard output with PYTHONUNBUFFERED is a text layer straight over a raw stream, whose
    # write may take only part of a batch of lines: the rest is written, not dropped.
    from bitlocker_rules.cli.output import ShownStream

    raw = _TakesLittle()
    shown = ShownStream(io.TextIOWrapper(raw, encoding="utf-8", write_through=True))
    shown.write(f"head {KEY}\n")
    write = shown.encoded_writer()
    lines = [f'{{"n": {i}, "pad": "{"x" * 3000}"}}\n'.encode() for i in range(500)]  # 1.5 MB: a batch and a part
    for line in lines:
        write(line)
    shown.write("tail\n")
    write(lines[0])
    shown.flush()
    assert bytes(raw.data) == f"head {SECRET_MASK}\n".encode() + b"".join(lines) + b"tail\n" + lines[0]


@pytest.mark.parametrize(
    "stream",
    [
        io.StringIO(),  # text only
        io.TextIOWrapper(io.BytesIO(), encoding="latin-1"),  # another encoding
        io.TextIOWrapper(io.BytesIO(), encoding="utf-8", line_buffering=True),  # a terminal's: line by line
    ],
    ids=["text only", "latin-1", "line buffered"],
)
def test_no_encoded_writer_where_bytes_would_not_show_as_text_does(stream):
    from bitlocker_rules.cli.output import ShownStream

    assert ShownStream(stream).encoded_writer() is None


# --- the default path (verdict codes, no Report) against the report path and a fresh interpreter

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import bitlocker_rules.fleet.evaluation as fleet_evaluation  # noqa: E402
from bitlocker_rules.engine import Reads, mark_conflicts  # noqa: E402
from bitlocker_rules.facts import (  # noqa: E402
    Facts,
    facts_from_mapping,
    merge_facts,
)
from bitlocker_rules.fleet import DeviceRecord, FleetRow, device_record, json_line, outcome_entry  # noqa: E402
from bitlocker_rules.fleet.evaluation import Tally, VerdictPath, output  # noqa: E402
from bitlocker_rules.nodes import facts_read  # noqa: E402
from bitlocker_rules.outcome import Status  # noqa: E402

STARTUP_PIN = ROOT / "examples" / "policy-startup-pin.json"


@pytest.fixture(scope="module")
def every_rule() -> Engine:
    return Engine.load()


def _raw(fact) -> st.SearchStrategy:
    """Raw JSON values for a fact, as inventories write them (some of them not valid)."""
    kind = fact.type.kind
    if kind == "bool":
        return st.sampled_from([True, False, "true", "False", "yes"])
    if kind == "integer":
        return st.one_of(st.integers(-5, 5000), st.sampled_from(["350", "2107", "x"]))
    if kind == "decimal":
        return st.sampled_from([1.2, 2.0, 2, "2.0", 1.0, "two"])
    if kind == "string":
        return st.sampled_from(["", "0x80072f9a", "KB4497934", "Rotate BitLocker Keys", "Contoso"])
    if kind == "version":
        return st.sampled_from(["1809", "1803", "10.0.19045.4291", 17763, "Windows 11 23H2", "22H2", "nope"])
    if kind == "enum":
        names = fact.type.enum.member_names
        return st.sampled_from([*names, *(m.lower() for m in names[:2]), "NotAMember"])
    fields = {f.name: _raw(f) for f in fact.type.fields}
    return st.lists(st.fixed_dictionaries({}, optional=fields), max_size=3)


def _rows(vocabulary) -> st.SearchStrategy:
    facts = [f for f in vocabulary.facts.values() if f.namespace != "policy"]
    one = st.sampled_from(facts).flatmap(lambda f: st.tuples(st.just(f.name), _raw(f)))
    device = st.lists(one, max_size=12).map(
        lambda pairs: {(name.split(".", 1)[1] if name.startswith("device.") else name): raw for name, raw in pairs}
    )
    return st.lists(device.map(lambda facts: {"deviceName": "PC", "facts": facts}), min_size=1, max_size=6)


def _reference(engine: Engine, policy: Facts | None, number: int, data: dict) -> dict:
    """The device record computed the slow, obvious way: a fresh interpreter for every rule."""
    device = fleet_device(data, engine, number)
    facts = merge_facts([policy, device], name=device.name) if policy else device
    conflicts = {c.fact: c for c in facts.conflicts}
    # Scenarios and derived facts are resolved as the engine does (tests/test_scenarios.py checks that).
    values = engine.resolved(facts.table)
    entries = []
    for loaded in engine.rulesets:
        for rule in loaded.rules:
            reads = facts_read(rule.applicability, *rule.requires)
            if len(facts.profiles) > 1 and any(engine.vocabulary.fact(f).per_policy for f in reads):
                entries.append(outcome_entry(_per_policy_outcome(loaded, rule, facts, values)))
                continue
            outcome = loaded.interpreter.evaluate(rule, values)
            entries.append(
                outcome_entry(mark_conflicts(outcome, conflicts, engine.vocabulary) if conflicts else outcome)
            )
    counts = {s: sum(1 for e in entries if e["status"] == s) for s in ("pass", "fail", "unknown", "not_applicable")}
    return {"row": number, "device": device.name, "summary": counts, "results": entries}


def _per_policy_outcome(loaded, rule, facts: Facts, values):
    """A rule that reads the profile type, decided on each policy alone: a fail anywhere, else the sources'
    disagreement on one, else a pass, else unknown."""
    device = {f: v for f, v in values.items() if not f.startswith("policy.")}
    outcomes = [loaded.interpreter.evaluate(rule, {**device, **p.table}) for p in facts.profiles]
    ranked = (
        lambda o: o.status is Status.FAIL,
        lambda o: o.caveat.startswith("the sources disagree"),
        lambda o: o.status is Status.PASS,
        lambda o: o.status is Status.UNKNOWN,
        lambda o: o.status is Status.NOT_APPLICABLE,
    )
    for wanted in ranked:
        found = [o for o in outcomes if wanted(o)]
        if found:
            return found[0]
    raise AssertionError("no outcome")


@pytest.fixture(scope="module")
def baseline_and_silent(every_rule) -> Facts:
    """The silent policy and a security baseline that requires a startup PIN (F19)."""
    baseline = facts_from_mapping(
        {"policy_type": "SecurityBaseline", "tpm_startup_pin": "Required"},
        every_rule.vocabulary,
        default_namespace="policy",
        allowed=("policy",),
        name="policy 'Baseline'",
    )
    return merge_facts([load_policy_file(POLICY, every_rule.vocabulary), baseline], name="policies")


@pytest.fixture(scope="module")
def conflicting_policies(every_rule) -> Facts:
    """The silent policy and the startup-PIN policy: they disagree on several settings."""
    return merge_facts(
        [load_policy_file(POLICY, every_rule.vocabulary), load_policy_file(STARTUP_PIN, every_rule.vocabulary)],
        name="policies",
    )


@given(data=st.data())
def test_default_path_records_and_counts_equal_a_fresh_interpreter(
    every_rule, conflicting_policies, baseline_and_silent, data
):
    policy = data.draw(st.sampled_from([None, conflicting_policies, baseline_and_silent]))
    raw_rows = data.draw(_rows(every_rule.vocabulary))
    rows = [FleetRow(i + 1, row) for i, row in enumerate(raw_rows)]
    records: list = []
    summary = evaluate_fleet(rows, every_rule, policy, write=records.append, reader=fleet_device)
    bad = {b.number for b in summary.bad_rows}
    expected = [_reference(every_rule, policy, r.number, r.data) for r in rows if r.number not in bad]
    assert records == expected
    assert all(isinstance(r, DeviceRecord) and r.json_text() == json.dumps(r, ensure_ascii=False) for r in records)
    lines: list = []  # JSON lines are made straight from the parts, without the records: the same text
    evaluate_fleet(rows, every_rule, policy, write=lines.append, reader=fleet_device, encode=json_line)
    assert lines == [redact(json.dumps(r, ensure_ascii=False)) for r in expected]
    # The report path (what a renderer asking for whole reports gets) counts the same.
    by_report = evaluate_fleet(rows, every_rule, policy, reader=fleet_device, record=device_record)
    assert summary == by_report
    # Reasons in the order first seen, as the report path counts them: ties are listed in it.
    assert list(summary.reason_counts) == list(by_report.reason_counts)
    # Counted only (no record wanted, only failed rules explained): the same summary.
    assert evaluate_fleet(rows, every_rule, policy, reader=fleet_device) == summary
    for tally, index in zip(summary.rules, range(len(summary.rules))):
        assert tally.counts == {
            s: sum(1 for r in expected if r["results"][index]["status"] == s)
            for s in ("pass", "fail", "unknown", "not_applicable")
        }


def test_bad_values_take_the_reader_and_keep_their_json_path(every_rule):
    rows = [FleetRow(1, {"facts": {"tpm_version": "two"}}), FleetRow(2, {"facts": {"os_version": "1809"}})]
    summary = evaluate_fleet(rows, every_rule, reader=fleet_device)
    assert summary.devices == 1 and [b.number for b in summary.bad_rows] == [1]
    assert summary.bad_rows[0].message.startswith("$.tpm_version: ")


def test_conflicting_policies_show_both_sources_in_device_records(every_rule, conflicting_policies):
    records: list = []
    evaluate_fleet(
        [FleetRow(1, {"facts": {"os_version": "22H2"}})],
        every_rule,
        conflicting_policies,
        write=records.append,
        reader=fleet_device,
    )
    reasons = [r for e in records[0]["results"] for r in e.get("reasons", ())]
    assert any("is in conflict (policy 'WIN - EP - BitLocker silent' sets" in r for r in reasons)


def test_a_device_overlapping_the_policy_takes_the_report_path(every_rule):
    policy = load_policy_file(POLICY, every_rule.vocabulary)

    def reader(data, engine, number):  # a custom reader may return any facts, policy facts included
        return Facts({"policy.os_encryption_method": "XtsAes128"}, name="device 'odd'")

    records: list = []
    evaluate_fleet([FleetRow(1, {})], every_rule, policy, write=records.append, reader=reader)
    assert not isinstance(records[0], DeviceRecord)
    reasons = [r for e in records[0]["results"] for r in e.get("reasons", ())]
    assert any(
        "in conflict (policy 'WIN - EP - BitLocker silent' sets XTS-AES 256-bit; device 'odd' sets "
        "XTS-AES 128-bit)" in r
        for r in reasons
    )


def test_explanations_of_collections_are_shared_across_devices_that_differ_only_in_unread_fields(every_rule):
    def device(serial: int) -> Facts:
        keys = [
            {"key_id": f"{serial:08x}-0000", "volume_type": "FixedData", "created": f"2024-01-{serial % 28 + 1:02d}"}
        ]
        return every_rule.facts(
            {"device.recovery_keys": keys, "device.encrypted": True, "device.join_type": "AzureADJoined"}
        )

    loaded = next(r for r in every_rule.rulesets if r.id == "recovery_keys")
    rule = next(r for r in loaded.rules if r.id == "RK-02")
    first = every_rule.explain(loaded, rule, device(1).table)
    size = every_rule.explanations_held()
    for serial in range(2, 30):
        values = device(serial).table
        assert every_rule.explain(loaded, rule, values) is first  # from the memo
        assert loaded.interpreter.evaluate(rule, values) == first  # and what a fresh explanation says
    assert every_rule.explanations_held() == size


def test_undecoded_json_lines_evaluate_like_decoded_ones(tmp_path, engine):
    lines = [json.dumps(d) for d in devices(5)]
    path = tmp_path / "fleet.jsonl"
    path.write_text("\n".join([lines[0], "{not json", "", *lines[1:]]) + "\n")
    lazy = list(read_fleet(path, decode=False))
    assert all(isinstance(r.data, fleet.JsonLine) for r in lazy) and [r.number for r in lazy] == [1, 2, 4, 5, 6, 7]
    one, two = [], []
    decoded = evaluate_fleet(read_fleet(path), engine, write=one.append, reader=fleet_device)
    undecoded = evaluate_fleet(lazy, engine, write=two.append, reader=fleet_device)
    assert decoded == undecoded and one == two
    assert undecoded.bad_rows == (
        BadRow(2, "line 2, column 2: malformed JSON: Expecting property name enclosed in double quotes"),
    )


def test_workers_encode_json_lines_as_the_single_process_does(tmp_path):
    import functools

    from bitlocker_rules.fleet import json_line

    path = tmp_path / "fleet.jsonl"
    rows = devices(1100)
    rows[7]["facts"]["azure_ad_device_id"] = f"id {KEY}"
    path.write_text("\n".join(json.dumps(d) for d in rows) + "\n")
    make = functools.partial(fleet_engine, ("silent_enablement",), (str(POLICY),))
    engine, policy = make()
    single: list = []
    evaluate_fleet(read_fleet(path), engine, policy, write=single.append, reader=fleet_device)
    lines: list = []
    evaluate_fleet_parallel(
        read_fleet(path, decode=False), 2, make, write=lines.append, reader=fleet_device, encode=json_line
    )
    assert lines == [json_line(r) for r in single] == [redact(json.dumps(r, ensure_ascii=False)) for r in single]
    assert all(isinstance(line, str) for line in lines) and not any(KEY in line for line in lines)


@pytest.mark.parametrize("chunk", [5, 64, 1 << 16])
def test_a_malformed_array_element_is_reported_and_the_elements_after_it_are_read(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(fleet_rows, "_CHUNK", chunk)
    good = [dict(d, note='brackets ] } [ { , and a quote \\" in a string \\\\') for d in devices(4)]
    parts = [
        json.dumps(good[0]),
        '{"deviceName": "bad", "facts": {"x": 1,, "y": [1, {"z": "]"}]}}',
        json.dumps(good[1]),
        '{"facts": tru}',
        json.dumps(good[2]),
        '{"a": "unterminated}',
        json.dumps(good[3]),
    ]
    path = tmp_path / "fleet.json"
    path.write_text("[\n" + ",\n".join(parts[:-2]) + "\n]")
    rows = list(read_fleet(path))
    assert [r.number for r in rows] == [1, 2, 3, 4, 5]
    assert [r.data["deviceName"] for r in rows if not isinstance(r.data, BadRow)] == ["PC-000", "PC-001", "PC-002"]
    assert [r.data.message for r in rows if isinstance(r.data, BadRow)] == [
        "element 2 (line 3, column 40): malformed JSON: Expecting property name enclosed in double quotes",
        "element 4 (line 5, column 11): malformed JSON: Expecting value",
    ]
    # An element whose end cannot be found (here a string never closed) ends the reading: the file ends in it.
    path.write_text("[\n" + ",\n".join(parts) + "\n]")
    rows = list(read_fleet(path))
    assert [r.number for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1].data.message == (
        "element 6 (line 7, column 22): malformed JSON: a control character inside a string (a string not closed "
        "before the line ends?); the file ends before the element does"
    )


def test_csv_columns_by_graph_property_name_go_through_the_importers(tmp_path, engine):
    path = tmp_path / "fleet.csv"
    path.write_text(
        "deviceName,id,osVersion,operatingSystem,joinType,isEncrypted\n"
        "PC-1,aaa-1,10.0.19045.4291,Windows,azureADJoined,true\n"
        "PC-2,aaa-2,10.0.17134.1,Windows,hybridAzureADJoined,FALSE\n"
        "PC-3,aaa-3,10.0.17134.1,Windows,hybridAzureADJoined,maybe\n"
    )
    rows = list(read_fleet(path))
    first, second = (fleet_device(r.data, engine, r.number) for r in rows[:2])
    assert first.get("device.encrypted") is True and first.get("device.join_type") == "AzureADJoined"
    assert second.get("device.encrypted") is False and second.get("device.os_version").build == 17134
    summary = evaluate_fleet(rows, engine, reader=fleet_device)
    assert summary.devices == 2 and [b.number for b in summary.bad_rows] == [4]
    assert "$.isEncrypted" in summary.bad_rows[0].message


def _varied_rows(count: int, seed: int) -> list[dict]:
    """Devices that often share a ruleset's verdict codes while differing in the values its failed
    and unknown rules read (versions, sizes, collections' fields, facts left out)."""
    choices = {
        "os_version": ["1803", "1809", 19041, "10.0.22621.2715"],
        "join_type": ["AzureADJoined", "HybridAzureADJoined", "AzureADRegistered"],
        "user_role": ["StandardUser", "Administrator"],
        "tpm_version": [1.2, 2.0],
        "system_partition_mb": [100, 350, 500],
        "winre_configured": [True, False],
        "firmware_mode": ["UEFI", "LegacyBIOS"],
        "encrypted": [True, False],
    }
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        facts = {name: rng.choice(values) for name, values in choices.items() if rng.random() < 0.85}
        if rng.random() < 0.7:
            kinds = rng.sample(["OperatingSystem", "FixedData", "RemovableData"], rng.randint(0, 2))
            facts["recovery_keys"] = [{"key_id": f"{i:08x}-{k}", "volume_type": kind} for k, kind in enumerate(kinds)]
        rows.append({"deviceName": f"PC-{i:03}", "facts": facts})
    return rows


@pytest.mark.parametrize("limit", [None, 3])
def test_a_record_part_is_shared_only_by_devices_that_agree_on_what_its_rules_read(every_rule, monkeypatch, limit):
    # A ruleset's part of a device's line is looked up by the values its failed and unknown rules
    # read, from a codes tuple's second device on: each line must still be the device's own, also
    # when the parts kept are emptied at their bound every few devices.
    if limit is not None:
        monkeypatch.setattr(fleet_evaluation, "_PARTS_LIMIT", limit)
    policy = load_policy_file(POLICY, every_rule.vocabulary)
    codes = VerdictPath(every_rule, policy)
    tally = Tally(every_rule)
    rows = [FleetRow(i + 1, data) for i, data in enumerate(_varied_rows(150, seed=11))]
    lines = [output(codes.evaluate(row, fleet_device, True, tally), json_line) for row in rows]
    keyed = [plan for path in codes.rulesets for plan in path.plans.values() if plan.reads is not None]
    assert keyed, "no codes tuple was seen twice: the test does not reach the lookup by values"
    kept = [len(parts) for context in codes.contexts.values() for parts in context.parts]
    assert max(kept) <= (limit or fleet_evaluation._PARTS_LIMIT)
    expected = [redact(json.dumps(_reference(every_rule, policy, r.number, r.data), ensure_ascii=False)) for r in rows]
    assert lines == expected


def test_joined_reads_tell_apart_whatever_one_of_them_does():
    a = Reads(("device.a", "device.b"), (("device.keys", ("volume_type",)),))
    b = Reads(("device.b", "device.c"), (("device.keys", ("created", "protector")), ("device.volumes", ("size",))))
    joined = Reads.joined([a, b])
    assert joined == Reads(
        ("device.a", "device.b", "device.c"),
        (("device.keys", ("created", "protector", "volume_type")), ("device.volumes", ("size",))),
    )
    base = {
        "device.a": 1,
        "device.b": "x",
        "device.c": None,
        "device.keys": [{"volume_type": "FixedData", "created": "2024", "protector": "Tpm", "key_id": "1"}],
        "device.volumes": [{"size": 3}],
    }
    changes = [
        {"device.a": 2},
        {"device.c": True},
        {"device.keys": [{"volume_type": "OperatingSystem", "created": "2024", "protector": "Tpm"}]},
        {"device.keys": [{"volume_type": "FixedData", "created": "2025", "protector": "Tpm"}]},
        {"device.keys": [{"volume_type": "FixedData", "created": "2024"}]},
        {"device.keys": []},
        {"device.volumes": [{"size": 4}]},
    ]
    for change in changes:
        other = {**base, **change}
        assert any(r.key(other) != r.key(base) for r in (a, b))  # a member tells them apart,
        assert joined.key(other) != joined.key(base)  # and so does the join
    unread = {
        **base,
        "device.keys": [{"volume_type": "FixedData", "created": "2024", "protector": "Tpm", "key_id": "2"}],
    }
    assert joined.key(unread) == joined.key(base)
