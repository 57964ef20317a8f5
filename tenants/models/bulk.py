"""Bulk actions on tenants chosen in the list: previewed first, then one job per tenant.

A BulkAction is made when staff ask for the preview (which tenants it would change, which
it skips and why); running it makes one BulkItem per tenant to change, a leased job that the
dispatcher releases under the shared Admin API quota like every other job.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from jobs.models import LeasedJob


class BulkKind(models.TextChoices):
    REGISTER = "register", _("Register on Peppol")
    ROTATE = "rotate", _("Rotate keys now")
    POLICY = "policy", _("Set the rotation policy")
    INVITE = "invite", _("Send invitations")
    KEY_LINK = "key_link", _("Send key links")
    BUSINESS_CARD = "business_card", _("Update the business card")
    DELETE = "delete", _("Delete")


# Actions that hand out keys or end tenants: reseller admins only (as on the tenant page).
ADMIN_KINDS = {BulkKind.KEY_LINK, BulkKind.DELETE}
# Admin API calls one item makes when nothing goes wrong (the dispatcher's budget): a
# registration may ask for the status after the register call. The others send none.
CALLS_PER_ITEM = {BulkKind.REGISTER: 2, BulkKind.BUSINESS_CARD: 1, BulkKind.DELETE: 1}


class BulkAction(models.Model):
    kind = models.CharField(_("action"), max_length=16, choices=BulkKind.choices)
    # The action's settings: {"rotation_days": 90}, {"language": "nl"}.
    params = models.JSONField(default=dict, blank=True)
    # The tenants chosen (ids), and the filter they were chosen with ("all matching").
    tenant_ids = models.JSONField(default=list)
    query = models.TextField(blank=True)
    # What the preview found: [{"tenant": id, "name": ..., "reason": ...}] skipped.
    skipped = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Staff stopped it: its items not yet run were cancelled, the ones running finished.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"bulk {self.kind} #{self.pk}"


class BulkItem(LeasedJob):
    """One tenant of a bulk action: the single-tenant function, run as a job."""

    action = models.ForeignKey(BulkAction, on_delete=models.CASCADE, related_name="items")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="+")
    # The action's kind, here too: the dispatcher budgets an item without reading its action.
    kind = models.CharField(max_length=16, choices=BulkKind.choices)
    # What the run did, in the reader's words when it is done (a rotation started, …).
    outcome = models.CharField(_("outcome"), max_length=300, blank=True)
    # Set when the action was cancelled before this item ran; the job then ends (succeeded,
    # the shared states' "nothing left to do") without calling anything.
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="bulkitem_due")]
        constraints = [
            models.UniqueConstraint(
                fields=["action", "tenant"], name="one_bulk_item_per_tenant_and_action"
            )
        ]

    def __str__(self) -> str:
        return f"bulk item #{self.pk} ({self.action_id})"

    @property
    def actor_label(self) -> str:
        return f"job:bulk#{self.action_id}"

    @property
    def calls_left(self) -> int:
        return CALLS_PER_ITEM.get(self.kind, 0)
