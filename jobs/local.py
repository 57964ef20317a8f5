"""Jobs that make no call to e-invoice.be (notifications, webhook deliveries, a batch's
invitations and key links): released to a worker at once, with no quota to wait for,
instead of through the dispatcher's quota-paced queue.

Each is still a leased row run by jobs.runner (claimed once, resumed after a crash). The
sweep on beat (core.tasks.sweep_local_jobs) sends again what is due: a retry whose backoff
has passed, a message lost with a worker, a run whose worker died (its lease expired).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.models import JobState

logger = logging.getLogger(__name__)

# model ("app.Model") → the task that runs one row by its id.
LOCAL_JOBS = {
    "notifications.Event": "notifications.tasks.run_event",
    "notifications.WebhookDelivery": "notifications.tasks.run_delivery",
    "tenants.HandoverJob": "tenants.tasks.run_handover",
}


def _task_of(model):
    return import_string(LOCAL_JOBS[model._meta.label])


def release(job) -> None:
    """Once the current transaction commits, send the job's task (the sweep retries)."""
    transaction.on_commit(partial(_send, type(job), job.pk))


def _send(model, pk: int) -> None:
    try:
        _task_of(model).delay(pk)
    except Exception:  # the broker is down: the sweep sends it later
        logger.warning("could not queue %s #%s", model._meta.label, pk, exc_info=True)


def due(model, now=None) -> list[int]:
    """Rows a worker should run now: due and not sent recently, or left by a dead run."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=float(settings.JOBS_DISPATCH_TIMEOUT_SECONDS))
    waiting = Q(state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=now) & (
        Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost)
    )
    stale = Q(state=JobState.RUNNING, lease_until__lt=now)
    return list(model.objects.filter(waiting | stale).values_list("pk", flat=True)[:500])


def sweep() -> int:
    now = timezone.now()
    sent = 0
    for label in LOCAL_JOBS:
        model = apps.get_model(label)
        for pk in due(model, now):
            model.objects.filter(pk=pk).update(dispatched_at=now)
            _send(model, pk)
            sent += 1
    return sent
