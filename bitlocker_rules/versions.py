"""Windows versions that compare as versions: builds, ``10.0.x.y`` strings, release names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

_DOTTED = re.compile(r"^\s*([0-9]{1,9})\.([0-9]{1,9})\.([0-9]{1,9})(?:\.([0-9]{1,9}))?\s*$")
_LOWEST_BUILD = 10240  # Windows 10 1507; lower numbers are not Windows 10/11 builds.


class WindowsVersion(NamedTuple):
    """A Windows version; tuple order makes comparisons version comparisons."""

    major: int
    minor: int
    build: int
    revision: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"


def parse_windows_version(raw: object, releases: Mapping[str, WindowsVersion]) -> WindowsVersion:
    """Read a build number, a dotted version or a release name; raise ValueError if none.

    A bare number that names a release (1809) is that release; otherwise it is a build.
    """
    if isinstance(raw, bool):
        raise ValueError("a Windows version, not a boolean")
    if isinstance(raw, WindowsVersion):
        return raw
    if not isinstance(raw, (str, int)):
        raise ValueError(
            "a Windows version: a build number (17763), a dotted version (10.0.17763.1) "
            "or a release name (1809, 21H2, Windows 11)"
        )
    text = str(raw).strip()
    release = _release(text, releases)
    if release is not None:
        return release
    match = _DOTTED.match(text)
    if match:
        major, minor, build, revision = (int(g) if g else 0 for g in match.groups())
        return WindowsVersion(major, minor, build, revision)
    if text.isascii() and text.isdigit() and len(text) <= 9 and int(text) >= _LOWEST_BUILD:
        return WindowsVersion(10, 0, int(text), 0)
    raise ValueError(
        "a Windows version: a build number (17763), a dotted version (10.0.17763.1) "
        "or a release name (1809, 21H2, Windows 11)" + other_digits(text)
    )


def other_digits(raw: object) -> str:
    """``, with the digits 0-9 only (this value has other digits: ٣)`` when ``raw`` is text
    holding digits other than 0-9, which Windows and Graph never write; else empty. Said in
    the error, since such a value looks right on screen."""
    if not isinstance(raw, str):
        return ""
    found = "".join(dict.fromkeys(c for c in raw if c.isdigit() and not ("0" <= c <= "9")))
    return f", with the digits 0-9 only (this value has other digits: {found[:8]})" if found else ""


def _release(text: str, releases: Mapping[str, WindowsVersion]) -> WindowsVersion | None:
    if text in releases:
        return releases[text]
    folded = {name.lower().replace(" ", ""): v for name, v in releases.items()}
    return folded.get(text.lower().replace(" ", ""))
