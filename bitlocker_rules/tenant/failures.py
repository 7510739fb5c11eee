"""What goes wrong when reading a tenant, as the library's errors (the command line exits 2)."""

from __future__ import annotations

from ..errors import BitLockerRulesError, Diagnostic

# Diagnostic codes of the tenant stage.
GRAPH_URL = "T100"  # a --graph-url that is not a service root
SIGN_IN = "T101"  # no credential, or the credential refused
UNAUTHORISED = "T401"  # Graph refused the token (401), also after asking the credential again
FORBIDDEN = "T403"  # Graph refused the call (403): a permission is missing
SERVER = "T500"  # Graph kept failing (5xx, throttling, dropped connections) after every retry
MALFORMED = "T502"  # Graph answered with something that is not the JSON page it documents
SNAPSHOT = "T601"  # the snapshot folder cannot be written, or cannot be resumed


class TenantError(BitLockerRulesError):
    """Signing in, reading Graph, or writing the snapshot failed; the message says what to do."""


def tenant_error(code: str, message: str, *, where: str | None = None, help: str | None = None) -> TenantError:
    """A ``TenantError`` with one diagnostic (``where``: the URL or folder it is about)."""
    return TenantError([Diagnostic(code, message, file=where or "pull", help=help)])
