"""The language server: pygls over standard input and output, answering from the pure
functions of this package. It owns only the protocol glue: which document a request is about,
its current text read once per version, positions in the negotiated encoding."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from ..citations import Requirement, registry
from ..config import ProjectConfig, config_for
from ..resources import installed_version
from ..source import Span
from ..vocabulary import Vocabulary, shipped_vocabulary
from .completion import completions
from .diagnostics import lsp_diagnostics
from .document import Document, parse_document, read_document, with_earlier
from .formatting import formatted
from .hover import hover_at
from .navigation import definition_at, document_symbols
from .positions import UTF16, LineIndex

NAME = "bitlocker-rules"
SETTLE_SECONDS = 0.3  # diagnostics wait this long after the last keystroke before a document is read again


class RulesServer(LanguageServer):
    """A pygls server that remembers the last reading of each open document."""

    def __init__(self, vocabulary: Vocabulary, requirements: dict[str, Requirement]) -> None:
        super().__init__(NAME, installed_version())
        self.vocabulary = vocabulary
        self.requirements = requirements
        self.readings: dict[str, Document] = {}
        self.latest: dict[str, int] = {}  # the version each document's last change brought
        self.shut_down = False

    def document(self, uri: str, *, findings: bool = False) -> Document:
        """The current text of ``uri``, parsed once per text; with ``findings``, also checked and
        linted once per text (requests only parse, so they never wait for the analyser)."""
        opened = self.workspace.text_documents.get(uri)
        if opened is None:  # pygls would read it from disk: any size, and a missing file an internal error
            raise JsonRpcInvalidParams(f"{uri} is not open: bitlocker-rules answers about the documents it was sent")
        text = opened.source
        known = self.readings.get(uri)
        if known is None or known.text != text or (findings and known.findings is None):
            name = _display_name(uri)
            if findings:
                read = read_document(text, name, self.vocabulary, config=_config(uri))
            else:
                read = parse_document(text, name)
            known = self.readings[uri] = with_earlier(read, known)
        return known

    @property
    def encoding(self) -> str:
        """The position encoding agreed at initialisation (UTF-16 unless the client offered another)."""
        agreed = self.server_capabilities.position_encoding or UTF16
        # An enum member of lsprotocol is a str whose str() is its name: its value is the encoding.
        return agreed.value if isinstance(agreed, types.PositionEncodingKind) else agreed

    def offset(self, document: Document, position: types.Position) -> int:
        """The character offset of an LSP position in ``document``."""
        return LineIndex(document.text).offset(position.line, position.character, self.encoding)

    def publish(self, uri: str) -> None:
        """Send the diagnostics of the document's current text."""
        document = self.document(uri, findings=True)
        diagnostics = lsp_diagnostics(document, uri, self.encoding)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics))


def _config(uri: str) -> ProjectConfig | None:
    """The project configuration a file's findings follow, as ``lint`` run beside it would."""
    path = to_fs_path(uri)
    return config_for(Path(path)) if path else None


def _display_name(uri: str) -> str:
    """How findings name the document: its path for a file, else the URI."""
    return to_fs_path(uri) or uri


def build_server(vocabulary: Vocabulary | None = None) -> RulesServer:
    """A server with every feature registered, answering with ``vocabulary`` (the shipped one by default)."""
    server = RulesServer(vocabulary or shipped_vocabulary(), dict(registry()))
    _document_sync(server)
    _requests(server)
    return server


def _document_sync(server: RulesServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RulesServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: RulesServer, params: types.DidChangeTextDocumentParams) -> None:
        uri, version = params.text_document.uri, params.text_document.version
        ls.latest[uri] = version
        await asyncio.sleep(SETTLE_SECONDS)
        if ls.latest.get(uri) == version:  # no keystroke since: read this version
            ls.publish(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RulesServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RulesServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.readings.pop(uri, None)
        ls.latest.pop(uri, None)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: RulesServer, params: None) -> None:
        ls.shut_down = True


def _requests(server: RulesServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(ls: RulesServer, params: types.HoverParams) -> types.Hover | None:
        document = ls.document(params.text_document.uri)
        found = hover_at(document, ls.offset(document, params.position), ls.vocabulary, ls.requirements)
        if found is None:
            return None
        span = LineIndex(document.text).range(Span(found.start, found.end), ls.encoding)
        return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, found.markdown), span)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", " ", "{"]))
    def completion(ls: RulesServer, params: types.CompletionParams) -> types.CompletionList:
        document = ls.document(params.text_document.uri)
        items = completions(document, ls.offset(document, params.position), ls.vocabulary, ls.requirements)
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: RulesServer, params: types.DefinitionParams) -> types.Location | None:
        document = ls.document(params.text_document.uri)
        span = definition_at(document, ls.offset(document, params.position))
        if span is None:
            return None
        return types.Location(params.text_document.uri, LineIndex(document.text).range(span, ls.encoding))

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(ls: RulesServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        return document_symbols(ls.document(params.text_document.uri), ls.encoding)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def formatting(ls: RulesServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        document = ls.document(params.text_document.uri)
        text = formatted(document)
        if text is None or text == document.text:
            return []
        whole = LineIndex(document.text).range(Span(0, len(document.text)), ls.encoding)
        return [types.TextEdit(whole, text)]


def serve(reader: BinaryIO, writer: BinaryIO) -> bool:
    """Serve one client on these streams (standard input and output) until it exits or goes;
    whether it asked the server to shut down first."""
    server = build_server()
    server.start_io(reader, writer)
    return server.shut_down
