"""``python -m bitlocker_rules``."""

import sys

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C before the command line's own handlers are in place
    sys.stderr.write("bitlocker-rules: interrupted\n")
    sys.exit(130)

sys.exit(main())
