"""The organization key's quota (100/min and 1000/h), shared by every process.

PLACEHOLDER interface, to be replaced by the real shared limiter (issue 5).
"""


class QuotaExhausted(Exception):
    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"API quota exhausted; retry in {wait_seconds:.1f}s")
        self.wait_seconds = wait_seconds


def try_acquire() -> float:
    """Take one call from the shared quota. 0.0 when granted, else seconds to wait."""
    return 0.0


def acquire(max_wait: float = 0.0) -> None:
    """Take one call, waiting at most max_wait seconds; raise QuotaExhausted otherwise."""
    return None


def pause_until(retry_after_seconds: float) -> None:
    """A 429 from the API: make every caller in every process wait this long."""
    return None
