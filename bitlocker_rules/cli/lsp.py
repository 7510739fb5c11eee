"""``lsp``: the language server, over standard input and output, until the editor exits it."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

from ..lsp.server import serve
from .status import EXIT_FAIL, EXIT_PASS


def run_lsp(args: argparse.Namespace) -> int:
    """``lsp``: serve one editor; 0 when it shut the server down before exiting, else 1 (as LSP says)."""
    # The protocol gets a stream of its own on standard output's file: pygls closes it at exit,
    # and the command line's own standard output, flushed after every command, stays open. Anything
    # printed meanwhile goes to standard error, where it cannot break the protocol's messages.
    with os.fdopen(os.dup(sys.stdout.fileno()), "wb") as protocol, contextlib.redirect_stdout(sys.stderr):
        shut_down = serve(sys.stdin.buffer, protocol)
    return EXIT_PASS if shut_down else EXIT_FAIL
