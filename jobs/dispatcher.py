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

import functools
import logging
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core import texts
from einvoice import quota as ratelimit
from jobs.models import JobState, error_fields
from tenants.models.bulk import BulkItem
from tenants.models.jobs import KeyRotation, OnboardingJob, OnboardingStep, RotationPhase
from tenants.models.watch import PeppolWatch

logger = logging.getLogger(__name__)

# Admin API calls one onboarding makes when nothing goes wrong.
CALLS_PER_ONBOARDING = 3


def calls_left(job: KeyRotation | OnboardingJob | PeppolWatch | BulkItem) -> int:
    """Admin API calls the job's next run makes when nothing goes wrong."""
    if isinstance(job, BulkItem):
        return job.calls_left
    if isinstance(job, PeppolWatch):
        return 1  # the registration, when the look-up (tenant API) finds the ID free
    # A step claimed before (step_attempts >= 1) may be half-done: its next run reads first.
    recheck = int(job.step_attempts >= 1)
    if isinstance(job, KeyRotation):
        # A new key (after a key list on a re-run), or the old key's revocation.
        return 1 + recheck * (job.phase == RotationPhase.PLANNED)
    register = int(job.register_peppol and bool(job.peppol_id) and not job.test_mode)
    if job.step == OnboardingStep.CREATE_TENANT:
        return 2 + register
    if job.step == OnboardingStep.CREATE_KEY:
        return 1 + recheck + register
    if job.step == OnboardingStep.REGISTER_PEPPOL:
        return register * (1 + max(recheck, int(job.adopted)))
    return 0


def _task_for(model):
    from tenants import tasks

    return {
        KeyRotation: tasks.run_rotation,
        PeppolWatch: tasks.run_peppol_watch,
        OnboardingJob: tasks.run_onboarding,
        BulkItem: tasks.run_bulk_item,
    }[model]


# Rotations first (few, and a tenant waits on them), then watches (one call each, rare);
# bulk actions' items last, behind the onboardings a customer waits on.
MODELS = (KeyRotation, PeppolWatch, OnboardingJob, BulkItem)


def _active() -> Q:
    return Q(state=JobState.RUNNING) | Q(
        state__in=[JobState.QUEUED, JobState.WAITING], dispatched_at__isnull=False
    )


def in_flight() -> int:
    """Jobs released to the broker or running: at most this many task messages exist."""
    return sum(model.objects.filter(_active()).count() for model in MODELS)


# What calls_left() reads of each model: the dispatcher loads no more of a job row (it runs
# after every job, so its queries are on the pipeline's path).
BUDGET_FIELDS = {
    KeyRotation: ("step_attempts", "phase"),
    PeppolWatch: (),
    OnboardingJob: (
        "step_attempts",
        "step",
        "register_peppol",
        "peppol_id",
        "test_mode",
        "adopted",
    ),
    BulkItem: ("kind",),
}


# One layout of the budget columns for every job table (a typed NULL where a table has
# none), so that the jobs out and the jobs due of all four tables are one query.
_COLUMNS = tuple(dict.fromkeys(name for fields in BUDGET_FIELDS.values() for name in fields))


@functools.cache
def _jobs_sql(vendor: str) -> str:
    q = connection.ops.quote_name
    owner = {name: model for model in MODELS for name in BUDGET_FIELDS[model]}
    branches = []
    for tag, model in enumerate(MODELS):
        columns = ", ".join(
            f"{q(model._meta.get_field(name).column)} AS c{i}"
            if name in BUDGET_FIELDS[model]
            else f"CAST(NULL AS {owner[name]._meta.get_field(name).db_type(connection)}) AS c{i}"
            for i, name in enumerate(_COLUMNS)
        )
        table = q(model._meta.db_table)
        select = f"SELECT {tag} AS m, %s AS o, id, next_attempt_at, {columns} FROM {table}"
        branches.append(select % 1 + " WHERE " + _ACTIVE_SQL)
        # Parenthesised as a subquery: SQLite allows no ORDER BY or LIMIT in a union's arm.
        branches.append(f"SELECT * FROM ({select % 0} WHERE {_DUE_SQL}) AS due{tag}")
    return " UNION ALL ".join(branches) + " ORDER BY 1, 2 DESC, 4, 3"


# _active() and the due filter of dispatch(), in SQL.
_ACTIVE_SQL = "state = %s OR (state IN (%s, %s) AND dispatched_at IS NOT NULL)"
_DUE_SQL = (
    "state IN (%s, %s) AND next_attempt_at <= %s AND dispatched_at IS NULL"
    " ORDER BY next_attempt_at, id LIMIT %s"
)


def _jobs(now, limit: int) -> tuple[list, dict]:
    """The jobs released or running and, per model, its first `limit` due jobs in the order
    they go, with the columns calls_left() reads: one query instead of eight after a job."""
    waiting = [JobState.QUEUED, JobState.WAITING]
    due_at = connection.ops.adapt_datetimefield_value(now)
    params = [JobState.RUNNING, *waiting, *waiting, due_at, limit] * len(MODELS)
    out: list = []
    due: dict = {model: [] for model in MODELS}
    with connection.cursor() as cursor:
        cursor.execute(_jobs_sql(connection.vendor), params)
        for tag, is_out, pk, _due_at, *values in cursor.fetchall():
            model = MODELS[tag]
            row = dict(zip(_COLUMNS, values, strict=True))
            job = model(id=pk, **{name: row[name] for name in BUDGET_FIELDS[model]})
            (out if is_out else due[model]).append(job)
    return out, due


def _serialise() -> None:
    # Two dispatchers at once would both see the same free slots. SQLite's IMMEDIATE
    # transactions already admit one writer; PostgreSQL takes a transaction-level lock.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(7263501)")


def dispatch() -> int:
    """Release due jobs while there are free slots and quota for all their calls.

    A job goes only if the quota that is free now, less the calls still to come from the
    jobs already out, covers every call of its run: one that would stop halfway would
    spend the hour's last calls on no finished onboarding.
    """
    max_in_flight = int(settings.JOBS_MAX_IN_FLIGHT)
    now = timezone.now()
    released: list[tuple[type, int]] = []
    with transaction.atomic():
        _serialise()
        # A few more than the free slots: a short job behind one that does not fit goes.
        out, due = _jobs(now, limit=max_in_flight * 2)
        slots = max_in_flight - len(out)
        if slots <= 0:
            return 0
        room = ratelimit.headroom() - sum(calls_left(job) for job in out)
        if room <= 0:
            return 0
        for model in MODELS:
            for job in due[model][: slots * 2]:
                calls = calls_left(job)
                if calls > room:
                    continue
                if model.objects.filter(pk=job.pk, dispatched_at__isnull=True).update(
                    dispatched_at=now
                ):
                    released.append((model, job.pk))
                    slots -= 1
                    room -= calls
                if slots <= 0 or room <= 0:
                    break
            if slots <= 0 or room <= 0:
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


WORKER_STOPPED = texts.define(
    "job.worker_stopped",
    gettext_lazy("The worker stopped during this step; it resumes where it was."),
)


def sweep() -> dict[str, int]:
    """Re-queue what dead workers left behind, then dispatch."""
    now = timezone.now()
    lost_after = timedelta(seconds=settings.JOBS_DISPATCH_TIMEOUT_SECONDS)
    stale = lost = 0
    for model in MODELS:
        stale += model.objects.filter(state=JobState.RUNNING, lease_until__lt=now).update(
            state=JobState.WAITING,
            owner="",
            lease_until=None,
            dispatched_at=None,
            next_attempt_at=now,
            **error_fields(model, texts.Coded(WORKER_STOPPED)),
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
