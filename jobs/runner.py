"""Claiming, leasing, retrying and finishing worker jobs (onboarding, key rotation).

A run of a job:

1. ``claim()``: one conditional UPDATE moves the job to ``running`` with a fresh random
   ``owner`` and a lease. Two workers with the same message: one UPDATE matches, the other
   does nothing. A job whose lease expired (its worker died) can be claimed again.
2. Each step records its progress with ``save_progress()``, an UPDATE conditional on the
   owner that also renews the lease. If another run took the job over, it raises LeaseLost
   and this run stops without touching anything else.
3. ``execute()`` classifies how the run ended: done → succeeded; quota or 429 → waiting
   until the quota frees (no retry counted); transient errors (5xx, timeouts) → waiting with
   exponential backoff and jitter, failed after JOBS_MAX_RETRIES; permanent errors (422,
   409-not-ours, 401, 404) → failed at once with the message staff need.
4. A worker stopping (SIGTERM, jobs.shutdown) lets the step in progress finish, then hands
   the job back: waiting, due now, no owner, so another worker resumes it at once.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from core import texts
from core.logfilter import mask_secrets
from einvoice import quota as ratelimit
from einvoice.errors import ApiError, Invalid, QuotaUnavailable, RateLimited
from einvoice.messages import explain
from jobs.models import JobState, LeasedJob, error_fields
from jobs.shutdown import stopping
from jobs.signals import job_finished

logger = logging.getLogger(__name__)

J = TypeVar("J", bound=LeasedJob)


def lease_seconds() -> float:
    # How soon a dead worker's job is noticed. A run renews its lease every third of it
    # (Heartbeat), so the lease need not cover the slowest step.
    return float(settings.JOBS_LEASE_SECONDS)


def max_run_seconds() -> float:
    # A run that has not ended after this (a hung step) stops renewing its lease and is
    # handed to another worker; its own next write then fails with LeaseLost.
    return max(float(settings.JOBS_MAX_RUN_SECONDS), lease_seconds())


class LeaseLost(Exception):
    """Another run owns the job now; this one must stop."""


class PermanentFailure(Exception):
    """The job cannot succeed by retrying; the message tells staff what to do."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors = field_errors or {}


class RetryLater(Exception):
    """Not an error: come back after `seconds` (e.g. the end of a grace period)."""

    def __init__(self, seconds: float, note: str = "") -> None:
        super().__init__(note)
        self.seconds = seconds
        self.note = note


def claim(model: type[J], pk: int) -> J | None:
    now = timezone.now()
    owner = secrets.token_hex(8)
    due = Q(state__in=[JobState.QUEUED, JobState.WAITING], next_attempt_at__lte=now)
    stale = Q(state=JobState.RUNNING, lease_until__lt=now)

    claimed = (
        model.objects.filter(pk=pk)
        .filter(due | stale)
        .update(
            state=JobState.RUNNING,
            owner=owner,
            lease_until=now + timedelta(seconds=lease_seconds()),
            attempts=F("attempts") + 1,
            step_attempts=F("step_attempts") + 1,
            updated_at=now,
        )
    )
    if not claimed:
        return None
    return _step_started(model.objects.get(pk=pk))


def claim_and_execute(
    model: type[J], pk: int, step: Callable[[J], bool], *, on_failure=None
) -> J | None:
    """A worker's whole run of a job that needs no quota wait: claim it, run its steps."""
    job = claim(model, pk)
    if job is not None:
        execute(job, step, on_failure=on_failure)
    return job


def _step_started(job: J) -> J:
    # The calls this thread had been granted when the run took up its current step.
    job._calls_before_step = ratelimit.granted_here()
    return job


def _unattempted(job: LeasedJob, error: RateLimited) -> dict[str, Any]:
    """Our limiter refused the step's first call: nothing left, so give back the claim's
    step_attempts bump (the next run need not re-check for a write that was never sent)."""
    if (
        isinstance(error, QuotaUnavailable)
        and getattr(job, "_calls_before_step", None) == ratelimit.granted_here()
    ):
        return {"step_attempts": max(0, job.step_attempts - 1)}
    return {}


class Heartbeat:
    """Renews the leases of this process's runs in progress, from one daemon thread.

    One thread per process (started on first use, again after a fork) rather than one per
    run: a worker runs thousands of short steps, and starting and joining a thread for each
    costs more than the step's own database work.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.runs: dict[int, tuple[LeasedJob, float]] = {}
        self.thread: threading.Thread | None = None
        self.interval = 0.0  # the thread's current wait between rounds

    def add(self, job: LeasedJob) -> None:
        with self.lock:
            self.runs[id(job)] = (job, time.monotonic() + max_run_seconds())
            if self.thread is None or not self.thread.is_alive():
                self.interval = lease_seconds() / 3
                self.thread = threading.Thread(target=self._beat, name="job leases", daemon=True)
                self.thread.start()
            elif lease_seconds() / 3 < self.interval:
                self.wake.set()  # the lease got shorter than the thread's current wait

    def remove(self, job: LeasedJob) -> None:
        with self.lock:
            self.runs.pop(id(job), None)

    def _beat(self) -> None:
        while True:
            self.wake.wait(self.interval)
            self.wake.clear()
            self.interval = lease_seconds() / 3
            with self.lock:
                runs = list(self.runs.values())
            if not runs:
                continue
            now = time.monotonic()
            try:
                for job, give_up in runs:
                    if now < give_up:
                        renew(job)
            except Exception:
                logger.warning("renewing job leases failed", exc_info=True)
            finally:
                connection.close()  # this thread's own connection, until the next round


def renew(job: LeasedJob) -> bool:
    """Extend the lease of a run that still owns its job."""
    until = timezone.now() + timedelta(seconds=lease_seconds())
    return bool(
        type(job)
        .objects.filter(pk=job.pk, owner=job.owner, state=JobState.RUNNING)
        .update(lease_until=until)
    )


heartbeat = Heartbeat()


def save_progress(job: LeasedJob, **fields: Any) -> None:
    """Write the fields (and renew the lease) if this run still owns the job."""
    now = timezone.now()
    changes = {**fields, "lease_until": now + timedelta(seconds=lease_seconds()), "updated_at": now}
    updated = (
        type(job)
        .objects.filter(pk=job.pk, owner=job.owner, state=JobState.RUNNING)
        .update(**changes)
    )
    if not updated:
        raise LeaseLost(f"{job} was taken over by another run")
    for name, value in changes.items():
        setattr(job, name, value)
    if "step_attempts" in fields:
        _step_started(job)


def backoff(retries: int, retry_after: float = 0.0) -> float:
    """Exponential backoff with full jitter, never shorter than the server's Retry-After."""
    base = float(settings.JOBS_RETRY_BASE_SECONDS)
    cap = float(settings.JOBS_RETRY_MAX_SECONDS)
    delay = min(cap, base * 2 ** max(0, retries - 1))
    delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto
    return max(delay, retry_after)


def _end(job: LeasedJob, state: str, *, wait: float = 0.0, **fields: Any) -> None:
    now = timezone.now()
    changes: dict[str, Any] = {
        "state": state,
        "owner": "",
        "lease_until": None,
        "dispatched_at": None,
        "updated_at": now,
        **fields,
    }
    if "last_error" in changes:
        changes.update(error_fields(type(job), changes["last_error"]))
    if state == JobState.WAITING:
        changes["next_attempt_at"] = now + timedelta(seconds=max(0.0, wait))
    if state in (JobState.SUCCEEDED, JobState.FAILED):
        changes["finished_at"] = now
    updated = (
        type(job)
        .objects.filter(pk=job.pk, owner=job.owner, state=JobState.RUNNING)
        .update(**changes)
    )
    if updated:
        for name, value in changes.items():
            setattr(job, name, value)
        if state in (JobState.SUCCEEDED, JobState.FAILED):
            for receiver, error in job_finished.send_robust(type(job), job=job):
                if isinstance(error, Exception):
                    logger.error("%s after %s", receiver, job, exc_info=error)


def execute(job: J, step: Callable[[J], bool], *, on_failure: Callable[[J], None] | None = None):
    """Run `step(job)` until it returns True (every step done), then record how it ended."""
    heartbeat.add(job)
    try:
        _execute(job, step, on_failure)
    finally:
        heartbeat.remove(job)


def _execute(job: J, step: Callable[[J], bool], on_failure: Callable[[J], None] | None) -> None:
    max_retries = int(settings.JOBS_MAX_RETRIES)
    try:
        while not step(job):
            if stopping.is_set():  # the worker is stopping: not another step here
                _hand_back(job)
                return
    except LeaseLost as e:
        logger.warning("%s", e)
        return
    except RetryLater as e:
        _end(job, JobState.WAITING, wait=e.seconds, last_error=e.note)
        return
    except RateLimited as e:
        # The shared quota is a fact about every caller: wait it out, it is not our failure.
        wait = e.retry_after + random.uniform(0, 0.1 * max(e.retry_after, 1))  # noqa: S311
        _end(job, JobState.WAITING, wait=wait, last_error=str(e), **_unattempted(job, e))
        return
    except PermanentFailure as e:
        _fail(job, e.message, e.field_errors, on_failure)
        return
    except Invalid as e:
        _fail(job, explain(e), e.field_errors, on_failure)
        return
    except ApiError as e:
        if not e.retryable:
            _fail(job, explain(e), {}, on_failure)
            return
        _retry_or_fail(job, str(e), max_retries, on_failure)
        return
    except Exception as e:  # a bug or an outage of our own: retry a few times, then stop
        logger.exception("%s failed unexpectedly", job)
        _retry_or_fail(
            job, mask_secrets(f"Unexpected error: {type(e).__name__}: {e}"), max_retries, on_failure
        )
        return
    _end(job, JobState.SUCCEEDED, last_error="", retries=0)


def _hand_back(job: LeasedJob) -> None:
    """Between two steps: due now, unowned, so another worker resumes it at once. The next
    claim counts the next step's first attempt as this run would have."""
    logger.info("%s handed back: the worker is stopping", job)
    _end(job, JobState.WAITING, step_attempts=max(0, job.step_attempts - 1))


def _retry_or_fail(job: LeasedJob, message: str, max_retries: int, on_failure) -> None:
    retries = job.retries + 1
    if retries > max_retries:
        _fail(job, message, {}, on_failure)
        return
    _end(job, JobState.WAITING, wait=backoff(retries), last_error=message, retries=retries)


def _fail(job: J, message: str, field_errors: dict, on_failure) -> None:
    fields: dict[str, Any] = {"last_error": message}
    if hasattr(job, "field_errors"):
        # Coded messages as their codes (core.texts): worded for each reader.
        fields["field_errors"] = {
            f: [texts.stored(m) for m in messages] for f, messages in field_errors.items()
        }
    _end(job, JobState.FAILED, **fields)
    if on_failure is not None:
        on_failure(job)


def retry(job: LeasedJob) -> bool:
    """Staff asked to retry a failed job: queue it again from the step where it stopped."""
    now = timezone.now()
    return bool(
        type(job)
        .objects.filter(pk=job.pk, state=JobState.FAILED)
        .update(
            state=JobState.QUEUED,
            next_attempt_at=now,
            retries=0,
            **error_fields(type(job), ""),
            finished_at=None,
            dispatched_at=None,
            updated_at=now,
        )
    )
