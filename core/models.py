"""The audit log: append-only rows chained by hash (see core.audit for writing them).

Each row carries the hash of the one before it, so editing or removing a row anywhere
breaks the chain at that point (`manage.py verify_audit_log`). The application refuses
updates and deletes; on PostgreSQL a trigger refuses them too (migration 0002).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import audit_display, texts

GENESIS_HASH = "0" * 64


def chain_key() -> bytes:
    return settings.AUDIT_CHAIN_KEY.encode()


class AppendOnlyError(Exception):
    """The audit log is append-only."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries cannot be changed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")

    # bulk writes would skip the chain
    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        raise AppendOnlyError("audit entries cannot be changed")

    def bulk_create(self, *args: Any, **kwargs: Any) -> list:
        raise AppendOnlyError("append audit entries with core.audit.record()")


class Outcome(models.TextChoices):
    SUCCESS = "success", _("success")
    ERROR = "error", _("error")


class AuditEntry(models.Model):
    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    # The actor as it was then: a username or a job label like "job:onboarding#12".
    actor = models.CharField(_("actor"), max_length=150, db_index=True)
    # No database constraint and no cascade: deleting a user or tenant must not touch the log.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    tenant = models.ForeignKey(
        "tenants.Tenant",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    target = models.CharField(_("target"), max_length=200, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)
    # The error as a code with parameters (core.texts) when it has one, so that each reader
    # reads it in their language; `error` keeps the words of the one who acted.
    error_code = models.CharField(max_length=64, blank=True)
    error_params = models.JSONField(default=dict, blank=True)
    # {"field": [before, after]}; never a secret (core.audit sanitises it).
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    # True: `hash` is an HMAC under AUDIT_CHAIN_KEY, a secret outside the database, so rows
    # cannot be re-chained by someone who can only write the database. False only for rows
    # written before keyed hashing existed (plain SHA-256); none may follow a keyed row.
    keyed = models.BooleanField(default=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        # The table keeps its name from when the audit log lived in the tenants app.
        db_table = "tenants_auditentry"
        ordering = ["-sequence"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["tenant", "-sequence"], name="audit_tenant_seq")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.actor} {self.action} {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit entries cannot be deleted")

    @property
    def action_label(self) -> str:
        """The action in the active language."""
        return audit_display.action_label(self.action)

    @property
    def changes_worded(self) -> list:
        """The changes with field names and values in the active language."""
        return audit_display.changes(self.changes)

    @property
    def error_text(self) -> str:
        """The error in the active language (as written when it has no code)."""
        if not self.error_code:
            return self.error
        return texts.word(self.error_code, self.error_params, self.error)

    # --- the chain --------------------------------------------------------------------
    def canonical(self) -> str:
        """The row as canonical JSON: sorted keys, no whitespace, UTC microsecond time."""
        created = self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        row = {
            "sequence": self.sequence,
            "created_at": created,
            "actor": self.actor,
            "user_id": self.user_id,
            "action": self.action,
            "tenant_id": self.tenant_id,
            "target": self.target,
            "outcome": self.outcome,
            "error": self.error,
            "changes": self.changes,
            "ip": self.ip,
            "user_agent": self.user_agent,
        }
        if self.error_code:
            # Only in rows that have one: rows written before codes existed hash as they did.
            row["error_code"] = self.error_code
            row["error_params"] = self.error_params
        return json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    def compute_hash(self) -> str:
        message = (self.prev_hash + self.canonical()).encode()
        if not self.keyed:
            return hashlib.sha256(message).hexdigest()
        return hmac.new(chain_key(), message, hashlib.sha256).hexdigest()


class AuditHead(models.Model):
    """One row: the chain's last sequence and hash. Appends lock it (select_for_update) so
    that concurrent writers queue up instead of forking the chain."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        db_table = "tenants_audithead"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="audit_head_single")]

    def __str__(self) -> str:
        return f"audit head #{self.sequence}"
