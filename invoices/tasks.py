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

from invoices import services
from invoices.models import Mailbox
from invoices.tenant_api import TenantApiError

log = logging.getLogger(__name__)


@shared_task(name="invoices.tasks.poll_documents", ignore_result=True)
def poll_documents() -> dict[str, int]:
    """Bring the mirror up to date when webhooks are lost: documents in TRANSIT, then inboxes.

    Each document and each inbox is claimed with a conditional UPDATE first, so overlapping
    runs (or a run next to a page load) never read the same thing twice.
    """
    polled = services.poll_transit()
    received = 0
    for mailbox in Mailbox.objects.select_related("tenant").filter(tenant__is_deleted=False):
        try:
            received += services.sync_inbox(mailbox.tenant)
        except TenantApiError as exc:
            log.info("inbox of tenant %s not pulled: %s", mailbox.tenant_id, exc)
    return {"polled": polled, "received": received}
