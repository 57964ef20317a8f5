"""R2: 200 onboardings through 20 % server errors, latency, lost answers and a 429 burst all
complete, with no duplicate tenant or key. The job steps run in this process (as a worker
would run them, one after another) against the sandbox enforcing a time-scaled quota."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.utils import timezone

from jobs.models import JobState
from tenants.models import ApiKey
from tenants.models.jobs import OnboardingJob
from tenants.onboarding import steps as onboarding
from tests.tenants.jobs.conftest import customer, key_works, remote_keys

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
N = int(__import__("os").environ.get("R2_N", 200))
SCALE = 60


def test_it_completes_every_onboarding_through_faults_without_duplicates(on_sandbox, settings):
    # The sandbox enforces a quota on a clock running 60x (a "minute" lasts one second); ours
    # is the same. The hour allows 5000 so that the test does not wait out an hour window.
    on_sandbox.configure(time_scale=SCALE, rate_per_minute=100, rate_per_hour=5000)
    settings.RATE_LIMIT_TIME_SCALE = SCALE
    settings.EINVOICE_RATE_PER_HOUR = 5000
    on_sandbox.set_faults(
        error_rate=0.2,
        drop_after_write_rate=0.03,
        latency_ms=1,
        latency_jitter_ms=6,
        seed=7,
        rules=[{"path": "/api/admin/*", "status": 429, "times": 3, "retry_after": 1}],
    )
    for i in range(N):
        onboarding.start(customer(i), register_peppol=True, kick=False)

    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        due = list(
            OnboardingJob.objects.filter(
                state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=timezone.now()
            ).values_list("pk", flat=True)
        )
        if not due:
            if not OnboardingJob.objects.exclude(
                state__in=[JobState.SUCCEEDED, JobState.FAILED]
            ).exists():
                break
            time.sleep(0.05)
        for pk in due:
            onboarding.run(pk)

    jobs = list(OnboardingJob.objects.select_related("api_key"))
    assert Counter(j.state for j in jobs) == {JobState.SUCCEEDED: N}, [
        j.last_error for j in jobs if j.state != JobState.SUCCEEDED
    ][:5]
    on_sandbox.clear_faults()
    on_sandbox.configure(rate_per_minute=0, rate_per_hour=0)  # the checks below are not ours
    log = on_sandbox.requests()
    print(f"{len(log)} Admin API requests, {Counter(r['status'] for r in log)}")
    assert sum(1 for r in log if r["status"] == 503) > 50  # the faults did happen
    assert sum(1 for r in log if r.get("fault", "") and "drop_after_write" in r["fault"]) > 5
    # Only the injected burst was refused: the limiter kept us under the quota.
    assert [r for r in log if r["status"] == 429 and not r.get("fault")] == []

    remote = on_sandbox.admin("GET", "/api/admin/tenants", params={"limit": 1000}).json()
    assert remote["total"] == N
    assert len({t["company_number"] for t in remote["tenants"]}) == N
    for job in jobs:
        keys = remote_keys(on_sandbox, job.remote_tenant_id)
        live = [k for k in keys if not k["is_deleted"]]
        assert [k["id"] for k in live] == [job.api_key.remote_id]
    assert ApiKey.objects.filter(is_current=True).count() == N
    for job in jobs[:: N // 20]:  # a sample: each call is a tenant API request
        assert key_works(on_sandbox, job.api_key.reveal_value())
    assert sum(j.adopted for j in jobs) + sum(j.orphans_revoked for j in jobs) > 0
