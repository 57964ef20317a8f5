"""A batch's "Invite all" or "Send key links to all", as one worker job.

The rows remember what was done for each (BulkOnboarding.rows[...][action]); the job sends
one row per step, marking it `sending` (with the job's id) before and its outcome after,
so a run that dies mid-row is resumed by the next run of the same job, which finishes that
row without sending it twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jobs.models import ACTIVE_STATES, LeasedJob


class HandoverJob(LeasedJob):
    INVITE, KEY_LINK = "invite", "key_link"

    batch = models.ForeignKey(
        "tenants.BulkOnboarding", on_delete=models.CASCADE, related_name="handover_jobs"
    )
    action = models.CharField(max_length=16)
    language = models.CharField(_("language"), max_length=8)
    # What this job did, by outcome (filled in when it ends): {"done": 3, "exists": 1, ...}.
    counts = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live job per batch and action: a double click finds the first.
            models.UniqueConstraint(
                fields=["batch", "action"],
                condition=models.Q(state__in=ACTIVE_STATES),
                name="one_live_handover_per_batch",
            )
        ]

    def __str__(self) -> str:
        return f"{self.action} job #{self.pk} of batch {self.batch_id}"

    @property
    def actor_label(self) -> str:
        return f"job:handover#{self.pk}"
