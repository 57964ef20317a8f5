"""Celery jobs of the invoice screens; they call the same functions as the views.

Beat schedule (add to CELERY_BEAT_SCHEDULE in portal/settings.py):

    "invoices-poll-documents": {
        "task": "invoices.tasks.poll_documents",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
"""

from __future__ import annotations

import logging

from celery import shared_task

from einvoice.errors import ApiError
from invoices import inbound, mailbox, outbound
from invoices.models import Mailbox

log = logging.getLogger(__name__)


@shared_task(name="invoices.tasks.poll_documents", ignore_result=True)
def poll_documents() -> dict[str, int]:
    """Bring the mirror up to date when webhooks are lost: documents in TRANSIT, then inboxes.

    Each document and each inbox is claimed with a conditional UPDATE first, so overlapping
    runs (or a run next to a page load) never read the same thing twice.
    """
    # Webhooks first: a tenant whose key the portal now holds gets its notifications.
    mailbox.setup_due()
    polled = outbound.poll_transit()
    received = 0
    for box in Mailbox.objects.select_related("tenant").filter(tenant__is_deleted=False):
        try:
            received += inbound.sync_inbox(box.tenant)
        except ApiError as exc:
            log.info("inbox of tenant %s not pulled: %s", box.tenant_id, exc)
    return {"polled": polled, "received": received}
