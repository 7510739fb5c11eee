"""The editor files under ``editors/``: the TextMate grammar colours what the language's own
lexer reads (every keyword of the grammar, strings, comments, numbers, versions, rule ids,
fact paths, operators), and the VS Code extension's manifest holds together."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from lark import Lark

from bitlocker_rules.resources import grammar_text, keywords, shipped_ruleset_paths
from bitlocker_rules.vocabulary import NAMESPACES

EDITORS = Path(__file__).resolve().parent.parent / "editors"
GRAMMAR = EDITORS / "bitlocker-rules.tmLanguage.json"
VSCODE = EDITORS / "vscode"
TEXTMATE = json.loads(GRAMMAR.read_text(encoding="utf-8"))


def _rules(grammar: dict) -> list[dict]:
    """The grammar's top-level match rules in order, includes expanded."""
    found = []
    for pattern in grammar["patterns"]:
        rule = grammar["repository"][pattern["include"].removeprefix("#")]
        found += [rule] if "match" in rule or "begin" in rule else rule["patterns"]
    return found


def colour(text: str, grammar: dict = TEXTMATE) -> list[str | None]:
    """The scope of each character of ``text``, as a TextMate engine gives it: at each place the
    rule matching leftmost wins, the first listed on a tie; a begin/end rule runs to its end."""
    scopes: list[str | None] = [None] * len(text)
    rules = _rules(grammar)
    for line_start, line in _lines(text):
        position = 0
        while position < len(line):
            best = None
            for rule in rules:
                found = re.compile(rule.get("match") or rule["begin"]).search(line, position)
                if found and (best is None or found.start() < best[1].start()):
                    best = (rule, found)
            if best is None:
                break
            rule, found = best
            end = _paint(rule, found, line, line_start, scopes)
            position = max(end, position + 1)
    return scopes


def _lines(text: str):
    start = 0
    for line in text.split("\n"):
        yield start, line
        start += len(line) + 1


def _paint(rule: dict, found: re.Match, line: str, line_start: int, scopes: list) -> int:
    """Give the matched characters their scopes; where the match ends."""
    end = found.end()
    if "begin" in rule:  # runs to the end pattern, skipping what its inner patterns match
        inner = [re.compile(p["match"]) for p in rule.get("patterns", [])]
        closing = re.compile(rule["end"])
        while end < len(line) and not closing.match(line, end):
            skipped = next((m.end() for p in inner if (m := p.match(line, end))), end + 1)
            end = skipped
        end = closing.match(line, end).end() if end < len(line) else end
    for i in range(found.start(), end):
        scopes[line_start + i] = rule.get("name")
    for group, capture in rule.get("captures", {}).items():
        for i in range(found.start(int(group)), found.end(int(group))):
            scopes[line_start + i] = capture["name"]
    return end


# What the grammar's lexer calls a token → the scope family it must be coloured with.
FAMILIES = {
    "STRING": ("string.quoted",),
    "COMMENT": ("comment.",),
    "VERSION": ("constant.numeric",),
    "RELEASE": ("constant.numeric",),
    "DECIMAL": ("constant.numeric",),
    "INTEGER": ("constant.numeric",),
    "RULE_ID": ("entity.name.function", "constant.other.reference"),
    "COMPARATOR": ("keyword.operator.comparison",),
}
KEYWORD_FAMILIES = ("keyword.", "storage.type.", "constant.language.")


def _lexer() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="basic", start=["start", "condition_only"])


@pytest.mark.parametrize("keyword", sorted(keywords()))
def test_every_keyword_of_the_grammar_is_coloured_as_a_keyword(keyword):
    text = f"x {keyword} y"
    scope = colour(text)[2]
    assert scope and scope.startswith(KEYWORD_FAMILIES), (keyword, scope)
    assert all(s == scope or s is None or s.startswith("entity") for s in colour(text)[2 : 2 + len(keyword)])


@pytest.mark.parametrize("name", sorted(shipped_ruleset_paths()))
def test_a_shipped_file_is_coloured_as_the_language_reads_it(name):
    text = shipped_ruleset_paths()[name].read_text(encoding="utf-8")
    scopes = colour(text)
    tokens = list(_lexer().lex(text, dont_ignore=True))
    wrong = []
    for before, token, after in zip([None, *tokens], tokens, [*tokens[1:], None]):
        # Every character of the token: a number cut in two at its dot is wrongly coloured too.
        scope = min((scopes[i] or "" for i in range(token.start_pos, token.end_pos)), key=len)
        if token.value in keywords():
            families = KEYWORD_FAMILIES
        elif token.type == "NAME" and "DOT" in (getattr(before, "type", ""), getattr(after, "type", "")):
            families = ("variable.",)  # a part of a fact path or of a field
        else:
            families = FAMILIES.get(token.type, ("",))
        if not scope.startswith(families):
            wrong.append(f"{token.line}:{token.column} {token.type} {token.value!r} coloured {scope!r}")
    assert not wrong, wrong[:10]


def test_fact_paths_are_coloured_in_every_namespace_and_rule_ids_in_headers():
    for namespace in NAMESPACES:
        scopes = colour(f"{namespace}.some_fact")
        assert scopes[0].startswith("variable.language.namespace") and scopes[-1].startswith("variable.other.property")
    assert colour('rule SE-01 "x"')[6].startswith("entity.name.function.rule-id")
    assert colour("  sources S5, intune-bitlocker")[16].startswith("constant.other.reference")
    assert colour('"a \\" # b" # c')[5].startswith("string.quoted")  # a quote escaped, a # inside a text
    assert colour('"a \\" # b" # c')[13].startswith("comment.")


def test_the_vscode_extension_ships_the_same_grammar():
    copy = VSCODE / "syntaxes" / "bitlocker-rules.tmLanguage.json"
    assert copy.read_bytes() == GRAMMAR.read_bytes()


def test_the_vscode_manifest_holds_together():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["extensions"] == [".rules"]
    assert grammar["language"] == language["id"]
    assert f"onLanguage:{language['id']}" in manifest["activationEvents"]
    assert grammar["scopeName"] == json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))["scopeName"]
    configuration = json.loads((VSCODE / language["configuration"]).read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"
    assert ["{", "}"] in configuration["brackets"] and ["(", ")"] in configuration["brackets"]
    assert "vscode-languageclient" in manifest["dependencies"]
    setting = manifest["contributes"]["configuration"]["properties"]["bitlockerRules.server.command"]
    assert setting["default"] == ["bitlocker-rules", "lsp"]
    script = (VSCODE / manifest["main"]).read_text(encoding="utf-8")
    assert 'require("vscode-languageclient/node")' in script
    assert "bitlockerRules" in script and "server.command" in script
    assert f'language: "{language["id"]}"' in script


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_extension_script_is_valid_javascript():
    subprocess.run(["node", "--check", str(VSCODE / "extension.js")], check=True)


# Loads extension.js in node with stand-ins for the two modules VS Code provides (vscode and
# vscode-languageclient), calls activate and prints what the language client was built with.
HARNESS = """
const Module = require("module");
const made = [];
const stand_ins = {
  vscode: {workspace: {getConfiguration: (section) => ({get: (key) => CONFIGURED[section + "." + key]})}},
  "vscode-languageclient/node": {
    TransportKind: {stdio: "stdio-kind"},
    LanguageClient: class {
      constructor(id, name, server, client) { made.push({id, name, server, client}); }
      start() { return Promise.resolve(); }
      stop() { return Promise.resolve(); }
    },
  },
};
const load = Module._load;
Module._load = function (request, ...rest) { return stand_ins[request] || load.call(this, request, ...rest); };
const extension = require(process.argv[2]);
const context = {subscriptions: []};
extension.activate(context).then(() => {
  console.log(JSON.stringify({made, subscriptions: context.subscriptions.length}));
});
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize(
    "configured, command, args",
    [
        (None, "bitlocker-rules", ["lsp"]),
        (["/venv/bin/bitlocker-rules", "lsp"], "/venv/bin/bitlocker-rules", ["lsp"]),
    ],
)
def test_the_extension_starts_the_server_over_stdio(tmp_path, configured, command, args):
    harness = tmp_path / "harness.js"
    harness.write_text(f"const CONFIGURED = {json.dumps({'bitlockerRules.server.command': configured})};" + HARNESS)
    result = subprocess.run(
        ["node", str(harness), str(VSCODE / "extension.js")], capture_output=True, text=True, check=True
    )
    shown = json.loads(result.stdout)
    (client,) = shown["made"]
    assert client["server"] == {"command": command, "args": args, "transport": "stdio-kind"}
    assert {"scheme": "file", "language": "bitlocker-rules"} in client["client"]["documentSelector"]
    assert shown["subscriptions"] == 1  # stopped with the extension


def test_the_server_accepts_the_option_the_vscode_client_adds():
    from bitlocker_rules.cli import build_parser

    args = build_parser().parse_args(["lsp", "--stdio"])
    assert args.command == "lsp" and args.stdio
