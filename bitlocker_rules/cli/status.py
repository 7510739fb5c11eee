"""The command line's exit codes."""

EXIT_PASS = 0  # every rule passed (or nothing to report)
EXIT_FAIL = 1  # a rule failed, or a finding, a conflict or a difference was found
EXIT_USAGE = 2  # bad input or usage, or an output that cannot be written
EXIT_CRASH = 3  # an internal error (a bug), or a worker process that died
EXIT_UNDECIDED = 4  # lint, compare or repair: no answer within --timeout
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report it
