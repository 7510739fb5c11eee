"""Signing in: each ``--auth`` method builds the azure-identity credential it names, with the
variables azure-identity documents, against the authority of the Graph URL's cloud."""

from __future__ import annotations

from typing import ClassVar

import pytest

from bitlocker_rules.tenant import TenantError, sign_in
from bitlocker_rules.tenant.clouds import authority_for, scope_for
from bitlocker_rules.tenant.signin import CredentialToken, EnvironmentToken, tenant_of


class Recorded:
    """Stands in for an azure-identity credential class: records how it was built."""

    built: ClassVar[list[tuple[str, tuple, dict]]] = []

    def __init__(self, *args, **kwargs):
        Recorded.built.append((type(self).__name__, args, kwargs))


@pytest.fixture
def recorded(monkeypatch):
    import azure.identity

    Recorded.built = []
    for name in ("DefaultAzureCredential", "DeviceCodeCredential", "ClientSecretCredential", "CertificateCredential"):
        monkeypatch.setattr(azure.identity, name, type(name, (Recorded,), {}))
    return Recorded.built


SECRET_ENV = {"AZURE_TENANT_ID": "tid", "AZURE_CLIENT_ID": "cid", "AZURE_CLIENT_SECRET": "s3cret"}


@pytest.mark.parametrize(
    ("graph_url", "authority"),
    [
        ("https://graph.microsoft.com", "login.microsoftonline.com"),
        ("https://graph.microsoft.us", "login.microsoftonline.us"),
        ("https://dod-graph.microsoft.us", "login.microsoftonline.us"),
        ("https://microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn"),
    ],
)
def test_the_authority_and_scope_follow_the_cloud(recorded, graph_url, authority):
    tokens = sign_in("client-secret", graph_url, environ=SECRET_ENV)
    assert isinstance(tokens, CredentialToken) and tokens.scope == f"{graph_url}/.default"
    assert recorded == [("ClientSecretCredential", ("tid", "cid", "s3cret"), {"authority": authority})]
    assert authority_for(graph_url + "/") == authority and scope_for(graph_url + "/") == f"{graph_url}/.default"


def test_each_method_builds_its_credential(recorded):
    sign_in("default", "https://graph.microsoft.us", environ={})
    sign_in("device-code", "https://graph.microsoft.com", environ={"AZURE_CLIENT_ID": "cid"}, tell=print)
    cert = {"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_CERTIFICATE_PATH": "/k.pem"}
    sign_in("certificate", "https://graph.microsoft.com", environ=cert)
    assert [name for name, _, _ in recorded] == [
        "DefaultAzureCredential",
        "DeviceCodeCredential",
        "CertificateCredential",
    ]
    assert recorded[0][2] == {"authority": "login.microsoftonline.us"}
    assert recorded[1][2]["client_id"] == "cid" and callable(recorded[1][2]["prompt_callback"])
    assert recorded[2][1] == ("t", "c", "/k.pem") and recorded[2][2]["password"] is None


@pytest.mark.parametrize(
    ("method", "environ", "missing"),
    [
        ("client-secret", {"AZURE_TENANT_ID": "t"}, "AZURE_CLIENT_ID, AZURE_CLIENT_SECRET"),
        (
            "certificate",
            {"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "x"},
            "AZURE_TENANT_ID, AZURE_CLIENT_CERTIFICATE_PATH",
        ),
    ],
)
def test_missing_variables_are_named_never_their_values(recorded, method, environ, missing):
    with pytest.raises(TenantError) as caught:
        sign_in(method, "https://graph.microsoft.com", environ=environ)
    assert f"not set: {missing}" in caught.value.render()
    assert recorded == []


def test_token_env_reads_the_variable_and_rereads_it_after_a_refusal():
    environ = {"GRAPH_TOKEN": " first "}
    tokens = sign_in("token-env", "https://graph.microsoft.com", token_variable="GRAPH_TOKEN", environ=environ)
    assert isinstance(tokens, EnvironmentToken) and tokens.token() == "first"
    assert tokens.renewed("first") is None  # the same token again is no renewal
    environ["GRAPH_TOKEN"] = "second"
    assert tokens.renewed("first") == "second"
    with pytest.raises(TenantError, match="needs the name"):
        sign_in("token-env", "https://graph.microsoft.com")


def test_the_tenant_id_is_read_from_a_jwt_only():
    import base64
    import json

    claims = base64.urlsafe_b64encode(json.dumps({"tid": "72f988bf"}).encode()).decode().rstrip("=")
    assert tenant_of(f"eyJhbGciOiJub25lIn0.{claims}.sig") == "72f988bf"
    assert tenant_of("good-token") is None and tenant_of("a.b.c") is None


def test_a_certificate_that_cannot_be_read_is_a_clear_error(tmp_path):
    environ = {
        "AZURE_TENANT_ID": "t",
        "AZURE_CLIENT_ID": "c",
        "AZURE_CLIENT_CERTIFICATE_PATH": str(tmp_path / "none.pem"),
    }
    with pytest.raises(TenantError, match="--auth certificate"):
        sign_in("certificate", "https://graph.microsoft.com", environ=environ)
    (tmp_path / "bad.pem").write_text("not a certificate")
    environ["AZURE_CLIENT_CERTIFICATE_PATH"] = str(tmp_path / "bad.pem")
    with pytest.raises(TenantError, match="--auth certificate"):
        sign_in("certificate", "https://graph.microsoft.com", environ=environ)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://graph.microsoft.com", "a token is sent only over https"),
        ("https://graph.microsoft.com/v1.0", "is not a Graph service root"),
        ("graph.microsoft.com", "is not a Graph service root"),
    ],
)
def test_a_graph_url_that_is_not_a_safe_root_is_refused(url, message):
    from bitlocker_rules.tenant.clouds import graph_root

    with pytest.raises(TenantError, match=message):
        graph_root(url)
    assert graph_root("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"  # a local test server
