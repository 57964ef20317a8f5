"""Feeding jobs to the workers at the pace of the shared quota.

Thousands of queued onboardings are rows in the database, not messages in the broker: the
dispatcher releases a due job (sends its task) only while fewer than JOBS_MAX_IN_FLIGHT jobs
are released or running and the limiter has headroom. It runs on beat, after each job run
(so a busy queue feeds itself) and after a commit that queued work (kick()). No task ever
sleeps while reserved: one that finds no quota goes back to `waiting` with the wait the
limiter reported, and is released again when due.

The sweeper hands out again what a dead worker left: a running job whose lease expired, and
a released job whose message never arrived (lost with a killed worker's prefetch).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tenants import ratelimit
from tenants.jobs.runner import job_setting
from tenants.models.jobs import JobState, KeyRotation, OnboardingJob

logger = logging.getLogger(__name__)

# Admin API calls one onboarding makes when nothing goes wrong.
CALLS_PER_ONBOARDING = 3


def _task_for(model):
    from tenants import tasks

    return tasks.run_rotation if model is KeyRotation else tasks.run_onboarding


MODELS = (KeyRotation, OnboardingJob)  # rotations first: few, and a tenant waits on them


def in_flight() -> int:
    """Jobs released to the broker or running: at most this many task messages exist."""
    active = Q(state=JobState.RUNNING) | Q(
        state__in=[JobState.QUEUED, JobState.WAITING], dispatched_at__isnull=False
    )
    return sum(model.objects.filter(active).count() for model in MODELS)


def _serialise() -> None:
    # Two dispatchers at once would both see the same free slots. SQLite's IMMEDIATE
    # transactions already admit one writer; PostgreSQL takes a transaction-level lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(7263501)")


def dispatch() -> int:
    """Release due jobs while there are free slots and quota; returns how many."""
    max_in_flight = int(job_setting("JOBS_MAX_IN_FLIGHT", 4))
    now = timezone.now()
    released: list[tuple[type, int]] = []
    with transaction.atomic():
        _serialise()
        slots = max_in_flight - in_flight()
        if slots <= 0:
            return 0
        room = ratelimit.headroom()
        if room <= 0:
            return 0
        slots = min(slots, max(1, room // CALLS_PER_ONBOARDING))
        for model in MODELS:
            due = (
                model.objects.filter(
                    state__in=[JobState.QUEUED, JobState.WAITING],
                    next_attempt_at__lte=now,
                    dispatched_at__isnull=True,
                )
                .order_by("next_attempt_at", "id")
                .values_list("pk", flat=True)[:slots]
            )
            for pk in list(due):
                if model.objects.filter(pk=pk, dispatched_at__isnull=True).update(
                    dispatched_at=now
                ):
                    released.append((model, pk))
                    slots -= 1
            if slots <= 0:
                break
    # After the commit (at once when no outer transaction is open): a worker must find the
    # row already marked, and a job created in the caller's transaction must exist for it.
    for model, pk in released:
        transaction.on_commit(partial(_task_for(model).delay, pk))
    return len(released)


def kick() -> None:
    """Once the current transaction commits, let the dispatcher release what is due."""

    def send() -> None:
        from tenants import tasks

        tasks.dispatch_jobs.delay()

    transaction.on_commit(send)


def sweep() -> dict[str, int]:
    """Re-queue what dead workers left behind, then dispatch."""
    now = timezone.now()
    lost_after = timedelta(seconds=job_setting("JOBS_DISPATCH_TIMEOUT_SECONDS", 600))
    stale = lost = 0
    for model in MODELS:
        stale += model.objects.filter(state=JobState.RUNNING, lease_until__lt=now).update(
            state=JobState.WAITING,
            owner="",
            lease_until=None,
            dispatched_at=None,
            next_attempt_at=now,
            last_error=_("The worker stopped during this step; it resumes where it was."),
            updated_at=now,
        )
        lost += model.objects.filter(
            state__in=[JobState.QUEUED, JobState.WAITING], dispatched_at__lt=now - lost_after
        ).update(dispatched_at=None)
    if stale or lost:
        logger.warning(
            "sweeper: %s stale running job(s), %s lost message(s) re-queued", stale, lost
        )
    return {"stale": stale, "lost": lost, "released": dispatch()}
