"""What happened (Event), who wants to hear about it (Preference), the reseller's webhook
endpoints and each delivery to them, and the lines waiting for a daily digest.

An Event is a leased job: its run emails the people it concerns (or queues their digest
line) and creates one WebhookDelivery per subscribed endpoint, itself a leased job that
retries with backoff. `key` makes an event happen once, whichever path saw it first.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import crypto
from jobs.models import LeasedJob
from notifications import kinds


class Event(LeasedJob):
    kind = models.CharField(_("event"), max_length=32, db_index=True)
    # Once per happening: e.g. "document.failed:42".
    key = models.CharField(max_length=120, unique=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(
        "tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What the texts and the webhook payload say: ids, names, states, reasons; never a secret.
    data = models.JSONField(default=dict, blank=True)
    # Users emailed (or queued for their digest) so far: a resumed run skips them.
    reached = models.JSONField(default=list, blank=True)
    # Only this endpoint ("Send test"); empty: every endpoint subscribed to the kind.
    only_endpoint = models.ForeignKey(
        "notifications.WebhookEndpoint",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"event #{self.pk} {self.kind}"

    @property
    def actor_label(self) -> str:
        return f"job:notification#{self.pk}"

    @property
    def label(self) -> str:
        return kinds.label(self.kind)


class Preference(models.Model):
    """How one user wants to hear about each kind of event ({code: Mode}); absent = default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    modes = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification settings of {self.user_id}"


class DigestItem(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="digest_items")
    created_at = models.DateTimeField(default=timezone.now)
    # Set once the email that carries it went out.
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The run sending it: its random token and until when the claim holds. A run that dies
    # leaves both behind, and once the claim has run out the line is sent again.
    claim = models.CharField(max_length=32, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "event"], name="one_digest_line_per_event")
        ]

    def __str__(self) -> str:
        return f"digest line of {self.user_id} for event {self.event_id}"


class WebhookEndpoint(models.Model):
    """A URL of the reseller's own systems that gets signed POSTs of the chosen events."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    kinds = models.JSONField(_("events"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    # MultiFernet ciphertext of the signing secret (shown to the admin once).
    secret_encrypted = crypto.EncryptedTextField(editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.url

    def set_secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value)

    def reveal_secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted)

    def wants(self, kind: str) -> bool:
        return self.is_active and kind in self.kinds


class WebhookDelivery(LeasedJob):
    """One event to one endpoint: POSTed until a 2xx, with backoff, then given up."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    last_status = models.PositiveIntegerField(_("last answer"), null=True, blank=True)
    # [{"at": iso, "status": int | None, "error": str, "ms": int}], one per attempt.
    history = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_endpoint")
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"delivery #{self.pk} of event {self.event_id}"

    @property
    def actor_label(self) -> str:
        return f"job:webhook#{self.pk}"
