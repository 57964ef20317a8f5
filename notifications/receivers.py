"""Events from the job runner: a job failed; the last job of a CSV batch finished."""

from __future__ import annotations

from django.dispatch import receiver
from django.urls import reverse

from jobs.models import ACTIVE_STATES, JobState
from jobs.signals import job_finished
from notifications.emit import emit

# The jobs whose failure is news: those staff start or wait on. Not the notifications' own
# (a failed delivery is on the delivery log) nor the usage collection's (a tenant without a
# usable key is on the dashboard, and would be one email per such tenant).
TOLD = {
    "tenants.onboardingjob",
    "tenants.keyrotation",
    "tenants.peppolwatch",
    "tenants.handoverjob",
}


def _job_path(job) -> str:
    from tenants.models.jobs import KeyRotation, OnboardingJob

    if isinstance(job, OnboardingJob):
        return reverse("tenants:job", args=[job.pk])
    if isinstance(job, KeyRotation):
        return reverse("tenants:tenant_rotation", args=[job.tenant_id])
    tenant_id = getattr(job, "tenant_id", None)
    return (
        reverse("tenants:tenant_detail", args=[tenant_id]) if tenant_id else reverse("tenants:jobs")
    )


@receiver(job_finished)
def on_job_finished(sender, job, **kwargs) -> None:
    if sender._meta.label_lower not in TOLD:
        return
    tenant = getattr(job, "tenant", None)
    if job.state == JobState.FAILED:
        emit(
            "job.failed",
            f"job.failed:{sender._meta.label_lower}:{job.pk}:{job.attempts}",
            tenant=tenant,
            data={
                "path": _job_path(job),
                "job": {
                    "type": sender._meta.model_name,
                    "id": job.pk,
                    "name": str(job),
                    "error": job.last_error[:500],
                },
            },
        )
    if sender._meta.label_lower == "tenants.onboardingjob" and job.batch_id:
        _batch_finished(sender, job.batch_id)


def _batch_finished(model, batch_id: int) -> None:
    from tenants.models.jobs import BulkOnboarding
    from tenants.onboarding import bulk

    # Every job of a batch ends here: one look for a job still to finish, not the batch's
    # counts (a 400-row batch would count its jobs 400 times).
    if model.objects.filter(batch_id=batch_id, state__in=ACTIVE_STATES).exists():
        return
    batch = BulkOnboarding.objects.get(pk=batch_id)
    progress = bulk.progress(batch)
    if not progress["finished"]:
        return
    emit(
        "batch.finished",
        f"batch.finished:{batch.pk}:{progress['succeeded']}:{progress['failed']}",
        data={
            "path": reverse("tenants:bulk", args=[batch.pk]),
            "batch": {
                "id": batch.pk,
                "file": batch.file_name,
                "total": progress["total"],
                "succeeded": progress["succeeded"],
                "failed": progress["failed"],
            },
        },
    )
