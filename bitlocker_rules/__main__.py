"""``python -m bitlocker_rules``."""

import sys

from .cli import main

sys.exit(main())
