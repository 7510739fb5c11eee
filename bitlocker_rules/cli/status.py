"""The command line's exit codes."""

EXIT_PASS = 0  # every rule passed (or nothing to report)
EXIT_FAIL = 1  # a rule failed, or a conflict or a difference was found
EXIT_USAGE = 2  # bad input or usage
EXIT_UNDECIDED = 4  # lint, compare or repair: no answer within --timeout
