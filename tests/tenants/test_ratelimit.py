"""The shared limiter: both windows, the 429 pause, and two processes sharing one quota."""

import multiprocessing
import time
import uuid

import pytest

from tenants import ratelimit

# 5 calls per "minute" and 8 per "hour"; time scale 120 makes them 0.5 s and 30 s. The hour
# fills in the second minute: the tests that reach it last about a second.
PER_MINUTE, PER_HOUR, SCALE, MARGIN = 5, 8, 120.0, 0.05
MINUTE = 60 / SCALE


def _redis_reachable() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def limiter(request, settings, tmp_path):
    settings.EINVOICE_RATE_PER_MINUTE = PER_MINUTE
    settings.EINVOICE_RATE_PER_HOUR = PER_HOUR
    settings.RATE_LIMIT_TIME_SCALE = SCALE
    settings.RATE_LIMIT_MARGIN_SECONDS = MARGIN
    if request.param == "redis":
        if not _redis_reachable():
            pytest.skip("Redis at 127.0.0.1:6379 is unreachable")
        settings.RATE_LIMIT_REDIS_URL = "redis://127.0.0.1:6379/15"
        settings.RATE_LIMIT_KEY_PREFIX = f"test-quota-{uuid.uuid4().hex}"
    else:
        settings.RATE_LIMIT_REDIS_URL = ""
        settings.RATE_LIMIT_SQLITE_PATH = str(tmp_path / "quota.sqlite3")
    ratelimit.reset()
    yield request.param
    ratelimit.reset()


def test_it_grants_the_minute_limit_then_tells_how_long_to_wait(limiter):
    assert [ratelimit.try_acquire() for _ in range(PER_MINUTE)] == [0.0] * PER_MINUTE
    wait = ratelimit.try_acquire()
    assert 0 < wait <= MINUTE + MARGIN
    time.sleep(wait)
    assert ratelimit.try_acquire() == 0.0


def test_it_stops_at_the_hour_limit_even_when_the_minute_has_room(limiter):
    granted = 0
    deadline = time.monotonic() + 4 * MINUTE
    while time.monotonic() < deadline:
        try:
            ratelimit.acquire(max_wait=MINUTE + MARGIN + 0.05)
            granted += 1
        except ratelimit.QuotaExhausted as e:
            # The hour is full: the wait is the rest of the hour, far beyond max_wait.
            assert e.wait_seconds > 20
            break
    assert granted == PER_HOUR


def test_it_makes_every_caller_wait_after_a_429(limiter):
    ratelimit.pause_until(0.3)
    wait = ratelimit.try_acquire()
    assert 0.2 < wait <= 0.3
    with pytest.raises(ratelimit.QuotaExhausted):
        ratelimit.acquire(max_wait=0.1)
    # A shorter Retry-After later does not shorten the pause already in force.
    ratelimit.pause_until(0.05)
    assert ratelimit.try_acquire() > 0.1
    ratelimit.acquire(max_wait=0.5)


def _hammer(seconds: float, out) -> None:
    # Each grant is known only to lie between the moments before and after try_acquire():
    # under load the gap can be long, so the test reasons on those bounds.
    grants = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        before = time.time()
        wait = ratelimit.try_acquire()
        if wait == 0:
            grants.append((before, time.time()))
        else:
            time.sleep(min(wait, 0.01))
    out.put(grants)


def _pause_from_another_process(seconds: float) -> None:
    ratelimit.pause_until(seconds)


def test_it_shares_one_quota_between_processes(limiter):
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    # Long enough for several minute windows, far shorter than the (scaled) hour.
    procs = [ctx.Process(target=_hammer, args=(4 * MINUTE, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    grants = sorted(g for r in results for g in r)
    # Together they got the hour's 8, not 8 each.
    assert len(grants) == PER_HOUR
    # No minute window ever held more than its limit: any PER_MINUTE + 1 consecutive grants
    # span at least a minute (measured conservatively, from the first's start to the last's end).
    for first, last in zip(grants, grants[PER_MINUTE:], strict=False):
        assert last[1] - first[0] >= MINUTE, f"{PER_MINUTE + 1} calls within {MINUTE}s"


def test_it_pauses_callers_in_other_processes_after_a_429(limiter):
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_pause_from_another_process, args=(0.4,))
    p.start()
    p.join(timeout=10)
    assert ratelimit.try_acquire() > 0.25


def test_it_reports_headroom_for_pacing_work(limiter):
    assert ratelimit.headroom() == PER_MINUTE
    ratelimit.acquire()
    ratelimit.acquire()
    assert ratelimit.headroom() == PER_MINUTE - 2
    ratelimit.pause_until(0.5)
    assert ratelimit.headroom() == 0
