"""Rule tests: case files beside the rules, run through the engine, with coverage (``bitlocker-rules test``).

``cases`` reads and checks case files (``NAME.tests.toml``), ``coverage`` says which
conditions of each rule the cases saw decide which outcome, and ``runner`` runs the cases.
"""

from __future__ import annotations

from .cases import CASE_SUFFIX, Case, CaseFile, Expected, load_case_file
from .coverage import ConditionCoverage, Coverage, FileCoverage, RuleCoverage, percent
from .runner import CaseResult, Mismatch, TestRun, discover, run_tests

__all__ = [
    "CASE_SUFFIX",
    "Case",
    "CaseFile",
    "CaseResult",
    "ConditionCoverage",
    "Coverage",
    "Expected",
    "FileCoverage",
    "Mismatch",
    "RuleCoverage",
    "TestRun",
    "discover",
    "load_case_file",
    "percent",
    "run_tests",
]
