"""Celery tasks of the tenants app. Each calls the same functions the views call.

Beat (exactly one) runs dispatch_jobs, sweep_jobs, plan_rotations, reconcile_mirror and
resume_reconcile; see the project's CELERY_BEAT_SCHEDULE. Settings make every task
acknowledged late and re-queued
if its worker dies (CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST, prefetch 1);
the job rows make a re-delivered or duplicated message harmless (claims).
"""

from __future__ import annotations

from celery import shared_task

from jobs import dispatcher, local
from tenants import bulk_actions, reconcile, rotation, watch
from tenants.onboarding import handover
from tenants.onboarding import steps as onboarding


@shared_task(ignore_result=True)
def run_onboarding(job_id: int) -> None:
    # Its events (registered on Peppol, a batch's end) are fanned out here, after the next
    # job is released: a task of their own cost the worker more than the fan-out itself.
    with local.run_here() as events:
        onboarding.run(job_id)
    # The run freed a slot: release the next due job without waiting for beat.
    dispatcher.dispatch()
    local.run_pending(events)


@shared_task(ignore_result=True)
def run_rotation(rotation_id: int) -> None:
    rotation.run(rotation_id)
    dispatcher.dispatch()


@shared_task(ignore_result=True)
def run_peppol_watch(watch_id: int) -> None:
    watch.run(watch_id)
    dispatcher.dispatch()


@shared_task(ignore_result=True)
def run_bulk_item(item_id: int) -> None:
    bulk_actions.run(item_id)
    dispatcher.dispatch()


@shared_task(ignore_result=True)
def dispatch_jobs() -> int:
    # Every few seconds on beat: the sweep is two UPDATEs per job table, so a job whose
    # worker died resumes one lease after the death instead of waiting for sweep_jobs.
    return dispatcher.sweep()["released"]


@shared_task(ignore_result=True)
def sweep_jobs() -> dict:
    return dispatcher.sweep()


@shared_task(ignore_result=True)
def plan_rotations() -> int:
    return rotation.plan_due()


@shared_task(ignore_result=True)
def reconcile_mirror(report_id: int | None = None) -> int:
    return reconcile.run(report_id).pk


@shared_task(ignore_result=True)
def resume_reconcile() -> int:
    # A sync killed mid-way (or whose scheduled continuation was lost) goes on from its
    # stored position.
    return reconcile.resume_due()


@shared_task(ignore_result=True)
def run_handover(job_id: int) -> None:
    # A batch's invitations or key links (no API call: a local job, see jobs.local).
    handover.run(job_id)
