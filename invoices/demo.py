"""Demo documents for `manage.py seed_demo`: each demo customer gets a few documents in every
state — a draft, sent invoices, a failed one, a credit note, and received ones — made the way a
customer makes them (the editor's own submit, then e-invoice.be: the sandbox by default), so
the mirror holds what e-invoice.be holds.

The two demo customers sell to each other (so each one's sent documents are the other's
received ones); one invoice goes to the demo tenant that is not on Peppol and fails.
Idempotent: a document whose number the tenant has already is not made again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.http import QueryDict

from einvoice.errors import ApiError
from invoices import editor, inbound, outbound
from invoices.models import Direction, Document, DocumentType, State
from tenants.models import Tenant

log = logging.getLogger(__name__)

# The demo tenant that is not on Peppol (tenants.demo): sending to it fails.
NOT_ON_PEPPOL = {
    "customer_name": "Atelier Lumière SRL",
    "customer_tax_id": "BE1286602456",
    "customer_address": "Rue Haute 120, 1000 Bruxelles, Belgium",
}
ADDRESSES = {
    "dijle-software": "Vaartkom 31, 3000 Leuven, Belgium",
    "kust-logistiek": "Havenlaan 4, 8400 Oostende, Belgium",
}
LINES = [
    [("Support subscription, monthly", "1", "MON", "450", "21"), ("Consulting", "6", "HUR", "95", "21")],
    [("Transport Oostende – Gent", "3", "C62", "180", "21"), ("Pallet storage", "10", "DAY", "4.50", "21")],
    [("Training day", "1", "DAY", "780", "21")],
]  # fmt: skip
SETTLE_SECONDS = 30.0  # how long the seed waits for the sandbox's deliveries


def _prefix(tenant: Tenant) -> str:
    return "".join(part[0] for part in tenant.name.split("-")).upper()


def _party(tenant: Tenant, role: str) -> dict[str, str]:
    return {
        f"{role}_name": tenant.description or tenant.name,
        f"{role}_tax_id": tenant.company_tax_id,
        f"{role}_address": ADDRESSES.get(tenant.name, "Kerkstraat 1, 9000 Gent, Belgium"),
    }


def _form(
    number: str,
    seller: Tenant,
    buyer: dict[str, str],
    lines: list[tuple[str, ...]],
    action: str,
    **extra: str,
) -> QueryDict:
    """The editor's POST for one document."""
    today = date.today()
    data: dict[str, Any] = {
        "action": action,
        "invoice_id": number,
        "invoice_date": today.isoformat(),
        "due_date": (today + timedelta(days=30)).isoformat(),
        "currency": "EUR",
        "vendor_company_id": seller.company_number,
        "vendor_email": f"billing@{seller.name}.example",
        "payment_term": "30 days",
        "iban": "BE68539007547034",
        "bic": "GEBABEBB",
        **_party(seller, "vendor"),
        **buyer,
        **extra,
    }
    for prefix, rows in (("lines", lines), ("adjustments", [])):
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": str(len(rows)),
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    for i, (description, quantity, unit, price, rate) in enumerate(lines):
        row = {"description": description, "quantity": quantity, "unit": unit}
        row.update({"unit_price": price, "tax_rate": rate})
        data.update({f"lines-{i}-{k}": v for k, v in row.items()})
    form = QueryDict(mutable=True)
    form.update(data)
    return form


def _make(tenant: Tenant, user, document_type: str, form: QueryDict) -> Document | None:
    """One document through the editor, unless the tenant has that number already."""
    number = form["invoice_id"]
    existing = Document.objects.filter(
        tenant=tenant, direction=Direction.OUTBOUND, invoice_id=number
    ).first()
    if existing is not None:
        return existing
    outcome = editor.submit(tenant, user, document_type, form, htmx=False)
    if isinstance(outcome, editor.Page):
        log.warning("demo document %s of %s not made: the editor refused it", number, tenant)
        return None
    return outcome.document


def _documents_of(seller: Tenant, user, buyer: Tenant) -> None:
    prefix = _prefix(seller)
    year = date.today().year
    to_buyer = _party(buyer, "customer")
    invoice = _make(
        seller,
        user,
        DocumentType.INVOICE,
        _form(f"{prefix}-{year}-001", seller, to_buyer, LINES[0], "send", purchase_order="PO-4711"),
    )
    _make(
        seller,
        user,
        DocumentType.INVOICE,
        _form(f"{prefix}-{year}-002", seller, to_buyer, LINES[1], "send"),
    )
    _make(
        seller,
        user,
        DocumentType.INVOICE,
        _form(f"{prefix}-{year}-003", seller, NOT_ON_PEPPOL, LINES[2], "send"),
    )
    _make(
        seller,
        user,
        DocumentType.INVOICE,
        _form(f"{prefix}-{year}-004", seller, to_buyer, LINES[2], "save", note="To check first."),
    )
    if invoice is not None and invoice.state != State.DRAFT:
        _make(
            seller,
            user,
            DocumentType.CREDIT_NOTE,
            _form(
                f"{prefix}-CN-{year}-001",
                seller,
                to_buyer,
                [("Consulting (not delivered)", "2", "HUR", "95", "21")],
                "send",
                corrects=str(invoice.pk),
            ),
        )


def _settle(tenants: Iterable[Tenant], timeout: float = SETTLE_SECONDS) -> None:
    """Wait (a little) for the network: sent documents reach SENT or FAILED, inboxes fill."""
    deadline = time.monotonic() + timeout
    in_transit = Document.objects.filter(
        tenant__in=list(tenants), direction=Direction.OUTBOUND, state=State.TRANSIT
    )
    while in_transit.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
        for document in in_transit.select_related("tenant"):
            try:
                outbound.refresh(document)
            except ApiError as exc:
                log.info("demo document %s not checked: %s", document, exc)
    for tenant in tenants:
        try:
            inbound.sync_inbox(tenant, force=True)
        except ApiError as exc:
            log.warning("inbox of %s not pulled: %s", tenant, exc)


def seed_demo_documents(customers: list[tuple[Any, Tenant]]) -> None:
    """`customers`: (login, tenant) of each demo customer; the first two trade with each
    other."""
    if len(customers) < 2:
        log.warning("demo documents need two demo customers on Peppol; none made")
        return
    pairs = [(customers[0], customers[1][1]), (customers[1], customers[0][1])]
    for (user, seller), buyer in pairs:
        try:
            _documents_of(seller, user, buyer)
        except ApiError as exc:
            log.warning("demo documents of %s not all made: %s", seller, exc)
    _settle([tenant for _user, tenant in customers])
