"""A tenant's usage: one collection row (its schedule and latest figures), one row per day.

`UsageCollection` is a leased job row (jobs.runner claims it with a conditional UPDATE): a
run reads /api/me and /api/stats once, stores what they said and ends `waiting` until the
tenant's next slot. A key the portal does not hold, or one e-invoice.be refuses, ends the
row `failed` with the problem named; it is tried again only once another key is current.

`UsageDay` holds a tenant's documents sent and received that day (the API's billing
counters), the outbound documents that FAILED that day (the portal's own mirror) and the
credit balance the day's collection saw. `FleetDay` holds the same summed over every tenant,
kept up to date as each tenant's days change, so the dashboard reads 90 rows, not 900 000.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.models import LeasedJob


class Problem(models.TextChoices):
    NONE = "", _("none")
    NO_KEY = "no_key", _("the portal holds no usable API key")
    KEY_REFUSED = "key_refused", _("e-invoice.be refused the API key (revoked or replaced)")
    FAILED = "failed", _("e-invoice.be did not answer")


KEY_PROBLEMS = (Problem.NO_KEY, Problem.KEY_REFUSED)


class UsageCollection(LeasedJob):
    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="usage")
    # /api/me
    plan = models.CharField(_("plan"), max_length=16, blank=True)
    credit_balance = models.BigIntegerField(_("credit balance"), null=True, blank=True)
    smp_registration = models.BooleanField(null=True, blank=True)
    smp_registration_date = models.DateTimeField(null=True, blank=True, db_index=True)
    # /api/stats over the collected period
    average_daily_usage = models.FloatField(null=True, blank=True)
    budget_estimation_days = models.FloatField(null=True, blank=True, db_index=True)
    # Indexed: the newest one is the version of the fleet's figures (fleet.data_version).
    collected_at = models.DateTimeField(_("collected"), null=True, blank=True, db_index=True)
    problem = models.CharField(
        max_length=16, choices=Problem.choices, blank=True, default="", db_index=True
    )
    # The key that was missing or refused: another current key lets the row run again.
    problem_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    problem_since = models.DateTimeField(null=True, blank=True)
    # The tenant list's sparkline, drawn when a collection stores the days (usage.sparklines):
    # documents per day of the days up to sparkline_day ("3,0,12,…") and their polyline.
    sparkline_day = models.DateField(null=True, blank=True)
    sparkline_counts = models.TextField(blank=True, default="")
    sparkline_points = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="usage_due")]

    def __str__(self) -> str:
        return f"usage of tenant {self.tenant_id}"

    @property
    def actor_label(self) -> str:
        return f"job:usage#{self.pk}"


class UsageDay(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="usage_days"
    )
    day = models.DateField()
    sent = models.PositiveIntegerField(default=0)
    received = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # The balance the collection of that day saw (None: not collected that day).
    credit_balance = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "day"]
        constraints = [
            # Also the index of a tenant's chart and of the list's sparklines.
            models.UniqueConstraint(fields=["tenant", "day"], name="one_usage_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: {self.sent}/{self.received}/{self.failed}"


class FleetDay(models.Model):
    day = models.DateField(unique=True)
    sent = models.BigIntegerField(default=0)
    received = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    # Every tenant's balance as last seen on or before that day, summed (None: the days
    # before the first collection, filled from the stats' history).
    credit_balance = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"fleet {self.day}"


class RenderedPanel(models.Model):
    """The dashboard's usage section as last rendered (usage.panels), shared by every web
    process and the collection worker, which renders it after each run that stored figures:
    so the first view after a collection reads it instead of drawing it. `key` says what it
    was drawn from (the fleet's data version, the day, the language); only the newest key of
    each period and language is kept."""

    key = models.CharField(max_length=200, unique=True)
    value = models.JSONField()
    rendered_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.key
