"""Signing in: a source of Graph access tokens for each ``--auth`` method.

``token-env NAME`` reads a bearer token from the environment (automation, tests). The other
methods are ``azure-identity`` credentials (the library Microsoft ships for this), pointed at the
authority of the Graph URL's cloud (``clouds``). ``client-secret`` and ``certificate`` read the
environment variables azure-identity's ``EnvironmentCredential`` documents: ``AZURE_TENANT_ID``,
``AZURE_CLIENT_ID``, and ``AZURE_CLIENT_SECRET`` or ``AZURE_CLIENT_CERTIFICATE_PATH`` (with
``AZURE_CLIENT_CERTIFICATE_PASSWORD`` when the file is protected). Tokens are never shown.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ..errors import clip
from .clouds import authority_for, scope_for
from .failures import SIGN_IN, tenant_error

AUTH_METHODS = ("default", "device-code", "client-secret", "certificate", "token-env")
# Ask for a new token this long before the old one expires, so none expires in flight.
EXPIRY_MARGIN = 300.0

SECRET_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET")
CERTIFICATE_VARIABLES = ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_CERTIFICATE_PATH")


class TokenSource(Protocol):
    """Where the client gets its bearer token."""

    def token(self) -> str:
        """A token to send now."""
        ...

    def renewed(self, refused: str) -> str | None:
        """After Graph refused ``refused`` (401): a different token, or None when there is none."""
        ...


class EnvironmentToken:
    """``--auth token-env NAME``: the token is the variable's value, read again after a 401
    (whatever refreshes the variable between runs or during one is trusted to)."""

    def __init__(self, name: str, environ: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.environ = os.environ if environ is None else environ

    def token(self) -> str:
        """The variable's token (an error naming the variable when it is empty)."""
        value = self.environ.get(self.name, "").strip()
        if not value:
            raise tenant_error(
                SIGN_IN,
                f"the environment variable {self.name} holds no token",
                help=f"set {self.name} to a Graph access token, or choose another --auth",
            )
        return value

    def renewed(self, refused: str) -> str | None:
        """The variable read again: a token other than ``refused``, or None."""
        value = self.environ.get(self.name, "").strip()
        return value if value and value != refused else None


class CredentialToken:
    """An ``azure-identity`` credential's tokens for one scope, kept until shortly before expiry;
    after a 401 the credential is asked again, once."""

    def __init__(self, credential: Any, scope: str, clock: Callable[[], float] = time.time) -> None:
        self.credential = credential
        self.scope = scope
        self.clock = clock
        self._lock = threading.Lock()
        self._token = ""
        self._expires = 0.0

    def token(self) -> str:
        """The kept token, or a new one when it expires within ``EXPIRY_MARGIN``."""
        with self._lock:
            if not self._token or self._expires - self.clock() < EXPIRY_MARGIN:
                self._fetch()
            return self._token

    def renewed(self, refused: str) -> str | None:
        """A new token from the credential, unless another thread already got one; None when
        the credential gives the refused token again."""
        with self._lock:
            if self._token == refused:  # another thread may have renewed it already
                self._fetch()
            return self._token if self._token != refused else None

    def _fetch(self) -> None:
        from azure.core.exceptions import ClientAuthenticationError  # noqa: PLC0415 - only a real sign-in loads azure

        try:
            found = self.credential.get_token(self.scope)
        except ClientAuthenticationError as exc:
            raise tenant_error(
                SIGN_IN,
                f"signing in failed: {clip(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, 300)}",
                help="check the --auth method and its environment variables (docs/tenant.md)",
            ) from None
        self._token, self._expires = found.token, float(found.expires_on)


def sign_in(
    method: str,
    graph_url: str,
    *,
    token_variable: str | None = None,
    environ: Mapping[str, str] | None = None,
    tell: Callable[[str], None] | None = None,
) -> TokenSource:
    """The token source for ``--auth method`` against ``graph_url``'s cloud.

    ``tell`` shows the device-code prompt (where to go, which code to type)."""
    environ = os.environ if environ is None else environ
    if method == "token-env":
        if not token_variable:
            raise tenant_error(SIGN_IN, "--auth token-env needs the name of the variable: --auth token-env NAME")
        return EnvironmentToken(token_variable, environ)
    if method not in AUTH_METHODS:
        raise tenant_error(
            SIGN_IN, f"unknown --auth method {method!r}", help=f"choose one of {', '.join(AUTH_METHODS)}"
        )
    try:
        credential = _credential(method, authority_for(graph_url), environ, tell)
    except (OSError, ValueError) as exc:  # a certificate file that is missing or not a certificate
        raise tenant_error(
            SIGN_IN, f"--auth {method}: {clip(str(exc), 200)}", help="see docs/tenant.md, Signing in"
        ) from None
    return CredentialToken(credential, scope_for(graph_url))


def _credential(method: str, authority: str, environ: Mapping[str, str], tell: Callable[[str], None] | None) -> Any:
    import azure.identity as identity  # noqa: PLC0415 - azure-identity loads only when signing in with it

    if method == "default":
        return identity.DefaultAzureCredential(authority=authority)
    if method == "device-code":
        options: dict[str, Any] = {"authority": authority}
        if environ.get("AZURE_CLIENT_ID"):
            options["client_id"] = environ["AZURE_CLIENT_ID"]
        if environ.get("AZURE_TENANT_ID"):
            options["tenant_id"] = environ["AZURE_TENANT_ID"]
        if tell is not None:
            options["prompt_callback"] = lambda uri, code, expires: tell(f"To sign in, open {uri} and enter {code}")
        return identity.DeviceCodeCredential(**options)
    if method == "client-secret":
        tenant, client, secret = _required(environ, SECRET_VARIABLES, method)
        return identity.ClientSecretCredential(tenant, client, secret, authority=authority)
    tenant, client, path = _required(environ, CERTIFICATE_VARIABLES, method)
    password = environ.get("AZURE_CLIENT_CERTIFICATE_PASSWORD") or None
    return identity.CertificateCredential(tenant, client, path, password=password, authority=authority)


def _required(environ: Mapping[str, str], names: tuple[str, ...], method: str) -> tuple[str, ...]:
    missing = [name for name in names if not environ.get(name, "").strip()]
    if missing:
        raise tenant_error(
            SIGN_IN,
            f"--auth {method} reads {', '.join(names)} from the environment; not set: {', '.join(missing)}",
            help="see docs/tenant.md, Signing in",
        )
    return tuple(environ[name].strip() for name in names)


def token_claims(token: str) -> dict | None:
    """The claims of a JWT access token, read without verifying it (Graph verifies it; here they
    only name the tenant and say what the token may do). None for anything else."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def tenant_of(token: str) -> str | None:
    """The tenant id (``tid`` claim) of a JWT access token; None for anything else."""
    tid = (token_claims(token) or {}).get("tid")
    return tid if isinstance(tid, str) else None
