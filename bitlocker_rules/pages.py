"""Regenerate the reference pages from what ships: ``python -m bitlocker_rules.pages PAGE``.

``reference`` renders pages from records and loads nothing; this entry loads the shipped
vocabulary and rulesets through the engine (so every ruleset is checked) and prints the page
``vocabulary``, ``rulesets`` or ``requirements`` to standard output. It sits above the engine
so that no module imports upward (``tests/test_architecture.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from .engine import Engine, LoadedRuleset
from .reference import (
    COMMANDS,
    ShownRuleset,
    render_requirements_markdown,
    render_rulesets_markdown,
    render_vocabulary_markdown,
)
from .syntax import parse_ruleset
from .vocabulary import shipped_vocabulary


def generate(page: str) -> str:
    """The page ``vocabulary``, ``rulesets`` or ``requirements`` for what ships with the package.

    Shipped rule files are shown as ``rulesets/<name>.rules`` wherever the package is
    installed, so the page does not depend on the working directory. Every ruleset is loaded
    (so checked) first; the page prints the parsed tree, whose constants read as written.
    """
    if page == "vocabulary":
        return render_vocabulary_markdown(shipped_vocabulary())
    if page in ("rulesets", "requirements"):
        shown = [_shown(item) for item in Engine.load().rulesets]
        return render_rulesets_markdown(shown) if page == "rulesets" else render_requirements_markdown(shown)
    raise ValueError(f"unknown page {page!r}; expected one of: {', '.join(COMMANDS)}")


def _shown(item: LoadedRuleset) -> ShownRuleset:
    """A loaded ruleset as the pages show it: its parsed tree, under ``rulesets/<file>``."""
    text = item.ruleset.text
    parsed = parse_ruleset(text.text, text.name) if text is not None else item.ruleset
    return ShownRuleset(parsed, f"rulesets/{Path(str(item.path)).name}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bitlocker_rules.pages vocabulary|rulesets|requirements``: print the page to standard output."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0] not in COMMANDS:
        print(f"usage: python -m bitlocker_rules.pages {'|'.join(COMMANDS)}", file=sys.stderr)
        return 2
    sys.stdout.write(generate(args[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
