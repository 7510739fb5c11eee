"""Shared test configuration: Hypothesis settings profiles.

Profiles (pick one with the HYPOTHESIS_PROFILE environment variable):

* ``ci`` (the default): quick, 60 examples per property, no deadline. The property and
  analysis tests run in about a minute.
* ``thorough``: 400 examples per property, budgeted so that the property, analysis and
  explanation tests finish within about 10 minutes on two cores (the budget CI gives it)::

      HYPOTHESIS_PROFILE=thorough python -m pytest -q tests/test_properties.py \\
          tests/test_analysis.py tests/test_explanations.py

  ``.ci/run`` runs exactly that when ``CI`` is set. Measured: 307 s of CPU time (one
  process, so about 5 minutes on an idle core; the rest of the 10 is headroom). The cost
  grows with the examples: for a longer hunt before a release, raise the count for one run
  with ``HYPOTHESIS_EXAMPLES`` (``HYPOTHESIS_EXAMPLES=2000``: about 25 minutes).

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
    max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", "400")),
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
