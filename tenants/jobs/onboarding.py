"""One onboarding: create tenant → create API key → register on Peppol, nothing lost.

The Admin API has no idempotency keys and shows a key's value once, so every step is safe to
re-run after any crash or lost answer (design-notes §1):

- create_tenant: a 409 means the name exists. If that tenant is ours (same company number /
  VAT number: a retry after a lost answer) the job adopts it; otherwise it stops and says so.
- create_key: the key's name carries the job (tenants.jobs.keys). On any run after the
  first, the job lists the tenant's keys; one with this job's name that the portal does not
  hold is an orphan from a lost answer and is revoked. The new key is stored encrypted and
  the step advanced in one transaction: a crash before that commit leaves an orphan for the
  next run to revoke, a crash after it a stored, working key.
- register_peppol: skipped (with the reason) when not requested or for a test-mode tenant;
  otherwise the status is checked first whenever an earlier run may have registered.

Three Admin API calls for a fresh customer (create, key, register): the quota is the limit.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tenants import admin_api, audit, services
from tenants.jobs import keys, runner
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import JobState, OnboardingJob, OnboardingStep, PeppolOutcome

logger = logging.getLogger(__name__)


def run(job_id: int) -> OnboardingJob | None:
    """Claim the job and run its remaining steps; returns the job, or None if not claimed."""
    job = runner.claim(OnboardingJob, job_id)
    if job is None:
        return None
    with admin_api.quota_wait(0):  # never sleep in a worker: come back when there is quota
        runner.execute(job, run_step)
    return job


def run_step(job: OnboardingJob) -> bool:
    """Run the job's current step; True once every step is done."""
    if job.step == OnboardingStep.CREATE_TENANT:
        create_tenant(job)
    elif job.step == OnboardingStep.CREATE_KEY:
        create_key(job)
    elif job.step == OnboardingStep.REGISTER_PEPPOL:
        register_peppol(job)
    return job.step == OnboardingStep.DONE


def _advance(job: OnboardingJob, step: str, **fields: Any) -> None:
    # step_attempts=1: this run is the first to attempt the next step.
    runner.save_progress(job, step=step, step_attempts=1, retries=0, **fields)


# --- step 1 ---------------------------------------------------------------------------------
def _same_company(job: OnboardingJob, remote: dict) -> bool:
    def norm(value: Any) -> str:
        return re.sub(r"[^A-Z0-9]", "", str(value or "").upper())

    pairs = [
        (job.company_number, remote.get("company_number")),
        (job.company_tax_id, remote.get("company_tax_id")),
    ]
    given = [(norm(a), norm(b)) for a, b in pairs if norm(a)]
    if given:
        return all(a == b for a, b in given)
    # No identifier requested: only the same company name can show it is ours.
    return bool(job.description) and job.description == (remote.get("description") or "")


def _similar(name: str) -> str:
    # The API calls names "similar" when they differ only in case and separators.
    return re.sub(r"[^a-z0-9]", "", name.lower())


def find_remote_tenant(name: str) -> dict | None:
    """The remote tenant whose name is (similar to) `name`, paging with the fewest calls."""
    wanted = _similar(name)
    for remote in admin_api.iter_tenants(page_size=100):
        if _similar(str(remote.get("name", ""))) == wanted:
            if "company_number" not in remote:  # the guide's list shows fewer fields
                remote = admin_api.get_tenant(remote["id"])
            return remote
    return None


def _check_adoptable(job: OnboardingJob, remote: dict) -> None:
    """Our company's tenant exists: adopt it only if it can be what this job created."""
    if remote.get("is_deleted"):
        raise runner.PermanentFailure(
            _(
                "A deleted tenant of this company is named %(name)s, and names stay taken after "
                "a delete. Start a new onboarding with another name, e.g. %(suggestion)s."
            )
            % {"name": job.name, "suggestion": services.suggest_free_name(job.name)},
            {"name": [_("This name belongs to a deleted tenant.")]},
        )
    local = Tenant.objects.filter(remote_id=remote["id"]).first()
    if local is None:
        return
    others = OnboardingJob.objects.filter(tenant=local).exclude(pk=job.pk).exists()
    if others or local.api_keys.filter(is_current=True).exclude(encrypted_value="").exists():
        raise runner.PermanentFailure(
            _(
                "This company is already a tenant of the portal (%(name)s). Open the tenant "
                "instead of onboarding it again."
            )
            % {"name": local.name}
        )


def create_tenant(job: OnboardingJob) -> None:
    if job.remote_tenant_id:  # learned by an earlier run
        tenant = Tenant.objects.filter(remote_id=job.remote_tenant_id).first()
        if tenant is None:
            tenant = services.mirror_tenant(admin_api.get_tenant(job.remote_tenant_id))
        _advance(job, OnboardingStep.CREATE_KEY, tenant=tenant)
        return
    fields: dict[str, Any] = {
        "name": job.name,
        "description": job.description or None,
        "company_number": job.company_number or None,
        "company_tax_id": job.company_tax_id or None,
        "peppol_ids": [job.peppol_id] if job.peppol_id else None,
        "test_mode": job.test_mode,
    }
    adopted = False
    try:
        remote = admin_api.create_tenant(**fields)
    except admin_api.Conflict:
        remote = find_remote_tenant(job.name)
        if remote is None or not _same_company(job, remote):
            audit.record(
                "tenant.create",
                target=job.name,
                actor_label=job.actor_label,
                outcome="error",
                error="name taken by another company",
            )
            raise runner.PermanentFailure(
                _(
                    "The name %(name)s is already taken by another company. Choose another "
                    "name, e.g. %(suggestion)s, and start a new onboarding."
                )
                % {"name": job.name, "suggestion": services.suggest_free_name(job.name)},
                {"name": [_("This name is taken by another company.")]},
            ) from None
        _check_adoptable(job, remote)
        adopted = True
    except admin_api.AdminApiError as e:
        audit.record(
            "tenant.create",
            target=job.name,
            actor_label=job.actor_label,
            outcome="error",
            error=str(e),
            changes={k: v for k, v in fields.items() if v},
        )
        raise
    runner.crash_point("after_tenant_created")
    with transaction.atomic():
        tenant = services.mirror_tenant(remote)
        audit.record(
            "tenant.adopt" if adopted else "tenant.create",
            tenant=tenant,
            actor_label=job.actor_label,
            changes={k: v for k, v in fields.items() if v},
        )
        _advance(
            job,
            OnboardingStep.CREATE_KEY,
            remote_tenant_id=remote["id"],
            tenant=tenant,
            adopted=adopted,
        )


# --- step 2 ---------------------------------------------------------------------------------
def create_key(job: OnboardingJob) -> None:
    tenant = job.tenant or Tenant.objects.get(remote_id=job.remote_tenant_id)
    description = _("Created by the portal's onboarding job #%(id)s") % {"id": job.pk}

    def advance(key: ApiKey) -> None:
        _advance(job, OnboardingStep.REGISTER_PEPPOL, api_key=key)

    keys.create_job_key(job, tenant, description, make_current=True, advance=advance)
    runner.crash_point("after_key_stored")


# --- step 3 ---------------------------------------------------------------------------------
def register_peppol(job: OnboardingJob) -> None:
    tenant = job.tenant or Tenant.objects.get(remote_id=job.remote_tenant_id)
    if not job.register_peppol:
        _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.NOT_REQUESTED)
        return
    if tenant.test_mode:
        _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.SKIPPED_TEST_MODE)
        return
    if not job.peppol_id:
        _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.SKIPPED_NO_PEPPOL_ID)
        return
    # A tenant this job created cannot be registered before this step's first run.
    if job.step_attempts > 1 or job.adopted:
        status = services.refresh_peppol_status(tenant, job.actor_label)
        if status.registered and status.peppol_id == job.peppol_id:
            _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.REGISTERED)
            return
    try:
        services.register_peppol(
            tenant, job.actor_label, peppol_id=job.peppol_id, company_name=job.description or None
        )
    except services.PeppolUnavailable as e:
        raise runner.PermanentFailure(str(e)) from None
    except admin_api.Conflict as e:
        # Registered elsewhere (another tenant, another access point): say which and what to
        # do; a retry helps once that is sorted out.
        message = services.explain(e, peppol_id=job.peppol_id, tenant=tenant)
        raise runner.PermanentFailure(message) from None
    except admin_api.ValidationFailed as e:
        if "test mode" in str(e).lower():
            # The mirror did not know yet: the API is the authority on test mode.
            Tenant.objects.filter(pk=tenant.pk).update(test_mode=True)
            _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.SKIPPED_TEST_MODE)
            return
        raise
    runner.crash_point("after_registered")
    _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.REGISTERED)


# --- starting and retrying ------------------------------------------------------------------
def start(
    data: dict,
    *,
    register_peppol: bool,
    user=None,
    batch=None,
    row_number: int | None = None,
    kick: bool = True,
) -> OnboardingJob:
    """Create the job row; the dispatcher sends it to a worker after the commit."""
    from tenants.jobs import dispatcher

    job = OnboardingJob.objects.create(
        name=data["name"],
        description=data.get("description", ""),
        company_number=data.get("company_number", ""),
        company_tax_id=data.get("company_tax_id", ""),
        peppol_id=data.get("peppol_id", ""),
        register_peppol=register_peppol,
        test_mode=bool(data.get("test_mode", False)),
        created_by=user,
        batch=batch,
        row_number=row_number,
    )
    audit.record(
        "onboarding.start",
        target=job.name,
        user=user,
        actor_label=None if user else job.actor_label,
        changes={k: v for k, v in job.tenant_fields.items() if v},
    )
    if kick:
        dispatcher.kick()
    return job


def retry(job: OnboardingJob, user=None) -> bool:
    from tenants.jobs import dispatcher

    if not runner.retry(job):
        return False
    OnboardingJob.objects.filter(pk=job.pk).update(field_errors={})
    audit.record("onboarding.retry", tenant=job.tenant, target=job.name, user=user)
    dispatcher.kick()
    return True


def is_finished(job: OnboardingJob) -> bool:
    return job.state in (JobState.SUCCEEDED, JobState.FAILED)
