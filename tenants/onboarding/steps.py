"""One onboarding: create tenant → create API key → register on Peppol, nothing lost.

The Admin API has no idempotency keys and shows a key's value once, so every step is safe to
re-run after any crash or lost answer (design-notes §1):

- create_tenant: a 409 means the name exists. If that tenant is ours (same company number /
  VAT number: a retry after a lost answer) the job adopts it; otherwise it stops and says so.
- create_key: the key's name carries the job (tenants.keys). On any run after the
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
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import audit, texts
from core.texts import Coded
from einvoice import admin as admin_api
from einvoice.errors import ApiError, Conflict, Invalid
from einvoice.messages import explain
from jobs import dispatcher, runner
from jobs.models import JobState
from tenants import keys, mirror, peppol, watch
from tenants.checks import suggest_free_name
from tenants.errors import HeldElsewhere, PeppolUnavailable
from tenants.models import ApiKey, Tenant
from tenants.models.jobs import OnboardingJob, OnboardingStep, PeppolOutcome

logger = logging.getLogger(__name__)

# What a job that cannot succeed says, as codes (core.texts): each reader reads it in their
# language, whichever worker wrote it.
DELETED_NAME = texts.define(
    "onboarding.deleted_name",
    gettext_lazy(
        "A deleted tenant of this company is named %(name)s, and names stay taken after "
        "a delete. Start a new onboarding with another name, e.g. %(suggestion)s."
    ),
)
DELETED_NAME_FIELD = texts.define(
    "onboarding.deleted_name_field", gettext_lazy("This name belongs to a deleted tenant.")
)
ONBOARDING_ELSEWHERE = texts.define(
    "onboarding.onboarding_elsewhere",
    gettext_lazy(
        "This company is already being onboarded by job #%(job)s: follow that job instead."
    ),
)
ALREADY_A_TENANT = texts.define(
    "onboarding.already_a_tenant",
    gettext_lazy(
        "This company is already a tenant of the portal (%(name)s). Open the tenant "
        "instead of onboarding it again."
    ),
)
NAME_TAKEN = texts.define(
    "onboarding.name_taken",
    gettext_lazy(
        "The name %(name)s is already taken by another company. Choose another "
        "name, e.g. %(suggestion)s, and start a new onboarding."
    ),
)
NAME_TAKEN_FIELD = texts.define(
    "onboarding.name_taken_field", gettext_lazy("This name is taken by another company.")
)


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
def _refused(job: OnboardingJob, refusal: mirror.Refusal) -> runner.PermanentFailure:
    """Our company's tenant exists but is not this job's to adopt: what staff should do."""
    if refusal.reason == "deleted":
        return runner.PermanentFailure(
            Coded(DELETED_NAME, name=job.name, suggestion=suggest_free_name(job.name)),
            {"name": [Coded(DELETED_NAME_FIELD)]},
        )
    if refusal.reason == "onboarding":
        return runner.PermanentFailure(Coded(ONBOARDING_ELSEWHERE, job=refusal.job.pk))
    return runner.PermanentFailure(Coded(ALREADY_A_TENANT, name=refusal.tenant.name))


def _create_or_adopt(job: OnboardingJob, attempt: audit.Attempt) -> tuple[dict, bool]:
    """The tenant created now, or (True) this company's tenant that this run or an earlier
    one created and lost the answer of (mirror.create_or_adopt, shared with staff)."""
    try:
        return mirror.create_or_adopt({**job.tenant_fields, "test_mode": job.test_mode}, job)
    except Conflict:
        attempt.fail("name taken by another company", changes=None)
        raise runner.PermanentFailure(
            Coded(NAME_TAKEN, name=job.name, suggestion=suggest_free_name(job.name)),
            {"name": [Coded(NAME_TAKEN_FIELD)]},
        ) from None
    except mirror.NotAdoptable as e:
        attempt.fail(f"not adopted ({e.refusal.reason})", changes=None)
        raise _refused(job, e.refusal) from None


def create_tenant(job: OnboardingJob) -> None:
    if job.remote_tenant_id:  # learned by an earlier run
        tenant = Tenant.objects.filter(remote_id=job.remote_tenant_id).first()
        if tenant is None:
            tenant = mirror.mirror_tenant(admin_api.get_tenant(job.remote_tenant_id))
        _advance(job, OnboardingStep.CREATE_KEY, tenant=tenant)
        return
    fields = mirror.remote_fields({**job.tenant_fields, "test_mode": job.test_mode})
    with audit.audited(
        "tenant.create",
        job.actor_label,
        target=job.name,
        changes={k: v for k, v in fields.items() if v},
        errors=ApiError,
    ) as attempt:
        remote, adopted = _create_or_adopt(job, attempt)
        with transaction.atomic():
            tenant = mirror.mirror_tenant(remote)
            _advance(
                job,
                OnboardingStep.CREATE_KEY,
                remote_tenant_id=remote["id"],
                tenant=tenant,
                adopted=adopted,
            )
            # In the transaction that records the step (a crash cannot audit it twice), and
            # last: the append holds the audit chain's lock until the commit.
            attempt.succeed(
                action="tenant.adopt" if adopted else "tenant.create", tenant=tenant, target=""
            )


# --- step 2 ---------------------------------------------------------------------------------
def create_key(job: OnboardingJob) -> None:
    tenant = job.tenant or Tenant.objects.get(remote_id=job.remote_tenant_id)
    description = _("Created by the portal's onboarding job #%(id)s") % {"id": job.pk}

    def advance(key: ApiKey) -> None:
        _advance(job, OnboardingStep.REGISTER_PEPPOL, api_key=key)

    keys.create_job_key(job, tenant, description, make_current=True, advance=advance)


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
        status = peppol.refresh_peppol_status(tenant, job.actor_label)
        if status.registered and status.peppol_id == job.peppol_id:
            _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.REGISTERED)
            return
    try:
        peppol.register_peppol(
            tenant, job.actor_label, peppol_id=job.peppol_id, company_name=job.description or None
        )
    except HeldElsewhere as e:
        # The customer's current provider holds the ID: the tenant and key are ready, and a
        # watch registers the ID the moment it is released (the job page links to it).
        watch.start(tenant, e.verdict, job.actor_label, onboarding=job, user=job.created_by)
        _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.HELD_ELSEWHERE)
        return
    except PeppolUnavailable as e:
        raise runner.PermanentFailure(texts.of_error(e)) from None
    except Conflict as e:
        # Registered elsewhere (another tenant, another access point): say which and what to
        # do; a retry helps once that is sorted out.
        message = explain(e, peppol_id=job.peppol_id, tenant=tenant)
        raise runner.PermanentFailure(message) from None
    except Invalid as e:
        if "test mode" in str(e).lower():
            # The mirror did not know yet: the API is the authority on test mode.
            Tenant.objects.filter(pk=tenant.pk).update(test_mode=True)
            _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.SKIPPED_TEST_MODE)
            return
        raise
    _advance(job, OnboardingStep.DONE, peppol_outcome=PeppolOutcome.REGISTERED)


# --- starting and retrying ------------------------------------------------------------------
class AlreadyOnboarding(Exception):
    """A live job (queued, running or waiting) onboards this name or company already."""

    def __init__(self, job: OnboardingJob) -> None:
        super().__init__(f"already being onboarded by job #{job.pk}")
        self.job = job


def _one_live_job(data: dict, write) -> Any:
    """`write()` (which makes a job live) unless a live job onboards this company already;
    the constraints decide between two at once (a double submit), this says which won."""
    name, number = data["name"], data.get("company_number", "")
    existing = mirror.live_onboarding(name, number)
    if existing is not None:
        raise AlreadyOnboarding(existing)
    try:
        with transaction.atomic():
            return write()
    except IntegrityError:
        existing = mirror.live_onboarding(name, number)
        if existing is None:
            raise
        raise AlreadyOnboarding(existing) from None


def start(
    data: dict,
    *,
    register_peppol: bool,
    user=None,
    batch=None,
    row_number: int | None = None,
    kick: bool = True,
) -> OnboardingJob:
    """Create the job row; the dispatcher sends it to a worker after the commit. Raises
    AlreadyOnboarding when a live job onboards this name or company number."""
    job = _one_live_job(
        data,
        lambda: OnboardingJob.objects.create(
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
        ),
    )
    audit.record(
        "onboarding.start",
        target=job.name,
        actor=user or job.actor_label,
        changes={k: v for k, v in job.tenant_fields.items() if v},
    )
    if kick:
        dispatcher.kick()
    return job


def retry(job: OnboardingJob, user=None) -> bool:
    """Queue a failed job again (False if it is not failed); AlreadyOnboarding when another
    live job onboards the company meanwhile."""
    if not _one_live_job(job.tenant_fields, lambda: runner.retry(job)):
        return False
    OnboardingJob.objects.filter(pk=job.pk).update(field_errors={})
    audit.record("onboarding.retry", tenant=job.tenant, target=job.name, user=user)
    dispatcher.kick()
    return True


def is_finished(job: OnboardingJob) -> bool:
    return job.state in (JobState.SUCCEEDED, JobState.FAILED)
