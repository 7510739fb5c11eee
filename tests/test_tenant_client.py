"""The Graph client against a real HTTP server on 127.0.0.1: paging, throttling, server
faults, dropped connections, malformed pages, 401 and token expiry, 403 naming the permission.

No test sleeps: the client's clock is a list that records each wait.
"""

from __future__ import annotations

import json
import time

import pytest
from graph_fake import LocalGraph, Tenant, dropped, not_json, once, throttled
from hypothesis import given
from hypothesis import strategies as st
from werkzeug import Response

from bitlocker_rules.tenant import GraphClient, Pacing, TenantError
from bitlocker_rules.tenant.client import batch_requests, graph_error
from bitlocker_rules.tenant.pacing import retry_after_seconds
from bitlocker_rules.tenant.signin import CredentialToken, EnvironmentToken

DEVICES = "/beta/deviceManagement/managedDevices"


@pytest.fixture(scope="module")
def graph():
    local = LocalGraph(Tenant(groups=20, devices=250, policies=3))
    yield local
    local.stop()


@pytest.fixture(autouse=True)
def _fresh(graph):
    """Each test starts with no faults, the one good token and every permission granted."""
    graph.fake.faults.clear()
    graph.fake.requests.clear()
    graph.fake.tokens = {"good-token"}
    graph.fake.denied = set()


def client_for(graph, waits, token="good-token", environ=None, **pacing):
    tokens = EnvironmentToken("GRAPH_TOKEN", environ if environ is not None else {"GRAPH_TOKEN": token})
    return GraphClient(graph.url, tokens, Pacing(sleep=waits.append, jitter=lambda: 0.5, **pacing))


def device_ids(client) -> list[str]:
    url = client.url("beta", "deviceManagement/managedDevices")
    return [item["id"] for page in client.pages(url, {"$select": "id"}) for item in page]


def on_devices(request) -> bool:
    return request.path == DEVICES


def test_pages_follow_next_link_to_the_end(graph):
    waits: list[float] = []
    client = client_for(graph, waits)
    assert device_ids(client) == [d["id"] for d in graph.fake.tenant.managed_devices]
    pages = [r for r in graph.fake.requests if r[0] == DEVICES]
    assert [r[1].get("$skiptoken") for r in pages] == [None, "100", "200"]
    assert all(r[1]["$select"] == "id" for r in pages)  # the nextLink carries the query
    assert waits == []


@pytest.mark.parametrize(("status", "retry_after", "waited"), [(429, "7", 7.0), (503, "3", 3.0), (503, None, 0.25)])
def test_throttling_waits_as_graph_says_then_succeeds(graph, status, retry_after, waited):
    graph.fake.faults.append(
        once(on_devices, lambda r: throttled(status, retry_after) if retry_after else Response(status=status))
    )
    waits: list[float] = []
    client = client_for(graph, waits)
    assert len(device_ids(client)) == 250
    assert waits == [waited]  # Retry-After when given; else the backoff (jitter 0.5 × base 0.5)
    assert client.traffic.throttled == 1


def test_server_errors_back_off_exponentially_capped_then_give_up(graph):
    graph.fake.faults.append(once(on_devices, lambda r: Response("oops", status=500), times=99))
    waits: list[float] = []
    client = client_for(graph, waits, attempts=6, base=1.0, cap=4.0)
    with pytest.raises(TenantError) as caught:
        device_ids(client)
    assert waits == [0.5, 1.0, 2.0, 2.0, 2.0]  # 0.5 × min(4, 1·2ⁿ): jittered, capped
    assert "T500" in caught.value.render() and "HTTP 500, 6 times" in caught.value.render()
    assert "Traceback" not in caught.value.render()


def test_a_connection_dropped_mid_page_is_retried(graph):
    graph.fake.faults.append(once(lambda r: on_devices(r) and r.args.get("$skiptoken") == "100", dropped))
    waits: list[float] = []
    client = client_for(graph, waits)
    reasons: list[str] = []
    client.on_wait = lambda seconds, why: reasons.append(why)
    assert len(device_ids(client)) == 250  # the page was asked again, nothing lost or doubled
    assert len(waits) == 1 and client.traffic.retries == 1
    assert reasons == ["the connection failed (closed before the whole answer came: IncompleteRead)"]


def test_a_page_that_is_not_json_is_retried_then_reported(graph):
    graph.fake.faults.append(once(on_devices, not_json))
    waits: list[float] = []
    assert len(device_ids(client_for(graph, waits))) == 250
    graph.fake.faults.append(once(on_devices, not_json, times=99))
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, waits, attempts=3))
    assert "T502" in caught.value.render() and "not a JSON object" in caught.value.render()


def test_a_page_without_a_value_list_is_reported(graph):
    graph.fake.faults.append(
        once(on_devices, lambda r: Response('{"value": {"id": 1}}', content_type="application/json"))
    )
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, []))
    assert "`value` is not a list of objects" in caught.value.render()


def test_a_next_link_to_another_host_is_refused(graph):
    page = '{"value": [], "@odata.nextLink": "https://attacker.example/v1.0/steal"}'
    graph.fake.faults.append(once(on_devices, lambda r: Response(page, content_type="application/json")))
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, []))
    assert "points outside" in caught.value.render()
    assert not any("steal" in r[0] for r in graph.fake.requests)


def test_401_is_a_clear_error(graph):
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, [], token="not-a-token"))
    text = caught.value.render()
    assert "T401" in text and "refused the access token" in text
    assert "not-a-token" not in text  # a token is never shown


def test_an_expired_token_is_replaced_from_the_environment_once(graph):
    environ = {"GRAPH_TOKEN": "good-token"}

    def rotate(request):  # mid-run, the token expires and the automation puts a new one in place
        if request.args.get("$skiptoken") == "100" and "good-token" in graph.fake.tokens:
            graph.fake.tokens = {"fresh-token"}
            environ["GRAPH_TOKEN"] = "fresh-token"
        return None

    graph.fake.faults.append(rotate)
    client = client_for(graph, [], environ=environ)
    assert len(device_ids(client)) == 250
    tokens = [r[2]["Authorization"] for r in graph.fake.requests if r[0] == DEVICES]
    assert tokens == ["Bearer good-token", "Bearer good-token", "Bearer fresh-token", "Bearer fresh-token"]


def test_a_token_refused_again_after_renewal_is_an_error(graph):
    environ = {"GRAPH_TOKEN": "good-token"}

    def expire(request):
        graph.fake.tokens = set()
        environ["GRAPH_TOKEN"] = "another-refused-token"

    graph.fake.faults.append(lambda r: expire(r))
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, [], environ=environ))
    assert "also after a new one was asked for" in caught.value.render()


class FakeCredential:
    """An azure-identity credential's interface: ``get_token(scope)`` → token and expiry."""

    def __init__(self, tokens: list[str], lifetime: float = 3600) -> None:
        self.tokens, self.lifetime, self.scopes = list(tokens), lifetime, []

    def get_token(self, *scopes):
        from azure.core.credentials import AccessToken

        self.scopes.append(scopes)
        return AccessToken(self.tokens.pop(0), int(time.time() + self.lifetime))


def test_a_credential_is_asked_again_after_a_401(graph):
    credential = FakeCredential(["good-token", "fresh-token"])
    tokens = CredentialToken(credential, "https://graph.microsoft.com/.default")

    def rotate(request):
        if request.args.get("$skiptoken") == "200" and "good-token" in graph.fake.tokens:
            graph.fake.tokens = {"fresh-token"}

    graph.fake.faults.append(lambda r: rotate(r))
    client = GraphClient(graph.url, tokens, Pacing(sleep=[].append))
    assert len(device_ids(client)) == 250
    assert credential.scopes == [("https://graph.microsoft.com/.default",)] * 2


def test_a_credential_token_near_expiry_is_renewed_before_use():
    credential = FakeCredential(["a", "b", "c"], lifetime=60)  # within the 5-minute margin
    tokens = CredentialToken(credential, "scope")
    assert [tokens.token(), tokens.token()] == ["a", "b"]
    long_lived = CredentialToken(FakeCredential(["x", "y"]), "scope")
    assert [long_lived.token(), long_lived.token()] == ["x", "x"]


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("deviceManagement/managedDevices", "DeviceManagementManagedDevices.Read.All"),
        ("deviceManagement/deviceConfigurations", "DeviceManagementConfiguration.Read.All"),
        ("informationProtection/bitlocker/recoveryKeys", "BitLockerKey.ReadBasic.All"),
    ],
)
def test_403_names_the_permission_the_call_needs(graph, path, permission):
    graph.fake.denied = {permission}
    version = "v1.0" if path.startswith("information") else "beta"
    client = client_for(graph, [])
    with pytest.raises(TenantError) as caught:
        list(client.pages(client.url(version, path)))
    text = caught.value.render()
    assert f"this call needs {permission}" in text and "T403" in text
    assert "Application is not authorized" in text  # Graph's own words kept


def test_a_slow_answer_times_out_and_is_retried(graph):
    def slow(request):
        time.sleep(0.6)
        return None

    graph.fake.faults.append(once(on_devices, slow))
    waits: list[float] = []
    client = client_for(graph, waits, timeout=0.2)
    assert len(device_ids(client)) == 250
    assert len(waits) == 1


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert retry_after_seconds("soon") is None
    assert Pacing(jitter=lambda: 1.0).wait_for(429, "100000", 0) == 300.0  # an absurd wait is capped


def test_a_next_link_back_to_an_earlier_page_is_refused(graph):
    served = []

    def circle(request):
        if on_devices(request) and len(served) > 20:  # the client went round: fail the test, do not hang it
            return Response("circled", status=418)
        if on_devices(request) and request.args.get("$skiptoken") == "100":
            served.append(1)
            link = f"{graph.url}{DEVICES}?%24select=id"  # the first page again
            return Response(json.dumps({"value": [], "@odata.nextLink": link}), content_type="application/json")
        return None

    graph.fake.faults.append(circle)
    with pytest.raises(TenantError, match="points back to an earlier page"):
        device_ids(client_for(graph, []))


@pytest.mark.parametrize(
    ("path", "permission"),
    [
        ("beta/deviceManagement/deviceConfigurations/1", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/configurationPolicies/1", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/intents/1/settings", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/templates", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/assignmentFilters/1", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/managedDeviceEncryptionStates", "DeviceManagementConfiguration.Read.All"),
        ("beta/deviceManagement/managedDevices/1", "DeviceManagementManagedDevices.Read.All"),
        ("v1.0/groups/1", "GroupMember.Read.All"),
        ("v1.0/groups/1/transitiveMembers/microsoft.graph.device", "GroupMember.Read.All (and Device.Read.All"),
        ("v1.0/informationProtection/bitlocker/recoveryKeys", "BitLockerKey.ReadBasic.All"),
    ],
)
def test_every_call_has_its_least_privileged_permission(path, permission):
    from bitlocker_rules.tenant.endpoints import permission_for

    assert (permission_for(f"https://graph.microsoft.com/{path}?$select=id") or "").startswith(permission)


def test_403_on_a_group_names_group_member_read_all(graph):
    graph.fake.denied = {"GroupMember.Read.All"}
    client = client_for(graph, [])
    group = graph.fake.tenant.groups[0]["id"]
    with pytest.raises(TenantError, match=r"this call needs GroupMember\.Read\.All"):
        client.get(client.url("v1.0", f"groups/{group}"))


# -- JSON batches ------------------------------------------------------------------------


def device_targets(graph, count=5) -> list[str]:
    return [f"deviceManagement/managedDevices/{d['id']}?$select=id" for d in graph.fake.tenant.managed_devices[:count]]


def on_device(n: int):
    """A fault filter for the n-th device read alone (inside a batch or not)."""
    return lambda request, n=n: request.path.endswith(graph_ids[n])


graph_ids: list[str] = []


@pytest.fixture(autouse=True)
def _ids(graph):
    graph_ids[:] = [d["id"] for d in graph.fake.tenant.managed_devices]


def test_a_batch_reads_each_object_in_the_order_asked_in_one_request(graph):
    waits: list[float] = []
    client = client_for(graph, waits)
    found = client.batch("beta", device_targets(graph, 20))
    assert [record["id"] for record in found] == graph_ids[:20]  # the server answers in any order
    assert client.traffic.requests == 1
    assert [r[0] for r in graph.fake.requests].count("/beta/$batch") == 1
    with pytest.raises(ValueError, match="at most 20"):
        client.batch("beta", device_targets(graph, 21))


def test_a_throttled_request_of_a_batch_is_asked_again_alone_after_its_retry_after(graph):
    graph.fake.faults.append(once(on_device(2), lambda r: throttled(503, "4")))
    graph.fake.faults.append(once(on_device(3), lambda r: throttled(429, "9")))
    waits: list[float] = []
    client = client_for(graph, waits)
    found = client.batch("beta", device_targets(graph))
    assert [record["id"] for record in found] == graph_ids[:5]
    assert waits == [9.0]  # the longest Retry-After of the batch
    second = [r for r in graph.fake.requests if r[0].startswith(DEVICES + "/")][5:]
    assert sorted(r[0].rsplit("/", 1)[1] for r in second) == sorted(graph_ids[2:4])  # only those two again
    assert client.traffic.throttled == 1 and client.traffic.requests == 2


def test_a_batch_request_that_keeps_failing_gives_up_naming_it(graph):
    graph.fake.faults.append(once(on_device(1), lambda r: Response("oops", status=500), times=99))
    waits: list[float] = []
    client = client_for(graph, waits, attempts=3, base=1.0, cap=4.0)
    with pytest.raises(TenantError) as caught:
        client.batch("beta", device_targets(graph))
    message = str(caught.value)
    assert "request of a batch: HTTP 500, 3 times" in message and graph_ids[1] in message
    assert waits == [0.5, 1.0]


def test_a_404_in_a_batch_is_none_and_a_403_names_the_permission(graph):
    targets = device_targets(graph, 3)
    targets[1] = "deviceManagement/managedDevices/no-such-device?$select=id"
    found = client_for(graph, []).batch("beta", targets)
    assert found[1] is None and [found[0]["id"], found[2]["id"]] == [graph_ids[0], graph_ids[2]]
    graph.fake.denied = {"DeviceManagementManagedDevices.Read.All"}
    with pytest.raises(TenantError, match=r"this call needs DeviceManagementManagedDevices\.Read\.All"):
        client_for(graph, []).batch("beta", device_targets(graph, 2))


def test_a_batch_dropped_or_left_unanswered_is_asked_again(graph):
    graph.fake.faults.append(once(on_device(0), dropped))
    graph.fake.faults.append(
        once(lambda r: r.path == "/beta/$batch", lambda r: Response(json.dumps({"responses": []}), status=200))
    )
    waits: list[float] = []
    client = client_for(graph, waits)
    found = client.batch("beta", device_targets(graph, 4))
    assert [record["id"] for record in found] == graph_ids[:4]
    assert len(waits) == 2 and client.traffic.retries == 2


def test_a_batch_answer_that_is_not_a_list_of_answers_is_an_error(graph):
    graph.fake.faults.append(
        once(lambda r: r.path == "/beta/$batch", lambda r: Response(json.dumps({"responses": 7}), status=200))
    )
    with pytest.raises(TenantError, match="`responses` is not a list"):
        client_for(graph, []).batch("beta", device_targets(graph, 2))


def test_a_host_name_that_does_not_resolve_is_said_so():
    from bitlocker_rules.tenant.connection import Connections

    answer = Connections("https://graph.example.invalid", timeout=5).exchange("GET", "/v1.0/", {})
    assert answer.status is None and "could not be resolved" in answer.failure


@given(
    st.lists(
        st.tuples(
            st.text(max_size=4),
            st.one_of(
                st.text(max_size=20),
                st.builds(
                    lambda p, q: f"{p}?{q}", st.text(max_size=10), st.sampled_from(["$select=a,b", "x?y", 'é"\\'])
                ),
            ),
        ),
        max_size=4,
    )
)
def test_a_batch_request_is_the_json_of_its_requests(asked):
    # Oracle: json.dumps of the request the batch describes, as the client sent it before.
    expected = {"requests": [{"id": i, "method": "GET", "url": "/" + target.lstrip("/")} for i, target in asked]}
    assert batch_requests(asked) == json.dumps(expected).encode()


def test_a_page_nested_too_deep_is_malformed_not_a_crash(graph):
    # A page a thousand levels deep raised RecursionError out of json.loads (an internal error,
    # exit 3); a server or proxy answering so now answers something that is not a JSON object.
    deep = '{"value": ' + "[" * 3000 + "]" * 3000 + "}"
    graph.fake.faults.append(once(on_devices, lambda r: Response(deep, content_type="application/json"), times=99))
    with pytest.raises(TenantError) as caught:
        device_ids(client_for(graph, [], attempts=2))
    assert "T502" in caught.value.render() and "not a JSON object" in caught.value.render()
    assert graph_error(deep.encode()) == ""
