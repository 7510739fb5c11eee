"""National clouds: which Microsoft Entra authority signs in for which Graph service root.

The table is Microsoft's "Microsoft Graph national cloud deployments" page
(https://learn.microsoft.com/graph/deployments): "App registration and token service root
endpoints" and "Microsoft Graph and Graph Explorer service root endpoints". A Graph host not in
the table (a local test server) signs in with the global authority; ``token-env`` never signs in.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .failures import GRAPH_URL, tenant_error

GLOBAL_AUTHORITY = "login.microsoftonline.com"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

# Graph service root host → Microsoft Entra authority host.
AUTHORITIES = {
    "graph.microsoft.com": GLOBAL_AUTHORITY,  # global service
    "graph.microsoft.us": "login.microsoftonline.us",  # US Government L4
    "dod-graph.microsoft.us": "login.microsoftonline.us",  # US Government L5 (DOD)
    "microsoftgraph.chinacloudapi.cn": "login.chinacloudapi.cn",  # China, operated by 21Vianet
}


def graph_root(url: str) -> str:
    """The Graph service root as given (``https://host[:port]``), without a trailing slash or path."""
    parts = urlsplit(url.strip())
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise tenant_error(
            GRAPH_URL,
            f"--graph-url {url!r}: a token is sent only over https",
            help="plain http is accepted only for a server on this machine (a test's local Graph)",
        )
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.path not in ("", "/"):
        raise tenant_error(
            GRAPH_URL,
            f"--graph-url {url!r} is not a Graph service root",
            help="give the root alone, such as https://graph.microsoft.com or https://graph.microsoft.us",
        )
    return f"{parts.scheme}://{parts.netloc}"


def authority_for(graph_url: str) -> str:
    """The Entra authority host that issues tokens for ``graph_url``'s cloud."""
    return AUTHORITIES.get((urlsplit(graph_url).hostname or "").lower(), GLOBAL_AUTHORITY)


def scope_for(graph_url: str) -> str:
    """The scope asked for: the cloud's own Graph root with ``/.default`` (the app's granted permissions)."""
    return f"{graph_root(graph_url)}/.default"
