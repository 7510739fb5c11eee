"""Shared test configuration: Hypothesis settings profiles.

Profiles (pick one with the HYPOTHESIS_PROFILE environment variable):

* ``ci`` (the default): quick, about 60 examples per property, no deadline. The whole
  property suite runs in well under a minute.
* ``thorough``: 2000 examples per property, for hunting bugs before a release::

      HYPOTHESIS_PROFILE=thorough python -m pytest tests/test_properties.py

Whatever a thorough run finds is saved in the local example database (``.hypothesis/``)
and replayed first by later ``ci`` runs on the same machine.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# `import strategies` works whatever pytest import mode is configured.
sys.path.insert(0, str(Path(__file__).resolve().parent))

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=_SLOW_OK,
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=_SLOW_OK,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    """Keep the built-rulesets cache of this run in a folder of its own, not the user's."""
    if "BITLOCKER_RULES_CACHE" not in os.environ:
        import tempfile

        os.environ["BITLOCKER_RULES_CACHE"] = tempfile.mkdtemp(prefix="bitlocker-rules-cache-")
