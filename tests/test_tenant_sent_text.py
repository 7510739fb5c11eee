"""A page's records written as Graph wrote them (``tenant.sent_text``): decoded exactly as
``json.loads`` decodes the page, each item's text the text of that item, and kept only when the
scrub would change nothing on the page (the oracle: ``scrub.scrubbed`` itself, record by record)."""

from __future__ import annotations

import json

import pytest
from graph_fake import LocalGraph, Tenant
from hypothesis import example, given
from hypothesis import strategies as st
from test_secrets import SPELLINGS, Planted

from bitlocker_rules.tenant import Pacing, PullOptions, pull
from bitlocker_rules.tenant.scrub import is_clean, scrubbed
from bitlocker_rules.tenant.sent_text import read_batch, read_page
from bitlocker_rules.tenant.signin import EnvironmentToken

_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["no secret here", "x\ny", "key", "isEncrypted", *(Planted().password("page", s) for s in SPELLINGS)]
    ),
)
_KEYS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["key", "KEY", "\u212aey", "recoveryPassword", "isEncrypted", "value", "id"]),
)
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT)
_VALUES = st.deferred(
    lambda: st.one_of(_LEAVES, st.lists(_VALUES, max_size=3), st.dictionaries(_KEYS, _VALUES, max_size=3))
)
_RECORDS = st.dictionaries(_KEYS, _VALUES, max_size=4)
_PAGES = st.builds(
    lambda items, extra, link: {**extra, "value": items, **({"@odata.nextLink": link} if link else {})},
    st.lists(_RECORDS, max_size=5),
    st.dictionaries(st.sampled_from(["@odata.context", "@odata.count", "x"]), _VALUES, max_size=2),
    st.one_of(st.none(), st.just("https://graph.microsoft.com/beta/x?$skiptoken=a1")),
)
# How a server may spell the same page: compact (Graph), spaced (Python's default), escaped.
_SPELLINGS = st.sampled_from(
    [
        {"separators": (",", ":"), "ensure_ascii": False},
        {"ensure_ascii": False},
        {},
        {"indent": 1},
    ]
)


@given(_PAGES, _SPELLINGS)
@example({"value": [{"a": 1}], "@odata.context": "c"}, {"separators": (",", ":")})
def test_a_page_read_with_its_texts_is_the_page_json_reads(page, spelling):
    body = json.dumps(page, **spelling)
    sent = read_page(body.encode())
    if sent is None:
        return
    assert sent.data == json.loads(body)
    if not sent.texts:  # items the scrub may change, or with line breaks: each is encoded again
        return
    assert len(sent.texts) == len(page["value"])
    for n, item in enumerate(page["value"]):
        assert json.loads(sent.text(n)) == item
        assert "\n" not in sent.text(n) and "\r" not in sent.text(n)


@given(_PAGES, _SPELLINGS)
def test_a_page_whose_texts_are_kept_is_one_the_scrub_leaves_alone(page, spelling):
    body = json.dumps(page, **spelling)
    if is_clean(body):
        for item in page["value"]:
            assert scrubbed(item, lambda path, what: pytest.fail(f"{path}: {what}")) == item


@given(st.lists(st.one_of(_RECORDS, st.none()), max_size=4), _SPELLINGS)
@example([{"id": "a"}, None, {"n": [1, {"m": "x"}]}], {"separators": (",", ":")})
def test_a_batch_read_with_its_texts_is_the_batch_json_reads(bodies, spelling):
    answers = [
        {"id": str(n), "status": 200, "headers": {"Content-Type": "application/json"}, **({"body": b} if b else {})}
        for n, b in enumerate(bodies)
    ]
    body = json.dumps({"responses": answers}, **spelling)
    sent = read_batch(body.encode())
    assert sent is not None and sent.data == json.loads(body)
    if sent.clean:  # the records are written unchecked: the scrub must have nothing to change
        for record in filter(None, bodies):
            assert scrubbed(record, lambda path, what: pytest.fail(f"{path}: {what}")) == record
    if sent.texts:
        assert sent.clean and len(sent.texts) == len(bodies)
        for n, record in enumerate(bodies):
            assert (sent.text(n) is None) if not record else json.loads(sent.text(n)) == record


def test_a_compact_page_of_plain_records_keeps_every_text_as_sent():
    body = '{"@odata.context":"c","value":[{"id":"a","n":1},{"id":"b","x":[1,{"y":null}]}],"@odata.nextLink":"u"}'
    sent = read_page(body.encode())
    assert sent is not None
    assert sent.texts == ('{"id":"a","n":1}', '{"id":"b","x":[1,{"y":null}]}')
    assert sent.data["@odata.nextLink"] == "u"


@pytest.mark.parametrize(
    "body",
    [
        '{"value":[{"id":"a","key":"x"}]}',  # a secret's name
        '{"value":[{"id":"a","RecoveryPassword":null}]}',  # even with nothing in it: the scrub decides
        '{"value":[{"omaSettings":[{"isEncrypted":true,"value":"c"}]}]}',  # an encrypted OMA value
        '{"value":[{"id":"a","\\u006bey":"x"}]}',  # a name spelled with escapes
        '{"value":[{"n":"111111-222222-333333-444444-555555-666666-777777-888888"}]}',  # a password
        '{"value":[{"id":"a"},\n{"id":"b"}]}',  # a line break between items
    ],
)
def test_the_texts_of_a_page_that_needs_the_scrub_are_not_kept(body):
    sent = read_page(body.encode())
    assert sent is not None and sent.data == json.loads(body) and sent.texts == ()


def test_the_page_s_own_links_are_not_what_decides():
    body = '{"@odata.nextLink":"https://g/x?$top=1&$skiptoken=%41","value":[{"id":"a"}],\n"@odata.count":1}'
    assert read_page(body.encode()).texts == ('{"id":"a"}',)


@pytest.mark.parametrize(
    "body",
    [
        '{"value":[{"id":"a"}]} trailing',
        '{"value":[{"id":"a"},]}',
        '[{"id":"a"}]',
        '{"value":[{"id":"a"}]',
    ],
)
def test_a_body_that_is_not_a_page_is_left_to_the_plain_reading(body):
    assert read_page(body.encode()) is None


def test_the_last_value_of_a_repeated_key_wins_as_in_json():
    sent = read_page(b'{"value":[{"a":1}],"value":[{"b":2}]}')
    assert sent is not None and sent.data == {"value": [{"b": 2}]} and sent.texts == ('{"b":2}',)
    sent = read_page(b'{"value":[{"a":1}],"value":3}')
    assert sent is not None and sent.data == {"value": 3} and sent.texts == ()


def test_a_pull_writes_the_report_rows_as_graph_sent_them(tmp_path):
    tenant = Tenant(seed=5, policies=2, groups=4, devices=30)
    planted = Planted()
    tenant.encryption_states[7]["deviceName"] = planted.text("report row")
    tenant.managed_devices[3]["deviceName"] = planted.text("device name")
    local = LocalGraph(tenant, page_size=10)
    local.fake.separators = None  # spaced as Python spaces JSON: a record kept as sent shows it
    try:
        out = tmp_path / "s"
        pull(
            PullOptions(out, local.url), EnvironmentToken("T", {"T": "good-token"}), pacing=Pacing(sleep=lambda s: None)
        )
    finally:
        local.stop()
    lines = (out / "encryption_states.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["id"] for line in lines] == [row["id"] for row in tenant.encryption_states]
    # The fake server spaces its JSON as Python does: a row kept as sent shows it; the rows of the
    # page with the planted password were encoded again, compact, its password masked.
    spaced = [n for n, line in enumerate(lines) if '", "' in line]
    assert spaced and all(n // 10 != 0 for n in spaced)
    assert all('", "' not in line for line in lines[:10])
    assert not planted.leaks("\n".join(lines))
    # Devices are read a listed page at a time (here 10) in JSON batches: kept as sent, but for the batch with
    # the planted password (encoded again, compact, the password masked).
    devices = (out / "managed_devices.jsonl").read_text(encoding="utf-8").splitlines()
    # Every device written whole, its text kept or not (the planted batch's records encoded again).
    assert [json.loads(line)["id"] for line in devices] == [d["id"] for d in tenant.managed_devices]
    assert [n for n, line in enumerate(devices) if '", "' not in line] == list(range(10))  # pages of 10 ids
    assert not planted.leaks("\n".join(devices))


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        # Graph's shape: each body cut out and decoded once, the rest read together.
        ('{"responses":[{"id":"1","status":200,"body":{"a":1}},{"id":"2","status":404}]}', ('{"a":1}', None)),
        # A header named body, a key that ends in an escaped quote and "body", a repeated body, a
        # response whose body is null: none is cut as a response's body, so the walk reads them.
        ('{"responses":[{"id":"1","headers":{"body":"x"},"body":{"a":1}}]}', ('{"a":1}',)),
        ('{"responses":[{"id":"1","body":{"a":1},"a\\"body":{"b":2}}]}', ('{"a":1}',)),
        ('{"responses":[{"id":"1","body":{"a":1},"body":{"b":2}}]}', ('{"b":2}',)),
        ('{"responses":[{"id":"1","body":null},{"id":"2","body":{"b":2}}]}', ("null", '{"b":2}')),
        ('{"body":{"a":1},"responses":[{"id":"1","body":{"b":2}}]}', ('{"b":2}',)),
        ('{"responses":[{"id":"1","body": {"a":1}}]}', ('{"a":1}',)),
        ('{"responses":[{"id":"1","body" :{"a":1}}]}', ('{"a":1}',)),
    ],
)
def test_each_batch_body_s_text_is_that_response_s_body(body, texts):
    sent = read_batch(body.encode())
    assert sent is not None and sent.data == json.loads(body)
    assert sent.texts == texts
