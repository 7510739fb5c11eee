"""Static analysis of checked rules: satisfiability, conflicts, lint, comparison, repair.

Everything here reasons about what rules *mean* (decision 10 of the architecture), with
the interpreter's Kleene semantics, and returns records; nothing is printed.

The decision procedure
----------------------
Question: is there an assignment of the free facts (the others are fixed, e.g. to a
device's values) under which every selected rule ends in a wanted verdict? The default
goal is *satisfied*: ``pass`` or ``not_applicable`` (the rule does not fail and is not
unknown). Other goals (``pass``, ``fail``, ``unknown``, ``not_applicable``, ``applicable``
or any set of statuses) serve lint and compare.

Each fact ranges over a finite set of values that represents all of its values exactly:

* a missing fact (``None``) is always one of the values: a fact that is absent is a legal
  state, and ``is missing``, Kleene ``unknown`` and applicability that is unknown all
  depend on it;
* ``bool``: true and false; enums: the members the rules name plus enough unnamed ones;
* ordered facts (integer, decimal, version): every constant compared with them, and for
  every interval between consecutive constants (and below the lowest, above the highest)
  as many representatives as the interval has room for, up to the number of terms
  compared with each other (facts compared with facts share one set of constants);
* strings: the constants plus fresh values ("(other)").

Facts compared with each other (``a == b``, ``x.size > policy.min``) form components
whose terms share their constants and get enough representatives per interval to realise
every order between them, so the truth of every atom is preserved exactly.

Collections are decided exactly for the *record-local* fragment: a quantifier's or
count's body may read the fields of its own variable, facts, and nested quantifiers that
do not read an outer variable. Record types are the referenced fields over their value
sets (each field may be missing); types that every body treats alike, for every value of
the facts the bodies read, are merged into one. A collection is then one of:

* without counts: a set of at most one record per quantifier (any collection can be cut
  down to one witness per quantifier without changing an atom);
* with counts, whichever exact set is smaller: multisets of at most
  ``max(Q + sum(M_b + 2), M_0 + 1)`` records (Q quantifiers, M_b the largest constant a
  ``count(x in c: b)`` is compared with, M_0 the same for ``count(c)``), or, for one count
  expression with any constants, a set of distinct records plus extra copies of one of
  them, as many as reach each interval between the constants; ``count(c) < 200`` thus
  costs a few candidates, not 200 records.

Three things are *refused* with a diagnostic, never guessed: a body that reads the
variable of an outer quantifier (``A101``), a count compared with anything but constants
(``A102``), and a collection whose candidate set would exceed
``MAX_COLLECTION_CANDIDATES`` (``A103``; e.g. several different counts over one
collection with large constants).

Search is backtracking over the free facts, most constrained first (the fact of the open
rule with the fewest unassigned facts, then the smallest value set), with three-valued
partial evaluation for pruning: an unassigned fact is *undetermined* (distinct from
missing); every node evaluates to the set of Kleene values it may still take, and a rule
whose possible verdicts miss the goal cuts the branch. Groups of rules that share no free
fact are searched separately; a failed branch backjumps over facts its conflict does not
involve (conflict-directed backjumping). The search is exhaustive over the finite value
sets, so it is exact: no sampling decides anything (lint samples assignments only to
*refute* implications cheaply; every claim that holds is proved by search). A witness is
re-checked with the real ``Interpreter`` before it is returned. An unsatisfiable set
yields a minimal conflicting subset (QuickXplain, a deletion-based minimisation:
removing any one rule makes the rest satisfiable).

Repairs make the rules that fail now *pass* (not merely not apply), keep the rules that
pass or do not apply satisfied and the unknown ones from failing, and never weaken a policy
needlessly: a setting is lowered (a weaker value by the vocabulary's ``strength`` orders, or
one not comparable) only as part of an inclusion-minimal set of lowered settings, found as
the minimal hitting sets of "cores" of settings that cannot all keep their strength
(``lowering``). For each such set, iterative deepening on the number of changed settings
per independent group, pruned by a lower bound (rules that fail today and share no setting
each need a change of their own), gives the fewest changes; the best set wins. Changes that
would only turn a failing rule off are offered apart (``TurnOff``).

Lint, compare and repair are built on the procedure; see ``lint``, ``compare``,
``repair`` and ``fleet_repair``. ``findings_to_sarif`` renders lint findings as SARIF 2.1.0.

The package, from the bottom up (each module imports only modules named before it):
``logic`` (three-valued masks, rule states, goal masks), ``values`` (collections as bags,
values in words), ``unionfind``, ``results`` (the public records and ``AnalysisError``),
``summary`` (what the rules ask of their facts), ``evaluation`` (compiled partial
evaluation), ``selection`` (the selected rules), ``domains`` (finite value sets),
``search`` (backtracking), ``wording`` (requirements in words), ``analyzer`` (the
``Analyzer`` and ``check_satisfiable``), ``lowering`` (strength orders, minimal sets of
lowered settings); on top ``lint``, ``sarif``, ``compare``, ``repair`` (one device) and
``fleet_repairs`` (a fleet).
"""

from __future__ import annotations

from ..source import Location
from .analyzer import Analyzer, check_satisfiable
from .compare import compare
from .domains import MAX_COLLECTION_CANDIDATES
from .evaluation import Eval, Get
from .fleet_repairs import fleet_repair
from .lint import MAX_CONFLICTS, diagnostic_findings, lint, lint_exit_code
from .logic import ALL, FAIL, NOT_APPLICABLE, PASS, SATISFIED, UNKNOWN, F, N, T, goal_mask
from .repair import repair
from .results import (
    AnalysisError,
    Comparison,
    Deadline,
    Difference,
    Finding,
    FleetChange,
    FleetRepair,
    Prerequisite,
    Repair,
    Requirement,
    RuleConflict,
    Satisfiability,
    SettingChange,
    TurnOff,
    Undecided,
    Witness,
)
from .sarif import findings_to_sarif
from .wording import requirements_of

__all__ = [
    "ALL",
    "FAIL",
    "MAX_COLLECTION_CANDIDATES",
    "MAX_CONFLICTS",
    "NOT_APPLICABLE",
    "PASS",
    "SATISFIED",
    "UNKNOWN",
    "AnalysisError",
    "Analyzer",
    "Comparison",
    "Deadline",
    "Difference",
    "Eval",
    "F",
    "Finding",
    "FleetChange",
    "FleetRepair",
    "Get",
    "Location",
    "N",
    "Prerequisite",
    "Repair",
    "Requirement",
    "RuleConflict",
    "Satisfiability",
    "SettingChange",
    "T",
    "TurnOff",
    "Undecided",
    "Witness",
    "check_satisfiable",
    "compare",
    "diagnostic_findings",
    "findings_to_sarif",
    "fleet_repair",
    "goal_mask",
    "lint",
    "lint_exit_code",
    "repair",
    "requirements_of",
]
