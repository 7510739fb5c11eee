"""``bitlocker_rules.__version__`` is the installed distribution's version, read from its metadata."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import bitlocker_rules


def python(code: str, *path: str) -> str:
    """What ``code`` prints in a fresh interpreter, with ``path`` first on sys.path."""
    setup = f"import sys; sys.path[:0] = {list(path)!r}; "
    return subprocess.run([sys.executable, "-c", setup + code], capture_output=True, text=True, check=True).stdout


def test_version_is_the_installed_metadata():
    assert bitlocker_rules.__version__ == version("bitlocker-rules")


def test_version_follows_the_metadata_not_a_copy_in_the_code(tmp_path):
    # A distribution found first on the path, with another version: __version__ must say it.
    info = tmp_path / "bitlocker_rules-9.8.7.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bitlocker-rules\nVersion: 9.8.7\n")
    assert python("import bitlocker_rules; print(bitlocker_rules.__version__)", str(tmp_path)) == "9.8.7\n"


def test_a_source_tree_that_is_not_installed_says_so():
    code = (
        "import importlib.metadata as m\n"
        "def missing(name): raise m.PackageNotFoundError(name)\n"
        "m.version = missing\n"
        "import bitlocker_rules; print(bitlocker_rules.__version__)"
    )
    assert python(code) == "unknown (not installed)\n"
