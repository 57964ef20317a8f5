"""A batch's "Invite all" and "Send key links to all", run as one worker job per click.

The click only queues a HandoverJob (a second click while it runs finds it: one live job
per batch and action). The job sends one row per step, each through the single action's
function (accounts.invitations.invite, tenants.handover.send_link), so idempotency and
the audit are theirs: a row marked done is never sent again. A row is marked `sending`
(with the job's id) in the same short locked transaction that picks it, and its outcome
written after; if the worker dies in between, the next run of the job finds the row still
`sending` and finishes it without a second login or a second live link (see _resume). If
the job fails for good, its rows still `sending` become `failed` (resendable from the
tenant's page): no row stays `sending`.
"""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts import invitations
from core import audit
from jobs import local, runner
from jobs.models import ACTIVE_STATES
from tenants import handover
from tenants.models import HandoverJob, Tenant
from tenants.models.jobs import BulkOnboarding, KeyRevealLink
from tenants.onboarding.bulk import (
    DONE,
    EXISTS,
    FAILED,
    INVITE,
    NO_EMAIL,
    NOT_ONBOARDED,
    REFUSED,
    SENDING,
    handover_plan,
    record_row,
)

logger = logging.getLogger(__name__)


def start(batch: BulkOnboarding, action: str, language: str, *, by) -> tuple[HandoverJob, bool]:
    """Queue the action for the batch; (job, False) if one is live already."""
    try:
        with transaction.atomic():
            job = HandoverJob.objects.create(
                batch=batch, action=action, language=language, created_by=by
            )
    except IntegrityError:
        live = HandoverJob.objects.get(batch=batch, action=action, state__in=ACTIVE_STATES)
        return live, False
    local.release(job)
    return job, True


def last_job(batch: BulkOnboarding, action: str) -> HandoverJob | None:
    return HandoverJob.objects.filter(batch=batch, action=action).order_by("-pk").first()


def run(job_id: int) -> HandoverJob | None:
    return runner.claim_and_execute(HandoverJob, job_id, step, on_failure=release_rows)


def step(job: HandoverJob) -> bool:
    """Send the next row (or finish the one a dead run left); True when none is left."""
    picked = _pick(job)
    if picked is None:
        _finish(job)
        return True
    row, tenant, resumed = picked
    email = row["data"]["email"]
    try:
        (_resume if resumed else _send)(job, tenant, email)
    except ValidationError as e:  # a login with this email exists already
        status, detail = EXISTS, " ".join(e.messages)
    except handover.HandoverRefused as e:  # no key the portal holds
        status, detail = REFUSED, str(e)
    except Exception as e:  # the mail server: the other rows still go
        logger.exception("bulk %s of line %s failed", job.action, row["row"])
        status, detail = FAILED, type(e).__name__
    else:
        status, detail = DONE, ""
    record_row(
        job.batch_id, job.action, row["row"], {"status": status, "detail": detail, "job": job.pk}
    )
    runner.save_progress(job)  # renews the lease; stops here if another run took over
    return False


def _pick(job: HandoverJob) -> tuple[dict, Tenant, bool] | None:
    """The row to do now, marked `sending` by this job: first one a dead run left."""
    with transaction.atomic():
        batch = BulkOnboarding.objects.select_for_update().get(pk=job.batch_id)
        plan = handover_plan(batch, job.action)
        tenants = dict(plan["tenants"])
        # Only one job per batch and action is live: a row still `sending` was left by a
        # run (this job's, or a job from before it) that died while sending it.
        for r in plan[SENDING]:
            if r["row"] in tenants:
                return r, tenants[r["row"]], True
        if not plan["to_send"]:
            return None
        r, tenant = plan["to_send"][0]
        for row in batch.rows:
            if row["row"] == r["row"]:
                row[job.action] = {"status": SENDING, "job": job.pk}
        batch.save(update_fields=["rows"])
    return r, tenant, False


def _send(job: HandoverJob, tenant: Tenant, email: str) -> None:
    if job.action == INVITE:
        invitations.invite(tenant, email, job.language, by=job.created_by)
    else:
        handover.send_link(tenant, email, job.language, by=job.created_by)


def _resume(job: HandoverJob, tenant: Tenant, email: str) -> None:
    """A row a dead run was sending: it may have made the login or the link, and maybe not
    the email. Make sure exactly one working invitation or link went, voiding any other."""
    if job.action == INVITE:
        user = get_user_model().objects.filter(username__iexact=email, tenant=tenant).first()
        if user is None:
            invitations.invite(tenant, email, job.language, by=job.created_by)
        elif invitations.is_pending(user):
            invitations.resend(user, by=job.created_by)  # the first link, if sent, stops working
        return  # else: the invitee chose a password already
    link = (
        KeyRevealLink.objects.filter(tenant=tenant, sent_to=email.strip().lower())
        .filter(created_at__gte=job.created_at, used_at__isnull=True, revoked_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    if link is None:
        handover.send_link(tenant, email, job.language, by=job.created_by)
    else:
        handover.resend_link(link, by=job.created_by)


def _plan(job: HandoverJob) -> dict:
    # Read afresh: the rows change with every step.
    return handover_plan(BulkOnboarding.objects.get(pk=job.batch_id), job.action)


def counts_of(job: HandoverJob) -> dict[str, int]:
    plan = _plan(job)
    counts = {DONE: 0, EXISTS: 0, REFUSED: 0, FAILED: 0, "before": 0}
    for status in (DONE, EXISTS, REFUSED, FAILED):
        for r in plan[status]:
            if r[job.action].get("job") == job.pk:
                counts[status] += 1
            elif status == DONE:
                counts["before"] += 1
    counts[NO_EMAIL] = len(plan[NO_EMAIL])
    counts[NOT_ONBOARDED] = len(plan[NOT_ONBOARDED])
    return counts


def _finish(job: HandoverJob) -> None:
    counts = counts_of(job)
    runner.save_progress(job, counts=counts)
    audit.record(
        f"onboarding.bulk_{job.action}",
        target=job.batch.file_name,
        user=job.created_by,
        actor_label=None if job.created_by else job.actor_label,
        changes={name: [None, n] for name, n in counts.items() if n},
    )


def release_rows(job: HandoverJob) -> None:
    """The job failed for good: its rows still `sending` are failed (resend them by hand)."""
    plan = _plan(job)
    for r in plan[SENDING]:
        record_row(
            job.batch_id,
            job.action,
            r["row"],
            {"status": FAILED, "detail": job.last_error[:200], "job": job.pk},
        )
