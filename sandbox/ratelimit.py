"""Exact sliding-log rate limiter (per organization key).

A sliding log keeps the time of every accepted request, so "100 per minute" means no 60-second
span ever holds more than 100 accepted requests. Benchmarks can then measure honest compliance:
a client that paces itself correctly is never refused, one that bursts always is.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable


class SlidingLogLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._logs: dict[str, list[float]] = {}

    def hit(self, ident: str, windows: list[tuple[int, float]]) -> float | None:
        """Record one request for ``ident`` if every window has room.

        ``windows`` holds (limit, span in seconds). Returns None when accepted, otherwise the
        seconds until the request would be accepted (refused requests are not recorded).
        """
        if not windows:
            return None
        now = self._clock()
        longest = max(span for _, span in windows)
        with self._lock:
            log = self._logs.setdefault(ident, [])
            # Forget what no window can see any more.
            del log[: bisect.bisect_right(log, now - longest)]
            wait = 0.0
            for limit, span in windows:
                in_window = len(log) - bisect.bisect_right(log, now - span)
                if in_window >= limit:
                    # The request that must leave the window to free one slot.
                    oldest_blocking = log[len(log) - limit]
                    wait = max(wait, oldest_blocking + span - now)
            if wait > 0:
                return wait
            log.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._logs.clear()
