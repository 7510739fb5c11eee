"""Check a parsed ruleset against the vocabulary and resolve its names.

Every problem in a file is collected in one pass (unknown facts and enum members with
"did you mean", type mismatches, duplicate ids, undefined definitions) and raised together
as one ``RulesError``. The result is the same tree with names resolved to facts, record
fields, definitions and typed constants, ready for the evaluators.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, cast

import attrs

from . import nodes as n
from .errors import Diagnostic, RulesError, suggest
from .operators import Op
from .resources import keywords
from .source import SourceText, Span
from .versions import parse_windows_version
from .vocabulary import NAMESPACES, Fact, FactType, Vocabulary

SEVERITIES = ("error", "warning", "info")
_BOOL = FactType("bool")
_INTEGER = FactType("integer")
_LITERAL_TYPES = {k: FactType(k) for k in ("string", "integer", "decimal", "bool", "version")}
_NUMERIC = ("integer", "decimal")
Scope = dict[str, Fact]  # quantifier variable → the collection fact it ranges over
# How deep a checked condition may nest once its definitions are expanded where they are
# used. The parser limits one expression (E002); a chain of definitions could still nest
# without end, and every evaluator walks the expanded tree.
MAX_DEPTH = 256


class _Unresolved:
    """A bare name that can only be an enum member; resolved once the other side's type is known."""

    def __init__(self, name: n.Name) -> None:
        self.name = name


class _Checker(n.Visitor[n.CheckedExpr]):
    """Checks a parsed ruleset. As a visitor it checks a condition (a boolean position):
    ``visit(e, scope)`` is ``condition(e, scope)``, with ``scope`` the quantifier variables
    bound there (name → the collection's fact). A parsed tree has no resolved leaves."""

    cannot_meet = (n.FactRef, n.FieldRef, n.DefinitionRef, n.Const)

    def __init__(self, vocabulary: Vocabulary, source: SourceText | None) -> None:
        self.vocabulary = vocabulary
        self.source = source
        self.problems: list[Diagnostic] = []
        self.definitions: dict[str, n.DefinitionRef] = {}
        self.depths: dict[int, int] = {}  # id of a definition's checked body → its depth

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.problems.append(Diagnostic(code, message, source=self.source, span=span, help=help))

    # --- declarations
    def ruleset(self, ruleset: n.ParsedRuleset) -> n.CheckedRuleset:
        definitions = tuple(self.definition(d) for d in ruleset.definitions)
        self.scenario_names(ruleset.scenarios, ruleset.spans.get("scenarios"))
        seen: dict[str, n.Rule] = {}
        rules = []
        for rule in ruleset.rules:
            if rule.id in seen:
                self.error(
                    "E202",
                    f"rule id `{rule.id}` is used twice in this file",
                    rule.spans.get("id"),
                    help="every rule needs its own stable id",
                )
            seen[rule.id] = rule
            rules.append(self.rule(rule, ruleset.scenarios, ruleset.spans.get("scenarios")))
        # Here a parsed tree becomes a checked one: the one place the two types meet (the
        # node classes are shared; their type parameter says which tree they are part of).
        return attrs.evolve(cast(n.Ruleset[Any], ruleset), definitions=definitions, rules=tuple(rules))

    def scenario_names(self, names: tuple[str, ...], span: Span | None) -> None:
        """Every name of a ``scenario`` clause is a scenario the vocabulary declares."""
        known = self.vocabulary.scenarios
        for name in names:
            if name not in known:
                self.error(
                    "E210",
                    f"unknown scenario `{name}`",
                    self.word_span(span, name),
                    help=suggest(name, known) or "scenarios: " + ", ".join(known),
                )

    def word_span(self, span: Span | None, word: str) -> Span | None:
        """The span of ``word`` inside a clause (the clause's span when it cannot be found)."""
        if span is None or self.source is None:
            return span
        at = self.source.text.find(word, span.start + len("scenario"), span.end)
        return Span(at, at + len(word)) if at >= 0 else span

    def definition(self, definition: n.Definition[n.ParsedExpr]) -> n.CheckedDefinition:
        if definition.name in keywords():
            self.error(
                "E208",
                f"`{definition.name}` is a keyword of the rule language",
                definition.span,
                help="choose another name for the definition",
            )
        if definition.name in self.definitions:
            self.error("E203", f"`{definition.name}` is defined twice", definition.span)
        body = self.condition(definition.expr, {})
        self.depths[id(body)] = self.within_depth(body, f"definition `{definition.name}`", definition.span)
        self.definitions[definition.name] = n.DefinitionRef(definition.name, body, span=definition.span)
        return attrs.evolve(cast(n.Definition[Any], definition), expr=body)

    def rule(
        self, rule: n.ParsedRule, inherited: tuple[str, ...] = (), inherited_span: Span | None = None
    ) -> n.CheckedRule:
        if rule.severity not in SEVERITIES:
            self.error(
                "E204",
                f"unknown severity `{rule.severity}`",
                rule.spans.get("severity"),
                help=suggest(rule.severity, SEVERITIES) or "use error, warning or info",
            )
        if rule.kind == "rule" and not rule.requires:
            self.error(
                "E205",
                f"rule {rule.id} has no `require` clause",
                rule.spans.get("id"),
                help="add `require <condition>`; use `note` for an informational item",
            )
        if rule.kind == "note" and rule.requires:
            self.error(
                "E206",
                f"note {rule.id} cannot have a `require` clause",
                rule.spans.get("id"),
                help="make it a `rule`, or drop the requirement",
            )
        if rule.encodes and rule.related:
            self.error(
                "E209",
                f"{rule.kind} {rule.id} has both `sources` and `related`",
                rule.spans.get("related"),
                help="a rule either encodes what its sources say (`sources`) or is advice "
                "related to them (`related`): keep one",
            )
        if rule.disputed and rule.unconfirmed:
            self.error(
                "E211",
                f"rule {rule.id} is both `disputed` and `unconfirmed`",
                rule.spans.get("unconfirmed"),
                help="`disputed`: the sources disagree, so a failure is unknown; `unconfirmed`: no source "
                "confirms that passing is enough, so a pass is unknown; keep the one that holds",
            )
        if rule.kind == "note" and (rule.disputed or rule.unconfirmed):
            clause = "disputed" if rule.disputed else "unconfirmed"
            self.error(
                "E212",
                f"note {rule.id} cannot be `{clause}`",
                rule.spans.get(clause),
                help="a note never passes or fails; say it in its rationale",
            )
        self.scenario_names(rule.scenarios, rule.spans.get("scenarios"))
        scenarios = rule.scenarios or inherited
        applicability = None if rule.applicability is None else self.condition(rule.applicability, {})
        if scenarios:
            # The rule applies only in its scenarios: that is part of its applicability.
            where = rule.spans.get("scenarios") if rule.scenarios else inherited_span
            about = (
                n.scenario_condition(tuple(scenarios), where)
                if all(s in self.vocabulary.scenarios for s in scenarios)
                else n.Const(False, span=where)
            )
            applicability = about if applicability is None else n.And((about, applicability), span=applicability.span)
        requirements = tuple(self.condition(r, {}) for r in rule.requires)
        for expr in (applicability, *requirements):
            if expr is not None:
                self.within_depth(expr, f"{rule.kind} {rule.id}", expr.span or rule.spans.get("id"))
        return attrs.evolve(
            cast(n.Rule[Any], rule), applicability=applicability, requires=requirements, scenarios=scenarios
        )

    def within_depth(self, e: n.CheckedExpr, what: str, span: Span | None) -> int:
        """The depth of ``e`` with its definitions expanded, or -1 past MAX_DEPTH: E213 the
        first time, not again where a definition already reported is used."""
        depth = self.depth(e)
        if depth > MAX_DEPTH:
            self.error(
                "E213",
                f"{what} nests {depth} levels deep once its definitions are expanded; the limit is {MAX_DEPTH}",
                span,
                help="a long chain of definitions that each use the one before: write the condition more directly",
            )
            return -1
        return depth

    def depth(self, e: n.CheckedExpr) -> int:
        """Nodes on the longest path down ``e``, -1 when it uses a definition already too deep;
        a definition counts its body's depth, known from where it was defined (the recursion
        stays within one expression, itself limited by the parser)."""
        if isinstance(e, n.DefinitionRef):
            known = self.depths.get(id(e.body))
            below = [self.depth(e.body) if known is None else known]
        else:
            below = [self.depth(c) for c in n.children(e)] or [0]
        return -1 if min(below) < 0 else 1 + max(below)

    # --- conditions (boolean positions)
    def condition(self, e: n.ParsedExpr, scope: Scope) -> n.CheckedExpr:
        """The checked form of a condition."""
        return self.visit(e, scope)

    def visit_And(self, e: n.And, scope: Scope) -> n.CheckedExpr:
        return n.And(tuple(self.condition(o, scope) for o in e.operands), span=e.span)

    def visit_Or(self, e: n.Or, scope: Scope) -> n.CheckedExpr:
        return n.Or(tuple(self.condition(o, scope) for o in e.operands), span=e.span)

    def visit_Not(self, e: n.Not, scope: Scope) -> n.CheckedExpr:
        return n.Not(self.condition(e.operand, scope), span=e.span)

    def visit_Implies(self, e: n.Implies, scope: Scope) -> n.CheckedExpr:
        return n.Implies(self.condition(e.antecedent, scope), self.condition(e.consequent, scope), span=e.span)

    def visit_Conditional(self, e: n.Conditional, scope: Scope) -> n.CheckedExpr:
        return n.Conditional(
            self.condition(e.condition, scope),
            self.condition(e.then, scope),
            self.condition(e.otherwise, scope),
            span=e.span,
        )

    def truth(self, e: n.ParsedExpr, scope: Scope) -> n.CheckedExpr:
        """A bare operand in a boolean position: a definition, a bool fact, or true/false
        (or a value where a condition belongs: E401, E407)."""
        if isinstance(e, n.Name) and len(e.path) == 1 and e.path[0] in self.definitions:
            return attrs.evolve(self.definitions[e.path[0]], span=e.span)
        resolved, ftype = self.plain_operand(e, scope)
        if ftype is None:
            return n.Const(False, span=e.span)
        if ftype.kind != "bool":
            self.error(
                "E401",
                f"expected a condition, found a value of type {ftype}",
                e.span,
                help="compare it, for example `… == …`, `… in {…}` or `… is present`",
            )
            return n.Const(False, span=e.span)
        if isinstance(resolved, n.Const):
            return resolved
        return n.Compare(Op.EQ, resolved, n.Const(True, span=e.span), span=e.span)

    visit_Name = visit_Literal = visit_Count = truth

    def visit_Quantified(self, e: n.Quantified, scope: Scope) -> n.CheckedExpr:
        collection, inner = self.bind(e.var, e.collection, scope, e.span)
        body = self.condition(e.body, inner)
        return n.Quantified(e.quantifier, e.var, collection, body, span=e.span)

    def bind(self, var: str, collection: n.Expr, scope: Scope, span: Span | None) -> tuple[Any, Scope]:
        resolved, ftype = self.plain_operand(collection, scope)
        if ftype is not None and ftype.kind != "collection":
            self.error("E402", f"`{_text(collection)}` is not a collection (it is {ftype})", collection.span)
        if var in scope or var in self.definitions:
            self.error("E301", f"`{var}` is already in use here", span, help="choose another variable name")
        fact = self.vocabulary.fact(resolved.fact) if isinstance(resolved, n.FactRef) else None
        return resolved, {**scope, var: fact} if fact else dict(scope)

    def visit_Compare(self, e: n.Compare, scope: Scope) -> n.CheckedExpr:
        before = len(self.problems)
        left, ltype = self.operand(e.left, scope)
        right, rtype = self.operand(e.right, scope)
        # Once one side is wrong, a bare name on the other side cannot be judged: stay quiet.
        quiet = len(self.problems) > before
        left, ltype = self.settle(left, ltype, rtype, quiet)
        right, rtype = self.settle(right, rtype, ltype, quiet)
        if ltype is None or rtype is None:
            return n.Compare(e.op, left, right, span=e.span)
        if isinstance(left, n.Const) and isinstance(right, n.Const):
            self.error("E403", "this compares two constants; one side must be a fact", e.span)
        left, right = self.coerce(left, ltype, right, rtype, e)
        # Orderability is the fact's: a literal on either side takes the fact's type.
        ftype, fnode = (rtype, e.right) if isinstance(left, n.Const) else (ltype, e.left)
        if e.op.ordered and not ftype.ordered:
            self.error(
                "E404",
                f"`{e.op}` needs ordered values, but {_text(fnode)} is {ftype}",
                e.span,
                help="use == or != (or `in {…}`) for this type",
            )
        return n.Compare(e.op, left, right, span=e.span)

    def visit_Member(self, e: n.Member, scope: Scope) -> n.CheckedExpr:
        before = len(self.problems)
        operand, otype = self.operand(e.operand, scope)
        quiet = len(self.problems) > before
        if isinstance(operand, _Unresolved):
            self.unknown_name(operand.name, scope)
            operand, otype = n.Const(None, span=e.operand.span), None
        items = []
        for item in e.items:
            value, itype = self.operand(item, scope)
            value, itype = self.settle(value, itype, otype, quiet)
            if otype is not None and itype is not None:
                _, value = self.coerce(operand, otype, value, itype, e)
            if otype is not None and not isinstance(value, n.Const):
                self.error("E405", "the items of `{…}` must be constants", item.span)
            items.append(value)
        return n.Member(operand, tuple(items), e.negated, span=e.span)

    def visit_Presence(self, e: n.Presence, scope: Scope) -> n.CheckedExpr:
        operand, otype = self.operand(e.operand, scope)
        if isinstance(operand, _Unresolved):
            self.unknown_name(operand.name, scope)
        elif otype is not None and not isinstance(operand, (n.FactRef, n.FieldRef)):
            self.error("E406", "`is present` / `is missing` apply to facts only", e.operand.span)
        return n.Presence(operand, e.present, span=e.span)

    # --- operands (value positions)
    def plain_operand(self, e: n.Expr, scope: Scope) -> tuple[Any, FactType | None]:
        """An operand that may not be a bare enum member (nothing to resolve it against)."""
        value, vtype = self.operand(e, scope)
        if isinstance(value, _Unresolved):
            self.unknown_name(value.name, scope)
            return n.Const(None, span=e.span), None
        return value, vtype

    def operand(self, e: n.Expr, scope: Scope) -> tuple[Any, FactType | None]:
        """The checked form of an operand (a value position) and its type (None when wrong)."""
        return _OPERAND.visit(e, self, scope)

    def literal(self, e: n.Literal) -> tuple[n.Const, FactType]:
        """A literal as a constant of its literal type."""
        return n.Const(e.value, span=e.span, kind=e.kind), _LITERAL_TYPES[e.kind]

    def not_a_value(self, e: n.Expr) -> tuple[n.Const, None]:
        """A condition where a value belongs (E407)."""
        self.error(
            "E407",
            "expected a value here, found a condition",
            e.span,
            help="put conditions in `require`, or compare a fact with a value",
        )
        return n.Const(None, span=e.span), None

    def count(self, e: n.Count[n.ParsedExpr], scope: Scope) -> tuple[n.CheckedExpr, FactType]:
        if e.var is None or e.body is None:  # the grammar gives a count both or neither
            collection, ftype = self.plain_operand(e.collection, scope)
            if ftype is not None and ftype.kind != "collection":
                self.error("E402", f"`{_text(e.collection)}` is not a collection (it is {ftype})", e.collection.span)
            return n.Count(collection, span=e.span), _INTEGER
        collection, inner = self.bind(e.var, e.collection, scope, e.span)
        body = self.condition(e.body, inner)
        return n.Count(collection, e.var, body, span=e.span), _INTEGER

    def name(self, e: n.Name, scope: Scope) -> tuple[Any, FactType | None]:
        head = e.path[0]
        if head in scope and scope[head] is not None:
            return self.field(e, scope[head])
        if len(e.path) == 1 and head in self.definitions:
            self.error("E408", f"definition `{head}` is a condition, not a value", e.span)
            return n.Const(None, span=e.span), None
        if head in NAMESPACES:
            fact = self.vocabulary.fact(e.dotted)
            if fact is None:
                self.error("E302", f"unknown fact `{e.dotted}`", e.span, help=self.fact_hint(e.dotted))
                return n.Const(None, span=e.span), None
            return n.FactRef(fact.name, span=e.span), fact.type
        if len(e.path) == 1:
            return _Unresolved(e), None
        self.unknown_name(e, scope)
        return n.Const(None, span=e.span), None

    def field(self, e: n.Name, collection: Fact) -> tuple[Any, FactType | None]:
        var = e.path[0]
        if len(e.path) != 2:
            self.error(
                "E303",
                f"`{var}` is a record of {collection.name}; name one field, as `{var}.<field>`",
                e.span,
                help="fields: " + ", ".join(f.name for f in collection.type.fields),
            )
            return n.Const(None, span=e.span), None
        spec = collection.type.field(e.path[1])
        if spec is None:
            names = [f.name for f in collection.type.fields]
            self.error(
                "E304",
                f"records of {collection.name} have no field `{e.path[1]}`",
                e.span,
                help=suggest(e.path[1], names) or "fields: " + ", ".join(names),
            )
            return n.Const(None, span=e.span), None
        return n.FieldRef(var, spec.name, collection.name, span=e.span), spec.type

    def settle(
        self, value: Any, vtype: FactType | None, other: FactType | None, quiet: bool = False
    ) -> tuple[Any, FactType | None]:
        """Resolve a bare name against the enum on the other side of a comparison."""
        if not isinstance(value, _Unresolved):
            return value, vtype
        word = value.name.path[0]
        if quiet and other is None:
            return n.Const(None, span=value.name.span), None
        if other is not None and other.enum is not None:
            if other.enum.member(word):
                return n.Const(word, span=value.name.span, kind="member"), other
            self.error(
                "E305",
                f"`{word}` is not a member of {other.enum.name}",
                value.name.span,
                help=suggest(word, other.enum.member_names) or "members: " + ", ".join(other.enum.member_names),
            )
            return n.Const(None, span=value.name.span), None
        if other is not None:
            hint = "write true or false" if other.kind == "bool" else self.name_hint(word)
            self.error("E306", f"`{word}` is not a value of type {other}", value.name.span, help=hint)
            return n.Const(None, span=value.name.span), None
        self.unknown_name(value.name, {})
        return n.Const(None, span=value.name.span), None

    def coerce(
        self, left: Any, ltype: FactType, right: Any, rtype: FactType, e: n.Compare | n.Member
    ) -> tuple[Any, Any]:
        """Check that two sides may be compared; turn literals into the fact's value type."""
        if ltype.kind == "collection" or rtype.kind == "collection":
            self.error(
                "E409",
                "a collection cannot be compared directly",
                e.span,
                help="use count(…), any … in …: … or all … in …: …",
            )
            return left, right
        if isinstance(right, n.Const) and not isinstance(left, n.Const):
            return left, self.convert(right, rtype, ltype, e)
        if isinstance(left, n.Const) and not isinstance(right, n.Const):
            return self.convert(left, ltype, rtype, e), right
        if not _compatible(ltype, rtype):
            self.error("E410", f"cannot compare {ltype} with {rtype}", e.span)
        return left, right

    def convert(self, const: n.Const, ctype: FactType, target: FactType, e: n.Compare | n.Member) -> n.Const:
        if target.kind == "version" and ctype.kind in ("integer", "string", "version"):
            try:
                version = parse_windows_version(const.value, self.vocabulary.releases)
            except ValueError as exc:
                hint = suggest(str(const.value), self.vocabulary.releases)
                self.error(
                    "E411",
                    f"`{const.value}` is not a Windows version",
                    const.span,
                    help=f"expected {exc}" + (f"; {hint}" if hint else ""),
                )
                return const
            return n.Const(version, span=const.span, kind="version")
        if target.kind == "decimal" and ctype.kind == "integer":
            try:
                return n.Const(float(const.value), span=const.span, kind="decimal")
            except OverflowError:
                self.error(
                    "E104",
                    f"this number is too large to compare with {target}",
                    const.span,
                    help=f"a decimal holds numbers up to about {sys.float_info.max:.1e}",
                )
                return n.Const(None, span=const.span)
        if target.enum is not None and ctype.kind == "string":
            self.error(
                "E412",
                f"{target} members are written without quotes",
                const.span,
                help=suggest(const.value, target.enum.member_names)
                or "members: " + ", ".join(target.enum.member_names),
            )
            return const
        if not _compatible(ctype, target):
            self.error("E410", f"cannot compare {target} with {ctype} `{_text_const(const)}`", e.span)
        return const

    # --- hints
    def unknown_name(self, name: n.Name, scope: Scope) -> None:
        self.error("E307", f"unknown name `{name.dotted}`", name.span, help=self.name_hint(name.dotted))

    def name_hint(self, word: str) -> str | None:
        members = {m.name for en in self.vocabulary.enums.values() for m in en.members}
        choices = list(self.definitions) + list(self.vocabulary.facts) + sorted(members)
        return suggest(word, choices)

    def fact_hint(self, dotted: str) -> str | None:
        hint = suggest(dotted, self.vocabulary.facts)
        if hint:
            return hint
        tail = dotted.split(".")[-1]
        by_tail = {f.split(".", 1)[1]: f for f in self.vocabulary.facts}
        close = suggest(tail, by_tail)
        return close and f"did you mean `{by_tail[close.split('`')[1]]}`?"


class _Operand(n.Visitor[tuple[Any, "FactType | None"]]):
    """The checker's operands: ``visit(e, checker, scope)`` is ``checker.operand(e, scope)``."""

    cannot_meet = (n.FactRef, n.FieldRef, n.DefinitionRef, n.Const)

    def visit_Literal(self, e: n.Literal, checker: _Checker, scope: Scope) -> tuple[Any, FactType | None]:
        return checker.literal(e)

    def visit_Count(self, e: n.Count, checker: _Checker, scope: Scope) -> tuple[Any, FactType | None]:
        return checker.count(e, scope)

    def visit_Name(self, e: n.Name, checker: _Checker, scope: Scope) -> tuple[Any, FactType | None]:
        return checker.name(e, scope)

    def visit_condition(self, e: n.Expr, checker: _Checker, scope: Scope) -> tuple[Any, FactType | None]:
        """A condition where a value belongs."""
        return checker.not_a_value(e)

    visit_Compare = visit_Member = visit_Presence = visit_Not = visit_condition
    visit_And = visit_Or = visit_Implies = visit_Conditional = visit_Quantified = visit_condition


_OPERAND = _Operand()


def _compatible(a: FactType, b: FactType) -> bool:
    if a.kind in _NUMERIC and b.kind in _NUMERIC:
        return True
    if a.kind == "enum" or b.kind == "enum":
        return a.enum is not None and b.enum is not None and a.enum.name == b.enum.name
    return a.kind == b.kind


def _text(e: n.Expr) -> str:
    from .printer import print_expr  # noqa: PLC0415 - only a message needs it; loading rules does not

    return print_expr(e)


def _text_const(c: n.Const) -> str:
    return str(c.value)


def check_ruleset(ruleset: n.ParsedRuleset, vocabulary: Vocabulary) -> n.CheckedRuleset:
    """Check ``ruleset``; return it with names resolved, or raise RulesError with every problem."""
    checker = _Checker(vocabulary, ruleset.text)
    checked = checker.ruleset(ruleset)
    problems = list(ruleset.problems) + checker.problems
    if problems:
        raise RulesError(sorted(problems, key=_position))
    return checked


def check_condition(expr: n.ParsedExpr, vocabulary: Vocabulary, source: SourceText | None = None) -> n.CheckedExpr:
    """Check one parsed condition (as the vocabulary writes scenario inferences); RulesError if wrong."""
    checker = _Checker(vocabulary, source)
    checked = checker.condition(expr, {})
    if checker.problems:
        raise RulesError(sorted(checker.problems, key=_position))
    return checked


def check_all(rulesets: Iterable[n.CheckedRuleset]) -> None:
    """Cross-file checks: a rule id must be unique across every loaded ruleset."""
    seen: dict[str, n.CheckedRuleset] = {}
    problems = []
    for ruleset in rulesets:
        for rule in ruleset.rules:
            if rule.id in seen and seen[rule.id] is not ruleset:
                problems.append(
                    Diagnostic(
                        "E207",
                        f"rule id `{rule.id}` is also used in ruleset {seen[rule.id].id}",
                        source=ruleset.text,
                        span=rule.spans.get("id"),
                        help="rule ids must be unique",
                    )
                )
            seen.setdefault(rule.id, ruleset)
    if problems:
        raise RulesError(problems)


def _position(d: Diagnostic) -> int:
    return d.span.start if d.span else -1
