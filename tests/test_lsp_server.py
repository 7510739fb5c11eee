"""``bitlocker-rules lsp`` end to end: the real command started as a subprocess, driven over
standard input and output by pygls's language client, as an editor drives it. One server for
the module; each test opens its own document."""

from __future__ import annotations

import asyncio
import shutil
import sys
import time

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

# The error is on a line with a two-unit character (🔒) and a two-byte one (é) before it.
ERRONEOUS = """ruleset demo "Demo rules"

define administrator = device.user_role == Administrator

rule DM-01 "The firmware runs in UEFI mode"
  severity error
  sources S5
  when administrator
  require device.firmware_mode == UEFI

rule DM-02 "Clé 🔒" severity warning require device.firmware_mod == UEFI
"""
VALID = ERRONEOUS.replace("device.firmware_mod == UEFI", "device.tpm_present == true")
WAIT = 30.0  # seconds for a notification: the first reading loads the vocabulary


def _command() -> list[str]:
    """The installed ``bitlocker-rules`` script, or the module where the script is not on PATH."""
    script = shutil.which("bitlocker-rules")
    return [script, "lsp"] if script else [sys.executable, "-m", "bitlocker_rules", "lsp"]


class Session:
    """A client connected to one server process, with the diagnostics it has been sent."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = LanguageClient("bitlocker-rules-tests", "1")
        self.diagnostics: dict[str, list[types.Diagnostic]] = {}
        self.opened = 0

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def published(client: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
            self.diagnostics[params.uri] = params.diagnostics

    def run(self, coroutine):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, WAIT))

    def start(self, capabilities: types.ClientCapabilities | None = None) -> types.InitializeResult:
        command = _command()
        self.run(self.client.start_io(*command))
        capabilities = capabilities or types.ClientCapabilities()
        params = types.InitializeParams(capabilities=capabilities, process_id=None, root_uri=None)
        result = self.run(self.client.initialize_async(params))
        self.client.initialized(types.InitializedParams())
        return result

    def open(self, text: str) -> str:
        self.opened += 1
        uri = f"file:///tmp/lsp-test-{self.opened}.rules"
        item = types.TextDocumentItem(uri=uri, language_id="bitlocker-rules", version=1, text=text)
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(item))
        return uri

    def published(self, uri: str) -> list[types.Diagnostic]:
        """The diagnostics of ``uri``, once the server has sent them."""
        deadline = time.monotonic() + WAIT
        while uri not in self.diagnostics:
            assert time.monotonic() < deadline, f"no diagnostics for {uri}"
            self.run(asyncio.sleep(0.05))
        return self.diagnostics.pop(uri)


@pytest.fixture(scope="module")
def session():
    started = Session()
    started.capabilities = started.start().capabilities
    yield started
    if not started.client.stopped:
        started.run(started.client.shutdown_async(None))
        started.client.exit(None)
        started.run(started.client.stop())
    started.loop.close()


def _at(text: str, word: str, after: int = 0) -> types.Position:
    """The LSP position (UTF-16) of the middle of the first ``word`` after offset ``after``."""
    return _position(text, text.index(word, after) + len(word) // 2)


def _position(text: str, offset: int) -> types.Position:
    """The LSP position of an offset: its line, and UTF-16 units before it on the line."""
    column = text[text.rfind("\n", 0, offset) + 1 : offset]
    return types.Position(text.count("\n", 0, offset), len(column.encode("utf-16-le")) // 2)


def test_the_server_says_what_it_can_do(session):
    capabilities = session.capabilities
    assert capabilities.hover_provider and capabilities.definition_provider
    assert capabilities.document_symbol_provider and capabilities.document_formatting_provider
    assert "." in capabilities.completion_provider.trigger_characters
    assert capabilities.position_encoding == types.PositionEncodingKind.Utf16


def test_an_error_is_a_diagnostic_with_its_range_in_utf16(session):
    uri = session.open(ERRONEOUS)
    (diagnostic,) = session.published(uri)
    assert diagnostic.code == "E302"
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert "did you mean `device.firmware_mode`?" in diagnostic.message
    line = ERRONEOUS.splitlines()[10]
    before = line[: line.index("device.firmware_mod")]
    # 🔒 counts two UTF-16 units: the start is one unit past its code-point column.
    start = len(before) + 1
    assert diagnostic.range == types.Range(
        types.Position(10, start), types.Position(10, start + len("device.firmware_mod"))
    )


def test_a_syntax_error_is_a_diagnostic_and_the_server_keeps_answering(session):
    text = VALID + '\nrule DM-03 "Typing"\n  require device.'
    uri = session.open(text)
    (diagnostic,) = session.published(uri)
    assert diagnostic.code == "E102" and diagnostic.range.start.line == 13
    hover = session.run(
        session.client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), _at(text, "firmware_mode"))
        )
    )
    assert "**BIOS Mode**" in hover.contents.value


def test_a_request_about_a_document_not_open_is_refused_and_the_server_keeps_answering(session, tmp_path):
    # It was read from disk: a missing file answered "internal error: FileNotFoundError", and a
    # file of any size was read whole. Requests are about the documents the editor opened.
    on_disk = tmp_path / "on-disk.rules"
    on_disk.write_text(VALID)
    for uri in ("file:///no/such/file.rules", on_disk.as_uri()):
        params = types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
        with pytest.raises(Exception, match="is not open") as refused:
            session.run(session.client.text_document_hover_async(params))
        assert "FileNotFoundError" not in str(refused.value)
    uri = session.open(VALID)
    assert not session.published(uri)


def test_a_change_is_read_again(session):
    uri = session.open(ERRONEOUS)
    assert session.published(uri)
    change = types.TextDocumentContentChangeWholeDocument(text=VALID)
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=2, uri=uri), [change])
    )
    assert [d.code for d in session.published(uri)] == []


def test_hover_on_a_fact_shows_its_label_and_csp_node(session):
    text = VALID.replace("device.tpm_present", "policy.tpm_startup_pin").replace("== true", "!= Required")
    uri = session.open(text)
    hover = session.run(
        session.client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), _at(text, "tpm_startup_pin"))
        )
    )
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "**Compatible TPM startup PIN**" in hover.contents.value
    assert "CSP node: `./Device/Vendor/MSFT/BitLocker/SystemDrivesRequireStartupAuthentication`" in hover.contents.value
    start = text.index("policy.tpm_startup_pin")
    assert hover.range.start.character == len((text[text.rfind("\n", 0, start) + 1 : start]).encode("utf-16-le")) // 2


def test_completion_after_device_dot_lists_device_facts(session):
    text = VALID + '\nrule DM-03 "Typing"\n  require device.'
    uri = session.open(text)
    end = types.Position(13, len("  require device."))
    listed = session.run(
        session.client.text_document_completion_async(types.CompletionParams(types.TextDocumentIdentifier(uri), end))
    )
    labels = {item.label for item in listed.items}
    assert {"firmware_mode", "os_version", "volumes"} <= labels
    assert not any(label.startswith("policy") or "." in label for label in labels)


def test_definition_of_a_defined_name(session):
    uri = session.open(VALID)
    found = session.run(
        session.client.text_document_definition_async(
            types.DefinitionParams(types.TextDocumentIdentifier(uri), _at(VALID, "administrator", VALID.index("when")))
        )
    )
    assert found == types.Location(uri, types.Range(types.Position(2, 7), types.Position(2, 20)))


def test_document_symbols_are_the_rules(session):
    uri = session.open(VALID)
    (ruleset,) = session.run(
        session.client.text_document_document_symbol_async(
            types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))
        )
    )
    assert ruleset.name == "demo"
    assert [(s.name, s.kind) for s in ruleset.children] == [
        ("administrator", types.SymbolKind.Constant),
        ("DM-01", types.SymbolKind.Function),
        ("DM-02", types.SymbolKind.Function),
    ]
    assert ruleset.children[2].selection_range == types.Range(types.Position(10, 5), types.Position(10, 10))


def test_formatting_lays_out_the_document(session):
    uri = session.open(VALID)
    (edit,) = session.run(
        session.client.text_document_formatting_async(
            types.DocumentFormattingParams(
                types.TextDocumentIdentifier(uri), types.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        )
    )
    assert edit.range.start == types.Position(0, 0)
    assert edit.new_text.endswith('rule DM-02 "Clé 🔒"\n  severity warning\n  require device.tpm_present == true\n')


def test_shutdown_and_exit_end_the_process_with_code_0():
    other = Session()
    other.start()
    other.run(other.client.shutdown_async(None))
    other.client.exit(None)
    other.run(other.client.stop())
    assert other.client._server.returncode == 0
    other.loop.close()


def test_exit_without_shutdown_ends_the_process_with_code_1():
    other = Session()
    other.start()
    other.client.exit(None)
    other.run(other.client.stop())
    assert other.client._server.returncode == 1
    other.loop.close()


def test_an_edit_at_a_utf16_position_lands_where_the_editor_means(session):
    # An incremental change placed in UTF-16 units, after 🔒 on its line: the missing `e` of firmware_mod.
    uri = session.open(ERRONEOUS)
    assert [d.code for d in session.published(uri)] == ["E302"]
    end = _position(ERRONEOUS, ERRONEOUS.index("device.firmware_mod ==") + len("device.firmware_mod"))
    change = types.TextDocumentContentChangePartial(range=types.Range(end, end), text="e")
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=2, uri=uri), [change])
    )
    # The fact is now known; what is left is lint's finding that DM-01 adds nothing to DM-02.
    assert [d.code for d in session.published(uri)] == ["L104"]


def test_a_client_that_counts_in_utf8_gets_ranges_in_bytes():
    other = Session()
    offered = types.ClientCapabilities(
        general=types.GeneralClientCapabilities(position_encodings=[types.PositionEncodingKind.Utf8])
    )
    assert other.start(offered).capabilities.position_encoding == types.PositionEncodingKind.Utf8
    uri = other.open(ERRONEOUS)
    (diagnostic,) = other.published(uri)
    line = ERRONEOUS.splitlines()[10]
    before = line[: line.index("device.firmware_mod")]
    assert diagnostic.range.start == types.Position(10, len(before.encode("utf-8")))  # é 2 bytes, 🔒 4
    other.run(other.client.shutdown_async(None))
    other.client.exit(None)
    other.run(other.client.stop())
    other.loop.close()


def test_symbols_stay_while_a_new_rule_is_typed(session):
    uri = session.open(VALID)
    symbols = types.DocumentSymbolParams(types.TextDocumentIdentifier(uri))
    assert session.run(session.client.text_document_document_symbol_async(symbols))
    typing = types.TextDocumentContentChangeWholeDocument(text=VALID + '\nrule DM-03 "Typing"\n  require device.')
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(types.VersionedTextDocumentIdentifier(version=2, uri=uri), [typing])
    )
    (ruleset,) = session.run(session.client.text_document_document_symbol_async(symbols))
    assert [s.name for s in ruleset.children] == ["administrator", "DM-01", "DM-02"]
