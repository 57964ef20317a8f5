"""Documents the tenant receives: mirrored from the inbox (pulled when stale) or from a
`document.received` webhook, idempotently by their remote id."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date

from einvoice.errors import ApiError
from einvoice.tenant import TenantApi
from invoices import attachments, timeline
from invoices.mailbox import mailbox_for
from invoices.models import (
    AllowanceCharge,
    Direction,
    Document,
    DocumentEvent,
    DocumentLine,
    DocumentType,
    Mailbox,
    State,
)
from invoices.totals import money, to_decimal
from notifications import emit as notify
from tenants.models import Tenant

log = logging.getLogger(__name__)

# The received header fields kept as text, cut to the length of their column.
TEXT_FIELDS = {
    "invoice_id": 64,
    "currency": 3,
    "purchase_order": 100,
    "note": 2000,
    "payment_term": 200,
    "vendor_name": 200,
    "vendor_tax_id": 32,
    "vendor_company_id": 32,
    "vendor_address": 2000,
    "vendor_email": 254,
    "customer_name": 200,
    "customer_tax_id": 32,
    "customer_address": 2000,
    "customer_email": 254,
    "customer_peppol_id": 64,
}


def _dec(value: Any) -> Decimal:
    number = to_decimal(value)
    return money(number) if number is not None else Decimal("0.00")


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    return parse_date(str(value)) if value else None


def _header(remote: Any) -> dict[str, Any]:
    """The received document's fields for its local row (everything but state and lines)."""
    text = {
        name: (getattr(remote, name, None) or "")[:limit] for name, limit in TEXT_FIELDS.items()
    }
    text["currency"] = text["currency"] or "EUR"
    payment = (remote.payment_details or [None])[0]
    return {
        "document_type": (
            remote.document_type if remote.document_type in DocumentType.values else "INVOICE"
        ),
        "invoice_date": _date(remote.invoice_date),
        "due_date": _date(remote.due_date),
        "iban": (payment.iban or "")[:34] if payment else "",
        "bic": (payment.swift or "")[:11] if payment else "",
        "payment_reference": (payment.payment_reference or "")[:100] if payment else "",
        "subtotal": _dec(remote.subtotal),
        "total_tax": _dec(remote.total_tax),
        "total": _dec(remote.invoice_total),
        "tax_breakdown": [
            {"rate": t.rate or "", "tax": t.amount or "", "category": "", "taxable": ""}
            for t in (remote.tax_details or [])
        ],
        **text,
    }


def _lines(document: Document, remote: Any) -> list[DocumentLine]:
    return [
        DocumentLine(
            document=document,
            position=i + 1,
            description=(item.description or "")[:500],
            quantity=to_decimal(item.quantity) or Decimal(0),
            unit=(item.unit or "C62")[:3],
            unit_price=to_decimal(item.unit_price) or Decimal(0),
            tax_rate=to_decimal(item.tax_rate) or Decimal(0),
            amount=_dec(item.amount),
        )
        for i, item in enumerate(remote.items or [])
    ]


def _adjustments(document: Document, remote: Any) -> list[AllowanceCharge]:
    """A received document's discounts and surcharges: without them its lines would not add
    up to its total on the detail page."""
    rows = []
    for kind, items in (
        (AllowanceCharge.Kind.ALLOWANCE, getattr(remote, "allowances", None) or []),
        (AllowanceCharge.Kind.CHARGE, getattr(remote, "charges", None) or []),
    ):
        for item in items:
            rows.append(
                AllowanceCharge(
                    document=document,
                    position=len(rows) + 1,
                    kind=kind,
                    reason=(item.reason or getattr(item, "reason_code", None) or "")[:200],
                    amount=_dec(item.amount),
                    tax_rate=to_decimal(getattr(item, "tax_rate", None)) or Decimal(0),
                )
            )
    return rows


def store_remote(tenant: Tenant, remote: Any, **fields: Any) -> Document:
    """A document as e-invoice.be returns it, as a local row with its lines, allowances and
    charges (the caller's transaction; received documents and uploaded UBL files alike)."""
    document = Document.objects.create(
        tenant=tenant, remote_id=remote.id, **{**_header(remote), **fields}
    )
    lines = DocumentLine.objects.bulk_create(_lines(document, remote))
    adjustments = AllowanceCharge.objects.bulk_create(_adjustments(document, remote))
    document.line_total = sum((ln.amount for ln in lines), Decimal("0.00"))
    for kind, total in (("allowance", "allowance_total"), ("charge", "charge_total")):
        amounts = (a.amount for a in adjustments if a.kind == kind)
        setattr(document, total, sum(amounts, Decimal("0.00")))
    document.save(update_fields=["line_total", "allowance_total", "charge_total"])
    return document


def upsert_inbound(tenant: Tenant, remote: Any) -> tuple[Document, bool]:
    """Mirror one received document (idempotent by remote id)."""
    existing = Document.objects.filter(tenant=tenant, remote_id=remote.id).first()
    if existing is not None:
        return existing, False
    received_at = remote.created_at if isinstance(remote.created_at, datetime) else timezone.now()
    try:
        with transaction.atomic():
            document = store_remote(
                tenant,
                remote,
                direction=Direction.INBOUND,
                state=State.RECEIVED,
                state_changed_at=received_at,
            )
            attachments.mirror_received(document, remote)
            DocumentEvent.objects.create(
                document=document,
                at=received_at,
                source=DocumentEvent.Source.WEBHOOK,
                state=State.RECEIVED,
                code=timeline.RECEIVED,
                params={"sender": document.vendor_name or "?"},
            )
            notify.document("document.received", document)
    except IntegrityError:
        # A concurrent webhook and inbox pull mirrored it first.
        return Document.objects.get(tenant=tenant, remote_id=remote.id), False
    return document, True


def sync_inbox(tenant: Tenant, *, force: bool = False, max_pages: int = 5) -> int:
    """Pull received documents when the local copy is stale. Returns how many are new."""
    mailbox = mailbox_for(tenant)
    now = timezone.now()
    stale = now - timedelta(seconds=settings.INVOICES_INBOX_STALE_SECONDS)
    claim = Mailbox.objects.filter(pk=mailbox.pk)
    if not force:
        claim = claim.filter(Q(inbox_synced_at__isnull=True) | Q(inbox_synced_at__lt=stale))
    if not claim.update(inbox_synced_at=now):
        return 0
    api = TenantApi(tenant)
    new = 0
    try:
        for page_number in range(1, max_pages + 1):
            page = api.inbox(page=page_number, page_size=50)
            fresh = 0
            for remote in page.items:
                _doc, created = upsert_inbound(tenant, remote)
                fresh += int(created)
            new += fresh
            # Newest first: a page with nothing new means the rest is known already.
            if not page.has_next or fresh == 0:
                break
    except ApiError:
        Mailbox.objects.filter(pk=mailbox.pk).update(inbox_synced_at=mailbox.inbox_synced_at)
        raise
    return new


def fetch_received(tenant: Tenant, remote_id: str) -> Any | None:
    """A document.received notification: read that document (None: the next pull gets it)."""
    if Document.objects.filter(tenant=tenant, remote_id=remote_id).exists():
        return None
    try:
        return TenantApi(tenant).retrieve_document(remote_id)
    except ApiError as exc:
        log.info("received document %s not fetched yet: %s", remote_id, exc)
        return None
