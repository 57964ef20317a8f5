"""The audit log in the reader's language.

An entry keeps machine values (its action code, field names, states, booleans) so that the
chain and the exports stay the same whoever reads them; the pages word them here, in the
active language. A code or field without a wording is shown as stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import texts

ACTIONS = {
    "audit.checkpoint": _("Signed checkpoint downloaded"),
    "audit.export": _("Audit log exported"),
    "key.create": _("API key created"),
    "key.handover_revoke": _("Key link withdrawn"),
    "key.handover_send": _("Key link sent"),
    "key.reveal": _("API key revealed"),
    "key.reveal_refused": _("API key reveal refused"),
    "key.revoke": _("API key revoked"),
    "key.rotation_notify": _("Key rotation announced"),
    "key.rotation_policy": _("Rotation policy set"),
    "key.rotation_start": _("Key rotation started"),
    "key.switch": _("Switched to the new key"),
    "key.update": _("API key changed"),
    "mirror.adopt": _("Remote tenant adopted"),
    "mirror.mark_deleted": _("Marked deleted at e-invoice.be"),
    "mirror.reconcile": _("Mirror compared with e-invoice.be"),
    "notifications.settings": _("Notification settings changed"),
    "onboarding.bulk_correct": _("Corrected CSV rows uploaded"),
    "onboarding.bulk_invite": _("Invitations sent for a CSV batch"),
    "onboarding.bulk_key_link": _("Key links sent for a CSV batch"),
    "onboarding.bulk_start": _("CSV onboarding started"),
    "onboarding.retry": _("Onboarding retried"),
    "onboarding.start": _("Onboarding started"),
    "peppol.business_card": _("Peppol business card updated"),
    # Not the dashboard's "Registered on Peppol" (tenants, plural in French): one act.
    "peppol.register": pgettext_lazy("audit action", "Registered on Peppol"),
    "peppol.state": _("Peppol state changed"),
    "peppol.status": _("Peppol status read"),
    "peppol.unregister": _("Unregistered from Peppol"),
    "peppol.watch": _("Watching a Peppol ID held elsewhere"),
    "tenant.adopt": _("Tenant adopted"),
    "tenant.bulk_business_card": _("Bulk: business card update"),
    "tenant.bulk_cancel": _("Bulk action cancelled"),
    "tenant.bulk_delete": _("Bulk: delete"),
    "tenant.bulk_invite": _("Bulk: invitations"),
    "tenant.bulk_key_link": _("Bulk: key links"),
    "tenant.bulk_policy": _("Bulk: rotation policy"),
    "tenant.bulk_register": _("Bulk: Peppol registration"),
    "tenant.bulk_rotate": _("Bulk: key rotation"),
    "tenant.create": _("Tenant created"),
    "tenant.delete": _("Tenant deleted"),
    "tenant.update": _("Tenant changed"),
    "user.create": _("User created"),
    "user.deactivate": _("User deactivated"),
    "user.invitation_accept": _("Invitation accepted"),
    "user.invitation_accept_refused": _("Invitation link refused"),
    "user.invite": _("User invited"),
    "user.invite_resend": _("Invitation sent again"),
    "user.password_reset": _("Password reset"),
    "user.password_reset_refused": _("Password reset link refused"),
    "user.password_reset_request": _("Password reset asked for"),
    "user.password_reset_send": _("Password reset link sent"),
    "user.reactivate": _("User reactivated"),
    "webhook.endpoint_active": _("Webhook endpoint switched on or off"),
    "webhook.endpoint_add": _("Webhook endpoint added"),
    "webhook.secret_rotate": _("Webhook secret replaced"),
    "webhook.test": _("Webhook test sent"),
}

# The actions' wordings are core.texts' (as "audit.<action>"), the one mechanism for stored
# codes worded when read, as the timeline's are.
for _action, _wording in ACTIONS.items():
    texts.define(f"audit.{_action}", _wording)

FIELDS = {
    "before": _("before"),
    "cancelled": _("cancelled"),
    "company_name": _("company name"),
    "company_number": _("company number"),
    "company_tax_id": pgettext_lazy("audit field", "VAT number"),
    "current_key": _("current key"),
    "description": _("description"),
    "done": _("done"),
    "email": _("email"),
    "exists": _("exists"),
    "expires_at": _("expires"),
    "failed": _("failed"),
    "fingerprint": _("fingerprint"),
    "finishing": _("finishing"),
    "is_current": _("current key"),
    "is_deleted": _("deleted"),
    "language": _("language"),
    "mark": _("mark"),
    "name": _("name"),
    "no_email": _("no email address"),
    "note": _("note"),
    "peppol_id": pgettext_lazy("audit field", "Peppol ID"),
    "peppol_ids": _("Peppol IDs"),
    "queued": _("queued"),
    "reason": _("reason"),
    "recipients": _("recipients"),
    "registered": _("registered on Peppol"),
    "revoked": _("revoked"),
    "role": _("role"),
    "rotation_days": _("rotate every (days)"),
    "rows": _("rows"),
    "sent_to": _("sent to"),
    "skipped": _("skipped"),
    "state": pgettext_lazy("audit field", "state"),
    "status": pgettext_lazy("audit field", "status"),
    "test_mode": _("test mode"),
    "watching": _("watching"),
}

# Values with a wording of their own, per field (the others are shown as stored).
_STATUS = {
    "active": pgettext_lazy("Peppol status", "active"),
    "not_registered": pgettext_lazy("Peppol status", "not registered"),
}


def _state_labels() -> dict[str, Any]:
    from tenants.models import PeppolState

    return dict(PeppolState.choices)


@dataclass(frozen=True)
class Change:
    field: str
    label: str
    before: str
    after: str


def action_label(action: str) -> str:
    """The action in the active language (the code itself when it has no wording)."""
    return texts.word(f"audit.{action}", fallback=action)


def _value(field: str, value: Any) -> str:
    if value is None or value == "":
        return "∅"
    if isinstance(value, bool):
        return str(_("yes") if value else _("no"))
    if isinstance(value, str):
        if field == "state":
            return str(_state_labels().get(value, value))
        if field == "status":
            return str(_STATUS.get(value, value))
    if isinstance(value, list):
        return ", ".join(_value(field, v) for v in value)
    return str(value)


def changes(stored: dict | None) -> list[Change]:
    """An entry's {"field": [before, after]} changes, worded for the reader."""
    out = []
    for field, pair in (stored or {}).items():
        before, after = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        label = FIELDS.get(field)
        out.append(
            Change(
                field=field,
                label=str(label) if label is not None else field,
                before=_value(field, before),
                after=_value(field, after),
            )
        )
    return out
