"""The façade: load rulesets once, evaluate many devices.

The compiled verdict function runs for every rule; the interpreter runs only for rules
that did not pass (or for every rule when asked), to explain them.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any, cast

import attrs
from attrs import field, frozen

from . import nodes as n
from .cache import cache_key, cached
from .checker import check_all, check_ruleset
from .citations import citations
from .compiler import (
    Decide,
    ScenarioStep,
    Verdicts,
    compile_decision,
    compile_ruleset,
    frozen_verdicts,
    thawed_verdicts,
)
from .errors import Diagnostic, RulesError, shortened, suggest
from .facts import DERIVED_FACTS, Conflict, Facts, derived, facts_from_mapping, given_vocabulary
from .interpreter import Interpreter
from .outcome import (
    PASSED,
    ConflictRecord,
    Decision,
    NoteOutcome,
    Origins,
    Report,
    RuleOutcome,
    Status,
    UsageError,
    at_or_above,
    first_input,
    require,
    severity_threshold,
    usage_error,
)
from .resources import grammar_text, rulesets_dir, shipped_ruleset_paths
from .scenarios import ScenarioResolver, declared_by_rulesets, origins_of
from .verdict import Verdict
from .vocabulary import Vocabulary, is_typed
from .vocabulary import (
    shipped_vocabulary as shipped_vocabulary,  # re-exported: callers load rules and words from one place
)


@frozen
class LoadedRuleset:
    """A checked ruleset with its compiled verdict function and its interpreter."""

    ruleset: n.Ruleset
    path: str
    verdicts: Verdicts = field(eq=False, repr=False)
    interpreter: Interpreter = field(eq=False, repr=False)

    @property
    def id(self) -> str:
        """The ruleset id from its header."""
        return self.ruleset.id

    @property
    def rules(self) -> tuple[n.Rule, ...]:
        """Rules (not notes) in file order; the verdict codes follow this order."""
        return tuple(r for r in self.ruleset.rules if r.kind == "rule")

    @property
    def notes(self) -> tuple[n.Rule, ...]:
        """Informational notes in file order."""
        return tuple(r for r in self.ruleset.rules if r.kind == "note")


def compile_text(text: str, name: str = "<string>", vocabulary: Vocabulary | None = None) -> LoadedRuleset:
    """Parse, check and compile rule text; raise RulesError with every problem."""
    require(text, str, "compile_text(text)", "rule text (str)")
    require(name, str, "compile_text(name)", "the file name diagnostics show (str)")
    vocabulary = given_vocabulary(vocabulary, "compile_text(vocabulary)")
    from .syntax import parse_ruleset  # noqa: PLC0415 - the parser's import is paid only when rules are parsed

    checked = check_ruleset(parse_ruleset(text, name), vocabulary)
    return LoadedRuleset(checked, name, compile_ruleset(checked), Interpreter(checked, vocabulary))


def _compile_file(text: str, name: str, vocabulary: Vocabulary) -> LoadedRuleset:
    """``compile_text``, read back from the cache when this text was built against this vocabulary before."""
    if not vocabulary.fingerprint:
        return compile_text(text, name, vocabulary)
    key = cache_key("ruleset", grammar_text(), vocabulary.fingerprint, name, text)
    return cached(
        key,
        LoadedRuleset,
        lambda: compile_text(text, name, vocabulary),
        _frozen,
        lambda data: _thawed(data, vocabulary),
    )


def _frozen(loaded: LoadedRuleset) -> bytes:
    return pickle.dumps(
        (loaded.ruleset, loaded.path, frozen_verdicts(loaded.verdicts)), protocol=pickle.HIGHEST_PROTOCOL
    )


def _thawed(data: bytes, vocabulary: Vocabulary) -> LoadedRuleset:
    ruleset, path, verdicts = pickle.loads(data)
    if not isinstance(ruleset, n.Ruleset):
        raise TypeError("not a cached ruleset")
    return LoadedRuleset(ruleset, path, thawed_verdicts(verdicts), Interpreter(ruleset, vocabulary))


def load_ruleset(name_or_path: str | PathLike[str], vocabulary: Vocabulary | None = None) -> LoadedRuleset:
    """Load a shipped ruleset by name (``silent_enablement``) or any ``.rules`` file by path."""
    require(name_or_path, (str, PathLike), "load_ruleset(name_or_path)", "a ruleset name or a file path")
    path = resolve_ruleset(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError([Diagnostic("E003", f"cannot read rule file: {exc}", file=str(path))]) from None
    return _compile_file(text, _display_path(path), given_vocabulary(vocabulary, "load_ruleset(vocabulary)"))


def resolve_ruleset(name_or_path: str | PathLike[str]) -> Path:
    """The file a ruleset name or path refers to; RulesError with a suggestion otherwise."""
    shipped = shipped_ruleset_paths()
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    path = Path(name_or_path)
    try:
        if path.is_file():
            return path
    except OSError as exc:  # a name the system cannot look up (too long, say) names no file
        raise RulesError(
            [Diagnostic("E003", f"cannot read rule file: {exc.strerror}", file=str(name_or_path))]
        ) from None
    raise RulesError(
        [
            Diagnostic(
                "E004",
                f"no shipped ruleset or rule file called `{name_or_path}`",
                file=str(name_or_path),
                help=suggest(str(name_or_path), shipped) or "shipped rulesets: " + ", ".join(shipped),
            )
        ]
    )


def _display_path(path: Path) -> str:
    """How reports name a rule file: a shipped one as ``rulesets/<name>.rules`` wherever the
    package is installed, another one relative to the working folder when it lies inside it."""
    resolved = path.resolve()
    if resolved.parent == rulesets_dir().resolve():
        return f"rulesets/{resolved.name}"
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


_MEMO_LIMIT = 50_000


class Explained:
    """One memoised explanation: the rule's outcome, and what callers made of it, by their own
    key (a fleet's record entry for it, per set of policies), so that it is made once too."""

    __slots__ = ("derived", "outcome")

    def __init__(self, outcome: RuleOutcome) -> None:
        self.outcome = outcome
        self.derived: dict[Any, Any] = {}


@frozen
class Reads:
    """What some explanations depend on: facts by their values, collections by the record
    fields read (two collections that agree on those, item by item, explain alike: reasons
    name items by index and show only the fields read, so ids that differ on every device do
    not defeat the memo)."""

    facts: tuple[str, ...]
    records: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def key(self, values: Mapping[str, Any]) -> tuple | None:
        """The values read, as a key; None when a collection is not records."""
        plain = tuple(map(values.get, self.facts))
        if not self.records:
            return plain
        parts: list[Any] = [plain]
        for fact, fields in self.records:
            value = values.get(fact)
            if value is not None:
                try:
                    value = tuple([tuple(map(item.get, fields)) for item in value])
                except (AttributeError, TypeError):
                    return None
            parts.append(value)
        return tuple(parts)

    @classmethod
    def joined(cls, reads: Iterable[Reads]) -> Reads:
        """What several explanations depend on together: each fact once, each collection with the
        fields any of them reads (sorted, as one rule's are). Its key tells apart whatever one of
        theirs does: two values that agree on it agree on every one of theirs."""
        facts: dict[str, None] = {}
        fields: dict[str, dict[str, None]] = {}
        for read in reads:
            facts.update(dict.fromkeys(read.facts))
            for fact, names in read.records:
                fields.setdefault(fact, {}).update(dict.fromkeys(names))
        return cls(tuple(facts), tuple((fact, tuple(sorted(names))) for fact, names in fields.items()))


class Engine:
    """Loaded rulesets plus a vocabulary: evaluate devices, get immutable reports.

    ``scenarios`` are the scenarios the check is declared to be about: names, or a mapping
    from name to how it was declared ("with --scenario silent_enablement"). The others are
    inferred for each device (see ``scenarios.ScenarioResolver``).
    """

    def __init__(
        self,
        rulesets: Iterable[LoadedRuleset],
        vocabulary: Vocabulary | None = None,
        scenarios: Iterable[str] | Mapping[str, str] | None = None,
    ) -> None:
        self.rulesets = _loaded_rulesets(rulesets)
        self.vocabulary = given_vocabulary(vocabulary, "Engine(vocabulary)")
        check_all(r.ruleset for r in self.rulesets)
        declared = _declared(scenarios, "Engine(scenarios)")
        needed = {name for loaded in self.rulesets for rule in loaded.ruleset.rules for name in rule.scenarios}
        self.scenarios = ScenarioResolver(self.vocabulary, declared, needed)
        self._needed = needed
        self.citations = citations(r.ruleset for r in self.rulesets)
        # Explanations depend only on the values a rule reads: memoise them by those values.
        # By rule identity (the engine holds every rule, so ids stay theirs): a dict lookup per
        # explanation, without hashing the rule's tree.
        self._reads = {
            id(rule): ((loaded.id, rule.id), self._reads_of(rule.applicability, *rule.requires))
            for loaded in self.rulesets
            for rule in loaded.rules
        }
        self._rules = {loaded.id: loaded.rules for loaded in self.rulesets}
        # The rules decided on each policy's own settings when several policies apply.
        self._per_policy = {
            loaded.id: tuple(i for i, rule in enumerate(loaded.rules) if self._reads_per_policy_fact(rule))
            for loaded in self.rulesets
        }
        self._note_reads = {
            ("note", loaded.id, rule.id): self._reads_of(rule.applicability)
            for loaded in self.rulesets
            for rule in loaded.notes
        }
        # The one memo of explanations: a rule's Explained, a note's NoteOutcome, by what they read.
        self._explained: dict[tuple, Explained | NoteOutcome] = {}
        # A passing rule's outcome carries no reasons: the same record serves every device.
        self._passed = {
            (loaded.id, rule.id): _bare_outcome(loaded, rule, Status.PASS)
            for loaded in self.rulesets
            for rule in loaded.rules
        }
        # Decisions: every rule in report order; the compiled decision function returns an
        # index into ``_decisions`` (0 pass, 2k+1 rule k fails, 2k+2 rule k is unknown).
        self._order = tuple((loaded, rule) for loaded in self.rulesets for rule in loaded.rules)
        self._decisions = (
            PASSED,
            *(
                Decision(status, loaded.id, rule.id, rule.title, rule.severity)
                for loaded, rule in self._order
                for status in (Status.FAIL, Status.UNKNOWN)
            ),
        )
        self._deciders: dict[tuple[str, bool], Decide] = {}  # by (fail_on, strict), compiled on first use
        self._decides_per_policy = any(self._per_policy.values())
        self._derives = bool(
            set(DERIVED_FACTS)
            & set(
                n.facts_read(
                    *(e for _, rule in self._order for e in (rule.applicability, *rule.requires)),
                    *(rule.requires[0] for rule in self.scenarios.checks.rules),
                )
            )
        )
        self._plain = not self._derives and not self._decides_per_policy
        # fail_on -> the compiled function, when a Facts record's table can go straight in (_plain).
        self._fast_decide: dict[str, Decide] = {}
        self._fast_passes: dict[str, Callable[[Mapping[str, Any]], bool]] = {}

    @classmethod
    def load(
        cls,
        rulesets: Iterable[str | PathLike[str]] | None = None,
        vocabulary: Vocabulary | None = None,
        scenarios: Iterable[str] | Mapping[str, str] | None = None,
    ) -> Engine:
        """Load rulesets by name or path (default: every shipped ruleset), collecting all errors.

        Naming a ruleset whose header declares a scenario declares that scenario, as
        ``scenarios`` does (see ``Engine``).
        """
        vocabulary = given_vocabulary(vocabulary, "Engine.load(vocabulary)")
        names = _ruleset_names(rulesets) if rulesets is not None else list(shipped_ruleset_paths())
        loaded: list[LoadedRuleset] = []
        problems: list[Diagnostic] = []
        for name in names:
            try:
                loaded.append(load_ruleset(name, vocabulary))
            except RulesError as exc:
                problems.extend(exc.diagnostics)
        if problems:
            raise RulesError(problems)
        declared = _declared(scenarios, "Engine.load(scenarios)")
        if rulesets is not None:
            declared = {**declared_by_rulesets(r.ruleset for r in loaded), **declared}
        return cls(loaded, vocabulary, declared)

    def facts(self, mapping: Mapping[str, Any], name: str = "") -> Facts:
        """Typed Facts from a plain ``{fact name: value}`` dict (names fully qualified)."""
        require(mapping, Mapping, "Engine.facts(mapping)", "a mapping {fact name: value}")
        require(name, str, "Engine.facts(name)", "a name for reports (str)")
        return facts_from_mapping(mapping, self.vocabulary, origin=name or "<dict>", name=name)

    def evaluate(
        self,
        facts: Facts | Mapping[str, Any],
        *,
        explain_all: bool = False,
        subject: str = "",
        with_origins: bool = True,
    ) -> Report:
        """Every rule's outcome for one device; reasons for each rule that did not pass.

        ``facts`` is a ``Facts`` record or a ``{fact name: raw value}`` mapping (typed as
        ``Engine.facts`` does). ``with_origins=False`` skips naming where each cited value came
        from (fleets that do not show it save the work).
        """
        facts = self._typed_facts(facts, "Engine.evaluate(facts)")
        values = self.resolved(facts.table)
        conflicts = {c.fact: c for c in self.conflicts(facts)}

        scenarios = self.scenarios.records(facts.table)  # once: the report's and the reasons' origins

        @functools.cache
        def origins() -> Mapping[str, Origins]:  # where each value came from, scenarios included
            return {**facts.origins, **origins_of(scenarios)}

        views = [policy_view(values, p.table) for p in facts.profiles]
        outcomes: list[RuleOutcome] = []
        notes = []
        for loaded in self.rulesets:
            codes, decided_on = self.verdicts_per_policy(loaded, values, views)
            for index, (rule, code) in enumerate(zip(self._rules[loaded.id], codes)):
                if code == Verdict.PASS and not explain_all:
                    outcomes.append(self._passed[(loaded.id, rule.id)])
                    continue
                on, profile = deciding_values(index, values, views, decided_on)
                outcome = self.explain(loaded, rule, on)
                if profile is None:
                    outcomes.append(
                        shown_outcome(outcome, origins() if with_origins else {}, conflicts, self.vocabulary)
                    )
                else:  # on one policy's own settings: nothing there is in conflict
                    view = policy_view(origins(), facts.profiles[profile].origins) if with_origins else {}
                    outcomes.append(shown_outcome(outcome, view, {}, self.vocabulary))
            notes += [self._note(loaded, r, values) for r in loaded.notes]
        records = tuple(conflict_record(c, self.vocabulary) for c in conflicts.values())
        return Report(
            subject or facts.name,
            tuple(outcomes),
            tuple(notes),
            conflicts=records,
            scenarios=self.scenarios.inputs_named(scenarios, facts.origins),
            citations=self.citations,
        )

    def resolved(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """``values`` with the facts derived from them and the scenario facts the declarations
        and the inference give (a new dict; ``values`` itself when there is nothing to add)."""
        more = derived(values)
        scenarios = self.scenarios.values({**values, **more} if more else values)
        return {**values, **more, **scenarios} if more or scenarios else values

    def resolve(self, values: dict[str, Any]) -> dict[str, Any]:
        """``resolved`` in place, for a dict the caller owns (a fleet's fresh row)."""
        values.update(derived(values))
        values.update(self.scenarios.values(values))
        return values

    def per_policy_rules(self) -> set[tuple[str, str]]:
        """(ruleset, rule) of every rule that reads a per-policy fact, so is decided per policy."""
        return {
            (loaded.id, self._rules[loaded.id][i].id) for loaded in self.rulesets for i in self._per_policy[loaded.id]
        }

    def conflicts(self, facts: Facts) -> tuple[Conflict, ...]:
        """The settings in conflict: a per-policy fact (the profile type) differing is not one."""
        return tuple(c for c in facts.conflicts if not _per_policy(self.vocabulary, c.fact))

    def explain(self, loaded: LoadedRuleset, rule: n.Rule, values: Mapping[str, Any]) -> RuleOutcome:
        """One rule's outcome with its reasons (no sources, no conflicts), memoised by what it reads."""
        return self.explanation(loaded, rule, values).outcome

    def explanation(self, loaded: LoadedRuleset, rule: n.Rule, values: Mapping[str, Any]) -> Explained:
        """``explain``'s outcome as the memo holds it, with what callers made of it (``Explained``).

        Explanations depend only on the values a rule reads (its ``Reads``): devices that
        agree on those share one. Unmemoised (a fresh record each call): a rule this engine did
        not load, a collection that is not records, a value that cannot be a key.
        """
        plan = self._reads.get(id(rule))
        read = plan[1].key(values) if plan is not None else None
        key = (plan[0], read) if plan is not None and read is not None else None
        if key is not None:  # _recall inlined: a fleet asks this for each failed or unknown rule of each device
            try:
                cached = self._explained.get(key)
            except TypeError:  # a value given through the Python API that cannot be a key
                cached = None
            if cached is not None:
                return cached  # type: ignore[return-value]  # a rule's key holds its Explained
        explained = Explained(loaded.interpreter.evaluate(rule, values))
        self._remember(key, explained)
        return explained

    def reads(self, rules: Iterable[n.Rule]) -> Reads | None:
        """What the memoised explanations of ``rules`` depend on together (``Reads.joined``); None
        when one of them is not memoised (a rule this engine did not load)."""
        plans = [self._reads.get(id(rule)) for rule in rules]
        if any(plan is None for plan in plans):
            return None
        return Reads.joined(plan[1] for plan in plans if plan is not None)

    def forget_explanations(self) -> None:
        """Empty the memo of explanations (a benchmark's cold start; memory held by a long run)."""
        self._explained.clear()

    def explanations_held(self) -> int:
        """How many explanations the memo holds."""
        return len(self._explained)

    def _note(self, loaded: LoadedRuleset, rule: n.Rule, values: Mapping[str, Any]) -> NoteOutcome:
        head = ("note", loaded.id, rule.id)
        read = self._note_reads[head].key(values)
        key = (head, read) if read is not None else None
        cached = self._recall(key)
        if cached is None:
            cached = loaded.interpreter.note(rule, values)
            self._remember(key, cached)
        return cast(NoteOutcome, cached)

    def _reads_per_policy_fact(self, rule: n.Rule) -> bool:
        return any(_per_policy(self.vocabulary, f) for f in n.facts_read(rule.applicability, *rule.requires))

    def _reads_of(self, *exprs: n.Expr | None) -> Reads:
        fields = n.fields_read(*exprs)
        facts = n.facts_read(*exprs)
        return Reads(
            tuple(fact for fact in facts if not _is_collection(self.vocabulary, fact)),
            tuple((fact, fields.get(fact, ())) for fact in facts if _is_collection(self.vocabulary, fact)),
        )

    def _recall(self, key: tuple | None) -> Explained | NoteOutcome | None:
        if key is None:
            return None
        try:
            return self._explained.get(key)
        except TypeError:  # a value given through the Python API that cannot be a key
            return None

    def _remember(self, key: tuple | None, explained: Explained | NoteOutcome) -> None:
        if key is None:
            return
        if len(self._explained) >= _MEMO_LIMIT:
            self._explained.clear()
        try:  # noqa: SIM105 - written per explained device: a try costs less than contextlib.suppress
            self._explained[key] = explained
        except TypeError:
            pass

    def verdicts_per_policy(
        self, loaded: LoadedRuleset, values: Mapping[str, Any], views: Sequence[Mapping[str, Any]]
    ) -> tuple[tuple[int, ...], dict[int, int]]:
        """A ruleset's verdict codes, each rule that reads a per-policy fact decided per policy.

        ``views`` are the values as each assigned policy alone sets them (``policy_view``); with
        two or more, such a rule fails when it fails on any of them, else is unknown when the
        sources disagree about it on one (a ``disputed`` rule that would fail there), else
        passes when it passes on one, else is unknown when it is unknown on one, else does not
        apply. A policy leaves
        unset what another sets, so on its own it often cannot decide a rule another policy
        decides: that is why a pass outranks an unknown here. The second result maps those
        rules' indexes to the view that decided them.
        """
        codes = loaded.verdicts(values)
        indexes = self._per_policy[loaded.id]
        if len(views) < 2 or not indexes:
            return codes, {}
        each = [loaded.verdicts(view) for view in views]
        decided_on = {i: max(range(len(views)), key=lambda k: (_DECIDING[each[k][i]], -k)) for i in indexes}
        for i in indexes:  # a disagreement of the sources on one policy is not outranked by another's pass
            rule = self._rules[loaded.id][i]
            if rule.disputed and each[decided_on[i]][i] != Verdict.FAIL:
                disputed = [
                    k
                    for k in range(len(views))
                    if each[k][i] == Verdict.UNKNOWN and loaded.interpreter.verdict(rule, views[k])[0] is Status.FAIL
                ]
                decided_on[i] = disputed[0] if disputed else decided_on[i]
        codes = tuple(each[decided_on[i]][i] if i in decided_on else code for i, code in enumerate(codes))
        return codes, decided_on

    def verdicts(self, values: Mapping[str, Any]) -> list[tuple[int, ...]]:
        """Only the verdict codes per ruleset, on typed values (a ``Facts`` record's ``values``):
        the path for fleets and benchmarks."""
        try:
            values = self.resolved(values)
        except AttributeError:  # checked only when it breaks: this runs once per device of a fleet
            require(values, Mapping, "Engine.verdicts(values)", "a mapping {fact name: typed value}")
            raise
        return [loaded.verdicts(values) for loaded in self.rulesets]

    def decide(self, facts: Facts | Mapping[str, Any], *, fail_on: str = "info") -> Decision:
        """Whether a device passes the rules of at least ``fail_on`` severity (error, warning,
        info): the first rule that fails, else the first that is unknown, else a pass; the same
        as ``evaluate(facts).decision(fail_on)``, without explanations.

        One function compiled per engine and ``fail_on`` runs the rules in report order,
        resolves scenarios and derived facts as ``evaluate`` does, and stops at the first
        failure. A ``Facts`` record is trusted to hold typed values (as the library makes them);
        a mapping is typed first, as ``evaluate`` does.
        """
        try:  # the fast path: a Facts record, and fail_on's function compiled for its table alone
            if type(facts) is Facts:
                return self._decisions[self._fast_decide[fail_on](facts.table)]
        except (KeyError, TypeError):
            pass  # not compiled yet, a fail_on to check, or values that are not typed: the general path
        return self._decisions[self._decide(facts, fail_on, "Engine.decide", strict=False)]

    def passes(self, facts: Facts | Mapping[str, Any], *, fail_on: str = "info") -> bool:
        """Whether every rule of at least ``fail_on`` severity passes or does not apply: ``bool(decide(...))``.

        The yes-or-no question, answered at the first rule that fails or is unknown (unknown is
        not a pass); ``decide`` tells which rule and whether it failed.
        """
        try:
            if type(facts) is Facts:
                return self._fast_passes[fail_on](facts.table)
        except (KeyError, TypeError):
            pass
        return self._decide(facts, fail_on, "Engine.passes", strict=True) is True

    def _decide(self, facts: Any, fail_on: Any, name: str, *, strict: bool) -> int:
        """The general path of ``decide`` (an index into ``_decisions``) and ``passes`` (``strict``:
        True or False): arguments checked, the function compiled on first use, mappings
        typed, derived facts added, per-policy rules per policy."""
        fail_on = severity_threshold(fail_on, f"{name}(fail_on)")
        facts = self._as_facts(facts, f"{name}(facts)")
        if self._decides_per_policy and len(facts.profiles) > 1:
            index = self._decide_per_policy(facts, fail_on)
            return index == 0 if strict else index
        key = (fail_on, strict)
        if key not in self._deciders:
            counted = [(k, rule) for k, (_, rule) in enumerate(self._order) if at_or_above(rule.severity, fail_on)]
            self._deciders[key] = compile_decision(
                counted,
                self._scenario_steps(),
                strict=strict,
                name=f"{'passes' if strict else 'decision'}, fail on {fail_on}",
            )
            if self._plain and strict:  # no derived fact read, no rule decided per policy: Facts go straight in
                self._fast_passes[fail_on] = cast(Callable[[Mapping[str, Any]], bool], self._deciders[key])
            elif self._plain:
                self._fast_decide[fail_on] = self._deciders[key]
        values = {**facts.table, **derived(facts.table)} if self._derives else facts.table
        try:
            return self._deciders[key](values)
        except TypeError as exc:
            untyped = self._untyped(facts, f"{name}(facts)")
            if untyped is None:
                raise
            raise untyped from exc

    def _scenario_steps(self) -> dict[str, ScenarioStep]:
        """How the decision function resolves each scenario fact, as ``resolved`` does."""
        resolver, scenarios = self.scenarios, self.vocabulary.scenarios
        wanted = self._needed | {other for name in self._needed for other in resolver.excluded_by(name)}
        inferred = {s.name: i for i, s in enumerate(resolver.inferred)}

        def on(name: str) -> n.CheckedExpr:
            return resolver.checks.rules[2 * inferred[name]].requires[0]

        steps = {}
        for s in scenarios.values():
            if s.name in resolver.declared or s.name in resolver.excluded:
                steps[s.fact] = ScenarioStep(s.fact, fixed=s.name in resolver.declared)
            elif s.name not in wanted:
                steps[s.fact] = ScenarioStep(s.fact, infer=False)
            else:
                excluders = tuple(
                    (scenarios[o].fact, on(o)) for o in sorted(resolver.excluded_by(s.name)) if o in inferred
                )
                off = resolver.checks.rules[2 * inferred[s.name] + 1].requires[0]
                steps[s.fact] = ScenarioStep(s.fact, on=on(s.name), off=off, excluders=excluders)
        return steps

    def _decide_per_policy(self, facts: Facts, fail_on: str) -> int:
        """The decision index from the verdict codes, each per-policy rule decided per policy."""
        values = self.resolved(facts.table)
        views = [policy_view(values, p.table) for p in facts.profiles]
        unknown, position = 0, 0
        for loaded in self.rulesets:
            codes, _ = self.verdicts_per_policy(loaded, values, views)
            for rule, code in zip(self._rules[loaded.id], codes):
                if at_or_above(rule.severity, fail_on):
                    if code == Verdict.FAIL:
                        return 2 * position + 1
                    if code == Verdict.UNKNOWN and not unknown:
                        unknown = 2 * position + 2
                position += 1
        return unknown

    def _as_facts(self, facts: Any, argument: str) -> Facts:
        """``facts`` as a Facts record: a mapping is typed; anything else is a UsageError."""
        if isinstance(facts, Facts):
            return facts
        if not isinstance(facts, Mapping):
            raise usage_error(
                argument,
                facts,
                "a Facts record or a mapping {fact name: value}",
                hint="one device at a time; for many, see bitlocker_rules.fleet",
            )
        return self.facts(facts)

    def _typed_facts(self, facts: Any, argument: str) -> Facts:
        """``_as_facts``, and a Facts record built by hand is checked to hold typed values."""
        if not isinstance(facts, Facts):
            return self._as_facts(facts, argument)
        error = self._untyped(facts, argument)
        if error is not None:
            raise error
        return facts

    def _untyped(self, facts: Facts, argument: str) -> UsageError | None:
        """A UsageError naming each value of ``facts`` that is not typed for its fact, or None."""
        found = []
        for name, value in facts.table.items():
            declared = self.vocabulary.fact(name)
            if declared is not None and not is_typed(declared.type, value):
                found.append(
                    Diagnostic(
                        "U003",
                        f"`{name}` holds the {type(value).__name__} {shortened(repr(value), 60)}, not a typed "
                        f"{declared.type} value",
                        file=argument,
                        help="build Facts with engine.facts({...}) or facts_from_mapping, which convert raw values",
                    )
                )
        return UsageError(found) if found else None


def _loaded_rulesets(rulesets: Any) -> tuple[LoadedRuleset, ...]:
    """``Engine(rulesets)`` checked: LoadedRuleset records (names are for ``Engine.load``)."""
    hint = "Engine.load([...]) loads rulesets by name or path"
    if isinstance(rulesets, (str, bytes, PathLike, LoadedRuleset)) or not isinstance(rulesets, Iterable):
        raise usage_error("Engine(rulesets)", rulesets, "a list of LoadedRuleset records", hint=hint)
    found = tuple(rulesets)
    for loaded in found:
        require(loaded, LoadedRuleset, "Engine(rulesets)", f"LoadedRuleset records ({hint})")
    return found


def _ruleset_names(rulesets: Any) -> list[str | PathLike[str]]:
    """``Engine.load(rulesets)`` checked: a list of names or paths, each once, in order."""
    if isinstance(rulesets, (str, bytes, PathLike)) or not isinstance(rulesets, Iterable):
        hint = f"write Engine.load([{str(rulesets)!r}])" if isinstance(rulesets, (str, PathLike)) else None
        raise usage_error(
            "Engine.load(rulesets)", rulesets, "a list of ruleset names or paths, or None for all", hint=hint
        )
    names = list(rulesets)
    for name in names:
        require(name, (str, PathLike), "Engine.load(rulesets)", "ruleset names or paths (str or pathlib.Path)")
    return list(dict.fromkeys(names))


def _declared(scenarios: Any, argument: str) -> dict[str, str]:
    """``scenarios=`` checked: names, or a mapping from name to how it was declared."""
    expected = 'a list of scenario names such as ["silent_enablement"], or None'
    if scenarios is None:
        return {}
    if isinstance(scenarios, Mapping):
        for name, why in scenarios.items():
            require(name, str, argument, "scenario names (str) as keys")
            require(why, str, argument, "how each scenario was declared (str) as values")
        return dict(scenarios)
    if isinstance(scenarios, (str, bytes)) or not isinstance(scenarios, Iterable):
        hint = f"write [{scenarios!r}]" if isinstance(scenarios, str) else None
        raise usage_error(argument, scenarios, expected, hint=hint)
    names = list(scenarios)
    for name in names:
        require(name, str, argument, "scenario names (str)")
    return dict.fromkeys(names, "in the Python API")


# Verdict code -> precedence over the policies: a fail anywhere fails; else a pass by one policy
# passes (the others leave the rule undecided or it does not apply to them); else unknown; else n/a.
_DECIDING: dict[int, int] = {Verdict.FAIL: 3, Verdict.PASS: 2, Verdict.UNKNOWN: 1, Verdict.NOT_APPLICABLE: 0}


def deciding_values(
    index: int,
    values: Mapping[str, Any],
    views: Sequence[Mapping[str, Any]] | None,
    decided_on: Mapping[int, int] | None,
) -> tuple[Mapping[str, Any], int | None]:
    """What rule ``index`` of a ruleset is explained on, given ``verdicts_per_policy``'s choice:
    the settings of the one policy that decided it (with that policy's index), else the merged
    values (with None)."""
    profile = decided_on.get(index) if decided_on else None
    if profile is None or views is None:
        return values, None
    return views[profile], profile


def policy_view(values: Mapping[str, Any], policy: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with one policy's own settings in place of the merged ones."""
    view = {fact: value for fact, value in values.items() if not fact.startswith("policy.")}
    view.update(policy)
    return view


def _per_policy(vocabulary: Vocabulary, fact: str) -> bool:
    declared = vocabulary.fact(fact)
    return declared is not None and declared.per_policy


def _is_collection(vocabulary: Vocabulary, fact: str) -> bool:
    declared = vocabulary.fact(fact)
    return declared is not None and declared.type.kind == "collection"


def shown_outcome(
    outcome: RuleOutcome, origins: Mapping[str, Origins], conflicts: Mapping[str, Conflict], vocabulary: Vocabulary
) -> RuleOutcome:
    """An explained outcome as a report shows it: where each cited value came from (``origins``,
    empty to name none) and, where a conflict left a fact unknown, which sources disagree."""
    outcome = _with_origins(outcome, origins)
    return mark_conflicts(outcome, conflicts, vocabulary) if conflicts else outcome


def _with_origins(outcome: RuleOutcome, origins: Mapping[str, Origins]) -> RuleOutcome:
    """Name where each cited value came from (policy or device input and JSON path)."""
    if not any(c.fact in origins for c in outcome.reasons):
        return outcome
    reasons = tuple(attrs.evolve(c, origins=origins[c.fact]) if c.fact in origins else c for c in outcome.reasons)
    return attrs.evolve(outcome, reasons=reasons)


def mark_conflicts(outcome: RuleOutcome, conflicts: Mapping[str, Conflict], vocabulary: Vocabulary) -> RuleOutcome:
    """Say which sources disagree where a fact is unknown because of a conflict."""
    reasons = tuple(
        attrs.evolve(
            c,
            conflict=describe_conflict(conflicts[c.fact], vocabulary),
            origins=c.origins or tuple(o for origins, _ in conflicts[c.fact].values for o in origins),
        )
        if c.missing and c.fact in conflicts
        else c
        for c in outcome.reasons
    )
    return attrs.evolve(outcome, reasons=reasons)


def describe_conflict(conflict: Conflict, vocabulary: Vocabulary) -> str:
    """``policy 'A' sets Require; policy 'B' sets Not configured`` in the admin's words."""
    record = conflict_record(conflict, vocabulary)
    return "; ".join(f"{source} sets {shown}" for source, _, shown in record.values)


def conflict_record(conflict: Conflict, vocabulary: Vocabulary) -> ConflictRecord:
    """A conflict with the setting's Intune label and each value as Intune shows it."""
    fact = vocabulary.fact(conflict.fact)
    values = tuple(
        (first_input(origins), str(value), vocabulary.display(fact, value) if fact else str(value))
        for origins, value in conflict.values
    )
    return ConflictRecord(conflict.fact, fact.label if fact else conflict.fact, values)


def _bare_outcome(loaded: LoadedRuleset, rule: n.Rule, status: Status) -> RuleOutcome:
    return RuleOutcome(
        ruleset=loaded.id,
        rule=rule.id,
        title=rule.title,
        severity=rule.severity,
        encodes=rule.encodes,
        status=status,
        remediation=rule.remediation,
        events=rule.events,
        location=loaded.interpreter.location(rule.span),
        related=rule.related,
        scenarios=rule.scenarios,
    )
