"""The Admin API quota: 100/minute and 1000/hour per organization key, as an exact sliding log."""

from __future__ import annotations

import time

from sandbox.ratelimit import SlidingLogLimiter


def test_it_refuses_the_101st_request_in_a_minute_with_retry_after(sandbox):
    statuses = [sandbox.admin("GET", "/api/admin/tenants").status_code for _ in range(100)]
    assert statuses == [200] * 100
    refused = sandbox.admin("GET", "/api/admin/tenants")
    assert refused.status_code == 429
    retry_after = refused.headers["Retry-After"]
    assert retry_after.isdigit()
    assert 1 <= int(retry_after) <= 60
    assert "Rate limit exceeded" in refused.json()["detail"]


def test_it_counts_every_admin_call_but_not_the_tenant_api(sandbox):
    sandbox.configure(rate_per_minute=3)
    tenant, key = sandbox.create_tenant_with_key("acme")  # 2 admin calls
    with sandbox.tenant_client(key) as client:
        for _ in range(5):
            assert client.get("/api/me/").status_code == 200
    assert sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}").status_code == 200
    assert sandbox.admin("GET", f"/api/admin/tenants/{tenant['id']}").status_code == 429


def test_it_compresses_time_with_the_time_scale(sandbox):
    """SANDBOX_TIME_SCALE=60 makes a minute last one second: the same quota, 60x faster."""
    sandbox.configure(rate_per_minute=5, time_scale=60)
    assert [sandbox.admin("GET", "/api/admin/tenants").status_code for _ in range(5)] == [200] * 5
    refused = sandbox.admin("GET", "/api/admin/tenants")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "1"
    time.sleep(1.05)
    assert sandbox.admin("GET", "/api/admin/tenants").status_code == 200


def test_it_enforces_the_hourly_window_too(sandbox):
    sandbox.configure(rate_per_minute=100, rate_per_hour=4, time_scale=3600)  # an hour = 1 s
    assert [sandbox.admin("GET", "/api/admin/tenants").status_code for _ in range(4)] == [200] * 4
    assert sandbox.admin("GET", "/api/admin/tenants").status_code == 429
    time.sleep(1.05)
    assert sandbox.admin("GET", "/api/admin/tenants").status_code == 200


def test_it_forgets_the_quota_on_reset(sandbox):
    sandbox.configure(rate_per_minute=1)
    sandbox.admin("GET", "/api/admin/tenants")
    assert sandbox.admin("GET", "/api/admin/tenants").status_code == 429
    sandbox.reset()
    assert sandbox.config()["rate_per_minute"] == 100
    assert sandbox.admin("GET", "/api/admin/tenants").status_code == 200


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_it_slides_the_window_exactly():
    clock = FakeClock()
    limiter = SlidingLogLimiter(clock)
    windows = [(100, 60.0)]
    for second in range(100):  # one request per 0.5 s: 100 requests in 49.5 s
        clock.now = second * 0.5
        assert limiter.hit("org", windows) is None
    clock.now = 50.0
    wait = limiter.hit("org", windows)
    assert wait == 10.0  # the first request (t=0) leaves the window at t=60
    clock.now = 59.99
    assert limiter.hit("org", windows) is not None  # refused requests are not recorded
    clock.now = 60.0001
    assert limiter.hit("org", windows) is None
    assert limiter.hit("other-org", windows) is None  # each key has its own log


def test_it_reports_the_longest_wait_when_both_windows_are_full():
    clock = FakeClock()
    limiter = SlidingLogLimiter(clock)
    windows = [(2, 60.0), (3, 3600.0)]
    for moment in (0.0, 1.0, 100.0):
        clock.now = moment
        assert limiter.hit("org", windows) is None
    clock.now = 101.0
    assert limiter.hit("org", windows) == 3499.0  # the hour frees its first slot at t=3600
