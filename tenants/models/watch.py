"""A watch on a Peppol ID held by another access point: "register as soon as it is free".

A leased job row like the onboarding and rotation jobs (jobs.runner claims it with a
conditional UPDATE): each run looks the ID up once; while it is still held elsewhere the run
ends `waiting` until the next check of a backing-off schedule (tenants.watch), and the
dispatcher releases it when due. The run that finds the ID free registers the tenant.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from jobs.models import JobState, LeasedJob


class WatchOutcome(models.TextChoices):
    WATCHING = "", _("watching")
    REGISTERED = "registered", _("registered")
    GAVE_UP = "gave_up", _("gave up")
    CANCELLED = "cancelled", _("cancelled")
    TAKEN = "taken", _("registered by another tenant of ours")


class PeppolWatch(LeasedJob):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="peppol_watches"
    )
    peppol_id = models.CharField(_("Peppol ID"), max_length=64)
    # The onboarding job that found the ID held (its page follows the watch), if any.
    onboarding = models.ForeignKey(
        "tenants.OnboardingJob",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="peppol_watches",
    )
    company_name = models.CharField(max_length=200, blank=True)
    # What the last check saw (same keys as PeppolRegistration.holder).
    holder = models.JSONField(default=dict, blank=True)
    checks = models.PositiveIntegerField(_("checks"), default=0)
    last_checked_at = models.DateTimeField(_("last checked"), null=True, blank=True)
    give_up_at = models.DateTimeField(_("gives up at"))
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=WatchOutcome.choices, blank=True, default=""
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(state__in=["queued", "running", "waiting"]),
                name="one_active_peppol_watch_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"peppol watch #{self.pk} {self.peppol_id}"

    @property
    def actor_label(self) -> str:
        return f"job:peppol-watch#{self.pk}"

    @property
    def watching(self) -> bool:
        return self.state in (JobState.QUEUED, JobState.RUNNING, JobState.WAITING)
