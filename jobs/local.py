"""Jobs that make no call to e-invoice.be (notifications, webhook deliveries, a batch's
invitations and key links): released to a worker at once, with no quota to wait for,
instead of through the dispatcher's quota-paced queue.

Each is still a leased row run by jobs.runner (claimed once, resumed after a crash). The
sweep on beat (core.tasks.sweep_local_jobs) sends again what is due: a retry whose backoff
has passed, a message lost with a worker, a run whose worker died (its lease expired).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.models import JobState
from jobs.shutdown import stopping

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


_here = threading.local()


@contextmanager
def run_here() -> Iterator[list[tuple[type, int]]]:
    """The local jobs released in the block are for the caller to run (run_pending) in this
    process, not a task each: a worker's run that emits an event (an onboarding) spares the
    broker round trip and the task. Each is marked sent as for a task, so if the process
    dies first the sweep sends it once the message would count as lost."""
    pending: list[tuple[type, int]] = []
    outer = getattr(_here, "pending", None)
    _here.pending = pending
    try:
        yield pending
    finally:
        _here.pending = outer


def run_pending(pending: list[tuple[type, int]]) -> None:
    for model, pk in pending:
        if stopping.is_set():  # the worker is stopping: another one runs it, at once
            _queue(model, pk)
            continue
        try:
            _task_of(model)(pk)  # the task's function, in this process
        except Exception:  # as a failed task: the sweep hands it out again
            logger.exception("running %s #%s failed", model._meta.label, pk)


def _send(model, pk: int) -> None:
    # Marked sent first: the sweep sends it again only if it was lost (or is due again).
    model.objects.filter(pk=pk).update(dispatched_at=timezone.now())
    pending = getattr(_here, "pending", None)
    if pending is not None:
        pending.append((model, pk))
        return
    _queue(model, pk)


def _queue(model, pk: int) -> None:
    try:
        _task_of(model).delay(pk)
    except Exception:  # the broker is down: the sweep sends it later
        logger.warning("could not queue %s #%s", model._meta.label, pk, exc_info=True)


def due(model, now=None, *, sent_too: bool = False) -> list[int]:
    """Rows a worker should run now: due and not sent recently (`sent_too`: sent or not),
    or left running by a dead run (its lease expired)."""
    now = now or timezone.now()
    lost = now - timedelta(seconds=float(settings.JOBS_DISPATCH_TIMEOUT_SECONDS))
    waiting = Q(state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=now)
    if not sent_too:
        waiting &= Q(dispatched_at__isnull=True) | Q(dispatched_at__lt=lost)
    stale = Q(state=JobState.RUNNING, lease_until__lt=now)
    return list(model.objects.filter(waiting | stale).values_list("pk", flat=True)[:500])


def sweep() -> int:
    """Hand back what dead runs left (due now, unowned), then send every due row."""
    now = timezone.now()
    sent = 0
    for label in LOCAL_JOBS:
        model = apps.get_model(label)
        model.objects.filter(state=JobState.RUNNING, lease_until__lt=now).update(
            state=JobState.WAITING,
            owner="",
            lease_until=None,
            dispatched_at=None,
            next_attempt_at=now,
            updated_at=now,
        )
        for pk in due(model, now):
            _send(model, pk)
            sent += 1
    return sent
