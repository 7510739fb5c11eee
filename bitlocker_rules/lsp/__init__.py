"""``bitlocker-rules lsp``: a language server for rule files.

The server (``server``) owns only the protocol glue; what it answers comes from pure functions
over the text, the syntax tree and the vocabulary, one module each: ``positions`` (offsets ↔
LSP positions), ``context`` (what the text before the cursor is in the middle of), ``document``
(a text parsed, checked and linted once per version: its findings), ``diagnostics``,
``hover``, ``completion``, ``navigation`` (definitions and document symbols) and
``formatting``. Importing this package loads none of them.
"""
