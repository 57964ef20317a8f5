"""Fixtures of the worker tests: fast retries, no message to the project's broker, and helpers
that drive jobs the way the workers do (claim, run, come back when due)."""

from __future__ import annotations

from unittest import mock

import httpx
import pytest
from django.utils import timezone

from jobs.models import JobState
from tenants.models.jobs import OnboardingJob
from tenants.onboarding import steps as onboarding


@pytest.fixture(autouse=True)
def no_broker():
    """No test here sends to the project's broker: task messages go to mocks (the tests that
    need a real worker start one on a broker of their own)."""
    from tenants import tasks

    names = (
        "dispatch_jobs",
        "run_onboarding",
        "run_rotation",
        "run_peppol_watch",
        "run_bulk_item",
        "reconcile_mirror",
    )
    patches = [mock.patch.object(getattr(tasks, n), "delay") for n in names]
    for p in patches:
        p.start()
    yield
    for p in patches:
        p.stop()


@pytest.fixture(autouse=True)
def fast_jobs(settings):
    """On top of the root conftest's private quota (own_quota): a thin limiter margin and
    job retries in milliseconds."""
    settings.RATE_LIMIT_MARGIN_SECONDS = 0.05
    settings.JOBS_RETRY_BASE_SECONDS = 0.01
    settings.JOBS_RETRY_MAX_SECONDS = 0.05


@pytest.fixture
def on_sandbox(portal_on_sandbox):
    return portal_on_sandbox


def customer(i: int, **extra) -> dict:
    """A valid Belgian customer: enterprise number with its mod-97 check digits."""
    base = 2_000_000 + i
    number = f"0{base:07d}{97 - (base % 97):02d}"
    return {
        "name": f"customer-{i:04d}",
        "description": f"Customer {i} BV",
        "company_number": number,
        "company_tax_id": f"BE{number}",
        "peppol_id": f"0208:{number}",
        **extra,
    }


def start(data: dict, register_peppol: bool = True) -> OnboardingJob:
    return onboarding.start(data, register_peppol=register_peppol)


def run_until_finished(job: OnboardingJob, max_runs: int = 20) -> OnboardingJob:
    """Run the job like a worker would, ignoring backoff waits (tests have no time to lose)."""
    for _ in range(max_runs):
        OnboardingJob.objects.filter(pk=job.pk, state=JobState.WAITING).update(
            next_attempt_at=timezone.now()
        )
        onboarding.run(job.pk)
        job.refresh_from_db()
        if job.state in (JobState.SUCCEEDED, JobState.FAILED):
            return job
    return job


def admin_calls(sandbox) -> list[dict]:
    return [r for r in sandbox.requests() if r["path"].startswith("/api/admin/")]


def remote_keys(sandbox, tenant_id: str) -> list[dict]:
    return sandbox.admin("GET", f"/api/admin/tenants/{tenant_id}/api-keys").json()["api_keys"]


# One client for every check: a new one builds an SSL context (~50 ms) even for http://.
_http = httpx.Client(timeout=5)


def key_works(sandbox, value: str) -> bool:
    response = _http.get(f"{sandbox.url}/api/me/", headers={"Authorization": f"Bearer {value}"})
    return response.status_code == 200
