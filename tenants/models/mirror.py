"""The local mirror of the reseller's tenants on e-invoice.be, and their API keys."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import crypto, texts


class TenantQuerySet(models.QuerySet):
    def active(self) -> TenantQuerySet:
        return self.filter(is_deleted=False)

    def in_peppol_state(self, state: str) -> TenantQuerySet:
        """Not registered and in that registration state (held elsewhere, failed, …)."""
        return self.filter(peppol__registered=False, peppol__state=state)

    def due_for_rotation(self, now: datetime | None = None) -> TenantQuerySet:
        """Tenants whose current key is older than their rotation policy allows.

        One extra query (the distinct per-tenant policies), whatever the number of rows.
        """
        now = now or timezone.now()

        def older_than(days: int) -> Q:
            return Q(current_key_created_at__lte=now - timedelta(days=days))

        condition = Q(rotation_days__isnull=True) & older_than(settings.KEY_ROTATION_DAYS)
        policies = (
            Tenant.objects.filter(rotation_days__isnull=False)
            .order_by()
            .values_list("rotation_days", flat=True)
            .distinct()
        )
        for days in policies:
            condition |= Q(rotation_days=days) & older_than(days)
        return self.filter(condition)

    def note_current_key(self) -> int:
        """Copy each tenant's current key's date onto its row (None without one): the
        column the list sorts and filters "key age" by, served by an index."""
        current = ApiKey.objects.current().filter(tenant=OuterRef("pk"))
        return self.update(current_key_created_at=Subquery(current.values("created_at")[:1]))


class Tenant(models.Model):
    remote_id = models.CharField(_("remote id"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100, db_index=True)
    description = models.TextField(_("description"), blank=True)
    company_number = models.CharField(_("company number"), max_length=32, blank=True, db_index=True)
    company_tax_id = models.CharField(_("VAT number"), max_length=32, blank=True, db_index=True)
    peppol_id = models.CharField(_("Peppol ID"), max_length=64, blank=True, db_index=True)
    test_mode = models.BooleanField(_("test mode"), default=False)
    is_deleted = models.BooleanField(_("deleted"), default=False)
    # Rotation policy: days between key rotations; null → settings.KEY_ROTATION_DAYS.
    rotation_days = models.PositiveIntegerField(
        _("rotate keys every (days)"), null=True, blank=True
    )
    remote_created_at = models.DateTimeField(null=True, blank=True)
    remote_updated_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The reconciliation report whose listing last showed this tenant (local_only = not shown).
    reconciled_in = models.PositiveIntegerField(null=True, blank=True, editable=False)
    # The current key's created_at (None: no current key), so that sorting and filtering the
    # list by key age reads an index instead of joining every tenant's keys. ApiKey's save()
    # and its queryset's update() keep it (note_current_key), whichever path changes the
    # current key: creation, a rotation's switch, a revoke, a refresh, a tenant's delete.
    current_key_created_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [
            # The staff list's default: live tenants by name (core.paging seeks along it).
            models.Index(
                fields=["name", "id"], condition=Q(is_deleted=False), name="tenant_live_name"
            ),
            # Its "oldest key first" (and, read backwards, its last page).
            models.Index(
                fields=["current_key_created_at", "name", "id"],
                condition=Q(is_deleted=False),
                name="tenant_live_key_age",
            ),
            # The few tenants with a rotation policy of their own: due_for_rotation reads
            # their distinct policies on every "keys due" page (a scan of every tenant else).
            models.Index(
                fields=["rotation_days"],
                condition=Q(rotation_days__isnull=False),
                name="tenant_own_rotation_policy",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_rotation_days(self) -> int:
        return self.rotation_days or settings.KEY_ROTATION_DAYS

    def current_key(self) -> ApiKey | None:
        return self.api_keys.current().first()


# The key fields a tenant's current_key_created_at follows from (ApiKeyQuerySet.current()).
_CURRENT_KEY_FIELDS = frozenset({"is_current", "revoked_at", "created_at", "tenant", "tenant_id"})


class ApiKeyQuerySet(models.QuerySet):
    def current(self) -> ApiKeyQuerySet:
        """The key the portal calls with: current and not revoked (one per tenant)."""
        return self.filter(is_current=True, revoked_at__isnull=True)

    def update(self, **kwargs) -> int:
        if _CURRENT_KEY_FIELDS.isdisjoint(kwargs):
            return super().update(**kwargs)
        # No savepoint inside a caller's transaction (two round trips each): a failure
        # here fails that transaction as a whole, the key and its date together.
        with transaction.atomic(using=self.db, savepoint=False):
            # Read before: the filter may be the very field the update changes.
            tenants = set(self.values_list("tenant_id", flat=True))
            updated = super().update(**kwargs)
            Tenant.objects.filter(pk__in=tenants).note_current_key()
        return updated

    update.alters_data = True


class ApiKey(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    remote_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    # MultiFernet ciphertext (core.crypto). Empty for keys the portal never held,
    # e.g. adopted from the remote list: the API shows a value only once.
    encrypted_value = crypto.EncryptedTextField(blank=True, editable=False)
    fingerprint = models.CharField(max_length=32, blank=True)
    is_current = models.BooleanField(default=False)
    # Set when staff saw the value on the one-time reveal page.
    revealed_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    remote_created_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=Q(is_current=True), name="one_current_key_per_tenant"
            ),
            # A revoked key no longer works, so it can never be the one the portal uses.
            models.CheckConstraint(
                condition=Q(is_current=False) | Q(revoked_at__isnull=True),
                name="current_key_not_revoked",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "is_current"], name="apikey_tenant_current")]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint or self.remote_id})"

    def save(self, *args, **kwargs) -> None:
        fields = kwargs.get("update_fields")
        if fields is not None and _CURRENT_KEY_FIELDS.isdisjoint(fields):
            return super().save(*args, **kwargs)
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):  # as update()
            super().save(*args, **kwargs)
            Tenant.objects.filter(pk=self.tenant_id).note_current_key()

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_held(self) -> bool:
        return bool(self.encrypted_value)

    def set_value(self, value: str) -> None:
        self.encrypted_value = crypto.encrypt(value)
        self.fingerprint = crypto.fingerprint(value)

    def reveal_value(self) -> str:
        """Decrypt; call only where the key is about to be used or shown once."""
        return crypto.decrypt(self.encrypted_value)

    # Templates call argument-less methods: `{{ key.reveal_value }}` on any page would
    # print the key. Django's template engine never calls a method marked alters_data.
    reveal_value.alters_data = True

    @property
    def can_be_revealed(self) -> bool:
        return self.is_held and self.revealed_at is None and not self.is_revoked

    def age_days(self) -> int:
        return (timezone.now() - (self.remote_created_at or self.created_at)).days

    def claim_reveal(self) -> bool:
        """Mark the value as shown, once: a conditional UPDATE, so that of two tabs (or two
        staff) racing, exactly one wins. True for the winner."""
        now = timezone.now()
        won = (
            ApiKey.objects.filter(pk=self.pk, revealed_at__isnull=True, revoked_at__isnull=True)
            .exclude(encrypted_value="")
            .update(revealed_at=now)
        )
        if won:
            self.revealed_at = now
        return bool(won)

    claim_reveal.alters_data = True  # a template must not use up the one reveal


class PeppolState(models.TextChoices):
    """Where a tenant's Peppol registration stands, as staff follow it (tenants.peppol)."""

    NOT_REGISTERED = "not_registered", _("not registered")
    CHECKING = "checking", _("checking")
    HELD_ELSEWHERE = "held_elsewhere", _("held elsewhere (watching)")
    REGISTERING = "registering", _("registering")
    REGISTERED = "registered", _("registered")
    FAILED = "failed", _("failed")
    UNREGISTERED = "unregistered", _("unregistered")


class PeppolRegistration(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="peppol")
    state = models.CharField(
        _("Peppol state"),
        max_length=20,
        choices=PeppolState.choices,
        default=PeppolState.NOT_REGISTERED,
        db_index=True,
    )
    # Why it is in that state: the failure, or who holds the ID (shown with the state); as a
    # code with parameters too when it has one (core.texts), worded for each reader.
    state_reason = models.TextField(blank=True)
    state_reason_code = models.CharField(max_length=64, blank=True)
    state_reason_params = models.JSONField(default=dict, blank=True)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # The last preflight that found the ID held by another access point: peppol_id, name,
    # access_point, smp_host, registration_date, document_types, checked_at.
    holder = models.JSONField(default=dict, blank=True)
    registered = models.BooleanField(default=False)
    status = models.CharField(max_length=32, blank=True)
    peppol_id = models.CharField(max_length=64, blank=True)
    company_name = models.CharField(max_length=200, blank=True)
    registered_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The last failed attempt (register, card, unregister), shown until the next success.
    last_error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"{self.tenant}: {self.status or 'unknown'}"

    @property
    def state_reason_text(self) -> str:
        """Why, in the active language (as written when it has no code)."""
        if not self.state_reason_code:
            return self.state_reason
        return texts.word(self.state_reason_code, self.state_reason_params, self.state_reason)
