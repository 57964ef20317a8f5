"""The shared limiter: both windows, counting a call from its answer, the 429 pause, and two
processes sharing one quota. A fake clock moves time: no test waits for a window to pass."""

import multiprocessing
import time
import uuid

import pytest

from einvoice import quota as ratelimit

# 5 calls per "minute" and 8 per "hour"; time scale 120 makes them 0.5 s and 30 s.
PER_MINUTE, PER_HOUR, SCALE, MARGIN = 5, 8, 120.0, 6.0
MINUTE = (60 + MARGIN) / SCALE
HOUR = (3600 + MARGIN) / SCALE


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


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(limiter, monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(ratelimit, "_clock", fake)
    return fake


def _answered_call() -> float:
    """One call answered at once; 0.0 when granted, else the wait the limiter reports."""
    wait, grant = ratelimit.try_acquire()
    if grant is not None:
        grant.answered()
    return wait


def test_it_grants_the_minute_limit_then_tells_how_long_to_wait(clock):
    assert [_answered_call() for _ in range(PER_MINUTE)] == [0.0] * PER_MINUTE
    clock.advance(0.1)
    assert _answered_call() == pytest.approx(MINUTE - 0.1)
    clock.advance(MINUTE - 0.1)
    assert _answered_call() == 0.0


def test_it_stops_at_the_hour_limit_even_when_the_minute_has_room(clock):
    granted = 0
    while granted < PER_HOUR + 1:
        wait = _answered_call()
        if wait == 0:
            granted += 1
        elif wait <= MINUTE:
            clock.advance(wait)
        else:
            break
    # The hour is full: the wait is the rest of the hour, not of a minute.
    assert granted == PER_HOUR
    assert wait > HOUR - 3 * MINUTE
    with pytest.raises(ratelimit.QuotaExhausted):
        ratelimit.acquire(max_wait=MINUTE)


def test_it_counts_a_call_from_its_answer_not_its_grant(clock):
    # A slow call: granted at 0, answered 0.4 s later (the API saw it some time in between).
    slow = ratelimit.acquire()
    clock.advance(0.4)
    slow.answered()
    for _ in range(PER_MINUTE - 1):
        assert _answered_call() == 0.0
    # A minute after the grant the API may still count the slow call: so do we.
    clock.advance(MINUTE - 0.3)
    assert _answered_call() == pytest.approx(0.3)
    clock.advance(0.3)
    assert _answered_call() == 0.0


def test_it_holds_the_slot_of_a_call_still_on_its_way(clock):
    with ratelimit.call():
        assert ratelimit.headroom() == PER_MINUTE - 1
        # Minutes pass and the answer has not come: the API may yet count the call now.
        clock.advance(3 * MINUTE)
        assert ratelimit.headroom() == PER_MINUTE - 1
    # Counted from the end of the block: the window holds it one more minute.
    clock.advance(MINUTE - 0.01)
    assert ratelimit.headroom() == PER_MINUTE - 1
    clock.advance(0.02)
    assert ratelimit.headroom() == PER_MINUTE


def test_it_makes_every_caller_wait_after_a_429(clock):
    ratelimit.pause_until(30)
    clock.advance(10)
    assert _answered_call() == pytest.approx(20)
    with pytest.raises(ratelimit.QuotaExhausted):
        ratelimit.acquire(max_wait=5)
    # A shorter Retry-After later does not shorten the pause already in force.
    ratelimit.pause_until(1)
    assert _answered_call() == pytest.approx(20)
    clock.advance(20)
    assert _answered_call() == 0.0


def test_it_reports_headroom_for_pacing_work(clock):
    assert ratelimit.headroom() == PER_MINUTE
    _answered_call()
    _answered_call()
    assert ratelimit.headroom() == PER_MINUTE - 2
    ratelimit.pause_until(0.5)
    assert ratelimit.headroom() == 0


def _hammer(seconds: float, out) -> None:
    # The moment a call "reaches the API" lies between its grant and its answer: here, an
    # instant taken in between, which the test then checks as the API would.
    arrivals = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        wait, grant = ratelimit.try_acquire()
        if grant is None:
            time.sleep(min(wait, 0.01))
            continue
        arrivals.append(time.time())
        grant.answered()
    out.put(arrivals)


def _pause_from_another_process(seconds: float) -> None:
    ratelimit.pause_until(seconds)


def test_it_shares_one_quota_between_processes(limiter):
    # Real processes, real clock: a fake one cannot be shared. Two minutes' worth of hammering.
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_hammer, args=(2.5 * MINUTE, out)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=30) for _ in procs]
    for p in procs:
        p.join(timeout=10)
    arrivals = sorted(t for r in results for t in r)
    # Together they got the hour's 8, not 8 each...
    assert len(arrivals) == PER_HOUR
    # ...and no minute window of the API's ever held more than its limit.
    for first, last in zip(arrivals, arrivals[PER_MINUTE:], strict=False):
        assert last - first >= 60 / SCALE, f"{PER_MINUTE + 1} calls within a minute"


def test_it_pauses_callers_in_other_processes_after_a_429(limiter):
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_pause_from_another_process, args=(30,))
    p.start()
    p.join(timeout=10)
    assert ratelimit.try_acquire()[0] > 25
