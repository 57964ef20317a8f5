"""Celery tasks of the notifications; each calls the functions the views and tests call.

Events and deliveries are local jobs (jobs.local): released at once, swept on beat by
core.tasks.sweep_local_jobs. Beat runs `send_digests` once a day at NOTIFY_DIGEST_HOUR, `resume_digests` every few
minutes (the digests of a worker that died sending them) and `check_credit` every hour (the
usage collection's "running low" list).
"""

from __future__ import annotations

from celery import shared_task

from notifications import digest, emit, fanout, webhooks


@shared_task(ignore_result=True)
def run_event(event_id: int) -> None:
    fanout.run(event_id)


@shared_task(ignore_result=True)
def run_delivery(delivery_id: int) -> None:
    webhooks.run(delivery_id)


@shared_task(ignore_result=True)
def send_digests() -> int:
    return digest.send_due()


@shared_task(ignore_result=True)
def resume_digests() -> int:
    return digest.resume_abandoned()


@shared_task(ignore_result=True)
def check_credit() -> int:
    """One "credit running low" event per tenant and day while usage.fleet finds it low."""
    from django.utils import timezone

    from usage import fleet

    today = timezone.localdate()
    low = fleet.running_low().select_related("usage")
    for tenant in low:
        emit.credit_low(tenant, tenant.usage, today)
    return len(low)
