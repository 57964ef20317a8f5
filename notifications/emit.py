"""The hooks: where something happens, one call records the event (once, by its key).

Called inside the transaction that makes the change where there is one (a document's new
state, a received document), so the event exists exactly when the change does. The work
(emails, webhooks) runs later, in a worker, from the Event row.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from jobs import local
from notifications.models import Event

logger = logging.getLogger(__name__)


def emit(kind: str, key: str, *, tenant=None, data: dict[str, Any] | None = None) -> Event | None:
    """Record that `kind` happened (key: once per happening); None if it was recorded before."""
    payload = dict(data or {})
    if tenant is not None:
        payload.setdefault("tenant", {"id": tenant.pk, "name": tenant.name})
    try:
        with transaction.atomic():
            event = Event.objects.create(kind=kind, key=key[:120], tenant=tenant, data=payload)
    except IntegrityError:
        return None
    kick(event)
    return event


def kick(event: Event) -> None:
    """Once committed, hand the event to a worker (the sweep on beat, if this is lost)."""
    local.release(event)


# --- what the hooks pass -------------------------------------------------------------------
def document_data(document) -> dict[str, Any]:
    return {
        "path": reverse("invoices:staff_detail", args=[document.tenant_id, document.pk]),
        "customer_path": reverse("invoices:detail", args=[document.pk]),
        "document": {
            "id": document.pk,
            "remote_id": document.remote_id,
            "number": document.invoice_id,
            "type": document.document_type,
            "direction": document.direction,
            "state": document.state,
            "seller": document.vendor_name,
            "buyer": document.customer_name,
            "total": str(document.total),
            "currency": document.currency,
            "failure_reason": document.failure_reason,
        },
    }


def document(kind: str, document) -> None:
    """document.failed (a send ended FAILED) or document.received (one arrived)."""
    emit(kind, f"{kind}:{document.pk}", tenant=document.tenant, data=document_data(document))


def credit_low(tenant, usage, today) -> None:
    """A tenant the usage collection finds out of credit within USAGE_CREDIT_ALERT_DAYS: told
    once a day while it stays so (notifications.tasks.check_credit, on beat)."""
    days = usage.budget_estimation_days
    emit(
        "credit.low",
        f"credit.low:{tenant.pk}:{today.isoformat()}",
        tenant=tenant,
        data={
            "path": reverse("tenants:tenant_detail", args=[tenant.pk]),
            "credit": {
                "balance": usage.credit_balance,
                "days_left": None if days is None else round(days, 1),
            },
        },
    )
