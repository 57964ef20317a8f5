"""Leased job rows: the state, lease, fencing token and retry counters every worker job shares.

Concrete jobs (onboarding, key rotation) subclass LeasedJob in their own apps; jobs.runner
claims, renews and finishes them with conditional UPDATEs so a step never runs twice at once.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import texts


class JobState(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    WAITING = "waiting", _("waiting to retry")
    SUCCEEDED = "succeeded", _("succeeded")
    FAILED = "failed", _("failed")


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.WAITING)


def error_fields(model: type[models.Model], message: str) -> dict[str, Any]:
    """The columns that record `message` as a job's last error: the words, and for a model
    that keeps codes (a `last_error_code` field) a Coded message's code and parameters, so
    that each reader reads it in their language (cleared for a message without one)."""
    fields: dict[str, Any] = {"last_error": str(message)}
    if any(f.name == "last_error_code" for f in model._meta.get_fields()):
        coded = message if isinstance(message, texts.Coded) else None
        fields["last_error_code"] = coded.code if coded else ""
        fields["last_error_params"] = coded.params if coded else {}
    return fields


class LeasedJob(models.Model):
    """What every worker job shares: its state, the lease, retries and the last error."""

    state = models.CharField(
        _("state"), max_length=16, choices=JobState.choices, default=JobState.QUEUED, db_index=True
    )
    # Due time: a queued or waiting job is released to a worker once this has passed.
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set by the dispatcher when it sends the job to the broker; cleared when a run ends.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # While running: the claim expires then (the worker died) and the sweeper re-queues it.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Random per claim: every write of a run is conditional on it (a fencing token), so a
    # run whose lease was taken over can no longer change the job.
    owner = models.CharField(max_length=32, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # Claims of the current step; > 1 means an earlier run of this step may have half-done it.
    step_attempts = models.PositiveIntegerField(default=0)
    # Consecutive transient failures (for the backoff); reset when a step succeeds.
    retries = models.PositiveIntegerField(default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def last_error_text(self) -> str:
        """The last error in the active language: worded again from its code where the job
        keeps one (`last_error_code`, see `error_fields`), else as it was written."""
        code = getattr(self, "last_error_code", "")
        if not code or not self.last_error:
            return self.last_error
        return texts.word(code, getattr(self, "last_error_params", {}), self.last_error)

    @property
    def is_stalled(self) -> bool:
        """Running, but its worker stopped renewing the lease: it died, and the sweeper is
        about to hand the job to another worker."""
        return (
            self.state == JobState.RUNNING
            and self.lease_until is not None
            and self.lease_until < timezone.now()
        )
