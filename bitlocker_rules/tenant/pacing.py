"""How long to wait before asking Graph again: ``Retry-After`` when Graph says, else capped
exponential backoff with full jitter. The clock is injected, so tests never sleep."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from attrs import field, frozen

# Graph's throttling guidance: honour Retry-After on 429 and 503; without it, back off exponentially.
RETRY_AFTER_STATUSES = frozenset({429, 503})
LONGEST_RETRY_AFTER = 300.0  # a Retry-After beyond this is a server error of its own, not a wait


@frozen
class Pacing:
    """Retries, waits and timeouts of every request.

    ``attempts`` counts the first try; ``base`` and ``cap`` bound the exponential backoff (the
    wait before retry n is uniform in [0, min(cap, base·2ⁿ)]: full jitter, so many clients that
    failed together do not come back together); ``timeout`` is the seconds one request may take.
    """

    attempts: int = 6
    base: float = 0.5
    cap: float = 30.0
    timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, eq=False, repr=False)
    jitter: Callable[[], float] = field(default=random.random, eq=False, repr=False)

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry)."""
        return self.jitter() * min(self.cap, self.base * 2**retry)

    def wait_for(self, status: int | None, retry_after: str | None, retry: int) -> float:
        """Seconds to wait after a response with ``status`` (None: the connection failed)."""
        if status in RETRY_AFTER_STATUSES and retry_after:
            asked = retry_after_seconds(retry_after)
            if asked is not None:
                return min(asked, LONGEST_RETRY_AFTER)
        return self.backoff(retry)


def retry_after_seconds(value: str, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: a number of seconds or an HTTP date (None when neither)."""
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())
