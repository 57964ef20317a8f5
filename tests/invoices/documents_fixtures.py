"""Documents as they are stored, for the readable views and the archive: a received invoice
(as `invoices.inbound` mirrors one: VAT per rate without the taxable amount), a sent invoice
and a sent credit note."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from invoices.models import AllowanceCharge, Direction, Document, DocumentLine, DocumentType, State
from tenants.models import Tenant


def stored(tenant: Tenant, *, lines: list[tuple[str, str, str, str, str]], **fields) -> Document:
    """A document with its lines: (description, quantity, unit price, VAT rate, amount)."""
    values = {
        "direction": Direction.OUTBOUND,
        "state": State.SENT,
        "invoice_id": "INV-2026-001",
        "invoice_date": date(2026, 11, 14),
        "due_date": date(2026, 12, 14),
        "currency": "EUR",
        "vendor_name": "Bakkerij Van Damme BV",
        "vendor_tax_id": "BE0706165839",
        "vendor_company_id": "0706165839",
        "vendor_address": "Kerkstraat 12\n9000 Gent",
        "vendor_email": "factuur@bakkerij.example",
        "customer_name": "Dijle Software BV",
        "customer_tax_id": "BE1998121608",
        "customer_address": "Vaartkom 31\n3000 Leuven",
        "iban": "BE68539007547034",
        "bic": "GEBABEBB",
        "payment_term": "Net 30 days",
        **fields,
    }
    document = Document.objects.create(tenant=tenant, **values)
    rows = [
        DocumentLine(
            document=document,
            position=i + 1,
            description=description,
            quantity=Decimal(quantity),
            unit_price=Decimal(price),
            tax_rate=Decimal(rate),
            amount=Decimal(amount),
        )
        for i, (description, quantity, price, rate, amount) in enumerate(lines)
    ]
    DocumentLine.objects.bulk_create(rows)
    return document


def received_invoice(tenant: Tenant, **fields) -> Document:
    """Atelier Lumière's invoice to the tenant: two VAT rates, a discount, an OGM, accents."""
    values = {
        "direction": Direction.INBOUND,
        "state": State.RECEIVED,
        "remote_id": f"doc-received-{tenant.pk}",
        "invoice_id": "AL-2026-0042",
        "vendor_name": "Atelier Lumière SRL",
        "vendor_tax_id": "BE1286602456",
        "vendor_address": "Rue de l’Église 5\n1000 Bruxelles",
        "vendor_company_id": "",
        "vendor_email": "",
        "customer_name": "Bakkerij Van Damme BV",
        "customer_tax_id": "BE0706165839",
        "customer_address": "Kerkstraat 12\n9000 Gent",
        "payment_reference": "010806817183",
        "note": "Merci pour votre confiance — façade, crème brûlée, Noël.",
        "line_total": Decimal("1250.00"),
        "allowance_total": Decimal("50.00"),
        "subtotal": Decimal("1200.00"),
        "total_tax": Decimal("234.00"),
        "total": Decimal("1434.00"),
        # As inbound.py mirrors it: the sender's VAT per rate, no taxable amount.
        "tax_breakdown": [
            {"rate": "21.00", "tax": "210.00", "category": "", "taxable": ""},
            {"rate": "6.00", "tax": "24.00", "category": "", "taxable": ""},
        ],
        **fields,
    }
    document = stored(
        tenant,
        lines=[
            ("Éclairage façade (forfait)", "1", "1050", "21", "1050.00"),
            ("Crème brûlée pour la réception", "40", "5", "6", "200.00"),
        ],
        **values,
    )
    AllowanceCharge.objects.create(
        document=document,
        position=1,
        kind=AllowanceCharge.Kind.ALLOWANCE,
        reason="Remise fidélité",
        amount=Decimal("50.00"),
        tax_rate=Decimal("21"),
    )
    return document


def sent_credit_note(tenant: Tenant, **fields) -> Document:
    values = {
        "document_type": DocumentType.CREDIT_NOTE,
        "invoice_id": "CN-2026-007",
        "invoice_date": date(2026, 11, 20),
        "billing_reference": "INV-2026-001",
        "subtotal": Decimal("35.00"),
        "total_tax": Decimal("7.35"),
        "total": Decimal("42.35"),
        "line_total": Decimal("35.00"),
        "tax_breakdown": [{"rate": "21.00", "tax": "7.35", "category": "S", "taxable": "35.00"}],
        **fields,
    }
    return stored(tenant, lines=[("Verjaardagstaart (retour)", "1", "35", "21", "35.00")], **values)
