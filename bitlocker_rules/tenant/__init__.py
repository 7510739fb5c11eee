"""A live tenant read from Microsoft Graph into a snapshot folder: the only code that speaks HTTP.

``signin`` (a token source per ``--auth`` method, ``clouds`` for the national clouds' authorities)
→ ``client`` (GET, paging, retries paced by ``pacing``, errors in words, ``endpoints`` for the
calls and the permissions each needs) → ``pull`` (what is read, in which order) → ``snapshot``
(JSON Lines per kind and ``manifest.json``, written atomically; ``scrub`` keeps secrets out).
Everything after a pull reads files.

    tokens = sign_in("token-env", "https://graph.microsoft.com", token_variable="GRAPH_TOKEN")
    result = pull(PullOptions(Path("snapshot")), tokens)
"""

from __future__ import annotations

from .client import GraphClient
from .endpoints import EVERY_PERMISSION
from .failures import TenantError
from .pacing import Pacing
from .pull import PullOptions, PullResult, pull
from .signin import AUTH_METHODS, sign_in
from .snapshot import MANIFEST, SCHEMA, SCHEMA_VERSION, read_manifest

__all__ = [
    "AUTH_METHODS",
    "EVERY_PERMISSION",
    "MANIFEST",
    "SCHEMA",
    "SCHEMA_VERSION",
    "GraphClient",
    "Pacing",
    "PullOptions",
    "PullResult",
    "TenantError",
    "pull",
    "read_manifest",
    "sign_in",
]
