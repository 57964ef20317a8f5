"""Background jobs: onboarding (one and from CSV), key rotation, mirror reconciliation.

Every job is a row that survives a crash. A worker runs a job only after claiming it with a
conditional UPDATE (see tenants.jobs.claims), so the same step never runs twice at once even
if two workers receive the same message; a lease that expires (the worker died) lets the
sweeper hand the job out again. Each step records what it learned before it advances.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.models import ACTIVE_STATES, JobState, LeasedJob
from tenants.identifiers import company_key, name_key

__all__ = [
    "BulkOnboarding",
    "KeyRevealLink",
    "KeyRotation",
    "OnboardingJob",
    "OnboardingStep",
    "PeppolOutcome",
    "ReconcileReport",
    "RotationPhase",
]


def _token() -> str:
    return secrets.token_hex(4)


# --- onboarding -----------------------------------------------------------------------------
class OnboardingStep(models.TextChoices):
    CREATE_TENANT = "create_tenant", _("Create tenant")
    CREATE_KEY = "create_key", _("Create API key")
    REGISTER_PEPPOL = "register_peppol", _("Register on Peppol")
    DONE = "done", _("Done")


class PeppolOutcome:
    """What the Peppol step did: a code in the row, a label in the reader's language."""

    REGISTERED = "registered"
    NOT_REQUESTED = "not_requested"
    SKIPPED_TEST_MODE = "skipped_test_mode"
    SKIPPED_NO_PEPPOL_ID = "skipped_no_peppol_id"
    HELD_ELSEWHERE = "held_elsewhere"
    LABELS = {
        REGISTERED: _("registered"),
        NOT_REQUESTED: _("not requested"),
        SKIPPED_TEST_MODE: _("skipped: test mode"),
        SKIPPED_NO_PEPPOL_ID: _("skipped: no Peppol ID"),
        HELD_ELSEWHERE: _("held elsewhere (watching)"),
    }


STEP_ORDER = [
    OnboardingStep.CREATE_TENANT,
    OnboardingStep.CREATE_KEY,
    OnboardingStep.REGISTER_PEPPOL,
    OnboardingStep.DONE,
]


class BulkOnboarding(models.Model):
    """One uploaded CSV. `rows` holds every row as read, with its cell errors."""

    file_name = models.CharField(_("file"), max_length=200)
    # [{"row": 2, "data": {...cleaned fields...}, "errors": {"field": [msg, ...]}}, ...]
    rows = models.JSONField(default=list)
    register_peppol = models.BooleanField(_("register on Peppol"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # A file of corrected rows for an earlier batch (its rows that were not onboarded).
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["-created_at", "-id"], name="bulkonboarding_list")]

    def __str__(self) -> str:
        return f"{self.file_name} (#{self.pk})"

    @property
    def valid_rows(self) -> list[dict]:
        return [r for r in self.rows if not r.get("errors")]

    @property
    def invalid_rows(self) -> list[dict]:
        return [r for r in self.rows if r.get("errors")]


class OnboardingJob(LeasedJob):
    """create tenant → create API key → register on Peppol, for one customer."""

    batch = models.ForeignKey(
        BulkOnboarding, null=True, blank=True, on_delete=models.CASCADE, related_name="jobs"
    )
    row_number = models.PositiveIntegerField(null=True, blank=True)
    # The requested tenant.
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("company name"), max_length=200, blank=True)
    company_number = models.CharField(_("company number"), max_length=32, blank=True)
    company_tax_id = models.CharField(_("VAT number"), max_length=32, blank=True)
    peppol_id = models.CharField(_("Peppol ID"), max_length=64, blank=True)
    register_peppol = models.BooleanField(_("register on Peppol"), default=True)
    test_mode = models.BooleanField(_("test mode"), default=False)
    # The name and company number as e-invoice.be compares them (set on save): at most one
    # live job per company (the constraints below), so a double submit cannot make two keys.
    name_key = models.CharField(max_length=100, blank=True, editable=False)
    company_key = models.CharField(max_length=32, blank=True, editable=False)

    step = models.CharField(
        _("step"),
        max_length=20,
        choices=OnboardingStep.choices,
        default=OnboardingStep.CREATE_TENANT,
    )
    # A random part in the key name, so that a key from another portal database (or an
    # older job with the same id) is never taken for this job's orphan.
    token = models.CharField(max_length=16, default=_token, editable=False)
    # What the steps learned.
    remote_tenant_id = models.CharField(max_length=64, blank=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="onboarding_jobs",
    )
    api_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    adopted = models.BooleanField(default=False)  # the tenant existed: a lost answer
    orphans_revoked = models.PositiveIntegerField(default=0)
    peppol_outcome = models.CharField(_("Peppol"), max_length=200, blank=True)
    # {field: [message]}, a message stored as its code where it has one (core.texts).
    field_errors = models.JSONField(default=dict, blank=True)
    # The last error as a code with parameters when it has one (jobs.models.error_fields):
    # a CSV batch's row reads in its reader's language, whoever's worker wrote it.
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_params = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["-created_at", "-id"], name="onboardingjob_list"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["name_key"],
                condition=models.Q(state__in=ACTIVE_STATES) & ~models.Q(name_key=""),
                name="one_live_onboarding_per_name",
            ),
            models.UniqueConstraint(
                fields=["company_key"],
                condition=models.Q(state__in=ACTIVE_STATES) & ~models.Q(company_key=""),
                name="one_live_onboarding_per_company",
            ),
        ]

    def __str__(self) -> str:
        return f"onboarding #{self.pk} {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.name_key = name_key(self.name)
        self.company_key = company_key(self.company_number)
        super().save(*args, **kwargs)

    @property
    def actor_label(self) -> str:
        return f"job:onboarding#{self.pk}"

    @property
    def key_name(self) -> str:
        return f"portal-onboarding-{self.pk}-{self.token}"

    @property
    def tenant_fields(self) -> dict[str, str]:
        return {
            "name": self.name,
            "description": self.description,
            "company_number": self.company_number,
            "company_tax_id": self.company_tax_id,
            "peppol_id": self.peppol_id,
        }

    def step_index(self, step: str) -> int:
        return STEP_ORDER.index(OnboardingStep(step))

    @property
    def peppol_outcome_label(self) -> str:
        return str(PeppolOutcome.LABELS.get(self.peppol_outcome, self.peppol_outcome))

    @property
    def peppol_skipped(self) -> bool:
        return bool(self.peppol_outcome) and self.peppol_outcome != PeppolOutcome.REGISTERED


# --- key rotation ---------------------------------------------------------------------------
class RotationPhase(models.TextChoices):
    PLANNED = "planned", _("planned")
    NEW_KEY_STORED = "new_key_stored", _("new key stored")
    SWITCHED = "switched", _("switched to the new key")
    GRACE = "grace", _("grace period")
    OLD_REVOKED = "old_revoked", _("old key revoked")


class KeyRotation(LeasedJob):
    """planned → new_key_stored → switched → grace → old_revoked, for one tenant."""

    REASON_SCHEDULE = "schedule"
    REASON_MANUAL = "manual"

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="rotations")
    phase = models.CharField(
        _("phase"), max_length=20, choices=RotationPhase.choices, default=RotationPhase.PLANNED
    )
    reason = models.CharField(max_length=16, default=REASON_SCHEDULE)
    token = models.CharField(max_length=16, default=_token, editable=False)
    old_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    new_key = models.ForeignKey(
        "tenants.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    grace_until = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    orphans_revoked = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One rotation at a time per tenant.
            models.UniqueConstraint(
                fields=["tenant"],
                condition=models.Q(state__in=["queued", "running", "waiting"]),
                name="one_active_rotation_per_tenant",
            )
        ]
        indexes = [models.Index(fields=["-created_at", "-id"], name="keyrotation_list")]

    def __str__(self) -> str:
        return f"rotation #{self.pk} {self.tenant_id} {self.phase}"

    @property
    def actor_label(self) -> str:
        return f"job:rotation#{self.pk}"

    @property
    def key_name(self) -> str:
        return f"portal-rotation-{self.pk}-{self.token}"

    @property
    def in_grace(self) -> bool:
        """Waiting for the end of the grace period: planned waiting, not a retry."""
        return self.state == JobState.WAITING and self.phase == RotationPhase.GRACE

    @property
    def state_label(self) -> str:
        return str(_("waiting for the grace period")) if self.in_grace else self.get_state_display()


class KeyRevealLink(models.Model):
    """A one-time, expiring link for the tenant's customer users to see a new key."""

    api_key = models.ForeignKey("tenants.ApiKey", on_delete=models.CASCADE, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    rotation = models.ForeignKey(
        KeyRotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="links"
    )
    # sha256 of the token in the link; the token itself is only in the email.
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # A hand-over link (tenants.handover) goes to a technical contact, who may have no
    # login: the link alone opens it, once. Rotation links leave these empty.
    sent_to = models.EmailField(_("sent to"), blank=True)
    language = models.CharField(max_length=8, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"reveal link for key {self.api_key_id}"

    @property
    def is_handover(self) -> bool:
        return bool(self.sent_to)

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "open"


# --- reconciliation -------------------------------------------------------------------------
class ReconcileReport(models.Model):
    """One comparison of the mirror with the remote tenants, and the drift it found."""

    STATE_RUNNING = "running"
    STATE_DONE = "done"
    STATE_FAILED = "failed"

    state = models.CharField(max_length=16, default=STATE_RUNNING)
    # [{"kind": "remote_only"|"local_only"|"different", "remote_id", "name",
    #   "diffs": {field: [local, remote]}, "resolved": "" | action}]
    items = models.JSONField(default=list)
    remote_count = models.PositiveIntegerField(default=0)
    local_count = models.PositiveIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Where the listing resumes (its skip: soft-deleted tenants stay listed and new ones come
    # last, so a position stays valid) and the remote total at the last page read.
    position = models.PositiveIntegerField(default=0)
    remote_total = models.PositiveIntegerField(default=0)
    # When its share of the quota frees a call: the run continues then.
    next_page_at = models.DateTimeField(null=True, blank=True)
    # Held by the run that pages (renewed on each page); a killed run's report is resumed
    # once it has passed.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Times (epoch seconds) of this sync's calls still in the hour window: its share.
    call_times = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"reconciliation #{self.pk}"

    @property
    def progress(self) -> int:
        """Percent of the remote tenants listed so far."""
        if self.state != self.STATE_RUNNING or not self.remote_total:
            return 100 if self.state == self.STATE_DONE else 0
        return min(99, self.position * 100 // self.remote_total)

    @property
    def open_items(self) -> list[dict]:
        return [i for i in self.items if not i.get("resolved")]
