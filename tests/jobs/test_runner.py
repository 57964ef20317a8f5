"""A run that our limiter stops: whether the next run of the step must re-check its work."""

from __future__ import annotations

import pytest

from einvoice import quota as ratelimit
from einvoice.errors import QuotaUnavailable
from jobs import runner
from jobs.models import JobState
from tenants.models.jobs import OnboardingJob, OnboardingStep
from tests.tenants.jobs.conftest import customer, start

pytestmark = pytest.mark.django_db


def _at_registration(i: int) -> OnboardingJob:
    # A run that has just moved the job on to its registration (the step's first attempt).
    job = runner.claim(OnboardingJob, start(customer(i)).pk)
    runner.save_progress(job, step=OnboardingStep.REGISTER_PEPPOL, step_attempts=1)
    return job


def _refused(job: OnboardingJob) -> bool:
    raise QuotaUnavailable("The shared API quota is used up; retry in 1s.", retry_after=1)


def test_it_gives_back_the_attempt_when_the_limiter_refused_the_first_call():
    job = _at_registration(1)

    runner.execute(job, _refused)

    job.refresh_from_db()
    assert job.state == JobState.WAITING
    # Nothing went out: the next claim is the step's first real attempt, with no re-check.
    assert runner.claim(OnboardingJob, job.pk) is None  # not due yet
    OnboardingJob.objects.filter(pk=job.pk).update(next_attempt_at=job.created_at)
    assert runner.claim(OnboardingJob, job.pk).step_attempts == 1


def test_it_keeps_the_attempt_when_a_call_went_out_before_the_refusal():
    job = _at_registration(2)

    def registered_then_refused(j: OnboardingJob) -> bool:
        ratelimit.acquire().answered()  # the registration went out...
        return _refused(j)  # ...and the status read after it found no quota

    runner.execute(job, registered_then_refused)

    OnboardingJob.objects.filter(pk=job.pk).update(next_attempt_at=job.created_at)
    # The next run knows the registration may be done, and checks first.
    assert runner.claim(OnboardingJob, job.pk).step_attempts == 2
