"""Where the shipped grammar, rulesets and vocabulary are, installed or in a checkout."""

from __future__ import annotations

import functools
import re
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """The shipped ``grammar`` or ``rulesets`` folder.

    A wheel carries them under ``bitlocker_rules/_data``; a checkout (or an editable
    install) has them beside the package, at the top level the project chose.
    """
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"the shipped `{name}` folder is missing from {packaged} and {checkout}")


def grammar_path() -> Path:
    """The rule language's Lark grammar."""
    return data_dir("grammar") / "bitlocker_rules.lark"


@functools.cache
def grammar_text() -> str:
    """The rule language's Lark grammar, read once per process."""
    return grammar_path().read_text(encoding="utf-8")


@functools.cache
def keywords() -> frozenset[str]:
    """The words the grammar reserves (``rule``, ``and``, ``true`` …), read from the grammar."""
    return frozenset(re.findall(r'"([a-z]+)"', grammar_text()))


def rulesets_dir() -> Path:
    """The folder of shipped ``.rules`` files and the vocabulary."""
    return data_dir("rulesets")


def vocabulary_path() -> Path:
    """The shipped vocabulary declarations."""
    return rulesets_dir() / "vocabulary.toml"


def shipped_ruleset_paths() -> dict[str, Path]:
    """Shipped ruleset name → path, sorted by name."""
    return {p.stem: p for p in sorted(rulesets_dir().glob("*.rules"))}


def installed_version() -> str:
    """The installed package's version, as its metadata gives it (or says it is not installed)."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 - costs start-up time: only when asked

    try:
        return version("bitlocker-rules")
    except PackageNotFoundError:
        return "unknown (not installed)"
