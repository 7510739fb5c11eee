"""Built rulesets and the vocabulary, kept between runs and keyed by everything they are built from.

Parsing, checking and compiling the shipped rulesets costs more than the rest of a ``check``
run. A run whose inputs are unchanged reads the built result back instead. The key hashes the
input text, the Python version and the size and time of every file of this package (the
callers add the grammar's and the vocabulary's text), so an edited rule file, vocabulary,
grammar or module never reads a stale entry.

Entries are pickles, which run code when read. The cache therefore has the trust model of
Python's own ``__pycache__``: it lives in the user's own folder, and a folder that another user
can write to is never read. ``BITLOCKER_RULES_CACHE`` names another folder, or ``off`` turns the
cache off.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

# A stale entry costs only disk space, so old entries are removed only when there are many
# of them. Each entry is tens of kilobytes.
MAX_ENTRIES = 256

_PACKAGE = Path(__file__).resolve().parent


def cache_dir() -> Path | None:
    """The folder the cache lives in, or None when ``BITLOCKER_RULES_CACHE=off``."""
    chosen = os.environ.get("BITLOCKER_RULES_CACHE", "")
    if chosen.lower() == "off":
        return None
    if chosen:
        return Path(chosen)
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "bitlocker-rules" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "bitlocker-rules"


def cache_key(kind: str, *parts: str | bytes) -> str:
    """A file name for an entry of ``kind`` built from ``parts`` by this code on this Python."""
    digest = hashlib.sha256(_code_fingerprint())
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return f"{kind}-{digest.hexdigest()[:40]}"


def cached(
    key: str, kind: type[T], build: Callable[[], T], dump: Callable[[T], bytes], load: Callable[[bytes], object]
) -> T:
    """The ``kind`` value stored under ``key``, else ``build()`` stored there; the cache never fails a run."""
    folder = _usable_dir()
    if folder is None:
        return build()
    entry = folder / key
    try:
        value = load(entry.read_bytes())
        if isinstance(value, kind):
            return value
    except Exception:  # noqa: BLE001 - a missing, damaged or foreign entry is rebuilt, never reported
        pass
    value = build()
    with contextlib.suppress(Exception):  # a value that cannot be stored (or a full disk) is simply not cached
        _write(folder, entry, dump(value))
    return value


@functools.cache
def _code_fingerprint() -> bytes:
    """The Python version and each package file's path, size and time, which change when the code does."""
    facts = [sys.implementation.cache_tag or sys.version]
    for path in sorted(_PACKAGE.rglob("*.py")):
        stat = path.stat()
        facts.append(f"{path.relative_to(_PACKAGE)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(facts).encode("utf-8", "surrogatepass")


def _usable_dir() -> Path | None:
    """The cache folder, created if need be, or None when it is off or others could write to it."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            stat = folder.stat()
            if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
                return None
    except OSError:
        return None
    return folder


def _write(folder: Path, entry: Path, data: bytes) -> None:
    """Write ``entry`` whole or not at all, then trim the folder when it holds too many entries."""
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, entry)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    entries = [path for path in folder.iterdir() if not path.name.startswith(".")]
    if len(entries) > MAX_ENTRIES:
        entries.sort(key=lambda path: path.stat().st_mtime_ns)
        for path in entries[: len(entries) - MAX_ENTRIES]:
            path.unlink(missing_ok=True)
