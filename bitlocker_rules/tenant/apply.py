"""``apply``: the requests ``repair --emit`` wrote, sent to Microsoft Graph (or, by default, only
shown).

Every file is read and checked before anything is sent. Then, before any write: the token's
permission is read from its claims when it is a JWT (``roles`` for an application, ``scp`` for a
signed-in user; an opaque token cannot be read, and Graph's 403 then tells), and each target is
read (a GET of the policy, or of the intent an ``updateSettings`` action is for: it exists, the
token may read it, and it is the kind of policy the file was made for). Only then, with ``send``,
is each request sent, one at a time, in file order; a failure stops there, and its error says
which requests were sent before it (the tenant has their changes) and how many were not.
"""

from __future__ import annotations

from pathlib import Path

from attrs import frozen

from ..emit import Emitted, read_emitted
from ..errors import Diagnostic
from .client import GraphClient
from .clouds import graph_root
from .failures import FORBIDDEN, MALFORMED, TenantError, tenant_error
from .pacing import Pacing
from .signin import TokenSource, token_claims

WRITE_PERMISSION = "DeviceManagementConfiguration.ReadWrite.All"
SENT, DRY_RUN, NOT_GRAPH = "sent", "dry run", "not a Graph request"


@frozen
class Step:
    """One emitted file, the absolute URL it is for, and what apply did with it."""

    file: str
    emitted: Emitted
    url: str
    outcome: str  # SENT, DRY_RUN or NOT_GRAPH


@frozen
class Permission:
    """What the token's claims say about the write permission: granted True/False, or None when
    the token is not a JWT and cannot be read."""

    granted: bool | None
    said: str


@frozen
class ApplyResult:
    """The steps, in file order, and what the permission check found."""

    steps: tuple[Step, ...]
    permission: Permission
    sent: bool


def emitted_files(target: str | Path) -> list[Path]:
    """The files to apply: ``target`` itself, or the ``*.json`` files of a folder, by name."""
    path = Path(target)
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if p.is_file())
    return [path]


def write_permission(token: str) -> Permission:
    """Whether the token carries DeviceManagementConfiguration.ReadWrite.All, from its claims."""
    claims = token_claims(token)
    if claims is None:
        return Permission(
            None, f"not checked: the token is not a JWT; Graph refuses a write without {WRITE_PERMISSION} (403)"
        )
    roles = claims.get("roles")
    roles = roles if isinstance(roles, list) else []
    scopes = str(claims.get("scp") or "").split()
    granted = {str(r) for r in roles} | set(scopes)
    if WRITE_PERMISSION in granted:
        return Permission(True, f"the token carries {WRITE_PERMISSION}")
    has = ", ".join(sorted(granted)) or "no permission"
    return Permission(False, f"the token does not carry {WRITE_PERMISSION} (it has {has})")


def apply(
    target: str | Path, tokens: TokenSource, graph_url: str, *, send: bool = False, pacing: Pacing | None = None
) -> ApplyResult:
    """Read every emitted file under ``target``, check the permission and the targets, then send
    the Graph requests when ``send`` (a dry run otherwise)."""
    files = emitted_files(target)
    emitted = [(str(path), read_emitted(path)) for path in files]
    client = GraphClient(graph_root(graph_url), tokens, pacing)
    permission = write_permission(tokens.token())
    if send and permission.granted is False:
        raise tenant_error(
            FORBIDDEN,
            f"apply needs {WRITE_PERMISSION}: {permission.said}",
            where=client.root,
            help="grant it to the app (or the signed-in user) with admin consent, then sign in again",
        )
    steps = [_checked(client, file, item, send) for file, item in emitted]
    if send:
        writes = [step for step in steps if step.outcome == SENT]
        for done, step in enumerate(writes):
            try:
                client.write(str(step.emitted.method), step.url, step.emitted.body, needs=WRITE_PERMISSION)
            except TenantError as exc:
                raise _stopped(exc, writes[:done], len(writes) - done - 1) from None
    return ApplyResult(tuple(steps), permission, send)


def _stopped(exc: TenantError, sent: list[Step], unsent: int) -> TenantError:
    """A write's failure, with what the tenant now holds: the requests sent before it (which
    Graph took: the tenant has those changes) and how many after it were not sent."""
    if sent:
        listed = "; ".join(f"{s.emitted.method} {s.url} ({s.file})" for s in sent)
        said = f"{len(sent)} request(s) before this one were sent, and the tenant has their changes: {listed}"
    else:
        said = "no request before this one was sent"
    note = Diagnostic(
        exc.diagnostics[0].code,
        f"{said}; {unsent} request(s) after it were not sent",
        severity="note",
        file="apply",
        help="apply sends the same requests again, in the same order (each is idempotent)",
    )
    return type(exc)([*exc.diagnostics, note])


def _checked(client: GraphClient, file: str, item: Emitted, send: bool) -> Step:
    """A step whose target was read: it exists, may be read, and is the file's kind of policy."""
    if item.method is None or item.url is None:
        return Step(file, item, "", NOT_GRAPH)
    url = client.root + item.url
    current = client.get(client.root + str(item.resource))
    wanted = item.body.get("@odata.type")
    if isinstance(wanted, str) and current.get("@odata.type") not in (None, wanted):
        raise tenant_error(
            MALFORMED,
            f"{file} is for a {wanted.rsplit('.', 1)[-1]}, but the policy at this URL is a "
            f"{str(current['@odata.type']).rsplit('.', 1)[-1]}",
            where=url,
            help="emit the repair again from the policy as it is now",
        )
    return Step(file, item, url, SENT if send else DRY_RUN)
