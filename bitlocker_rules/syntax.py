"""Rule text → syntax tree → AST. The only module that imports lark.

Syntax errors become ``RulesError`` diagnostics in the user's words: a location, a caret
under the offending text and what would have been accepted there.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, cast

from attrs import frozen
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import Pattern
from lark.tree import Meta

from . import nodes as n
from .errors import Diagnostic, RulesError, suggest
from .resources import grammar_text
from .source import SourceText, Span

MAX_TEXT_BYTES = 1_000_000
MAX_NESTING = 64
_MAX_DIGITS = 4000  # Python refuses to convert integers of more than 4300 digits

# What a terminal is called in an error message; keywords and punctuation show as typed.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "RULE_ID": "a rule id such as SE-01",
    "STRING": 'a quoted text such as "…"',
    "INTEGER": "a whole number",
    "DECIMAL": "a decimal number such as 2.0",
    "VERSION": "a Windows version such as 10.0.17763",
    "RELEASE": "a release name such as 21H2",
    "COMPARATOR": "a comparison (==, !=, <, <=, >, >=)",
    "$END": "the end of the file",
}


# A rule's field → the keyword of its clause, where the two differ.
_KEYWORD = {"scenarios": "scenario", "applicability": "when", "encodes": "sources"}


@functools.cache
def _parser() -> Lark:
    # One Lark instance per process; building it costs tens of milliseconds.
    return Lark(
        grammar_text(),
        parser="lalr",
        # The basic lexer matches whole words, so `requires` is a name, not `require` + `s`.
        lexer="basic",
        propagate_positions=True,
        maybe_placeholders=False,
        start=["start", "condition_only"],
        cache=True,
    )


def parse_condition(text: str, name: str = "<string>") -> n.ParsedExpr:
    """Parse one condition on its own (as the vocabulary writes scenario inferences)."""
    source = SourceText(text, name)
    expr, problems = _build(source, "condition_only")
    if problems:
        raise RulesError(problems)
    return expr


def parse_ruleset(text: str, name: str = "<string>") -> n.Ruleset:
    """Parse one rule file into a ``Ruleset``; raise ``RulesError`` on bad syntax."""
    text = text.removeprefix("\ufeff")  # editors on Windows may start a file with a BOM
    source = SourceText(text, name)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise RulesError(
            [Diagnostic("E001", f"rule file is larger than {MAX_TEXT_BYTES} bytes", source=source, span=Span(0, 0))]
        )
    ruleset, _ = _build(source, "start")  # the ruleset carries its problems for the checker
    return ruleset


@frozen
class Lexeme:
    """One token of rule text as the lexer reads it, comments included (whitespace is not):
    ``kind`` is the keyword itself (``require``, ``(``) or the terminal's name (``NAME``,
    ``COMMENT``)."""

    kind: str
    text: str
    span: Span


def lexemes(text: str) -> tuple[Lexeme, ...]:
    """Every token of ``text`` with its place, comments included: what ``fmt`` keeps that the
    syntax tree drops. Raises ``RulesError`` on a character no token starts with."""
    text = text.removeprefix("\ufeff")
    keyword = {t.name for t in _parser().terminals if t.pattern.type == "str"}
    try:
        return tuple(
            Lexeme(t.value if t.type in keyword else t.type, t.value, _token_span(t))
            for t in _parser().lex(text, dont_ignore=True)
            if t.type != "WS"
        )
    except UnexpectedInput as exc:
        raise RulesError([_syntax_diagnostic(exc, SourceText(text))]) from None


def _build(source: SourceText, start: str) -> tuple[Any, list[Diagnostic]]:
    """Parse ``source`` from the grammar rule ``start`` and build its nodes, with the problems found.
    The nodes are a ``Ruleset`` from ``start``, an expression from ``condition_only`` (lark's
    transform is untyped)."""
    tree = _parse_tree(source, start)
    _check_nesting(tree, source)
    builder = _Builder(source)
    return builder.transform(tree), builder.problems


MAX_SYNTAX_ERRORS = 20  # a file with more shows the first ones


def _parse_tree(source: SourceText, start: str) -> Tree:
    """The parse tree of ``source``; on a syntax error, ``RulesError`` with every syntax error
    of the file: after each, the item (definition, rule or note) it is in is skipped and the
    parse resumes at the next one, the offsets of the text kept."""
    text, problems = source.text, []
    while True:
        try:
            tree = _parser().parse(text, start=start)
        except UnexpectedInput as exc:
            problem = _syntax_diagnostic(exc, source, text)
            problems.append(problem)
            skipped = _without_item(text, problem.span.start if problem.span else len(text))
            if start != "start" or skipped is None or len(problems) >= MAX_SYNTAX_ERRORS:
                raise RulesError(problems) from None
            text = skipped
            continue
        if problems:
            raise RulesError(problems)
        return tree


_ITEM_START = re.compile(r"^[ \t]*(?:rule|note|define)\b", re.MULTILINE)


def _without_item(text: str, offset: int) -> str | None:
    """``text`` with the item an error at ``offset`` is blamed on blanked out (newlines kept,
    so offsets and lines stay): the item the offset is in, or the one before when the error is
    at the start of the next. None when the error is in the header: nothing to resume at."""
    starts = [m.start() for m in _ITEM_START.finditer(text)]
    before = [s for s in starts if s < offset]
    if not before:
        return None
    end = next((s for s in starts if s >= offset and s > before[-1]), len(text))
    blank = re.sub(r"[^\n]", " ", text[before[-1] : end])
    return text[: before[-1]] + blank + text[end:]


def _check_nesting(tree: Tree, source: SourceText) -> None:
    """Refuse trees nested deeper than MAX_NESTING before anything recurses over them."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_NESTING:
            span = Span(node.meta.start_pos, node.meta.end_pos) if not node.meta.empty else None
            raise RulesError(
                [
                    Diagnostic(
                        "E002",
                        f"expression nested deeper than {MAX_NESTING} levels",
                        source=source,
                        span=span,
                        help="split it into named definitions with `define`",
                    )
                ]
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


# Operators of other languages → what this one writes instead.
_FOREIGN_OPERATORS = {"&&": "and", "||": "or", "&": "and", "|": "or", "!": "not"}


def _syntax_diagnostic(exc: UnexpectedInput, source: SourceText, parsed: str | None = None) -> Diagnostic:
    """The diagnostic of a syntax error in ``source`` (``parsed``: the text the parser read,
    when items with errors were blanked out of it)."""
    unclosed = _unclosed(exc, source, source.text if parsed is None else parsed)
    if unclosed is not None:
        return unclosed
    if isinstance(exc, UnexpectedCharacters):
        # lark declares pos_in_stream None on the base class; the lexer's error sets its position.
        position = cast(int, exc.pos_in_stream)
        char = source.text[position]
        if char == '"':
            return _unterminated_string(source, position)
        foreign = next((op for op in _FOREIGN_OPERATORS if source.text.startswith(op, position)), None)
        if foreign is not None:
            return Diagnostic(
                "E105",
                f"`{foreign}` is not an operator of the rule language",
                source=source,
                span=Span(position, position + len(foreign)),
                help=f"use `{_FOREIGN_OPERATORS[foreign]}`",
            )
        return Diagnostic(
            "E101",
            f"unexpected character {char!r}",
            source=source,
            span=Span(position, position + 1),
            help=_expected(exc.allowed),
        )
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        end = len(source.text.rstrip())
        return Diagnostic(
            "E102",
            "unexpected end of file",
            source=source,
            span=Span(max(0, end - 1), end),
            help=_expected(exc.expected),
        )
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected = exc.accepts or exc.expected
    if token.type == "EQUAL" and "COMPARATOR" in expected:
        return Diagnostic(
            "E106",
            "`=` is not a comparison",
            source=source,
            span=Span(token.start_pos, token.end_pos),
            help="did you mean `==`?",
        )
    return Diagnostic(
        "E103",
        f"unexpected `{token}`",
        source=source,
        span=Span(token.start_pos, token.end_pos),
        help=_keyword_hint(str(token), expected) or _expected(expected),
    )


def _unterminated_string(source: SourceText, position: int) -> Diagnostic:
    line_end = source.text.find("\n", position)
    end = len(source.text) if line_end < 0 else line_end
    return Diagnostic(
        "E107",
        "unterminated string",
        source=source,
        span=Span(position, max(position + 1, len(source.text[position:end].rstrip()) + position)),
        help='close it with `"` on the same line; a long text is written as several strings, one a line',
    )


_CLOSING = {"(": ")", "{": "}"}


def _unclosed(exc: UnexpectedInput, source: SourceText, parsed: str) -> Diagnostic | None:
    """An unclosed ``(`` or ``{`` where the parser wanted its closing one: said at the opening."""
    expected = getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set()
    if isinstance(exc, UnexpectedCharacters) or not ({"RPAR", "RBRACE"} & set(expected)):
        return None
    token = getattr(exc, "token", None)
    position = len(source.text) if token is None or token.type == "$END" else token.start_pos
    if token is not None and token.type in ("RPAR", "RBRACE"):
        return None
    opened = _open_brackets(parsed[:position])
    if not opened:
        return None
    char, at = opened[-1]
    return Diagnostic(
        "E108",
        f"`{char}` is never closed",
        source=source,
        span=Span(at, at + 1),
        help=f"close it with `{_CLOSING[char]}` where what it groups ends",
    )


def _open_brackets(text: str) -> list[tuple[str, int]]:
    """The brackets still open at the end of ``text``, innermost last, with their offsets."""
    stack: list[tuple[str, int]] = []
    try:
        tokens = list(_parser().lex(text))
    except UnexpectedInput:
        return []
    for token in tokens:
        if token.type in ("LPAR", "LBRACE"):
            stack.append((str(token), _token_span(token).start))
        elif token.type in ("RPAR", "RBRACE") and stack:
            stack.pop()
    return stack


def _keyword_hint(word: str, expected: Collection[str]) -> str | None:
    """ "did you mean `require`?" when a name is a near miss of a keyword that fits here."""
    patterns = {t.name: t.pattern for t in _parser().terminals}
    keywords = [patterns[name].value for name in expected if name in patterns and patterns[name].type == "str"]
    hint = suggest(word, [k for k in keywords if k.isalpha()])
    return f"{hint} ({_expected(expected)})" if hint else None


def _expected(names: Collection[str] | None) -> str | None:
    if not names:
        return None
    patterns = {t.name: t.pattern for t in _parser().terminals}
    words = sorted({_terminal_word(name, patterns) for name in names if not name.startswith("__")})
    if not words:
        return None
    return "expected " + (words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1])


def _terminal_word(name: str, patterns: Mapping[str, Pattern]) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    pattern = patterns.get(name)
    if pattern is not None and pattern.type == "str":
        return f"`{pattern.value}`"
    return name.lower()


def _span(meta: Meta) -> Span | None:
    return None if meta.empty else Span(meta.start_pos, meta.end_pos)


def _token_span(token: Token) -> Span:
    # The lexer gives every token it makes its position; lark types them Optional for tokens made by hand.
    assert token.start_pos is not None and token.end_pos is not None, "a token without a position"
    return Span(token.start_pos, token.end_pos)


def _refs(tokens: Iterable[Token]) -> tuple[str, ...]:
    """Source ids as written: a quoted one without its quotes."""
    return tuple(unescape(str(t)) if t.type == "STRING" else str(t) for t in tokens)


def unescape(quoted: str) -> str:
    """The value of a quoted STRING token (backslash escapes \\" \\\\ \\n \\t)."""
    out, chars = [], iter(quoted[1:-1])
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


@v_args(meta=True)
class _Builder(Transformer):
    """Builds nodes from the parse tree; it evaluates nothing."""

    def __init__(self, source: SourceText) -> None:
        super().__init__()
        self.source = source
        self.problems: list[Diagnostic] = []

    # --- file structure
    def start(self, meta, children):
        (rs_id, title, origin, scenarios), *items = children
        definitions = tuple(i for i in items if isinstance(i, n.Definition))
        rules = tuple(i for i in items if isinstance(i, n.Rule))
        spans = {"scenarios": scenarios[2]} if scenarios else {}
        return n.Ruleset(
            rs_id,
            title,
            origin,
            definitions,
            rules=rules,
            scenarios=scenarios[1] if scenarios else (),
            span=_span(meta),
            spans=spans,
            text=self.source,
            problems=tuple(self.problems),
        )

    def condition_only(self, meta, children):
        return children[0]

    def header(self, meta, children):
        origin = next((c for c in children[2:] if isinstance(c, str)), "")
        scenarios = next((c for c in children[2:] if isinstance(c, tuple)), None)
        return (str(children[0]), children[1], origin, scenarios)

    def source_clause(self, meta, children):
        return children[0]

    def scenario_clause(self, meta, children):
        return ("scenarios", tuple(str(c) for c in children), _span(meta))

    def text(self, meta, children):
        return " ".join(unescape(str(t)) for t in children)

    def definition(self, meta, children):
        name, expr = children
        return n.Definition(str(name), expr, span=_token_span(name))

    def rule(self, meta, children):
        return self._rule("rule", meta, children)

    def note(self, meta, children):
        return self._rule("note", meta, children)

    def _rule(self, kind, meta, children):
        (rule_id, id_span), title, *clauses = children
        fields: dict = {"requires": []}
        spans = {"id": id_span}
        for clause_kind, value, span in clauses:
            if clause_kind == "requires":
                fields["requires"].append(value)
                continue
            if clause_kind in fields:
                self.problems.append(
                    Diagnostic(
                        "E201",
                        f"`{_KEYWORD.get(clause_kind, clause_kind)}` is given twice in {kind} {rule_id}",
                        source=self.source,
                        span=span,
                        help="keep one of them",
                    )
                )
            fields[clause_kind] = value
            spans[clause_kind] = span
        fields["requires"] = tuple(fields["requires"])
        if kind == "note":
            fields.setdefault("severity", "info")
        return n.Rule(rule_id, title, kind=kind, span=_span(meta), spans=spans, **fields)

    def rule_id(self, meta, children):
        return str(children[0]), _token_span(children[0])

    def severity(self, meta, children):
        return ("severity", str(children[0]), _token_span(children[0]))

    def sources(self, meta, children):
        return ("encodes", _refs(children), _span(meta))

    def related(self, meta, children):
        return ("related", _refs(children), _span(meta))

    def disputed(self, meta, children):
        return ("disputed", children[0], _span(meta))

    def unconfirmed(self, meta, children):
        return ("unconfirmed", children[0], _span(meta))

    def rationale(self, meta, children):
        return ("rationale", children[0], _span(meta))

    def remediation(self, meta, children):
        return ("remediation", children[0], _span(meta))

    def events(self, meta, children):
        return ("events", tuple(self.number(c, int) for c in children), _span(meta))

    def applicability(self, meta, children):
        return ("applicability", children[0], _span(meta))

    def requirement(self, meta, children):
        return ("requires", children[0], _span(meta))

    # --- expressions
    def conditional(self, meta, children):
        if len(children) == 2:
            return n.Implies(children[0], children[1], span=_span(meta))
        condition, then, otherwise = children
        return n.Conditional(condition, then, otherwise, span=_span(meta))

    def quantified(self, meta, children):
        quantifier, var, collection, body = children
        return n.Quantified(str(quantifier.children[0]), str(var), collection, body, span=_span(meta))

    def implies(self, meta, children):
        return n.Implies(children[0], children[1], span=_span(meta))

    def disjunction(self, meta, children):
        return n.Or(tuple(children), span=_span(meta))

    def conjunction(self, meta, children):
        return n.And(tuple(children), span=_span(meta))

    def negation(self, meta, children):
        return n.Not(children[0], span=_span(meta))

    def compare(self, meta, children):
        left, op, right = children
        return n.Compare(str(op), left, right, span=_span(meta))

    def member(self, meta, children):
        return n.Member(children[0], children[1], False, span=_span(meta))

    def not_member(self, meta, children):
        return n.Member(children[0], children[1], True, span=_span(meta))

    def missing(self, meta, children):
        return n.Presence(children[0], False, span=_span(meta))

    def present(self, meta, children):
        return n.Presence(children[0], True, span=_span(meta))

    def count(self, meta, children):
        if len(children) == 1:
            return n.Count(children[0], span=_span(meta))
        var, collection, body = children
        return n.Count(collection, str(var), body, span=_span(meta))

    def set(self, meta, children):
        return tuple(children)

    def name(self, meta, children):
        return n.Name(tuple(str(c) for c in children), span=_span(meta))

    # --- literals
    def string(self, meta, children):
        return n.Literal(unescape(str(children[0])), "string", span=_span(meta))

    def integer(self, meta, children):
        return n.Literal(self.number(children[0], int), "integer", span=_span(meta))

    def decimal(self, meta, children):
        return n.Literal(self.number(children[0], float), "decimal", span=_span(meta))

    def number(self, token: Token, kind: type[int] | type[float]) -> int | float:
        """A number literal; absurdly large ones are a diagnostic, not a crash or infinity."""
        value = kind(token) if len(token) <= _MAX_DIGITS else math.inf
        if value == math.inf:
            self.problems.append(
                Diagnostic("E104", "this number is too large", source=self.source, span=_token_span(token))
            )
            return kind(0)
        return value

    def version(self, meta, children):
        return n.Literal(str(children[0]), "version", span=_span(meta))

    def true(self, meta, children):
        return n.Literal(True, "bool", span=_span(meta))

    def false(self, meta, children):
        return n.Literal(False, "bool", span=_span(meta))
