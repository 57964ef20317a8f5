"""Feeding jobs to the workers: bounded in-flight, paced by the quota, sweeping what dead
workers left behind."""

from __future__ import annotations

import time
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from einvoice import quota as ratelimit
from jobs import dispatcher, runner
from jobs.models import JobState
from tenants import tasks
from tenants.models.jobs import OnboardingJob, OnboardingStep
from tenants.onboarding import steps as onboarding_steps
from tests.tenants.jobs.conftest import customer, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent():
    """The task messages the dispatcher sends after its commit (to mocks, not a broker)."""
    with (
        mock.patch.object(tasks.run_onboarding, "delay") as onboarding,
        mock.patch.object(tasks.run_rotation, "delay") as rotation,
    ):
        yield lambda: [c.args[0] for c in onboarding.call_args_list + rotation.call_args_list]


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Call a function and run what it left for after the commit (the test itself runs in a
    transaction that never commits)."""

    def call(fn, *args):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args)

    return call


def test_it_releases_no_more_than_the_in_flight_limit(settings, sent, committed):
    settings.JOBS_MAX_IN_FLIGHT = 3
    jobs = [start(customer(i)) for i in range(10)]

    assert committed(dispatcher.dispatch) == 3
    assert committed(dispatcher.dispatch) == 0  # nothing finished: no free slot
    assert sent() == [j.pk for j in jobs[:3]]
    assert dispatcher.in_flight() == 3

    # One run ends: its slot frees and the next job in line goes.
    job = runner.claim(OnboardingJob, jobs[0].pk)
    runner.save_progress(job, step=OnboardingStep.DONE)
    runner.execute(job, lambda j: True)
    assert committed(dispatcher.dispatch) == 1 and sent()[-1] == jobs[3].pk


def test_it_releases_nothing_while_the_quota_is_paused(settings, sent, committed):
    start(customer(1))
    ratelimit.pause_until(30)
    assert committed(dispatcher.dispatch) == 0 and sent() == []


def test_it_releases_a_job_only_when_the_quota_covers_all_its_calls(settings, sent, committed):
    # 5 calls left this minute: one onboarding (3 calls) fits, a second would stop halfway.
    settings.EINVOICE_RATE_PER_MINUTE = 5
    first, second, third = (start(customer(i)) for i in range(3))
    # The third only has its registration left: one call, which the quota still covers.
    OnboardingJob.objects.filter(pk=third.pk).update(step=OnboardingStep.REGISTER_PEPPOL)

    assert committed(dispatcher.dispatch) == 2
    assert sent() == [first.pk, third.pk]
    # Two calls are still free, but the jobs out will take them: the second waits its turn.
    assert committed(dispatcher.dispatch) == 0


def test_it_counts_the_calls_of_jobs_already_out_against_the_quota(settings, sent, committed):
    settings.EINVOICE_RATE_PER_MINUTE = 5
    first, second = start(customer(1)), start(customer(2))
    committed(dispatcher.dispatch)
    running = runner.claim(OnboardingJob, first.pk)
    ratelimit.acquire().answered()  # its tenant is created: 2 calls to come, 4 free
    runner.save_progress(running, step=OnboardingStep.CREATE_KEY, step_attempts=1)

    assert committed(dispatcher.dispatch) == 0  # 4 - 2 leaves 2: not enough for 3
    runner.save_progress(running, step=OnboardingStep.DONE)
    runner.execute(running, lambda j: True)
    assert committed(dispatcher.dispatch) == 1 and sent() == [first.pk, second.pk]


def test_it_holds_back_jobs_that_are_not_due(sent, committed):
    job = start(customer(1))
    OnboardingJob.objects.filter(pk=job.pk).update(
        state=JobState.WAITING, next_attempt_at=timezone.now() + timedelta(minutes=5)
    )
    assert committed(dispatcher.dispatch) == 0


def test_it_requeues_a_job_whose_worker_died(settings, sent, committed):
    job = start(customer(1))
    claimed = runner.claim(OnboardingJob, job.pk)
    OnboardingJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(1))

    result = committed(dispatcher.sweep)

    job.refresh_from_db()
    assert result["stale"] == 1 and result["released"] == 1
    assert job.state == JobState.WAITING and job.owner == "" and sent() == [job.pk]
    # The dead run can no longer write: its claim is gone.
    with pytest.raises(runner.LeaseLost):
        runner.save_progress(claimed, step=OnboardingStep.CREATE_KEY)
    # The next run knows an earlier run may have half-done the step.
    assert runner.claim(OnboardingJob, job.pk).step_attempts == 2


def test_it_resends_a_job_whose_message_was_lost(settings, sent, committed):
    settings.JOBS_DISPATCH_TIMEOUT_SECONDS = 60
    job = start(customer(1))
    OnboardingJob.objects.filter(pk=job.pk).update(
        dispatched_at=timezone.now() - timedelta(minutes=5)
    )

    result = committed(dispatcher.sweep)

    assert result["lost"] == 1 and sent() == [job.pk]


def test_it_feeds_the_next_job_when_a_run_ends(on_sandbox, settings, sent, committed):
    settings.JOBS_MAX_IN_FLIGHT = 1
    first, second = start(customer(1)), start(customer(2))
    committed(dispatcher.dispatch)

    committed(tasks.run_onboarding, first.pk)  # the task body, as a worker runs it

    first.refresh_from_db()
    assert first.state == JobState.SUCCEEDED
    assert sent() == [first.pk, second.pk]


# Real commits: the events are released when the run's transactions commit, inside the task.
@pytest.mark.django_db(transaction=True)
def test_an_onboardings_events_are_fanned_out_in_its_own_task(on_sandbox, sent):
    from notifications import tasks as notification_tasks
    from notifications.models import Event

    job = start(customer(1))
    tasks.run_onboarding(job.pk)

    event = Event.objects.get(kind="peppol.registered")
    assert event.state == JobState.SUCCEEDED
    assert not notification_tasks.run_event.delay.called  # no task of its own


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_leaves_an_onboardings_events_to_a_task(on_sandbox, sent, monkeypatch):
    from jobs import local
    from notifications import tasks as notification_tasks
    from notifications.models import Event

    job = start(customer(1))
    with local.run_here() as events:
        onboarding_steps.run(job.pk)
    monkeypatch.setattr(local.stopping, "is_set", lambda: True)
    local.run_pending(events)

    event = Event.objects.get(kind="peppol.registered")
    assert event.state == JobState.QUEUED
    notification_tasks.run_event.delay.assert_called_once_with(event.pk)


def test_it_requeues_a_dead_workers_job_on_the_next_dispatch_tick(sent, committed):
    job = start(customer(1))
    runner.claim(OnboardingJob, job.pk)
    OnboardingJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(1))
    assert OnboardingJob.objects.get(pk=job.pk).is_stalled  # the job page says so

    committed(tasks.dispatch_jobs)  # beat, every few seconds: not a minute later

    job.refresh_from_db()
    assert job.state == JobState.WAITING and not job.is_stalled and sent() == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_it_keeps_the_lease_of_a_slow_step_alive(settings):
    # A short lease finds dead workers fast; a live run renews it while its step waits.
    settings.JOBS_LEASE_SECONDS = 0.3
    job = runner.claim(OnboardingJob, start(customer(1)).pk)
    swept: list[int] = []

    def slow_step(j: OnboardingJob) -> bool:
        for _ in range(6):
            time.sleep(0.1)
            swept.append(dispatcher.sweep()["stale"])
        return True

    runner.execute(job, slow_step)

    job.refresh_from_db()
    assert swept == [0] * 6 and job.state == JobState.SUCCEEDED
