"""Where things happen, one event each: a job failed, a batch finished, a key is due, a
Peppol registration changed. Staff hear about them by their settings."""

from __future__ import annotations

from django.core import mail

from jobs import runner
from notifications.models import Event
from tenants import peppol, rotation
from tenants.models import PeppolState
from tenants.models.jobs import BulkOnboarding, KeyRotation, OnboardingJob
from tests.notifications.conftest import drive


def _fail(job: OnboardingJob) -> OnboardingJob:
    claimed = runner.claim(OnboardingJob, job.pk)

    def step(_job):
        raise runner.PermanentFailure("The company number is not valid.")

    runner.execute(claimed, step)
    return claimed


def test_it_tells_staff_at_once_that_a_job_failed(alice, otto):
    job = _fail(OnboardingJob.objects.create(name="customer-1", company_number="0403170701"))
    event = Event.objects.get(kind="job.failed")
    assert event.data["job"]["error"] == "The company number is not valid."
    drive()
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, otto.email]
    assert f"/staff/jobs/{job.pk}/" in mail.outbox[0].body
    assert "The company number is not valid." in mail.outbox[0].body


def test_it_says_once_that_a_batch_finished(alice):
    batch = BulkOnboarding.objects.create(file_name="customers.csv")
    jobs = [
        OnboardingJob.objects.create(batch=batch, row_number=n, name=f"c-{n}", company_number="")
        for n in (2, 3)
    ]
    _fail(jobs[0])
    assert not Event.objects.filter(kind="batch.finished").exists()  # one still queued
    _fail(jobs[1])
    [event] = Event.objects.filter(kind="batch.finished")
    assert event.data["batch"] == {
        "id": batch.pk,
        "file": "customers.csv",
        "total": 2,
        "succeeded": 0,
        "failed": 2,
    }
    drive()
    assert any("customers.csv finished: 0 of 2 onboarded" in m.body for m in mail.outbox)


def test_it_records_peppol_news_once_per_change(acme):
    peppol.set_state(acme, PeppolState.REGISTERING, "system")
    peppol.set_state(acme, PeppolState.REGISTERED, "system")
    peppol.set_state(acme, PeppolState.REGISTERED, "system")  # no change
    peppol.set_state(acme, PeppolState.HELD_ELSEWHERE, "system", reason="held by AP x")
    peppol.set_state(acme, PeppolState.UNREGISTERED, "system")
    assert list(Event.objects.order_by("pk").values_list("kind", flat=True)) == [
        "peppol.registered",
        "peppol.held_elsewhere",
        "peppol.released",
    ]


def test_it_says_a_key_is_due_when_the_schedule_rotates_it(acme):
    rotation.start(acme, reason=KeyRotation.REASON_SCHEDULE)
    assert Event.objects.filter(kind="key.due", tenant=acme).count() == 1
    KeyRotation.objects.update(state="succeeded")
    rotation.start(acme, reason=KeyRotation.REASON_MANUAL)  # staff asked: not news
    assert Event.objects.filter(kind="key.due").count() == 1


def test_it_says_once_a_day_that_a_tenants_credit_runs_low(alice, acme, globex):
    from notifications import tasks
    from usage.models import UsageCollection

    UsageCollection.objects.create(
        tenant=acme, credit_balance=12, average_daily_usage=4.0, budget_estimation_days=3.0
    )
    UsageCollection.objects.create(
        tenant=globex, credit_balance=9000, average_daily_usage=4.0, budget_estimation_days=2250
    )
    assert tasks.check_credit() == 1
    assert tasks.check_credit() == 1  # the same day: no second event
    [event] = Event.objects.filter(kind="credit.low")
    assert event.tenant == acme and event.data["credit"] == {"balance": 12, "days_left": 3.0}
    drive()
    [message] = mail.outbox
    assert message.to == [alice.email]
    assert "acme is running low: 12 credits left, about 3.0 days" in message.body


def test_it_keeps_quiet_about_the_usage_collections_failures(alice, acme):
    from usage.models import UsageCollection

    collection = UsageCollection.objects.create(tenant=acme)
    claimed = runner.claim(UsageCollection, collection.pk)

    def step(_job):
        raise runner.PermanentFailure("No usable key.")

    runner.execute(claimed, step)
    assert UsageCollection.objects.get().state == "failed"
    assert not Event.objects.exists()
