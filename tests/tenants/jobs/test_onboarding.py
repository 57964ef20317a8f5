"""One onboarding against the sandbox: the three steps, lost answers, conflicts, errors."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.models import AuditEntry
from einvoice import quota as ratelimit
from jobs import runner
from jobs.models import JobState
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import OnboardingJob, OnboardingStep, PeppolOutcome
from tenants.onboarding import steps as onboarding
from tests.tenants.jobs.conftest import (
    admin_calls,
    customer,
    key_works,
    remote_keys,
    run_until_finished,
    start,
)

pytestmark = pytest.mark.django_db


def test_it_onboards_a_customer_in_three_calls(on_sandbox):
    job = run_until_finished(start(customer(1)))

    assert job.state == JobState.SUCCEEDED
    assert job.step == OnboardingStep.DONE
    assert job.peppol_outcome == "registered"
    tenant = Tenant.objects.get(remote_id=job.remote_tenant_id)
    assert tenant.name == "customer-0001" and tenant.peppol.registered
    key = tenant.current_key()
    assert key is not None and key == job.api_key
    assert key_works(on_sandbox, key.reveal_value())
    assert [(c["method"], c["status"]) for c in admin_calls(on_sandbox)] == [
        ("POST", 201),
        ("POST", 201),
        ("POST", 200),
    ]
    actions = list(AuditEntry.objects.values_list("action", flat=True))
    assert {"onboarding.start", "tenant.create", "key.create", "peppol.register"} <= set(actions)


def test_it_adopts_its_own_tenant_when_the_create_answer_was_lost(on_sandbox):
    on_sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants", "action": "drop_after_write"}]
    )

    job = run_until_finished(start(customer(2)))

    # Found by its name and company right after the lost answer: no second create.
    assert job.state == JobState.SUCCEEDED and job.adopted and job.attempts == 1
    creates = [r for r in admin_calls(on_sandbox) if r["path"] == "/api/admin/tenants"]
    assert [r["method"] for r in creates] == ["POST", "GET"]
    remote = on_sandbox.admin("GET", "/api/admin/tenants").json()
    assert [t["name"] for t in remote["tenants"]] == ["customer-0002"]
    assert Tenant.objects.count() == 1
    assert AuditEntry.objects.filter(action="tenant.adopt").count() == 1


def test_it_adopts_on_the_next_run_when_the_lookup_failed_too(on_sandbox, settings):
    settings.EINVOICE_READ_ATTEMPTS = 1
    on_sandbox.set_faults(
        rules=[
            {"method": "POST", "path": "/api/admin/tenants", "action": "drop_after_write"},
            {"method": "GET", "path": "/api/admin/tenants", "status": 503},
        ]
    )
    job = start(customer(2))
    onboarding.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.WAITING and "Admin API" in job.last_error

    job = run_until_finished(job)

    assert job.state == JobState.SUCCEEDED and job.adopted
    remote = on_sandbox.admin("GET", "/api/admin/tenants").json()
    assert [t["name"] for t in remote["tenants"]] == ["customer-0002"]
    assert Tenant.objects.count() == 1


def test_it_stops_when_the_name_belongs_to_another_company(on_sandbox):
    on_sandbox.create_tenant_with_key("customer-0003", company_number="0403170701")

    job = run_until_finished(start(customer(3)))

    assert job.state == JobState.FAILED
    assert "already taken by another company" in job.last_error
    assert "Choose another name, e.g." in job.last_error
    assert job.field_errors["name"]
    assert not Tenant.objects.exists()


def test_it_revokes_the_orphan_key_whose_answer_was_lost(on_sandbox):
    on_sandbox.set_faults(
        rules=[
            {
                "method": "POST",
                "path": "/api/admin/tenants/*/api-keys",
                "action": "drop_after_write",
            }
        ]
    )

    job = run_until_finished(start(customer(4)))

    assert job.state == JobState.SUCCEEDED
    assert job.orphans_revoked == 1
    keys = remote_keys(on_sandbox, job.remote_tenant_id)
    assert len(keys) == 2 and all(k["name"] == job.key_name for k in keys)
    live = [k for k in keys if not k["is_deleted"]]
    assert len(live) == 1 and live[0]["id"] == job.api_key.remote_id
    assert key_works(on_sandbox, ApiKey.objects.get(pk=job.api_key_id).reveal_value())


def test_it_keeps_the_stored_key_when_the_crash_came_after_the_commit(on_sandbox):
    job = start(customer(5))
    onboarding.run(job.pk)
    job.refresh_from_db()
    # As if the worker died after storing the key but before the job row moved on.
    OnboardingJob.objects.filter(pk=job.pk).update(
        step=OnboardingStep.CREATE_KEY, state=JobState.WAITING, step_attempts=1, api_key=None
    )

    job = run_until_finished(job)

    assert job.state == JobState.SUCCEEDED and job.orphans_revoked == 0
    assert [k["is_deleted"] for k in remote_keys(on_sandbox, job.remote_tenant_id)] == [False]
    assert ApiKey.objects.get().is_current


def test_it_fails_at_once_with_the_field_message_on_a_validation_error(on_sandbox):
    job = run_until_finished(start(customer(6, name="Not A Valid Name")))

    assert job.state == JobState.FAILED
    assert job.attempts == 1
    assert "name" in job.field_errors
    assert not Tenant.objects.exists()


def test_it_retries_server_errors_with_backoff(on_sandbox, settings):
    settings.JOBS_RETRY_BASE_SECONDS = 30
    settings.JOBS_RETRY_MAX_SECONDS = 600
    on_sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants", "status": 503, "times": 2}]
    )
    job = start(customer(7))
    onboarding.run(job.pk)
    job.refresh_from_db()

    assert job.state == JobState.WAITING and job.retries == 1
    assert 14 <= (job.next_attempt_at - timezone.now()).total_seconds() <= 31
    assert "503" in job.last_error
    # Not due yet: a worker that gets the message now leaves it alone.
    assert onboarding.run(job.pk) is None

    job = run_until_finished(job)
    assert job.state == JobState.SUCCEEDED and job.retries == 0


def test_it_waits_for_the_shared_quota_without_calling_the_api(on_sandbox):
    ratelimit.pause_until(30)
    job = start(customer(8))
    onboarding.run(job.pk)
    job.refresh_from_db()

    assert job.state == JobState.WAITING and job.retries == 0
    assert 25 <= (job.next_attempt_at - timezone.now()).total_seconds() <= 35
    assert admin_calls(on_sandbox) == []


def test_it_spends_no_call_on_a_recheck_after_the_quota_ran_out(on_sandbox, settings):
    # Two calls left: the tenant and its key; the registration finds no quota and waits.
    settings.EINVOICE_RATE_PER_MINUTE = 2
    job = start(customer(13))
    onboarding.run(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.WAITING and job.step == OnboardingStep.REGISTER_PEPPOL
    before = len(admin_calls(on_sandbox))

    ratelimit.reset()  # the minute has passed
    job = run_until_finished(job)

    # Nothing had been sent for the registration: no status read before it.
    calls = admin_calls(on_sandbox)[before:]
    assert job.state == JobState.SUCCEEDED
    assert [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in calls] == [("POST", "register")]


def test_it_skips_peppol_for_a_test_mode_tenant_and_says_why(on_sandbox):
    job = run_until_finished(start(customer(9, test_mode=True)))

    assert job.state == JobState.SUCCEEDED
    assert job.peppol_outcome == PeppolOutcome.SKIPPED_TEST_MODE
    assert len(admin_calls(on_sandbox)) == 2


def test_it_checks_the_registration_first_when_resuming_that_step(on_sandbox):
    job = start(customer(10))
    onboarding.run(job.pk)
    job.refresh_from_db()
    # The registration went through but the worker died before recording it.
    OnboardingJob.objects.filter(pk=job.pk).update(
        step=OnboardingStep.REGISTER_PEPPOL, state=JobState.WAITING, step_attempts=1
    )
    before = len(admin_calls(on_sandbox))

    job = run_until_finished(job)

    calls = admin_calls(on_sandbox)[before:]
    assert job.state == JobState.SUCCEEDED and job.peppol_outcome == "registered"
    assert [(c["method"], c["path"].rsplit("/", 1)[-1]) for c in calls] == [("GET", "status")]


def test_it_runs_a_step_once_when_two_workers_get_the_same_message(on_sandbox):
    job = start(customer(11))
    first = runner.claim(OnboardingJob, job.pk)
    second = runner.claim(OnboardingJob, job.pk)

    assert first is not None and second is None


def test_it_lets_staff_retry_a_failed_job_from_its_step(on_sandbox):
    on_sandbox.set_faults(
        rules=[{"method": "POST", "path": "/api/admin/tenants/*/peppol/register", "status": 409}]
    )
    job = run_until_finished(start(customer(12)))
    assert job.state == JobState.FAILED and job.step == OnboardingStep.REGISTER_PEPPOL
    # What happened and what to do, not the bare status.
    assert f"Peppol ID {job.peppol_id} is already registered" in job.last_error

    assert onboarding.retry(job)
    job = run_until_finished(job)

    assert job.state == JobState.SUCCEEDED
    assert Tenant.objects.count() == 1 and ApiKey.objects.count() == 1


def test_it_does_not_adopt_a_company_the_portal_already_onboarded(on_sandbox):
    first = run_until_finished(start(customer(13)))
    assert first.state == JobState.SUCCEEDED

    again = run_until_finished(start(customer(13)))

    assert again.state == JobState.FAILED
    assert "already a tenant of the portal" in again.last_error
    assert ApiKey.objects.count() == 1 and again.api_key_id is None


def test_it_does_not_adopt_a_deleted_tenant(on_sandbox):
    data = customer(14)
    tenant, _key = on_sandbox.create_tenant_with_key(
        data["name"], company_number=data["company_number"], company_tax_id=data["company_tax_id"]
    )
    on_sandbox.admin("DELETE", f"/api/admin/tenants/{tenant['id']}")

    job = run_until_finished(start(data))

    assert job.state == JobState.FAILED and "deleted tenant" in job.last_error
