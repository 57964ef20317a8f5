"""Celery tasks of the notifications; each calls the functions the views and tests call.

Beat runs `sweep` every few seconds (due retries, lost messages, dead workers' rows) and
`send_digests` once a day at NOTIFY_DIGEST_HOUR.
"""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.models import JobState
from notifications import digest, fanout, webhooks
from notifications.models import Event, WebhookDelivery


@shared_task(ignore_result=True)
def run_event(event_id: int) -> None:
    fanout.run(event_id)


@shared_task(ignore_result=True)
def run_delivery(delivery_id: int) -> None:
    webhooks.run(delivery_id)


@shared_task(ignore_result=True)
def send_digests() -> int:
    return digest.send_due()


def due(model, now=None) -> list[int]:
    """Rows a worker should run now: due and not released recently, or left by a dead run."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=float(settings.JOBS_DISPATCH_TIMEOUT_SECONDS))
    waiting = Q(state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=now) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost)
    )
    stale = Q(state=JobState.RUNNING, lease_until__lt=now)
    return list(model.objects.filter(waiting | stale).values_list("pk", flat=True)[:500])


@shared_task(ignore_result=True)
def sweep() -> int:
    now = timezone.now()
    released = 0
    for model, task in ((Event, run_event), (WebhookDelivery, run_delivery)):
        for pk in due(model, now):
            model.objects.filter(pk=pk).update(dispatched_at=now)
            task.delay(pk)
            released += 1
    return released
